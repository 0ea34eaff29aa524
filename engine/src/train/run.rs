//! The command line's training loops over a dataset on disk, built on the step-at-a-time
//! trainers: clips loaded and featurised once before the first step, or streamed from disk a
//! batch at a time (`clips.rs`), batches drawn from clips of one length in a seeded order, the
//! validation split scored every so often and the best model kept; and the scoring of a split.

use super::TrainError;
use super::batches::{BatchOrder, student_batch};
use super::cache::clip_key;
use super::clips::{ClipLoading, ClipReader, ClipSize, SplitClips, StreamedClips};
use super::evaluate::{LabelledClip, evaluate_student_on, evaluate_teacher_on};
use super::resume::{KeptModel, ResumePoint, Resumed, RunIdentity};
use super::teacher_maps::{FolderMapStore, MapClip, teacher_maps};
use super::trainer::{
    Fitting, StepReport, StudentTrainer, StudentTraining, TeacherBatch, TeacherTrainer,
    TeacherTraining,
};
use crate::audio::Features;
use crate::data::{DataError, Dataset, Example, Split};
use crate::kd::RolloutConfig;
use crate::kd::TeacherTarget;
use crate::metrics::Evaluation;
use crate::parallel;
use crate::rng::Rng;
use crate::students::{Student, StudentFrontEnd};
use crate::teacher::Teacher;
use burn::module::Module;
use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Clips each thread reads between two progress reports (and stop checks) while loading.
const LOADING_CHUNK: usize = 64;

/// Where a long run is; `report` after each step, `validation` after each scoring.
pub enum Progress<'a> {
    Loading {
        done: usize,
        total: usize,
        what: &'a str,
    },
    Step {
        report: &'a StepReport,
        total: usize,
    },
    Validated {
        step: usize,
        evaluation: &'a Evaluation,
    },
}

/// A trained model with the best validation score it reached and the run's record.
pub struct Trained<M> {
    pub model: M,
    pub best_step: usize,
    pub validation: Option<Evaluation>,
    pub history: Vec<StepReport>,
    pub validations: Vec<(usize, Evaluation)>,
    pub times: RunTimes,
    /// The steps at which a stopped run was resumed, earliest first.
    pub resumed_at: Vec<usize>,
    /// Wall-clock seconds of the sittings before this one.
    earlier_s: f32,
    started: Instant,
}

/// How a run is scored, saved, stopped and spread over devices.
pub struct RunPlan<'a> {
    /// Score the validation split every this many steps, and at the last.
    pub eval_every: usize,
    /// Where the run's state is saved at every scoring and when it is stopped (the run's
    /// [`RESUME_DIR`](super::RESUME_DIR)); `None` saves nothing. The caller removes it
    /// ([`forget_saved_run`](super::forget_saved_run)) once the run's results are written.
    pub save_to: Option<PathBuf>,
    /// Go on from the state saved in `save_to`, when there is one.
    pub resume: bool,
    /// Once set (by a signal handler), the run saves its state and stops before its next step.
    pub stop: Option<&'a AtomicBool>,
    /// Further autodiff devices each batch is split over (data parallel); none by default.
    pub replicas: Vec<Device>,
    /// Clips loaded before the first step, or streamed from disk batch by batch.
    pub loading: ClipLoading,
}

/// Where a run's wall-clock time went, in seconds, to show whether preparing the data keeps up
/// with the steps (batches are built on the thread that steps, between steps; streamed clips
/// are read on other threads while the steps run).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunTimes {
    /// Reading, decoding and featurising the clips, and the teacher's maps (computed or read
    /// from their cache).
    pub loading_s: f32,
    /// Building each step's batch from its clips, SpecAugment and the KD targets included, and
    /// waiting for the clips when streamed.
    pub batching_s: f32,
    /// Of `batching_s`, the steps' waiting for streamed clips to be read; `None` when the clips
    /// were loaded before the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_s: Option<f32>,
    /// The optimisation steps, each ending with its loss read back from the device.
    pub stepping_s: f32,
    /// Scoring the validation split.
    pub validating_s: f32,
}

