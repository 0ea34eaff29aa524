//! The on-device students: LSTM-P, TC-ResNet (8 and 14), CRNN, Att-RNN and MHAtt-RNN, each
//! returning its logits and its temporal attention a_S over its own frames.
//!
//! A student directory holds `config.json` ([`StudentConfig`]) and `model.safetensors`, whose
//! keys are the paths of burn's module tree (`LstmP.lstm.weight_ih`, …).

mod att_rnn;
mod budget;
mod config;
mod crnn;
mod front_end;
mod lstm_p;
mod model;
mod output;
mod precision;
mod recurrent;
mod tc_resnet;
mod temporal_query;

pub use budget::{StudentBudget, StudentCost, Tally, Term};
pub use config::{
    Architecture, AttRnnConfig, CrnnConfig, FrameAxis, LstmPConfig, Preset, StudentConfig,
    TcResNetConfig,
};
pub use front_end::StudentFrontEnd;
pub use model::StudentModel;
pub use output::{AttentionRequest, StudentOutput};
pub use precision::{Int8Codes, Precision, is_rounded, round_trip};
pub use recurrent::{BiGru, Gru, GruConfig, PeepholeLstm, PeepholeLstmConfig, on_recurrent_graph};
pub use temporal_query::TemporalQuery;

use crate::audio::{FeatureError, Features};
use crate::checkpoint::{Checkpoint, CheckpointError, load_by_path, named_tensors};
use crate::device::read_floats;
use crate::prediction::Prediction;
use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq)]
pub enum StudentError {
    #[error("config.json: {0}")]
    Config(String),
    #[error(
        "model.safetensors does not fit config.json ({arch}): {source}; were the two files saved \
         together?"
    )]
    Weights {
        arch: &'static str,
        source: CheckpointError,
    },
    /// A file of a student directory could not be read or written; the message says which.
    #[error("{0}")]
    File(String),
    #[error("features: {0}")]
    Features(#[from] FeatureError),
    #[error(
        "the clip gives {frames} feature frames; this student needs at least {needed} \
         ({needed_s:.2} s of audio)"
    )]
    TooShort {
        frames: usize,
        needed: usize,
        needed_s: f32,
    },
    #[error("reading the result from the device failed: {0}")]
    Device(String),
}

/// The files of a student directory, read by the caller (from disk, or fetched by the page).
pub struct StudentFiles<'a> {
    /// `config.json`
    pub config: &'a str,
    /// `model.safetensors`
    pub weights: &'a [u8],
}

/// One clip through a student, on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct StudentInference {
    pub prediction: Prediction,
    pub axis: FrameAxis,
    /// a_S over the student's frames, when asked for.
    pub attention: Option<Vec<f32>>,
    /// Every head's distribution, when asked for.
    pub heads: Option<Vec<Vec<f32>>>,
}

/// A student on one device, with its front end.
pub struct Student {
    model: StudentModel,
    config: StudentConfig,
    front_end: StudentFrontEnd,
    device: Device,
}

impl Student {
    /// A freshly initialised student.
    pub fn new(config: StudentConfig, device: &Device) -> Result<Self, StudentError> {
        config.validate()?;
        let model = StudentModel::init(&config, device);
        Self::assemble(model, config, device)
    }

    /// Loads a student saved by [`Student::save`]. Every tensor must match the config by name
    /// and shape; nothing loads half-way.
    pub fn load(files: StudentFiles<'_>, device: &Device) -> Result<Self, StudentError> {
        let config = StudentConfig::from_json(files.config)?;
        let arch = config.arch_name();
        let weights = |source| StudentError::Weights { arch, source };
        let mut checkpoint = Checkpoint::new(files.weights).map_err(weights)?;
        let model =
            load_by_path(StudentModel::init(&config, device), &mut checkpoint).map_err(weights)?;
        precision::check_stored_as(&config, checkpoint.stored_as())?;
        checkpoint.finish().map_err(weights)?;
        Self::assemble(model, config, device)
    }

    /// Wraps a model, e.g. one a training loop has updated.
    pub fn assemble(
        model: StudentModel,
        config: StudentConfig,
        device: &Device,
    ) -> Result<Self, StudentError> {
        let front_end = StudentFrontEnd::new(&config)?;
        Ok(Self {
            model,
            config,
            front_end,
            device: device.clone(),
        })
    }

