//! What the page knows, as signals the components read: the shipped models' catalog, the models
//! and the current clip's readings, a live session (with the workers that help it) and its tape,
//! the calibration of its detections, the students exported as ONNX, the deployment card with
//! what this browser measured, and the training run with the run kept in this browser.
//! Responses from the workers land here.

pub mod calibration;
pub mod catalog;
pub mod deployment;
pub mod live;
pub mod live_helpers;
pub mod live_tape;
pub mod models;
pub mod onnx_export;
pub mod saved_run;
pub mod training_pair;
pub mod training_run;
