//! What the page knows about a training run: the visitor's settings, how far the run is, the
//! curves of both students (without and with KD), their maps on the probe clip, and the trained
//! students. Two more workers train, one per run, held in step ([`RunPair`]), so the models
//! above keep answering and the runs use two cores. Every scoring and the end are kept in this
//! browser ([`SavedRun`]), and the next visit restores them.

use crate::state::catalog::CatalogEntry;
use crate::state::models::{Models, worker_build};
use crate::state::saved_run::SavedRun;
use crate::state::training_pair::{PairAction, PairEvent, RunPair};
use crate::worker::{
    ModelFiles, ModelKind, ModelSource, Probe, Recording, RunScore, RunSetup, SavedStudent, Steer,
    StepPoint, TimeMap, TrainRequest, TrainSettings, TrainingClient, TrainingEnd, TrainingEvent,
    TrainingRequest,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use tempokd::kd::PlainAndKd;

/// Where the keyword pack is served from.
pub const PACK: &str = "data/pack/";

/// The two runs, in the order every pair on the page lists them.
pub const RUNS: PlainAndKd<&str> = PlainAndKd {
    plain: "without KD",
    kd: "with KD",
};

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
    /// A run kept by this browser on an earlier visit, at its last save; `end` is how it ended,
    /// or `None` if the page was closed while it ran.
    Restored {
        step: usize,
        end: Option<TrainingEnd>,
    },
}

/// A change to the kept run, written one at a time so the last one asked for is the one kept.
enum Keep {
    Store(Box<SavedRun>),
    Forget,
}

/// Both students at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedRun {
    pub student: String,
    /// Which run of this visit it was (from 1), or 0 for a run restored from an earlier visit;
    /// it tells apart the students of several runs shown above.
    pub run: usize,
    pub students: PlainAndKd<SavedStudent>,
    pub elapsed_ms: f64,
}

/// The page's training state; every field is a signal, so it is Copy.
#[derive(Clone, Copy)]
pub struct Training {
    pub settings: RwSignal<TrainSettings>,
    /// The catalog name of the student to train (its shipped weights are where both runs start).
    pub student: RwSignal<String>,
    pub phase: RwSignal<Phase>,
    pub info: RwSignal<Option<RunSetup>>,
    pub points: RwSignal<PlainAndKd<Vec<StepPoint>>>,
    pub scores: RwSignal<PlainAndKd<Vec<RunScore>>>,
    pub probe: RwSignal<Option<Probe>>,
    pub probe_maps: RwSignal<Option<PlainAndKd<TimeMap>>>,
    pub elapsed_ms: RwSignal<f64>,
    pub trained: RwSignal<Option<FinishedRun>>,
    /// The visitor's own words, added to the pack's training words.
    pub recordings: RwSignal<Vec<Recording>>,
    /// The workers of the run going on, one per run of the comparison.
    clients: StoredValue<Option<PlainAndKd<TrainingClient>>, LocalStorage>,
    pair: StoredValue<RunPair, LocalStorage>,
    /// Runs started on this visit.
    started: StoredValue<usize>,
    /// The next change to the kept run, and whether one is being written.
    keeping: StoredValue<(Option<Keep>, bool), LocalStorage>,
}

