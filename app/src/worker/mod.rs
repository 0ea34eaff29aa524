//! The model worker: a Web Worker that owns the teacher and the students, so loading and
//! running them never freezes the page. `protocol` is what crosses between the two threads,
//! `runner` the worker's side and `client` the page's.

pub mod alarm;
mod client;
mod protocol;
mod runner;

pub use client::ModelClient;
pub use protocol::{
    ModelFiles, ModelKind, ModelSource, Reading, Request, Response, TeacherAttention, TimeMap,
};
pub use runner::ModelWorker;
