//! The messages between the page and the model worker. The worker owns every model; the page
//! sends audio and settings and gets back what each model says, one model at a time.

use serde::{Deserialize, Serialize};
use tempokd::device::Placement;
use tempokd::kd::{self, AttentionMaps, RolloutConfig};
pub use tempokd::model_kind::ModelKind;

/// A model the page wants loaded: its name on screen and where its files are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSource {
    pub name: String,
    pub kind: ModelKind,
    pub files: ModelFiles,
}

/// Where a model's files come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelFiles {
    /// A folder URL ending in `/`, relative to the page or absolute, holding `config.json`,
    /// `model.safetensors` and, for a teacher, optionally `preprocessor_config.json`.
    Folder(String),
    /// Files the visitor picked, already read.
    Picked {
        config: String,
        weights: Vec<u8>,
        preprocessor: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Broadcast a panic on the channel named `channel`, as worker number `worker`; sent first.
    ReportPanics { channel: String, worker: u32 },
    /// Pick the device (WebGPU, or the CPU when `cpu_reason` says why not) and load these
    /// models; once the device is chosen, later loads keep it.
    Load {
        models: Vec<ModelSource>,
        cpu_reason: Option<String>,
    },
    /// Run every loaded model (or only those named) on a 16 kHz mono clip. A newer run replaces
    /// an older one.
    Analyse {
        run: u64,
        samples: Vec<f32>,
        only: Option<Vec<String>>,
    },
    /// Stop run `run` before its next model.
    Cancel { run: u64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Where the models run; sent once, before any model loads.
    Device(Placement),
    /// The browser took the GPU device away, with its reason: nothing more runs on it.
    DeviceLost {
        reason: String,
    },
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
    /// The teacher's self-attention, from which the page rolls out again when the visitor
    /// changes the rollout settings. `None` for students.
    pub teacher: Option<TeacherAttention>,
    /// Milliseconds the model took on this clip, reading results back included.
    pub ms: f64,
}

impl Reading {
    /// The model's map; for a teacher rolled out again with `rollout` when given, or why those
    /// settings do not fit it.
    pub fn map_with(&self, rollout: Option<&RolloutConfig>) -> Result<TimeMap, String> {
        match (&self.teacher, rollout) {
            (Some(teacher), Some(settings)) => kd::rollout(&teacher.layers, settings)
                .map(|values| TimeMap {
                    values,
                    ..self.map.clone()
                })
                .map_err(|e| e.to_string()),
            _ => Ok(self.map.clone()),
        }
    }

    /// The map shown for `rollout` (the worker's when the settings do not fit) and, for a
    /// teacher, the rollout settings it comes from.
    pub fn shown_map(&self, rollout: Option<&RolloutConfig>) -> (TimeMap, Option<RolloutConfig>) {
        let own = || self.teacher.as_ref().map(|teacher| teacher.rollout.clone());
        match (self.map_with(rollout), rollout) {
            (Ok(map), Some(settings)) if self.teacher.is_some() => (map, Some(settings.clone())),
            (Ok(map), _) => (map, own()),
            (Err(_), _) => (self.map.clone(), own()),
        }
    }

    /// The top label and its probability.
    pub fn top_label(&self) -> (&str, f32) {
        (
            self.labels.get(self.top).map_or("", String::as_str),
            self.probs.get(self.top).copied().unwrap_or_default(),
        )
    }
}

/// A teacher's self-attention per layer and head, with the rollout settings its map used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherAttention {
    pub layers: AttentionMaps,
    pub rollout: RolloutConfig,
}

/// Values over frames placed on a clip's time axis: frame `i` covers
/// `start_s + i·frame_s .. start_s + (i+1)·frame_s` seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeMap {
    pub start_s: f32,
    pub frame_s: f32,
    pub values: Vec<f32>,
}