impl Training {
    pub fn new() -> Self {
        Self {
            settings: RwSignal::new(TrainSettings::default()),
            student: RwSignal::new("tc-resnet8".to_string()),
            phase: RwSignal::new(Phase::Idle),
            info: RwSignal::new(None),
            points: RwSignal::new(PlainAndKd::default()),
            scores: RwSignal::new(PlainAndKd::default()),
            probe: RwSignal::new(None),
            probe_maps: RwSignal::new(None),
            elapsed_ms: RwSignal::new(0.0),
            trained: RwSignal::new(None),
            recordings: RwSignal::new(Vec::new()),
            clients: StoredValue::new_local(None),
            pair: StoredValue::new_local(RunPair::default()),
            started: StoredValue::new(0),
            keeping: StoredValue::new_local((None, false)),
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
        // The run kept from before stays until this one's first scoring replaces it.
        self.clear();
        self.started.update_value(|runs| *runs += 1);
        let cpu_reason = cpu_reason.or_else(|| models.cpu_reason());
        let build = worker_build(&cpu_reason);
        let clients = PlainAndKd::from_fn(|kd| {
            let client = TrainingClient::spawn(build, move |event| self.hear(kd, event));
            client.send(TrainingRequest::Train(Box::new(TrainRequest {
                kd,
                teacher: teacher.clone(),
                student: chosen.clone(),
                pack: PACK.to_string(),
                recordings: self.recordings.get_untracked(),
                settings: self.settings.get_untracked(),
                cpu_reason: cpu_reason.clone(),
            })));
            client
        });
        self.clients.set_value(Some(clients));
        self.phase.set(Phase::Preparing {
            stage: "models".into(),
            done: 0,
            total: 2,
        });
    }

    pub fn steer(self, steer: Steer) {
        self.clients.with_value(|clients| {
            for client in clients.iter().flat_map(PlainAndKd::iter) {
                client.send(TrainingRequest::Steer(steer));
            }
        });
    }

    /// Takes in one event from the worker of the run with KD (when `kd`) or without it.
    pub fn hear(self, kd: bool, event: TrainingEvent) {
        let Some(actions) = self.pair.try_update_value(|pair| pair.hear(kd, event)) else {
            return;
        };
        for action in actions {
            match action {
                PairAction::Show(event) => self.apply(event),
                PairAction::Settle { kd, verdict } => {
                    self.tell(kd, TrainingRequest::Settle(verdict));
                }
                PairAction::HandMaps(maps) => self.tell(true, TrainingRequest::TakeMaps(maps)),
            }
        }
    }

    /// Sends `request` to the worker of the run with KD (when `kd`) or without it.
    fn tell(self, kd: bool, request: TrainingRequest) {
        self.clients.with_value(|clients| {
            if let Some(clients) = clients {
                clients.get(kd).send(request);
            }
        });
    }

    /// Forgets the last run (on the page and in this browser): curves, maps and trained
    /// students. The next run starts from the shipped weights again.
    pub fn reset(self) {
        self.clear();
        self.keep(Keep::Forget);
    }

    fn clear(self) {
        self.clients.set_value(None);
        self.pair.set_value(RunPair::default());
        self.phase.set(Phase::Idle);
        self.info.set(None);
        self.points.set(PlainAndKd::default());
        self.scores.set(PlainAndKd::default());
        self.probe.set(None);
        self.probe_maps.set(None);
        self.elapsed_ms.set(0.0);
        self.trained.set(None);
    }

    /// The student of the run with KD (when `kd`) or without it, named as the page shows it.
    pub fn trained_source(self, kd: bool) -> Option<(ModelSource, usize)> {
        let trained = self.trained.get_untracked()?;
        let files = trained.students.get(kd);
        let label = RUNS.get(kd);
        let which = match trained.run {
            0 => ", restored".to_string(),
            1 => String::new(),
            later => format!(", run {later}"),
        };
        let source = ModelSource {
            name: format!("{}, trained here {label}{which}", trained.student),
            kind: ModelKind::Student,
            files: ModelFiles::Picked {
                config: files.config.clone(),
                weights: files.weights.clone(),
                preprocessor: None,
            },
        };
        Some((source, files.weights.len()))
    }

    /// Adds the student of the run with KD (when `kd`) or without it to the models above, so it
    /// hears the clip there beside the shipped ones.
    pub fn show_in_page(self, models: Models, kd: bool) {
        let Some((source, bytes)) = self.trained_source(kd) else {
            return;
        };
        let name = source.name.clone();
        if models
            .catalog
            .with_untracked(|c| c.iter().any(|e| e.name == name))
        {
            return;
        }
        let entry = CatalogEntry {
            name: name.clone(),
            kind: ModelKind::Student,
            title: name,
            bytes: bytes as u64,
        };
        models.add(entry, source);
    }

    /// Has the worker write the student of the run with KD (when `kd`) or without it as ONNX.
    pub fn export_onnx(self, models: Models, kd: bool) {
        if let Some((source, _)) = self.trained_source(kd) {
            models.onnx.request(models, source);
        }
    }

    /// Shows one event of the run, joined from both workers.
    fn apply(self, event: PairEvent) {
        match event {
            PairEvent::Preparing { stage, done, total } => {
                self.phase.set(Phase::Preparing { stage, done, total });
            }
            PairEvent::Started { setup, probe } => {
                self.info.set(Some(setup));
                self.probe.set(probe);
                self.phase.set(Phase::Running { paused: false });
            }
            PairEvent::Stepped {
                kd,
                point,
                elapsed_ms,
            } => {
                self.points.update(|runs| runs.get_mut(kd).push(point));
                // The run with KD's worker starts last (it also makes the teacher's maps), and
                // the other's first step waits for it: its clock is the pair's.
                if kd {
                    self.elapsed_ms.set(elapsed_ms);
                }
            }
            PairEvent::Validated {
                scores,
                probe,
                students,
            } => {
                self.scores.update(|runs| {
                    for (run, score) in runs.iter_mut().zip(scores) {
                        // After a rollback the scores of the undone steps belong to weights
                        // that no longer exist.
                        run.retain(|kept| kept.step < score.step);
                        run.push(score);
                    }
                });
                self.probe_maps.set(Some(probe));
                if let Some(students) = students {
                    self.keep_run(students, None);
                }
            }
            PairEvent::Paused => self.phase.set(Phase::Running { paused: true }),
            PairEvent::Resumed => self.phase.set(Phase::Running { paused: false }),
            PairEvent::Ended {
                end,
                students,
                elapsed_ms,
            } => {
                self.trained.set(Some(FinishedRun {
                    student: self.student.get_untracked(),
                    run: self.started.get_value(),
                    students: students.clone(),
                    elapsed_ms,
                }));
                self.elapsed_ms.set(elapsed_ms);
                self.keep_run(students, Some(end.clone()));
                self.phase.set(Phase::Ended(end));
                self.clients.set_value(None);
            }
            PairEvent::Failed { message } => {
                self.phase.set(Phase::Failed(message));
                self.clients.set_value(None);
            }
        }
    }

    /// Keeps the run as it is now, with these students, in this browser.
    fn keep_run(self, students: PlainAndKd<SavedStudent>, end: Option<TrainingEnd>) {
        let run = SavedRun {
            student: self.student.get_untracked(),
            settings: self.settings.get_untracked(),
            end,
            points: self.points.get_untracked(),
            scores: self.scores.get_untracked(),
            probe: self.probe.get_untracked(),
            probe_maps: self.probe_maps.get_untracked(),
            elapsed_ms: self.elapsed_ms.get_untracked(),
            students,
        };
        self.keep(Keep::Store(Box::new(run)));
    }

    /// Queues a change to the kept run; one writer applies them in order, skipping to the
    /// latest, so an older run never lands over a newer one.
    fn keep(self, change: Keep) {
        let start_writer = self.keeping.try_update_value(|(next, writing)| {
            *next = Some(change);
            !std::mem::replace(writing, true)
        });
        if start_writer != Some(true) {
            return;
        }
        spawn_local(async move {
            loop {
                let next = self
                    .keeping
                    .try_update_value(|(next, writing)| {
                        let taken = next.take();
                        *writing = taken.is_some();
                        taken
                    })
                    .flatten();
                match next {
                    Some(Keep::Store(run)) => {
                        run.store().await;
                    }
                    Some(Keep::Forget) => SavedRun::forget().await,
                    None => break,
                }
            }
        });
    }

    /// Shows the run this browser kept on an earlier visit, unless a run began meanwhile.
    pub async fn restore(self) {
        let Some(run) = SavedRun::load().await else {
            return;
        };
        if self.phase.get_untracked() != Phase::Idle {
            return;
        }
        let step = run.step();
        self.student.set(run.student.clone());
        self.settings.set(run.settings);
        self.points.set(run.points);
        self.scores.set(run.scores);
        self.probe.set(run.probe);
        self.probe_maps.set(run.probe_maps);
        self.elapsed_ms.set(run.elapsed_ms);
        self.trained.set(Some(FinishedRun {
            student: run.student,
            run: 0,
            students: run.students,
            elapsed_ms: run.elapsed_ms,
        }));
        self.phase.set(Phase::Restored { step, end: run.end });
    }

    /// Steps per second so far and the seconds left at that pace.
    pub fn pace(self) -> Option<(f64, f64)> {
        let done = self.points.with(|runs| runs.kd.len());
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
