//! `index.json` beside the shipped models: each model's name, kind, size and test scores.
//! `tempokd defaults` writes it; the tests read it back through this type, and the page reads
//! the fields it offers models by (its catalog).

use super::ModelKind;
use crate::train::{Evaluation, Interval};
use serde::{Deserialize, Serialize};

/// The index's file name inside the folder of shipped models.
#[cfg(not(target_family = "wasm"))]
const MODEL_INDEX_FILE: &str = "index.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelIndex {
    /// In the order the page lists them.
    pub models: Vec<IndexedModel>,
}

/// One shipped model: its folder is the index's folder joined with `name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedModel {
    pub name: String,
    pub kind: ModelKind,
    pub title: String,
    /// Parameters of the deployed model (a student's training-only query head left out).
    pub params: usize,
    /// Size of `model.safetensors`, so the page knows it before downloading.
    pub bytes: u64,
    pub scores: Vec<IndexedScore>,
}

/// One row of a model card's score table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedScore {
    /// Which clips were scored, e.g. "test, L = 4 s".
    pub clips: String,
    pub n: usize,
    pub accuracy: f32,
    pub accuracy_interval: Interval,
    pub attention_in_window: Option<f32>,
    pub attention_in_window_interval: Option<Interval>,
}

impl IndexedScore {
    pub fn new(clips: &str, evaluation: &Evaluation) -> Self {
        Self {
            clips: clips.to_string(),
            n: evaluation.n,
            accuracy: evaluation.accuracy,
            accuracy_interval: evaluation.accuracy_interval,
            attention_in_window: evaluation.attention_in_window,
            attention_in_window_interval: evaluation.attention_in_window_interval,
        }
    }
}

impl ModelIndex {
    /// The index in `dir`, or why not (naming the file).
    #[cfg(not(target_family = "wasm"))]
    pub fn read(dir: &std::path::Path) -> Result<Self, String> {
        use crate::capped_read::{MAX_CONFIG_BYTES, read_capped_text};
        let path = dir.join(MODEL_INDEX_FILE);
        let text = read_capped_text(&path, MAX_CONFIG_BYTES, "an index of models")?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes the index into `dir`, or says why not (naming the file).
    #[cfg(not(target_family = "wasm"))]
    pub fn write(&self, dir: &std::path::Path) -> Result<(), String> {
        let path = dir.join(MODEL_INDEX_FILE);
        // Through a JSON value, as `tempokd defaults` always wrote it: keys sorted, floats as
        // their f64 widening.
        let value = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
