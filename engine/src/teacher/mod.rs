//! The wav2vec 2.0 teacher: any Hugging Face `Wav2Vec2ForSequenceClassification` checkpoint
//! (or one of ours, in the same layout), its logits and its per-layer self-attention.

mod budget;
mod config;
mod gelu;
mod linear;
mod load;
mod model;
mod pretrained;
mod save;

use crate::conv1d::conv1d;
pub use budget::{TeacherBudget, TeacherCost};
pub use config::{
    Activation, ClassifierPooling, DropoutRates, FeatureNorm, PreprocessorConfig, TeacherShape,
    Wav2Vec2Config,
};
use gelu::gelu;
pub use gelu::on_burns_gelu;
use linear::linear;
pub use linear::on_burns_linear;
pub use model::{AttentionDetail, Wav2Vec2Classifier, Wav2Vec2Output};

use crate::audio::MODEL_SAMPLE_RATE;
use crate::checkpoint::{Checkpoint, CheckpointError, RandomInit, to_safetensors};
use crate::device::read_floats;
use crate::kd::{AttentionMaps, RolloutConfig, RolloutError, RolloutRow};
use crate::prediction::Prediction;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq)]
pub enum TeacherError {
    #[error("config.json: {0}")]
    Config(String),
    #[error("preprocessor_config.json: {0}")]
    Preprocessor(String),
    #[error("model.safetensors: {0}")]
    Weights(#[from] CheckpointError),
    /// A file of a teacher directory could not be read; the message says which and what to do.
    #[error("{0}")]
    MissingFile(String),
    #[error(
        "the clip has {samples} samples; the teacher needs at least {min_samples} ({:.0} ms)",
        *.min_samples as f32 * 1000.0 / MODEL_SAMPLE_RATE as f32
    )]
    TooShort { samples: usize, min_samples: usize },
    /// Clips given together must share a length; the message says what was given.
    #[error("bad batch: {0}")]
    Batch(String),
    #[error("reading the result from the device failed: {0}")]
    Device(String),
    /// The forward pass gave back something other than what was asked for: a bug, not bad
    /// input.
    #[error("the teacher's output is not what was asked for: {0}")]
    Output(String),
    #[error("the attention rollout failed: {0}")]
    Rollout(#[from] RolloutError),
    /// Writing a teacher directory failed; the message names the file.
    #[error("{0}")]
    File(String),
}

/// The files of a teacher directory, read by the caller (from disk, or fetched by the page).
pub struct TeacherFiles<'a> {
    /// `config.json`
    pub config: &'a str,
    /// `preprocessor_config.json`, if the directory has one (Hugging Face's defaults otherwise).
    pub preprocessor: Option<&'a str>,
    /// `model.safetensors`
    pub weights: &'a [u8],
}

/// A teacher directory's files read from disk, each within its size limit.
#[cfg(not(target_family = "wasm"))]
struct DirFiles {
    config: String,
    preprocessor: Option<String>,
    weights: Vec<u8>,
}

#[cfg(not(target_family = "wasm"))]
impl DirFiles {
    fn read(dir: &std::path::Path) -> Result<Self, TeacherError> {
        use crate::capped_read::{MAX_CONFIG_BYTES, read_capped, read_capped_text};
        let unreadable = |why: String| {
            TeacherError::MissingFile(format!(
                "{why} (a teacher directory holds config.json and model.safetensors)"
            ))
        };
        let read = |name: &str| {
            read_capped_text(&dir.join(name), MAX_CONFIG_BYTES, "a config file").map_err(unreadable)
        };
        let config = read("config.json")?;
        if !dir.join("model.safetensors").exists() && dir.join("pytorch_model.bin").exists() {
            return Err(TeacherError::MissingFile(format!(
                "{}: only pytorch_model.bin is there, PyTorch's pickle format, which is not read \
                 here; save the model with safe_serialization=True to get model.safetensors",
                dir.display()
            )));
        }
        let weights_path = dir.join("model.safetensors");
        // No teacher within the budget has weights larger than this.
        let most_weights =
            crate::checkpoint::max_weights_bytes(TeacherBudget::default().max_parameters);
        let weights =
            read_capped(&weights_path, most_weights, "a teacher's weights").map_err(unreadable)?;
        let preprocessor = dir
            .join("preprocessor_config.json")
            .exists()
            .then(|| read("preprocessor_config.json"))
            .transpose()?;
        Ok(Self {
            config,
            preprocessor,
            weights,
        })
    }

    fn as_files(&self) -> TeacherFiles<'_> {
        TeacherFiles {
            config: &self.config,
            preprocessor: self.preprocessor.as_deref(),
            weights: &self.weights,
        }
    }
}

/// One clip through the teacher, on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherInference {
    pub prediction: Prediction,
    pub frames: usize,
    /// Seconds between frame starts.
    pub frame_s: f32,
    pub attentions: Option<AttentionMaps>,
}

/// A loaded teacher on one device.
pub struct Teacher {
    model: Wav2Vec2Classifier,
    config: Wav2Vec2Config,
    preprocessor: PreprocessorConfig,
    labels: Vec<String>,
    device: Device,
}