    /// `config.json` and `model.safetensors`, every weight in f32.
    pub async fn save(&self) -> Result<(String, Vec<u8>), StudentError> {
        self.save_at(Precision::F32).await
    }

    /// A student directory on disk.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_dir(dir: &std::path::Path, device: &Device) -> Result<Self, StudentError> {
        let config_path = dir.join("config.json");
        let weights_path = dir.join("model.safetensors");
        use crate::capped_read::{MAX_CONFIG_BYTES, read_capped, read_capped_text};
        let unreadable = |why: String| {
            StudentError::File(format!(
                "{why} (a student directory holds config.json and model.safetensors)"
            ))
        };
        let config = read_capped_text(&config_path, MAX_CONFIG_BYTES, "a config.json")
            .map_err(unreadable)?;
        // No student within the budget has weights larger than this.
        let most_weights =
            crate::checkpoint::max_weights_bytes(StudentBudget::default().max_parameters);
        let weights =
            read_capped(&weights_path, most_weights, "a student's weights").map_err(unreadable)?;
        Self::load(
            StudentFiles {
                config: &config,
                weights: &weights,
            },
            device,
        )
    }

    /// Writes `config.json` and `model.safetensors` into `dir`, creating it, the matrices and
    /// kernels stored at `precision`.
    #[cfg(not(target_family = "wasm"))]
    pub async fn save_dir(
        &self,
        dir: &std::path::Path,
        precision: Precision,
    ) -> Result<(), StudentError> {
        let (config, weights) = self.save_at(precision).await?;
        let failed = |path: &std::path::Path, error: std::io::Error| {
            StudentError::File(format!("{}: {error}", path.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
        for (name, bytes) in [
            ("config.json", config.as_bytes()),
            ("model.safetensors", &weights),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| failed(&path, e))?;
        }
        Ok(())
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn config(&self) -> &StudentConfig {
        &self.config
    }

    pub fn model(&self) -> &StudentModel {
        &self.model
    }

    pub fn into_model(self) -> StudentModel {
        self.model
    }

    pub fn labels(&self) -> &[String] {
        &self.config.labels
    }

    /// Parameters the deployed model has: trainable ones, without the training-only query `q`.
    pub fn deployed_params(&self) -> usize {
        self.count_trainable(|training_only| !training_only)
    }

    /// Parameters of the query head `q` that only training and visualisation use.
    pub fn training_only_params(&self) -> usize {
        self.count_trainable(|training_only| training_only)
    }

    /// Trainable parameters whose being training-only satisfies `keep`.
    fn count_trainable(&self, keep: impl Fn(bool) -> bool) -> usize {
        named_tensors(&self.model)
            .iter()
            .filter(|t| t.is_trainable())
            .filter(|t| {
                keep(
                    t.name
                        .split('.')
                        .any(|part| part == temporal_query::TRAINING_ONLY),
                )
            })
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }

    /// The student's features for a 16 kHz mono clip.
    pub fn features(&self, samples: &[f32]) -> Result<Features, StudentError> {
        self.front_end.features(samples)
    }

    /// What turns clips into this student's features, for threads that read clips.
    pub fn front_end(&self) -> &StudentFrontEnd {
        &self.front_end
    }

    /// Features as the model's input tensor `[1, frames, bins]`.
    pub fn input(&self, features: &Features) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(features.values.clone(), [1, features.frames, features.bins]),
            &self.device,
        )
    }

    /// Classifies one 16 kHz mono clip and reads back the attention asked for.
    pub async fn infer(
        &self,
        samples: &[f32],
        request: AttentionRequest,
    ) -> Result<StudentInference, StudentError> {
        let features = self.features(samples)?;
        let axis = self.config.frame_axis(&features);
        let output = self.model.forward(self.input(&features), request);
        let logits = read_floats(output.logits)
            .await
            .map_err(StudentError::Device)?;
        let attention = match output.attention {
            Some(tensor) => Some(read_floats(tensor).await.map_err(StudentError::Device)?),
            None => None,
        };
        let heads = match output.heads {
            Some(tensor) => {
                let values = read_floats(tensor).await.map_err(StudentError::Device)?;
                Some(
                    values
                        .chunks(axis.frames.max(1))
                        .map(<[f32]>::to_vec)
                        .collect(),
                )
            }
            None => None,
        };
        Ok(StudentInference {
            prediction: Prediction::from_logits(logits),
            axis,
            attention,
            heads,
        })
    }
}
