//! Training: the step-at-a-time trainers for students (with temporal KD) and for the teacher,
//! the schedule, SpecAugment, the teacher-map cache, metrics and evaluation, and (natively) the
//! loop the CLI runs over a dataset on disk and the record each run leaves (`training.json`).

mod augment;
mod batches;
mod cache;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod clips;
mod comparison;
mod evaluate;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod record;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod resume;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub mod run;
mod schedule;
mod teacher_maps;
mod trainer;

pub use crate::metrics::{
    Evaluation, Interval, Outcome, attention_in_window, average_precision, bootstrap_mean, poisson,
    wilson,
};
pub use augment::SpecAugment;
pub use cache::{
    MAP_BATCH_CLIPS, MAP_BATCH_SAMPLES, TeacherCache, bytes_fingerprint, clip_key, fingerprint,
    map_batches, teacher_target, teacher_targets,
};
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub use clips::ClipLoading;
pub use comparison::{ComparisonData, ComparisonRun};
pub use evaluate::{
    LabelledClip, ReadClips, class_probabilities, evaluate_student, evaluate_student_on,
    evaluate_teacher, evaluate_teacher_on,
};
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub use record::{
    CommonSettings, RecordError, Scoring, TRAINING_RECORD_FILE, TRAINING_RECORD_VERSION,
    TrainingRecord,
};
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub use resume::{RESUME_DIR, forget_saved_run, has_saved_run};
pub use schedule::LrSchedule;
#[cfg(not(target_family = "wasm"))]
pub use teacher_maps::FolderMapStore;
pub use teacher_maps::{MapClip, MapMaking, MapShare, TeacherMapStore, TeacherMaps, teacher_maps};
pub use trainer::{
    DIVERGENCE_FACTOR, LogitKd, MAX_STEP_ACTIVATION_BYTES, StepReport, StudentBatch,
    StudentTrainer, StudentTraining, TeacherBatch, TeacherTrainer, TeacherTraining,
};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("bad training settings: {0}")]
    Settings(String),
    #[error("bad batch: {0}")]
    Batch(String),
    #[error(
        "training diverged at step {step} (loss {loss}: not finite, or over {factor} times the first step's); the weights after step {kept} are kept, from before the update that led to it. Lower the learning rate or λ and try again",
        factor = DIVERGENCE_FACTOR
    )]
    Diverged {
        /// The step whose loss was bad.
        step: usize,
        loss: f32,
        /// The steps whose updates the kept weights carry: the update just before the bad
        /// loss is undone, as it is the one that produced it.
        kept: usize,
    },
    #[error("the model was lost after an earlier failure; start a new trainer")]
    Lost,
    /// The two runs of a comparison were stepped out of order: a bug in the caller.
    #[error("the comparison's runs are out of step: {0}")]
    Order(String),
    /// The caller asked to stop before the work ended.
    #[error("stopped before the end")]
    Stopped,
    /// The caller asked to stop, and the run was saved to be resumed.
    #[error("stopped after step {step} of {total}; the run is saved in {}", dir.display())]
    Paused {
        step: usize,
        total: usize,
        dir: std::path::PathBuf,
    },
    /// A saved run could not be written, or read back to go on.
    #[error("the saved run {0}")]
    Resume(String),
    #[error("the device failed: {0}")]
    Device(String),
    /// One of the devices a data-parallel step is split over failed (lost, reset, out of
    /// memory); `part` counts from 1 in the order of the run's device list.
    #[error("device {part} of the {parts} this run is split over failed: {reason}")]
    PartFailed {
        part: usize,
        parts: usize,
        reason: String,
    },
    /// A step of a run failed on a device; says where the run was last saved, if anywhere, so
    /// it can go on from there on devices that work.
    #[error("{failure} (at step {step}); {saved}")]
    DeviceFailed {
        step: usize,
        failure: Box<TrainError>,
        saved: String,
    },
    #[error(transparent)]
    Teacher(#[from] crate::teacher::TeacherError),
    /// The frozen teacher gave no map for clips that training needs; the message names them.
    #[error("the teacher could not map {0}")]
    TeacherMap(String),
    /// A forward pass gave back something other than what was asked for: a bug, not bad input.
    #[error("the student's output is not what was asked for: {0}")]
    Output(String),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
}
