//! What the page knows about a training run: the visitor's settings, how far the run is, the
//! curves of both students (without and with KD), their maps on the probe clip, and the trained
//! students. A second worker trains, so the models above keep answering.

use crate::catalog::CatalogEntry;
use crate::models::{Models, webgpu_worker};
use crate::worker::{
    ModelClient, ModelFiles, ModelKind, ModelSource, Probe, Request, Response, RunScore, Steer,
    StepPoint, StudentFiles, TimeMap, TrainRequest, TrainSettings, TrainingEnd, TrainingEvent,
};
use leptos::prelude::*;
use tempokd::device::Placement;

/// Where the keyword pack is served from.
pub const PACK: &str = "data/pack/";

/// The two runs, in the order every pair on the page lists them.
pub const RUNS: [&str; 2] = ["without KD", "with KD"];

/// Where a training run is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Phase {
    #[default]
    Idle,
    Preparing {
        stage: String,
        done: usize,
        total: usize,
    },
    Running {
        paused: bool,
    },
    Ended(TrainingEnd),
    Failed(String),
}

/// What the worker said when training began.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    pub device: Placement,
    pub train_clips: usize,
    pub validation_clips: usize,
    pub cached_maps: bool,
}

/// Both students at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    pub student: String,
    pub students: [StudentFiles; 2],
    pub elapsed_ms: f64,
}

/// The page's training state; every field is a signal, so it is Copy.
#[derive(Clone, Copy)]
pub struct Training {
    pub settings: RwSignal<TrainSettings>,
    /// The catalog name of the student to train (its shipped weights are where both runs start).
    pub student: RwSignal<String>,
    pub phase: RwSignal<Phase>,
    pub info: RwSignal<Option<RunInfo>>,
    pub points: RwSignal<[Vec<StepPoint>; 2]>,
    pub scores: RwSignal<[Vec<RunScore>; 2]>,
    pub probe: RwSignal<Option<Probe>>,
    pub probe_maps: RwSignal<Option<[TimeMap; 2]>>,
    pub elapsed_ms: RwSignal<f64>,
    pub trained: RwSignal<Option<Trained>>,
    client: StoredValue<Option<ModelClient>, LocalStorage>,
}

impl Training {
    pub fn new() -> Self {
        Self {
            settings: RwSignal::new(TrainSettings::default()),
            student: RwSignal::new("tc-resnet8".to_string()),
            phase: RwSignal::new(Phase::Idle),
            info: RwSignal::new(None),
            points: RwSignal::new([Vec::new(), Vec::new()]),
            scores: RwSignal::new([Vec::new(), Vec::new()]),
            probe: RwSignal::new(None),
            probe_maps: RwSignal::new(None),
            elapsed_ms: RwSignal::new(0.0),
            trained: RwSignal::new(None),
            client: StoredValue::new_local(None),
        }
    }

    pub fn busy(self) -> bool {
        self.phase
            .with(|phase| matches!(phase, Phase::Preparing { .. } | Phase::Running { .. }))
    }

    /// Starts a run of the chosen student with the current settings, in a worker of its own
    /// (on the CPU when the page's models are, or when `cpu_reason` says so).
    pub fn start(self, models: Models, cpu_reason: Option<String>) {
        let catalog = models.catalog.get_untracked();
        let student = self.student.get_untracked();
        let source = |entry: &CatalogEntry| entry.source();
        let teacher = catalog
            .iter()
            .find(|e| e.kind == ModelKind::Teacher)
            .map(source);
        let chosen = catalog.iter().find(|e| e.name == student).map(source);
        let (Some(teacher), Some(chosen)) = (teacher, chosen) else {
            self.phase.set(Phase::Failed(
                "The shipped teacher or this student is not listed; reload the page.".into(),
            ));
            return;
        };
        self.reset();
        let cpu_reason = cpu_reason.or_else(|| models.cpu_reason());
        let build = webgpu_worker(&cpu_reason);
        let client = ModelClient::spawn(build, move |response| self.apply(response));
        client.send(Request::Train(Box::new(TrainRequest {
            teacher,
            student: chosen,
            pack: PACK.to_string(),
            recordings: Vec::new(),
            settings: self.settings.get_untracked(),
            cpu_reason,
        })));
        self.client.set_value(Some(client));
        self.phase.set(Phase::Preparing {
            stage: "models".into(),
            done: 0,
            total: 2,
        });
    }