impl std::fmt::Display for RunTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loading {:.1} s, building batches {:.1} s",
            self.loading_s, self.batching_s
        )?;
        if let Some(waiting) = self.waiting_s {
            write!(f, " (of which waiting for streamed clips {waiting:.1} s)")?;
        }
        write!(
            f,
            ", steps {:.1} s, validation {:.1} s",
            self.stepping_s, self.validating_s
        )
    }
}

impl RunTimes {
    /// Counts a step's wait for its streamed clips (none when they were loaded before).
    fn add_waiting(&mut self, waited: Option<f32>) {
        if let Some(waited) = waited {
            *self.waiting_s.get_or_insert(0.0) += waited;
        }
    }
}

/// Seconds since `started`, added to `total`.
fn add_since(total: &mut f32, started: Instant) {
    *total += started.elapsed().as_secs_f32();
}

/// The frozen teacher whose maps a student learns from, with where those maps are kept.
pub struct TeacherGuide {
    pub teacher: Teacher,
    pub rollout: RolloutConfig,
    /// The teacher's [`fingerprint`](super::fingerprint): its files and rollout settings.
    pub fingerprint: String,
    pub store: FolderMapStore,
}

impl TeacherGuide {
    /// The teacher's target for each example, computing (and storing) only what the store lacks.
    /// Stops with [`TrainError::Stopped`] once `stop` is set, before the next batch of maps.
    pub fn targets(
        &self,
        dataset: &Dataset,
        examples: &[&Example],
        stop: Option<&AtomicBool>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<TeacherTarget>, TrainError> {
        let clips = (examples.iter())
            .map(|example| {
                let path = dataset.path(example);
                let file =
                    crate::capped_read::read_capped(&path, crate::audio::MAX_FILE_BYTES, "a clip")
                        .map_err(DataError::Invalid)?;
                Ok(MapClip {
                    name: example.file.clone(),
                    key: clip_key(&example.file, &file),
                })
            })
            .collect::<Result<Vec<MapClip>, DataError>>()?;
        let read = |index: usize| -> Result<Cow<'static, [f32]>, TrainError> {
            Ok(Cow::Owned(dataset.audio(examples[index])?))
        };
        let report = async |done: usize, total: usize| -> Result<(), TrainError> {
            stop_if_asked(stop)?;
            progress(Progress::Loading {
                done,
                total,
                what: "teacher maps",
            });
            Ok(())
        };
        let kept = pollster::block_on(teacher_maps(
            &self.teacher,
            &self.rollout,
            &self.fingerprint,
            &clips,
            read,
            &self.store,
            report,
        ))?;
        Ok(kept.maps)
    }
}

/// Class indices of an example's labels under `labels`, or an error naming its row.
pub fn targets_of(
    dataset: &Dataset,
    example: &Example,
    labels: &[String],
) -> Result<Vec<usize>, DataError> {
    example
        .labels
        .iter()
        .map(|label| {
            labels
                .iter()
                .position(|l| l == label)
                .ok_or_else(|| DataError::Row {
                    path: dataset.origin(example),
                    row: example.row,
                    why: format!(
                        "label `{label}` is not one the model knows ({})",
                        labels.join(", ")
                    ),
                })
        })
        .collect()
}

/// An example as a student's input, with its targets and window.
fn student_clip(
    dataset: &Dataset,
    example: &Example,
    front_end: &StudentFrontEnd,
    labels: &[String],
) -> Result<LabelledClip<Features>, TrainError> {
    let samples = dataset.audio(example)?;
    Ok(LabelledClip {
        input: (front_end.features(&samples))
            .map_err(|e| DataError::file(dataset.path(example), e))?,
        targets: targets_of(dataset, example, labels)?,
        window: example.window,
    })
}

