//! The messages between the page and the model worker. The worker owns every model; the page
//! sends audio and settings and gets back what each model says, one model at a time.

use serde::{Deserialize, Serialize};
use tempokd::device::Placement;
use tempokd::kd::AttentionMaps;

/// Which kind of model a catalog entry is, so the worker knows which files to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// wav2vec 2.0: `config.json`, `preprocessor_config.json` (optional), `model.safetensors`.
    Teacher,
    /// One of the five students: `config.json`, `model.safetensors`.
    Student,
}

/// A model the page wants loaded: its name on screen and the folder its files are in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSource {
    pub name: String,
    pub kind: ModelKind,
    /// A folder URL ending in `/`, relative to the page or absolute.
    pub folder: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Pick the device (WebGPU unless `prefer_cpu`, else the CPU) and load these models.
    Load {
        models: Vec<ModelSource>,
        prefer_cpu: bool,
    },
    /// Run every loaded model on a 16 kHz mono clip. A newer run replaces an older one.
    Analyse { run: u64, samples: Vec<f32> },
    /// Stop run `run` before its next model.
    Cancel { run: u64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Where the models run; sent once, before any model loads.
    Device(Placement),
    /// One more file of a model has arrived.
    Fetched {
        model: String,
        file: String,
        bytes: u64,
    },
    Loaded {
        model: String,
    },
    LoadFailed {
        model: String,
        message: String,
    },
    /// What one model says about the clip of run `run`.
    Reading {
        run: u64,
        reading: Box<Reading>,
    },
    /// Every model of the run has answered (some may have failed).
    Finished {
        run: u64,
        ms: f64,
    },
    Cancelled {
        run: u64,
    },
    /// One model could not run on the clip; the others go on.
    Failed {
        run: u64,
        model: String,
        message: String,
    },
}

/// One model's answer on one clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub model: String,
    pub labels: Vec<String>,
    pub probs: Vec<f32>,
    /// Index of the most probable label.
    pub top: usize,
    /// The model's temporal attention on the clip's time axis: the teacher's rollout with its
    /// default settings, or the student's own map.
    pub map: TimeMap,
    /// The teacher's self-attention per layer and head, from which the page rolls out again
    /// when the visitor changes the rollout settings. `None` for students.
    pub layers: Option<AttentionMaps>,
    /// Milliseconds the model took on this clip, reading results back included.
    pub ms: f64,
}

impl Reading {
    /// The top label and its probability.
    pub fn top_label(&self) -> (&str, f32) {
        (
            self.labels.get(self.top).map_or("", String::as_str),
            self.probs.get(self.top).copied().unwrap_or_default(),
        )
    }
}

/// Values over frames placed on a clip's time axis: frame `i` covers
/// `start_s + i·frame_s .. start_s + (i+1)·frame_s` seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeMap {
    pub start_s: f32,
    pub frame_s: f32,
    pub values: Vec<f32>,
}
