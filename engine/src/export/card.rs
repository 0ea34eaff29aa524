//! The deployment card: what each shipped student costs on a device and keeps when its weights
//! are stored smaller. `tempokd deploy-card` writes it (beside the models, for the page) and the
//! page shows it, with a row for a student trained in the browser.

use super::Precision;
use crate::metrics::Interval;
use serde::{Deserialize, Serialize};

/// The seconds of audio every timing classifies, and every multiply-add count is for.
pub const TIMED_SECONDS: f32 = 1.0;

/// Runs whose median is a card's time.
pub const TIMED_RUNS: usize = 15;

/// Every shipped student, measured on one machine and scored on one test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentCard {
    /// The machine the times and the memory were measured on.
    pub machine: String,
    pub test_data: String,
    pub lengths_s: Vec<f32>,
    pub students: Vec<CardStudent>,
}

/// One student: what it costs, then what it keeps at each precision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardStudent {
    pub model: String,
    pub title: String,
    pub cost: DeploymentCost,
    /// The paper's parameter count for the architecture, where it gives one.
    pub paper_params: Option<String>,
    /// Median of [`TIMED_RUNS`] classifications of [`TIMED_SECONDS`] of audio on the card's
    /// machine's CPU, features included, logits only.
    pub native_ms: f64,
    /// Heap in use at the peak of the first such classification, above what was in use before
    /// the student loaded: its weights, the features and every activation (the process's
    /// one-time allocations, made by an earlier student, left out).
    pub peak_memory_bytes: u64,
    pub precisions: Vec<AtPrecision>,
}

/// What a student costs wherever it runs, from its config and its exports alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentCost {
    /// Parameters of the deployed model (the training-only query left out).
    pub params: usize,
    /// Multiply-adds of the matrix products and convolutions that classify [`TIMED_SECONDS`]
    /// of audio (logits and temporal attention), as the ONNX export computes them.
    pub multiply_adds_per_second: u64,
    /// The ONNX file at each precision.
    pub onnx: Vec<OnnxSize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnnxSize {
    pub precision: Precision,
    pub bytes: usize,
}

impl DeploymentCost {
    pub fn onnx_bytes(&self, precision: Precision) -> Option<usize> {
        (self.onnx.iter())
            .find(|size| size.precision == precision)
            .map(|size| size.bytes)
    }
}

/// A student's weights stored at one precision and read back, scored on the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtPrecision {
    pub precision: Precision,
    pub scores: Vec<LengthScore>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthScore {
    pub length_s: f32,
    pub n: usize,
    pub accuracy: f32,
    pub accuracy_interval: Interval,
    pub localisation: Option<f32>,
    pub localisation_interval: Option<Interval>,
    /// Points of accuracy against the same student at fp32 (negative: lost).
    pub points_changed: f32,
}

/// Multiply-adds in millions, as the card and the page write them.
pub fn millions(count: u64) -> String {
    format!("{:.2} M", count as f64 / 1e6)
}

impl LengthScore {
    /// The accuracy as a percentage with its interval.
    pub fn accuracy_text(&self) -> String {
        format!(
            "{:.1} % ({:.1}–{:.1})",
            100.0 * self.accuracy,
            100.0 * self.accuracy_interval.low,
            100.0 * self.accuracy_interval.high
        )
    }

    /// The points changed against fp32 in brackets, led by a space; a change that rounds to
    /// nothing has no sign, and never reads "-0.0".
    pub fn change_text(&self) -> String {
        match self.points_changed {
            points if points.abs() < 0.05 => " (±0.0)".to_owned(),
            points => format!(" ({points:+.1})"),
        }
    }
}

impl CardStudent {
    /// The scores at `precision`, where the card has them.
    pub fn at(&self, precision: Precision) -> Option<&AtPrecision> {
        self.precisions.iter().find(|p| p.precision == precision)
    }
}