    pub fn steer(self, steer: Steer) {
        self.client.with_value(|client| {
            if let Some(client) = client {
                client.send(Request::SteerTraining(steer));
            }
        });
    }

    /// Forgets the last run: curves, maps and trained students. The next run starts from the
    /// shipped weights again.
    pub fn reset(self) {
        self.client.set_value(None);
        self.phase.set(Phase::Idle);
        self.info.set(None);
        self.points.set([Vec::new(), Vec::new()]);
        self.scores.set([Vec::new(), Vec::new()]);
        self.probe.set(None);
        self.probe_maps.set(None);
        self.elapsed_ms.set(0.0);
        self.trained.set(None);
    }

    /// Adds the student of run `run` (0 without KD, 1 with) to the models above, so it hears the
    /// clip there beside the shipped ones.
    pub fn show_in_page(self, models: Models, run: usize) {
        let Some(trained) = self.trained.get_untracked() else {
            return;
        };
        let Some(files) = trained.students.get(run) else {
            return;
        };
        let label = RUNS.get(run).copied().unwrap_or_default();
        let name = format!("{}, trained here {label}", trained.student);
        if models
            .catalog
            .with_untracked(|c| c.iter().any(|e| e.name == name))
        {
            return;
        }
        let entry = CatalogEntry {
            name: name.clone(),
            kind: ModelKind::Student,
            title: name.clone(),
            bytes: files.weights.len() as u64,
        };
        models.add(
            entry,
            ModelSource {
                name,
                kind: ModelKind::Student,
                files: ModelFiles::Picked {
                    config: files.config.clone(),
                    weights: files.weights.clone(),
                    preprocessor: None,
                },
            },
        );
    }

    /// Takes in one response from the training worker.
    pub fn apply(self, response: Response) {
        let Response::Training(event) = response else {
            return;
        };
        match *event {
            TrainingEvent::Preparing { stage, done, total } => {
                self.phase.set(Phase::Preparing { stage, done, total });
            }
            TrainingEvent::Started {
                device,
                train_clips,
                validation_clips,
                cached_maps,
                probe,
            } => {
                self.info.set(Some(RunInfo {
                    device,
                    train_clips,
                    validation_clips,
                    cached_maps,
                }));
                self.probe.set(Some(probe));
                self.phase.set(Phase::Running { paused: false });
            }
            TrainingEvent::Stepped { points, elapsed_ms } => {
                self.points.update(|runs| {
                    for (run, point) in runs.iter_mut().zip(points) {
                        run.push(point);
                    }
                });
                self.elapsed_ms.set(elapsed_ms);
            }
            TrainingEvent::Validated { scores, probe } => {
                self.scores.update(|runs| {
                    for (run, score) in runs.iter_mut().zip(scores) {
                        run.push(score);
                    }
                });
                self.probe_maps.set(Some(probe));
            }
            TrainingEvent::Paused => self.phase.set(Phase::Running { paused: true }),
            TrainingEvent::Resumed => self.phase.set(Phase::Running { paused: false }),
            TrainingEvent::Ended {
                end,
                students,
                elapsed_ms,
            } => {
                self.trained.set(Some(Trained {
                    student: self.student.get_untracked(),
                    students: *students,
                    elapsed_ms,
                }));
                self.phase.set(Phase::Ended(end));
                self.client.set_value(None);
            }
            TrainingEvent::Failed { message } => {
                self.phase.set(Phase::Failed(message));
                self.client.set_value(None);
            }
        }
    }

    /// Steps per second so far and the seconds left at that pace.
    pub fn pace(self) -> Option<(f64, f64)> {
        let done = self.points.with(|runs| runs[1].len());
        let elapsed_s = self.elapsed_ms.get() / 1000.0;
        if done == 0 || elapsed_s <= 0.0 {
            return None;
        }
        let per_second = done as f64 / elapsed_s;
        let left = self.settings.with(|s| s.steps.saturating_sub(done)) as f64;
        Some((per_second, left / per_second))
    }
}

impl Default for Training {
    fn default() -> Self {
        Self::new()
    }
}