/// An example as a raw clip, with its targets and window.
fn waveform_clip(
    dataset: &Dataset,
    example: &Example,
    labels: &[String],
) -> Result<LabelledClip<Vec<f32>>, TrainError> {
    Ok(LabelledClip {
        input: dataset.audio(example)?,
        targets: targets_of(dataset, example, labels)?,
        window: example.window,
    })
}

/// `work` on each example, over the machine's cores a chunk at a time, the results in order;
/// between chunks the progress of `what` is reported and a stop obeyed.
fn over_examples<R: Send>(
    examples: &[&Example],
    what: &str,
    stop: Option<&AtomicBool>,
    progress: &mut dyn FnMut(Progress<'_>),
    work: &(dyn Fn(&Example) -> Result<R, TrainError> + Sync),
) -> Result<Vec<R>, TrainError> {
    let threads = parallel::cores();
    let mut results = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(LOADING_CHUNK * threads) {
        stop_if_asked(stop)?;
        results.extend(parallel::map(chunk, threads, |example| work(example))?);
        progress(Progress::Loading {
            done: results.len(),
            total: examples.len(),
            what,
        });
    }
    Ok(results)
}

/// One split's examples of a dataset, whose clips a run or a scoring holds as its
/// [`ClipLoading`] says.
struct SplitExamples<'d> {
    dataset: &'d Dataset,
    split: Split,
    examples: Vec<&'d Example>,
}

impl<'d> SplitExamples<'d> {
    fn new(dataset: &'d Dataset, split: Split) -> Self {
        Self {
            dataset,
            split,
            examples: dataset.split(split).collect(),
        }
    }

    /// The clips as a student with `front_end` and `labels` reads them.
    fn student_clips<'r>(
        &'r self,
        front_end: &'r StudentFrontEnd,
        labels: &'r [String],
        loading: ClipLoading,
        stop: Option<&AtomicBool>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<SplitClips<'r, Features>, TrainError> {
        let dataset = self.dataset;
        let read = move |example: &Example| student_clip(dataset, example, front_end, labels);
        let frames = |example: &Example| frames_on_disk(dataset, example, front_end);
        self.clips(loading, stop, Box::new(read), &frames, progress)
    }

    /// The clips as raw waveforms, labelled by `labels`.
    fn waveform_clips<'r>(
        &'r self,
        labels: &'r [String],
        loading: ClipLoading,
        stop: Option<&AtomicBool>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<SplitClips<'r, Vec<f32>>, TrainError> {
        let dataset = self.dataset;
        let read = move |example: &Example| waveform_clip(dataset, example, labels);
        let samples = |example: &Example| Ok(dataset.audio(example)?.len());
        self.clips(loading, stop, Box::new(read), &samples, progress)
    }

    /// The clips as `loading` says: all read by `read` now, or (streamed) only their sizes
    /// learnt now, by `size_on_disk`, and the clips read when needed. Stops with
    /// [`TrainError::Stopped`] once `stop` is set.
    fn clips<'r, T: ClipSize + Clone + Send + Sync>(
        &'r self,
        loading: ClipLoading,
        stop: Option<&AtomicBool>,
        read: Box<ClipReader<'r, T>>,
        size_on_disk: &(dyn Fn(&Example) -> Result<usize, TrainError> + Sync),
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<SplitClips<'r, T>, TrainError> {
        let name = self.split.name();
        Ok(match loading {
            ClipLoading::Memory => {
                SplitClips::loaded(over_examples(&self.examples, name, stop, progress, &read)?)
            }
            ClipLoading::Stream => SplitClips::Streamed(StreamedClips {
                sizes: over_examples(
                    &self.examples,
                    &format!("{name} (lengths)"),
                    stop,
                    progress,
                    size_on_disk,
                )?,
                examples: &self.examples,
                read,
            }),
        })
    }
}

/// The frames a student reads from an example, from its decoded length.
fn frames_on_disk(
    dataset: &Dataset,
    example: &Example,
    front_end: &StudentFrontEnd,
) -> Result<usize, TrainError> {
    let samples = dataset.audio(example)?.len();
    (front_end.frames_for(samples)).map_err(|e| DataError::file(dataset.path(example), e).into())
}