impl Teacher {
    /// Loads a checkpoint. Every key must match the config by name and shape; nothing loads
    /// half-way.
    pub fn load(files: TeacherFiles<'_>, device: &Device) -> Result<Self, TeacherError> {
        let config = Wav2Vec2Config::from_json(files.config)?;
        let preprocessor = match files.preprocessor {
            Some(text) => PreprocessorConfig::from_json(text)?,
            None => PreprocessorConfig::default(),
        };
        let mut checkpoint = Checkpoint::new(files.weights)?.ignoring(load::UNUSED_KEYS);
        let model = load::build(&config, &mut checkpoint, device)?;
        checkpoint.finish()?;
        Self::assemble(model, config, preprocessor, device)
    }

    /// A teacher directory on disk: `config.json`, `model.safetensors` and optionally
    /// `preprocessor_config.json`.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_dir(dir: &std::path::Path, device: &Device) -> Result<Self, TeacherError> {
        let files = DirFiles::read(dir)?;
        Self::load(files.as_files(), device)
    }

    /// A freshly initialised teacher (reproducible for a given seed), for training and benchmarks.
    pub fn random(
        config: Wav2Vec2Config,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TeacherError> {
        config.validate()?;
        let model = load::build(&config, &mut RandomInit::new(seed), device)?;
        Self::assemble(model, config, PreprocessorConfig::default(), device)
    }

    fn assemble(
        model: Wav2Vec2Classifier,
        config: Wav2Vec2Config,
        preprocessor: PreprocessorConfig,
        device: &Device,
    ) -> Result<Self, TeacherError> {
        Ok(Self {
            labels: config.labels()?,
            model,
            config,
            preprocessor,
            device: device.clone(),
        })
    }

    /// The same teacher with other dropout rates (they act only while it trains), recorded in
    /// its config.
    pub fn with_dropout(mut self, rates: DropoutRates) -> Result<Self, TeacherError> {
        rates.validate()?;
        self.model = self.model.with_dropout(&rates);
        self.config.dropout = rates;
        Ok(self)
    }

    /// The same teacher around other weights, e.g. ones a training loop has updated.
    pub fn with_model(&self, model: Wav2Vec2Classifier, device: &Device) -> Self {
        Self {
            model,
            config: self.config.clone(),
            preprocessor: self.preprocessor.clone(),
            labels: self.labels.clone(),
            device: device.clone(),
        }
    }

    /// `config.json`, `preprocessor_config.json` and `model.safetensors` in Hugging Face's layout.
    pub async fn save(&self) -> Result<(String, String, Vec<u8>), TeacherError> {
        let weights = to_safetensors(save::hf_tensors(&self.model))
            .await
            .map_err(TeacherError::Weights)?;
        let config = serde_json::to_string_pretty(&self.config)
            .map_err(|e| TeacherError::Config(e.to_string()))?;
        let preprocessor = serde_json::to_string_pretty(&self.preprocessor)
            .map_err(|e| TeacherError::Preprocessor(e.to_string()))?;
        Ok((config, preprocessor, weights))
    }

    /// A teacher folder that [`Teacher::load_dir`] and `transformers` both read.
    #[cfg(not(target_family = "wasm"))]
    pub async fn save_dir(&self, dir: &std::path::Path) -> Result<(), TeacherError> {
        let (config, preprocessor, weights) = self.save().await?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes)
                .map_err(|e| TeacherError::File(format!("{}: {e}", path.display())))
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| TeacherError::File(format!("{}: {e}", dir.display())))?;
        write("config.json", config.as_bytes())?;
        write("preprocessor_config.json", preprocessor.as_bytes())?;
        write("model.safetensors", &weights)
    }

    /// The model's input for clips of one length, `[clips, samples]`, each normalised as the
    /// preprocessor says.
    pub fn batch_input(&self, clips: &[&[f32]]) -> Result<Tensor<2>, TeacherError> {
        let samples = clips.first().map_or(0, |c| c.len());
        if clips.iter().any(|c| c.len() != samples) {
            return Err(TeacherError::Batch(
                "a batch needs clips of one length".into(),
            ));
        }
        if samples < self.config.min_samples() {
            return Err(TeacherError::TooShort {
                samples,
                min_samples: self.config.min_samples(),
            });
        }
        let values: Vec<f32> = clips
            .iter()
            .flat_map(|c| self.preprocessor.prepare(c))
            .collect();
        Ok(Tensor::from_data(
            TensorData::new(values, [clips.len(), samples]),
            &self.device,
        ))
    }

    /// Trainable parameters.
    pub fn params(&self) -> usize {
        self.model.num_params()
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn config(&self) -> &Wav2Vec2Config {
        &self.config
    }

    pub fn model(&self) -> &Wav2Vec2Classifier {
        &self.model
    }

    /// Seconds between frame starts (20 ms for every published wav2vec 2.0).
    pub fn frame_s(&self) -> f32 {
        self.config.hop_samples() as f32 / MODEL_SAMPLE_RATE as f32
    }

    /// Rollout settings that match the head: the first frame's row for the paper's head, the
    /// mean of rows for Hugging Face's mean-pooled head.
    pub fn default_rollout(&self) -> RolloutConfig {
        RolloutConfig {
            row: match self.config.classifier_pooling {
                ClassifierPooling::FirstFrame => RolloutRow::FirstFrame,
                ClassifierPooling::Mean => RolloutRow::MeanOfRows,
            },
            ..RolloutConfig::default()
        }
    }

    /// Refuses a reading whose kept attention maps would be over the budget's
    /// `max_kept_maps_bytes`: the config is checked for one clip with fused maps, and every head
    /// of every layer, or many clips at once, can be far more.
    fn check_kept_maps(
        &self,
        clips: &[&[f32]],
        detail: AttentionDetail,
    ) -> Result<(), TeacherError> {
        let maps_per_layer = match detail {
            AttentionDetail::None => return Ok(()),
            AttentionDetail::PerHead => self.config.num_attention_heads,
            AttentionDetail::Fused(_) => 1,
        };
        let frames = clips
            .first()
            .map_or(0, |clip| self.config.frames(clip.len())) as u64;
        let maps = clips
            .len()
            .saturating_mul(self.config.num_hidden_layers)
            .saturating_mul(maps_per_layer);
        let bytes = budget::maps_bytes(frames, maps);
        let most = TeacherBudget::default().max_kept_maps_bytes;
        if bytes > most {
            return Err(TeacherError::Batch(format!(
                "{} clip(s) of {frames} frames would keep {maps} attention maps of {bytes} bytes \
                 in all; at most {most} are kept: read fewer or shorter clips, or the maps with \
                 their heads fused",
                clips.len()
            )));
        }
        Ok(())
    }

    /// The clip as the model's input tensor `[1, samples]`, normalised as the preprocessor says.
    pub fn input(&self, samples: &[f32]) -> Result<Tensor<2>, TeacherError> {
        self.batch_input(&[samples])
    }

    /// Classifies one 16 kHz mono clip and reads back the attention asked for.
    pub async fn infer(
        &self,
        samples: &[f32],
        detail: AttentionDetail,
    ) -> Result<TeacherInference, TeacherError> {
        let mut inferences = self.infer_batch(&[samples], detail).await?;
        inferences
            .pop()
            .ok_or_else(|| TeacherError::Output("nothing came back".into()))
    }

    /// [`Teacher::infer`] for clips of one length in one forward pass: no padding, so each
    /// clip's result is what it alone gives, up to the order of float sums.
    pub async fn infer_batch(
        &self,
        clips: &[&[f32]],
        detail: AttentionDetail,
    ) -> Result<Vec<TeacherInference>, TeacherError> {
        self.check_kept_maps(clips, detail)?;
        let input = self.batch_input(clips)?;
        let output = self.model.forward(input, detail);
        let attentions = match detail {
            AttentionDetail::None => vec![None; clips.len()],
            _ => read_maps(output.attentions, clips.len())
                .await?
                .into_iter()
                .map(Some)
                .collect(),
        };
        let logits = read_floats(output.logits)
            .await
            .map_err(TeacherError::Device)?;
        let classes = logits.len() / clips.len().max(1);
        let samples = clips.first().map_or(0, |clip| clip.len());
        Ok(logits
            .chunks(classes.max(1))
            .zip(attentions)
            .map(|(logits, attentions)| TeacherInference {
                prediction: Prediction::from_logits(logits.to_vec()),
                frames: self.config.frames(samples),
                frame_s: self.frame_s(),
                attentions,
            })
            .collect())
    }
}

