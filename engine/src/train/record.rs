//! What a finished training run leaves beside its model, `training.json`: the settings it ran
//! with, how long it took, its best validation step and the scores there, every scoring and
//! every logged step. The trainers' commands write it; the shipped models' cards and the
//! reproduction's report read it back, typed, so a renamed field is a compile error rather than
//! a silent zero.

use super::StepReport;
use super::run::{RunTimes, Trained};
use crate::device::Placement;
use crate::metrics::Evaluation;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The record's file name inside a run's folder.
pub const TRAINING_RECORD_FILE: &str = "training.json";

/// The layout written now. Records from before the field existed are version 1.
pub const TRAINING_RECORD_VERSION: u32 = 1;

/// One run's record; `S` is its trainer's settings (`StudentTraining`, `TeacherTraining`), or
/// [`CommonSettings`] for a reader that needs only what every trainer records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord<S> {
    #[serde(default = "first_version")]
    pub version: u32,
    pub settings: S,
    /// Wall-clock seconds of training, from loading the data to the trained model, over every
    /// sitting of a resumed run.
    pub seconds: f32,
    /// The step whose weights were kept: the best validation score (the last step without
    /// scorings).
    pub best_step: usize,
    /// The validation scores at `best_step`; `None` when the run never scored.
    pub validation: Option<Evaluation>,
    pub validations: Vec<Scoring>,
    pub history: Vec<StepReport>,
    /// Where the run trained (its last sitting, for a resumed run); `None` in records from
    /// before it was kept, which all trained on the CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Placement>,
    /// The further devices each batch was split over (data parallel); empty for one device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Placement>,
    /// Where the run's time went; `None` in records from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<RunTimes>,
    /// The steps at which the run, stopped, was resumed (empty for a run in one sitting).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_at: Vec<usize>,
}

/// What every trainer's settings hold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommonSettings {
    pub steps: usize,
}

/// One scoring on the validation split during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scoring {
    pub step: usize,
    pub accuracy: f32,
    pub attention_in_window: Option<f32>,
    /// Multi-label data only: mean average precision over classes.
    pub map: Option<f32>,
}

/// Why a run's record could not be written or read.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    /// The file could not be read; the message names it.
    #[error("{0}")]
    Unreadable(String),
    #[error(
        "{path} was written by a newer TempoKD (record version {found}, this one reads up to {TRAINING_RECORD_VERSION})"
    )]
    Newer { path: PathBuf, found: u32 },
}

fn first_version() -> u32 {
    1
}

impl<S> TrainingRecord<S> {
    /// The record of a finished run trained with `settings` on `devices` (the one that held
    /// the model first).
    pub fn of<M>(settings: S, trained: &Trained<M>, devices: &[Placement]) -> Self {
        Self {
            version: TRAINING_RECORD_VERSION,
            settings,
            seconds: trained.seconds(),
            best_step: trained.best_step,
            validation: trained.validation.clone(),
            validations: trained
                .validations
                .iter()
                .map(|(step, evaluation)| Scoring {
                    step: *step,
                    accuracy: evaluation.accuracy,
                    attention_in_window: evaluation.attention_in_window,
                    map: evaluation.map,
                })
                .collect(),
            history: trained.history.clone(),
            device: devices.first().cloned(),
            replicas: devices.iter().skip(1).cloned().collect(),
            times: Some(trained.times),
            resumed_at: trained.resumed_at.clone(),
        }
    }

    /// Whether the best step was the last scored one: the run may still have been improving.
    pub fn best_at_last_scoring(&self) -> bool {
        self.validations.last().map(|v| v.step) == Some(self.best_step)
    }
}

impl<S: Serialize> TrainingRecord<S> {
    /// Writes `training.json` into the run's folder.
    pub fn write(&self, run: &Path) -> Result<(), RecordError> {
        let path = run.join(TRAINING_RECORD_FILE);
        let failed = |why: String| RecordError::File {
            path: path.clone(),
            why,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| failed(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| failed(e.to_string()))
    }
}

impl<S: DeserializeOwned> TrainingRecord<S> {
    /// Reads the run folder's `training.json`.
    pub fn read(run: &Path) -> Result<Self, RecordError> {
        let path = run.join(TRAINING_RECORD_FILE);
        let failed = |why: String| RecordError::File {
            path: path.clone(),
            why,
        };
        let text = crate::capped_read::read_capped_text(
            &path,
            crate::capped_read::MAX_LIST_BYTES,
            "a training record",
        )
        .map_err(RecordError::Unreadable)?;
        let record: Self = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
        if record.version > TRAINING_RECORD_VERSION {
            return Err(RecordError::Newer {
                path,
                found: record.version,
            });
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the trainers wrote it before the version field: still read, as version 1.
    const WITHOUT_VERSION: &str = r#"{
        "settings": {"steps": 30, "batch_size": 4},
        "seconds": 12.5,
        "best_step": 20,
        "validation": null,
        "validations": [
            {"step": 10, "accuracy": 0.5, "attention_in_window": 0.25, "map": null},
            {"step": 20, "accuracy": 0.75, "attention_in_window": null, "map": null}
        ],
        "history": [
            {"step": 1, "lr": 0.001, "loss": 2.0, "task": 2.0, "kd": 0.0, "logit_kd": 0.0, "accuracy": 0.25}
        ]
    }"#;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_older_record_reads_as_version_one_and_a_written_one_reads_back_equal() {
        let dir = scratch("tempokd-record");
        std::fs::write(dir.join(TRAINING_RECORD_FILE), WITHOUT_VERSION).unwrap();
        let record = TrainingRecord::<CommonSettings>::read(&dir).unwrap();
        assert_eq!(record.version, 1);
        assert_eq!(record.settings.steps, 30);
        assert_eq!(record.history[0].learning_rate, 0.001);
        assert!(record.best_at_last_scoring());

        record.write(&dir).unwrap();
        assert_eq!(TrainingRecord::read(&dir).unwrap(), record);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_or_missing_record_is_refused_by_name() {
        let dir = scratch("tempokd-record-newer");
        let newer = WITHOUT_VERSION.replacen('{', r#"{"version": 2,"#, 1);
        std::fs::write(dir.join(TRAINING_RECORD_FILE), newer).unwrap();
        let error = TrainingRecord::<CommonSettings>::read(&dir).unwrap_err();
        assert!(error.to_string().contains("newer TempoKD"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
        let error = TrainingRecord::<CommonSettings>::read(&dir).unwrap_err();
        assert!(error.to_string().contains(TRAINING_RECORD_FILE), "{error}");
    }
}
