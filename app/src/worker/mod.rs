//! The model worker: a Web Worker that owns the teacher and the students, so loading and
//! running them never freezes the page; a second one trains. `protocol` is what crosses between
//! the threads, `runner` and `trainer` the worker's side (built only into the workers, with
//! the `models` feature, with `device` and `model_files` that both use, `listening` for live
//! streams and `calibrating` for measuring them), `yielding` how their long loops let messages
//! in, `fetch` how model files come over the network, and `client` the page's.

pub mod alarm;
#[cfg(feature = "models")]
mod calibrating;
mod client;
#[cfg(feature = "models")]
mod device;
pub mod fetch;
#[cfg(feature = "models")]
mod listening;
#[cfg(feature = "models")]
mod map_store;
#[cfg(feature = "models")]
mod model_files;
mod protocol;
#[cfg(feature = "models")]
mod runner;
#[cfg(feature = "models")]
mod trainer;
pub mod yielding;

pub use client::{ModelClient, TrainingClient, WorkerBuild};
pub use protocol::{
    BrowserProfile, Cadence, CalibrateRequest, CalibrationEvent, CalibrationProgress,
    CalibrationSettings, CalibrationStreams, CheckOutcome, DeploymentCost, FromWorker, KeyedMaps,
    ListenSettings, LiveEvent, LiveModel, LiveReading, MAX_LAG_S, MAX_MODEL_FILE_BYTES,
    ModelCalibration, ModelFiles, ModelKind, ModelSource, NamedReading, Precision, Probe,
    Recording, Request, Response, RunScore, RunSetup, SavedStudent, Steer, StepPoint,
    TeacherAttention, TimeMap, ToWorker, TrainRequest, TrainSettings, TrainingEnd, TrainingEvent,
    TrainingRequest, Verdict, too_large,
};
#[cfg(feature = "models")]
pub use runner::register;