/// Layers of `[clips, heads, T, T]` attention into one host array per clip.
async fn read_maps(
    layers: Vec<Tensor<4>>,
    clips: usize,
) -> Result<Vec<AttentionMaps>, TeacherError> {
    let count = layers.len();
    let [_, heads, frames, _] = layers.first().map_or([0; 4], |layer| layer.dims());
    let per_clip = heads * frames * frames;
    // Layer-major: layer l's maps of clip c start at (l·clips + c)·per_clip. Read a layer at a
    // time, each dropped once read, so the device's layers are not joined into a copy first; a
    // single clip's maps are then kept as read (every head of a long clip can be a gigabyte, and
    // a browser tab has four).
    let mut values = Vec::with_capacity(count.saturating_mul(clips).saturating_mul(per_clip));
    for layer in layers {
        values.extend(read_floats(layer).await.map_err(TeacherError::Device)?);
    }
    if values.len() != count * clips * per_clip {
        return Err(TeacherError::Output(format!(
            "{} attention weights came back for {clips} clips of {count} layers × {heads} heads × \
             {frames}² frames",
            values.len()
        )));
    }
    if clips == 1 {
        return AttentionMaps::new(count, heads, frames, values)
            .map(|maps| vec![maps])
            .map_err(|e| TeacherError::Output(e.to_string()));
    }
    (0..clips)
        .map(|clip| {
            let mine = (0..count)
                .flat_map(|layer| &values[(layer * clips + clip) * per_clip..][..per_clip])
                .copied()
                .collect();
            AttentionMaps::new(count, heads, frames, mine)
                .map_err(|e| TeacherError::Output(e.to_string()))
        })
        .collect()
}
