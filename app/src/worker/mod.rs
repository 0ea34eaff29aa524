//! The model worker: a Web Worker that owns the teacher and the students, so loading and
//! running them never freezes the page. `protocol` is what crosses between the two threads,
//! `runner` the worker's side (built only into the workers, with the `models` feature) and
//! `client` the page's.

pub mod alarm;
mod client;
mod protocol;
#[cfg(feature = "models")]
mod runner;

pub use client::{ModelClient, WorkerBuild};
pub use protocol::{
    ModelFiles, ModelKind, ModelSource, Reading, Request, Response, TeacherAttention, TimeMap,
};
#[cfg(feature = "models")]
pub use runner::register;