/// `student` scored on `split`, its clips loaded first or (streamed) read a batch at a time;
/// with each clip's temporal map, in the split's order.
pub fn evaluate_student_split(
    dataset: &Dataset,
    split: Split,
    student: &Student,
    loading: ClipLoading,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let examples = SplitExamples::new(dataset, split);
    let (front_end, labels) = (student.front_end(), student.labels());
    let clips = examples.student_clips(front_end, labels, loading, None, progress)?;
    let mut scored = 0;
    pollster::block_on(evaluate_student_on(
        student,
        clips.sizes(),
        &mut |batch| {
            scored += batch.len();
            report_scoring(scored, clips.len(), progress);
            clips.read(batch)
        },
        dataset.multi_label,
    ))
}

/// `teacher` scored on `split` with `rollout`, its clips loaded first or (streamed) read a batch
/// at a time; with each clip's rollout map, in the split's order.
pub fn evaluate_teacher_split(
    dataset: &Dataset,
    split: Split,
    teacher: &Teacher,
    rollout: &RolloutConfig,
    loading: ClipLoading,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let examples = SplitExamples::new(dataset, split);
    let clips = examples.waveform_clips(teacher.labels(), loading, None, progress)?;
    let mut scored = 0;
    pollster::block_on(evaluate_teacher_on(
        teacher,
        clips.len(),
        &mut |batch| {
            scored += batch.len();
            report_scoring(scored, clips.len(), progress);
            clips.read(batch)
        },
        rollout,
        dataset.multi_label,
    ))
}

