//! The deployment figures that need no test data, measured the same way by `tempokd
//! deploy-card` and by the page: a student's cost (parameters, multiply-adds, ONNX sizes) and
//! the time it takes to classify a second of audio where it runs.

use super::card::{DeploymentCost, OnnxSize, TIMED_RUNS, TIMED_SECONDS};
use super::{ExportError, Precision, student_onnx};
use crate::audio::MODEL_SAMPLE_RATE;
use crate::students::{AttentionRequest, Student, StudentError};

/// A quiet tone of [`TIMED_SECONDS`]: the students' time does not depend on what they hear.
pub fn timing_clip() -> Vec<f32> {
    let samples = (TIMED_SECONDS * MODEL_SAMPLE_RATE as f32) as usize;
    (0..samples)
        .map(|n| 0.1 * (n as f32 * 0.05).sin())
        .collect()
}

/// `student`'s parameters, its multiply-adds for [`TIMED_SECONDS`] of audio and its ONNX file at
/// every precision.
pub async fn deployment_cost(student: &Student) -> Result<DeploymentCost, ExportError> {
    let frames = student
        .features(&timing_clip())
        .map_err(|e| ExportError::Features(e.to_string()))?
        .frames;
    let mut onnx = Vec::new();
    for precision in Precision::ALL {
        let bytes = student_onnx(student, precision).await?.bytes.len();
        onnx.push(OnnxSize { precision, bytes });
    }
    Ok(DeploymentCost {
        params: student.deployed_params(),
        multiply_adds_per_second: student.config().multiply_adds(frames),
        onnx,
    })
}

/// The median of [`TIMED_RUNS`] classifications of the timing clip on `student`'s device,
/// features included, logits read back, after one run that is not timed (`now_ms`: a clock in
/// milliseconds).
pub async fn time_one_second(
    student: &Student,
    now_ms: impl Fn() -> f64,
) -> Result<f64, StudentError> {
    let clip = timing_clip();
    student.infer(&clip, AttentionRequest::None).await?;
    let mut times = Vec::with_capacity(TIMED_RUNS);
    for _ in 0..TIMED_RUNS {
        let started = now_ms();
        student.infer(&clip, AttentionRequest::None).await?;
        times.push(now_ms() - started);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