/// Reports the clips scored so far, as a batch of them starts.
fn report_scoring(done: usize, total: usize, progress: &mut dyn FnMut(Progress<'_>)) {
    progress(Progress::Loading {
        done,
        total,
        what: "scoring",
    });
}

/// Whether `stop` is set.
fn asked(stop: Option<&AtomicBool>) -> bool {
    stop.is_some_and(|stop| stop.load(Ordering::Relaxed))
}

/// [`TrainError::Stopped`] once `stop` is set.
fn stop_if_asked(stop: Option<&AtomicBool>) -> Result<(), TrainError> {
    match asked(stop) {
        true => Err(TrainError::Stopped),
        false => Ok(()),
    }
}

/// Scores after each validation, higher is better: accuracy (or mAP), then localisation.
fn score(evaluation: &Evaluation) -> (f32, f32) {
    (
        evaluation.map.unwrap_or(evaluation.accuracy),
        evaluation.attention_in_window.unwrap_or(0.0),
    )
}

impl<M> Trained<M> {
    /// A run that started at `started` (its loading included) from `model`.
    fn start(model: M, steps: usize, started: Instant) -> Self {
        Self {
            model,
            best_step: 0,
            validation: None,
            history: Vec::with_capacity(steps),
            validations: Vec::new(),
            times: RunTimes {
                loading_s: started.elapsed().as_secs_f32(),
                ..RunTimes::default()
            },
            resumed_at: Vec::new(),
            earlier_s: 0.0,
            started,
        }
    }

    /// Wall-clock seconds of training, over every sitting of a resumed run.
    pub fn seconds(&self) -> f32 {
        self.earlier_s + self.started.elapsed().as_secs_f32()
    }

    /// Takes over a saved run's best model and history; this sitting's loading time is added
    /// to the earlier sittings' times.
    fn resume_from<S>(&mut self, saved: super::resume::SavedRun<S>, best: M) {
        let loading_s = self.times.loading_s;
        self.model = best;
        self.best_step = saved.best_step;
        self.validation = saved.validation;
        self.history = saved.history;
        self.validations = saved.validations;
        self.times = saved.times;
        self.times.loading_s += loading_s;
        self.resumed_at = saved.resumed_at;
        // A run stopped again before its first step here was resumed at the same step.
        if self.resumed_at.last() != Some(&saved.step) {
            self.resumed_at.push(saved.step);
        }
        self.earlier_s = saved.seconds;
    }

    /// Records one step's report; every `eval_every` steps and at the last, takes a snapshot of
    /// the model and its validation score from `snapshot` and offers it.
    fn record(
        &mut self,
        step: usize,
        total: usize,
        eval_every: usize,
        report: StepReport,
        progress: &mut dyn FnMut(Progress<'_>),
        snapshot: impl FnOnce() -> Result<(M, Option<Evaluation>), TrainError>,
    ) -> Result<(), TrainError> {
        progress(Progress::Step {
            report: &report,
            total,
        });
        self.history.push(report);
        if step.is_multiple_of(eval_every.max(1)) || step == total {
            let started = Instant::now();
            let (current, evaluation) = snapshot()?;
            add_since(&mut self.times.validating_s, started);
            self.offer(step, current, evaluation, progress);
        }
        Ok(())
    }

    /// Keeps `current` when it scores best on validation so far, or always when there is no
    /// validation split to score it on.
    fn offer(
        &mut self,
        step: usize,
        current: M,
        evaluation: Option<Evaluation>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) {
        let Some(evaluation) = evaluation else {
            self.model = current;
            self.best_step = step;
            return;
        };
        progress(Progress::Validated {
            step,
            evaluation: &evaluation,
        });
        if self
            .validation
            .as_ref()
            .is_none_or(|best| score(&evaluation) > score(best))
        {
            self.model = current;
            self.best_step = step;
            self.validation = Some(evaluation.clone());
        }
        self.validations.push((step, evaluation));
    }
}

fn require_clips(dataset: &Dataset, train_clips: usize) -> Result<(), TrainError> {
    match train_clips {
        0 => Err(DataError::Invalid(format!(
            "{}: the train split is empty",
            dataset.root.display()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// A run's saving and resuming, as its [`RunPlan`] asks.
struct Sitting<'p, S> {
    plan: &'p RunPlan<'p>,
    point: Option<ResumePoint<S>>,
    total: usize,
    /// The step the saved run stands at, once this sitting saved or resumed one.
    saved_at: Cell<Option<usize>>,
}

impl<'p, S: Clone + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug> Sitting<'p, S> {
    fn new(plan: &'p RunPlan<'p>, identity: RunIdentity<S>, total: usize) -> Self {
        Self {
            plan,
            point: (plan.save_to.clone()).map(|dir| ResumePoint::new(dir, identity)),
            total,
            saved_at: Cell::new(None),
        }
    }

    /// Goes on from the saved state when the plan asks to and one is there; returns the saved
    /// SpecAugment generator state, if any.
    fn resume<M: Module, K: KeptModel>(
        &self,
        fitting: &mut Fitting<M>,
        run: &mut Trained<K>,
        order: &mut BatchOrder,
        augmented: bool,
    ) -> Result<Option<u64>, TrainError> {
        let Some(point) = self.point.as_ref().filter(|_| self.plan.resume) else {
            return Ok(None);
        };
        let Some(Resumed {
            saved,
            model,
            fitting: state,
            best,
        }) = point.load(fitting.model()?.clone(), &run.model)?
        else {
            return Ok(None);
        };
        let damaged = |why: String| {
            TrainError::Resume(format!(
                "{}: {why}; remove it to start afresh",
                point.dir().display()
            ))
        };
        saved.check(self.total, augmented).map_err(damaged)?;
        order.resume(saved.order.clone()).map_err(damaged)?;
        let augment = saved.augment;
        fitting.resume(model, state);
        run.resume_from(saved, best);
        self.saved_at.set(Some(fitting.done));
        Ok(augment)
    }

    /// A step that failed on a device, told with its step and where the run was last saved, so
    /// it can go on from there on devices that work; other errors as they are.
    fn on_failure(&self, step: usize, error: TrainError) -> TrainError {
        if !matches!(error, TrainError::Device(_) | TrainError::PartFailed { .. }) {
            return error;
        }
        let saved = match (&self.point, self.saved_at.get()) {
            (Some(point), Some(at)) => format!(
                "the run as it was after step {at} is saved in {}: run the same command with \
                 --resume, on devices that work",
                point.dir().display()
            ),
            (Some(_), None) => format!(
                "nothing was saved yet (the run is saved at every scoring, every {} steps)",
                self.plan.eval_every.max(1)
            ),
            (None, _) => "this run saves nothing to go on from".to_string(),
        };
        TrainError::DeviceFailed {
            step,
            failure: Box::new(error),
            saved,
        }
    }

    /// Before a step: when a stop was asked, saves the run and says where.
    fn before_step<M: Module, K: KeptModel>(
        &self,
        fitting: &Fitting<M>,
        run: &Trained<K>,
        order: &BatchOrder,
        augment: Option<&Rng>,
    ) -> Result<(), TrainError> {
        if !asked(self.plan.stop) {
            return Ok(());
        }
        match &self.point {
            Some(point) => {
                point.save(fitting, run, order.state(), augment.map(Rng::state))?;
                Err(TrainError::Paused {
                    step: fitting.done,
                    total: self.total,
                    dir: point.dir().to_path_buf(),
                })
            }
            None => Err(TrainError::Stopped),
        }
    }

    /// After step `step`: saves the run at each scoring before the last step.
    fn after_step<M: Module, K: KeptModel>(
        &self,
        step: usize,
        fitting: &Fitting<M>,
        run: &Trained<K>,
        order: &BatchOrder,
        augment: Option<&Rng>,
    ) -> Result<(), TrainError> {
        match &self.point {
            Some(point)
                if step < self.total && step.is_multiple_of(self.plan.eval_every.max(1)) =>
            {
                point.save(fitting, run, order.state(), augment.map(Rng::state))?;
                self.saved_at.set(Some(step));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Refuses a run any of whose batches `check` refuses (a batch holds clips of one size: of each
/// size, as many as there are up to `batch_size`), before a batch is built.
fn check_batches(
    sizes: &[usize],
    batch_size: usize,
    check: impl Fn(usize, usize) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let mut counts = std::collections::BTreeMap::new();
    for &size in sizes {
        *counts.entry(size).or_insert(0usize) += 1;
    }
    (counts.into_iter()).try_for_each(|(size, count)| check(count.min(batch_size), size))
}

/// The fingerprint of the names of the clips a run trains on, in order.
fn clip_names_fingerprint(examples: &[&Example]) -> String {
    let names: Vec<&str> = examples.iter().map(|e| e.file.as_str()).collect();
    super::bytes_fingerprint(names.join("\n").as_bytes())
}

/// Trains `student` (on an autodiff device) on the train split, scoring the validation split
/// as `plan` says and returning the best.
pub fn train_student(
    dataset: &Dataset,
    student: Student,
    settings: StudentTraining,
    guide: Option<&TeacherGuide>,
    plan: &RunPlan<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Trained<Student>, TrainError> {
    dataset.check_labels(student.labels())?;
    let started = Instant::now();
    let front_end = student.front_end().clone();
    let labels = student.labels().to_vec();
    let (train_split, validation_split) = (
        SplitExamples::new(dataset, Split::Train),
        SplitExamples::new(dataset, Split::Validation),
    );
    let train_examples = &train_split.examples;
    let (loading, stop) = (plan.loading, plan.stop);
    let train = train_split.student_clips(&front_end, &labels, loading, stop, progress)?;
    require_clips(dataset, train.len())?;
    let validation =
        validation_split.student_clips(&front_end, &labels, loading, stop, progress)?;
    let needs_teacher = settings.loss.lambda > 0.0 || settings.logit_kd.is_some();
    let teacher_targets = match (needs_teacher, guide) {
        (true, Some(guide)) => {
            settings
                .target
                .validate(guide.rollout.row)
                .map_err(|e| TrainError::Settings(e.to_string()))?;
            Some(guide.targets(dataset, train_examples, plan.stop, progress)?)
        }
        (true, None) => {
            return Err(TrainError::Settings(
                "λ > 0 or logit KD needs a teacher (--teacher DIR)".into(),
            ));
        }
        (false, _) => None,
    };
    let identity = RunIdentity {
        settings: settings.clone(),
        train_clips: clip_names_fingerprint(train_examples),
        teacher: guide
            .filter(|_| needs_teacher)
            .map(|guide| guide.fingerprint.clone()),
        eval_every: plan.eval_every,
    };
    let config = student.config().clone();
    let mut order = BatchOrder::new(
        train.sizes().iter().copied(),
        settings.batch_size,
        Rng::new(settings.seed).fork("order"),
    );
    let mut augment_rng = Rng::new(settings.seed).fork("augment");
    let (total, batch_size) = (settings.steps, settings.batch_size);
    let spec_augment = settings.spec_augment;
    let target = settings.target;
    let sitting = Sitting::new(plan, identity, total);
    let mut trainer = StudentTrainer::new(student, settings, dataset.multi_label)?
        .data_parallel(plan.replicas.clone())?;
    check_batches(train.sizes(), batch_size, |clips, frames| {
        trainer.check_memory(clips, frames)
    })?;
    let mut run = Trained::start(trainer.student()?, total, started);
    if let Some(state) = sitting.resume(&mut trainer.fitting, &mut run, &mut order, true)? {
        augment_rng = Rng::resumed(state);
    }
    std::thread::scope(|scope| {
        let feed = train.feed(scope, &order, total.saturating_sub(trainer.steps_done()));
        for step in trainer.steps_done() + 1..=total {
            sitting.before_step(&trainer.fitting, &run, &order, Some(&augment_rng))?;
            let batching = Instant::now();
            let picked = order.next();
            let (chosen, waited) = feed.take(&picked)?;
            run.times.add_waiting(waited);
            let batch = student_batch(
                &chosen,
                &picked,
                teacher_targets.as_deref().map(|targets| (targets, &target)),
                &config,
                spec_augment.as_ref(),
                &mut augment_rng,
            );
            drop(chosen);
            add_since(&mut run.times.batching_s, batching);
            let stepping = Instant::now();
            let report = pollster::block_on(trainer.step(&batch))
                .map_err(|error| sitting.on_failure(step, error))?;
            add_since(&mut run.times.stepping_s, stepping);
            run.record(step, total, plan.eval_every, report, progress, || {
                let current = trainer.student()?;
                let evaluation = match validation.is_empty() {
                    true => None,
                    false => Some(
                        pollster::block_on(evaluate_student_on(
                            &current,
                            validation.sizes(),
                            &mut |batch| validation.read(batch),
                            dataset.multi_label,
                        ))?
                        .0,
                    ),
                };
                Ok((current, evaluation))
            })?;
            sitting.after_step(step, &trainer.fitting, &run, &order, Some(&augment_rng))?;
        }
        Ok(run)
    })
}

/// Trains `teacher` (on an autodiff device) on the train split; the best on validation wins.
pub fn train_teacher(
    dataset: &Dataset,
    teacher: Teacher,
    settings: &TeacherTraining,
    rollout: &RolloutConfig,
    plan: &RunPlan<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Trained<Teacher>, TrainError> {
    dataset.check_labels(teacher.labels())?;
    let labels = teacher.labels().to_vec();
    let started = Instant::now();
    let (train_split, validation_split) = (
        SplitExamples::new(dataset, Split::Train),
        SplitExamples::new(dataset, Split::Validation),
    );
    let train_examples = &train_split.examples;
    let (loading, stop) = (plan.loading, plan.stop);
    let train = train_split.waveform_clips(&labels, loading, stop, progress)?;
    require_clips(dataset, train.len())?;
    let validation = validation_split.waveform_clips(&labels, loading, stop, progress)?;
    let identity = RunIdentity {
        settings: settings.clone(),
        train_clips: clip_names_fingerprint(train_examples),
        teacher: None,
        eval_every: plan.eval_every,
    };
    let mut order = BatchOrder::new(
        train.sizes().iter().copied(),
        settings.batch_size,
        Rng::new(settings.seed).fork("order"),
    );
    let total = settings.steps;
    let effects = &settings.fresh_effects;
    let mut effects_rng = Rng::new(settings.seed).fork("fresh effects");
    let sitting = Sitting::new(plan, identity, total);
    let mut trainer = TeacherTrainer::new(teacher, settings, dataset.multi_label)?
        .data_parallel(plan.replicas.clone())?;
    check_batches(train.sizes(), settings.batch_size, |clips, samples| {
        trainer.check_memory(clips, samples)
    })?;
    let mut run = Trained::start(trainer.teacher()?, total, started);
    let with_effects = !effects.is_none();
    if let Some(state) = sitting.resume(&mut trainer.fitting, &mut run, &mut order, with_effects)? {
        effects_rng = Rng::resumed(state);
    }
    std::thread::scope(|scope| {
        let feed = train.feed(scope, &order, total.saturating_sub(trainer.steps_done()));
        for step in trainer.steps_done() + 1..=total {
            let kept_rng = with_effects.then_some(&effects_rng);
            sitting.before_step(&trainer.fitting, &run, &order, kept_rng)?;
            let batching = Instant::now();
            let picked = order.next();
            let (chosen, waited) = feed.take(&picked)?;
            run.times.add_waiting(waited);
            let samples = chosen.first().map_or(0, |clip| clip.input.len());
            let mut waveforms = Vec::with_capacity(chosen.len() * samples);
            for clip in &chosen {
                match with_effects {
                    true => {
                        waveforms.extend(effects.draw(&mut effects_rng).apply_to_clip(&clip.input))
                    }
                    false => waveforms.extend_from_slice(&clip.input),
                }
            }
            let batch = TeacherBatch {
                clips: chosen.len(),
                samples,
                waveforms,
                targets: chosen.iter().map(|clip| clip.targets.clone()).collect(),
            };
            drop(chosen);
            add_since(&mut run.times.batching_s, batching);
            let stepping = Instant::now();
            let report = pollster::block_on(trainer.step(&batch))
                .map_err(|error| sitting.on_failure(step, error))?;
            add_since(&mut run.times.stepping_s, stepping);
            run.record(step, total, plan.eval_every, report, progress, || {
                let current = trainer.teacher()?;
                let evaluation = match validation.is_empty() {
                    true => None,
                    false => Some(
                        pollster::block_on(evaluate_teacher_on(
                            &current,
                            validation.len(),
                            &mut |batch| validation.read(batch),
                            rollout,
                            dataset.multi_label,
                        ))?
                        .0,
                    ),
                };
                Ok((current, evaluation))
            })?;
            let kept_rng = with_effects.then_some(&effects_rng);
            sitting.after_step(step, &trainer.fitting, &run, &order, kept_rng)?;
        }
        Ok(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clip_size_is_checked_with_its_largest_batch() {
        let checked = std::cell::RefCell::new(Vec::new());
        let record = |clips, size| {
            checked.borrow_mut().push((clips, size));
            match size > 500 {
                true => Err(TrainError::Batch(format!("{clips} of {size}"))),
                false => Ok(()),
            }
        };
        assert!(check_batches(&[100, 40, 100, 100, 40], 2, record).is_ok());
        assert_eq!(*checked.borrow(), [(2, 40), (2, 100)]);
        checked.borrow_mut().clear();
        let refused = check_batches(&[100, 800, 100], 4, record).unwrap_err();
        assert_eq!(
            refused.to_string(),
            TrainError::Batch("1 of 800".into()).to_string()
        );
        assert_eq!(*checked.borrow(), [(2, 100), (1, 800)]);
    }
}
