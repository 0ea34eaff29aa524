//! The Hugging Face description of a wav2vec 2.0 audio classifier: `config.json` of
//! `Wav2Vec2ForSequenceClassification` and `preprocessor_config.json`.
//!
//! Field names and defaults are Hugging Face's, so a checkpoint's own files parse unchanged.
//! Fields this crate does not use are ignored. One field is ours: `classifier_pooling`, for the
//! paper's first-frame head, which `transformers` itself does not have.

use super::TeacherError;
use super::budget::TeacherBudget;
use crate::audio::MODEL_SAMPLE_RATE;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Hugging Face model class whose checkpoints the teacher loads.
pub const CLASSIFIER_ARCHITECTURE: &str = "Wav2Vec2ForSequenceClassification";

/// `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wav2Vec2Config {
    #[serde(default = "defaults::hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "defaults::activation")]
    pub hidden_act: Activation,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// `group`: one GroupNorm after the first convolution (base); `layer`: a LayerNorm after
    /// every convolution (large, XLSR).
    #[serde(default = "defaults::feat_extract_norm")]
    pub feat_extract_norm: FeatureNorm,
    #[serde(default = "defaults::activation")]
    pub feat_extract_activation: Activation,
    #[serde(default = "defaults::conv_dim")]
    pub conv_dim: Vec<usize>,
    #[serde(default = "defaults::conv_kernel")]
    pub conv_kernel: Vec<usize>,
    #[serde(default = "defaults::conv_stride")]
    pub conv_stride: Vec<usize>,
    #[serde(default)]
    pub conv_bias: bool,
    #[serde(default = "defaults::num_conv_pos_embeddings")]
    pub num_conv_pos_embeddings: usize,
    #[serde(default = "defaults::num_conv_pos_embedding_groups")]
    pub num_conv_pos_embedding_groups: usize,
    /// Pre-layer-norm encoder (large, XLSR) instead of post-layer-norm (base).
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    /// Classify a softmax-weighted sum of every layer's hidden states instead of the last.
    #[serde(default)]
    pub use_weighted_layer_sum: bool,
    /// Whether the last of those hidden states is taken after the stable layout's final layer
    /// norm. transformers 5 takes it before unless the config says `true`; 4.x took it after.
    /// Real checkpoints rarely carry it: see [`Wav2Vec2Config::ties_last_hidden_state`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_last_hidden_states: Option<bool>,
    /// The transformers version that saved the checkpoint, as `config.json` records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformers_version: Option<String>,
    /// MMS language adapters inside the encoder layers are not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_attn_dim: Option<usize>,
    #[serde(default = "defaults::classifier_proj_size")]
    pub classifier_proj_size: usize,
    /// Adapter layers after the encoder are a speech-recognition option this crate does not run.
    #[serde(default)]
    pub add_adapter: bool,
    #[serde(default)]
    pub id2label: BTreeMap<String, String>,
    /// The Hugging Face class the checkpoint was saved from, when the file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// Which frames the classifier reads. Not a Hugging Face field: absent means Hugging Face's
    /// head, so their checkpoints load unchanged.
    #[serde(default)]
    pub classifier_pooling: ClassifierPooling,
    /// transformers' dropout rates, at their own keys.
    #[serde(flatten)]
    pub dropout: DropoutRates,
}

/// Hugging Face's dropout rates, used only while the teacher trains (on an autodiff device).
/// Absent means 0 here, not transformers' 0.1: the teachers trained before these fields were
/// read trained without dropout and wrote none, and a training run sets them explicitly
/// (`TeacherTraining::dropout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DropoutRates {
    /// After the feature projection.
    #[serde(default, skip_serializing_if = "DropoutRates::is_off")]
    pub feat_proj_dropout: f64,
    /// On the encoder's input and each sublayer's output before its residual sum.
    #[serde(default, skip_serializing_if = "DropoutRates::is_off")]
    pub hidden_dropout: f64,
    /// On the attention weights (the maps a forward pass returns are taken before it).
    #[serde(default, skip_serializing_if = "DropoutRates::is_off")]
    pub attention_dropout: f64,
    /// Inside the feed-forward block, after its activation.
    #[serde(default, skip_serializing_if = "DropoutRates::is_off")]
    pub activation_dropout: f64,
}

impl DropoutRates {
    /// Every rate `rate`.
    pub fn all(rate: f64) -> Self {
        Self {
            feat_proj_dropout: rate,
            hidden_dropout: rate,
            attention_dropout: rate,
            activation_dropout: rate,
        }
    }

    fn rates(&self) -> [(&'static str, f64); 4] {
        [
            ("feat_proj_dropout", self.feat_proj_dropout),
            ("hidden_dropout", self.hidden_dropout),
            ("attention_dropout", self.attention_dropout),
            ("activation_dropout", self.activation_dropout),
        ]
    }

    /// Whether `rate` drops nothing (such a rate is left out of a saved file).
    pub fn is_off(rate: &f64) -> bool {
        *rate == 0.0
    }

    /// Each rate must lie in [0, 1).
    pub fn validate(&self) -> Result<(), TeacherError> {
        match self
            .rates()
            .into_iter()
            .find(|(_, rate)| !(0.0..1.0).contains(rate))
        {
            Some((name, rate)) => Err(TeacherError::Config(format!(
                "{name} is {rate}; a dropout rate must be at least 0 and below 1"
            ))),
            None => Ok(()),
        }
    }
}

/// Which frames the classification head reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierPooling {
    /// Hugging Face: `classifier(mean over frames of projector(h))`.
    #[default]
    Mean,
    /// The paper (Figure 1): `classifier(c_1)`, a fully connected layer on the first frame.
    FirstFrame,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureNorm {
    Group,
    Layer,
}

/// The activation names Hugging Face configs use for wav2vec 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// The exact (erf) GELU.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
    #[serde(rename = "relu")]
    Relu,
    #[serde(rename = "silu", alias = "swish")]
    Silu,
}

mod defaults {
    use super::{Activation, FeatureNorm};
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn activation() -> Activation {
        Activation::Gelu
    }
    pub fn layer_norm_eps() -> f64 {
        1e-5
    }
    pub fn feat_extract_norm() -> FeatureNorm {
        FeatureNorm::Group
    }
    pub fn conv_dim() -> Vec<usize> {
        vec![512; 7]
    }
    pub fn conv_kernel() -> Vec<usize> {
        vec![10, 3, 3, 3, 3, 2, 2]
    }
    pub fn conv_stride() -> Vec<usize> {
        vec![5, 2, 2, 2, 2, 2, 2]
    }
    pub fn num_conv_pos_embeddings() -> usize {
        128
    }
    pub fn num_conv_pos_embedding_groups() -> usize {
        16
    }
    pub fn classifier_proj_size() -> usize {
        256
    }
    pub fn sampling_rate() -> u32 {
        16_000
    }
    pub fn do_normalize() -> bool {
        true
    }
}

impl Wav2Vec2Config {
    /// Parses `config.json` and checks that it describes a model this crate can build.
    pub fn from_json(text: &str) -> Result<Self, TeacherError> {
        crate::capped_read::check_config_size(text, "the file").map_err(TeacherError::Config)?;
        let config: Self =
            serde_json::from_str(text).map_err(|e| TeacherError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// wav2vec2-base's geometry (95M parameters) with the given labels: the shape of
    /// `facebook/wav2vec2-base` under Hugging Face's classification head.
    pub fn base(labels: &[&str]) -> Self {
        Self {
            hidden_size: defaults::hidden_size(),
            num_hidden_layers: defaults::num_hidden_layers(),
            num_attention_heads: defaults::num_attention_heads(),
            intermediate_size: defaults::intermediate_size(),
            hidden_act: Activation::Gelu,
            layer_norm_eps: defaults::layer_norm_eps(),
            feat_extract_norm: FeatureNorm::Group,
            feat_extract_activation: Activation::Gelu,
            conv_dim: defaults::conv_dim(),
            conv_kernel: defaults::conv_kernel(),
            conv_stride: defaults::conv_stride(),
            conv_bias: false,
            num_conv_pos_embeddings: defaults::num_conv_pos_embeddings(),
            num_conv_pos_embedding_groups: defaults::num_conv_pos_embedding_groups(),
            do_stable_layer_norm: false,
            use_weighted_layer_sum: false,
            tie_last_hidden_states: None,
            transformers_version: None,
            adapter_attn_dim: None,
            classifier_proj_size: defaults::classifier_proj_size(),
            add_adapter: false,
            id2label: labels
                .iter()
                .enumerate()
                .map(|(i, label)| (i.to_string(), label.to_string()))
                .collect(),
            classifier_pooling: ClassifierPooling::Mean,
            architectures: Some(vec![CLASSIFIER_ARCHITECTURE.to_string()]),
            dropout: DropoutRates::default(),
        }
    }

    /// wav2vec 2.0's layout at a size we can train on a CPU: the same seven-layer convolutional
    /// front end (20 ms frames) with `shape.conv_channels` channels, and a smaller transformer.
    pub fn shaped(labels: &[&str], shape: TeacherShape, pooling: ClassifierPooling) -> Self {
        let mut config = Self::base(labels);
        config.hidden_size = shape.hidden;
        config.num_hidden_layers = shape.layers;
        config.num_attention_heads = shape.heads;
        config.intermediate_size = 2 * shape.hidden;
        config.conv_dim = vec![shape.conv_channels; config.conv_dim.len()];
        // 64 frames (1.28 s) of positional context, in groups of 8 channels or fewer.
        config.num_conv_pos_embeddings = 64;
        config.num_conv_pos_embedding_groups = (1..=shape.hidden)
            .rev()
            .find(|g| shape.hidden.is_multiple_of(*g) && shape.hidden / g >= 8)
            .unwrap_or(1);
        config.classifier_proj_size = shape.hidden.min(256);
        config.classifier_pooling = pooling;
        config
    }

    /// Every inconsistency that would otherwise surface as a shape error deep in a forward pass.
    /// Refuses configs that cannot be built or cost more than the default budget, before
    /// anything is allocated.
    pub fn validate(&self) -> Result<(), TeacherError> {
        let fail = |why: String| Err(TeacherError::Config(why));
        let convs = self.conv_dim.len();
        if convs == 0 || self.conv_kernel.len() != convs || self.conv_stride.len() != convs {
            return fail(format!(
                "conv_dim, conv_kernel and conv_stride must be non-empty and of one length (they have {}, {} and {})",
                convs,
                self.conv_kernel.len(),
                self.conv_stride.len()
            ));
        }
        // Upper bounds well above any published wav2vec 2.0 (XLSR-2B: 1920 hidden, 48 layers,
        // seven convolutions) keep a hostile config from overflowing arithmetic or asking for
        // absurd memory or time.
        let sizes = [
            ("the number of convolutions (conv_dim)", convs, 64),
            ("hidden_size", self.hidden_size, 8_192),
            ("num_hidden_layers", self.num_hidden_layers, 256),
            ("num_attention_heads", self.num_attention_heads, 256),
            ("intermediate_size", self.intermediate_size, 65_536),
            (
                "num_conv_pos_embeddings",
                self.num_conv_pos_embeddings,
                1_024,
            ),
            (
                "num_conv_pos_embedding_groups",
                self.num_conv_pos_embedding_groups,
                8_192,
            ),
            ("classifier_proj_size", self.classifier_proj_size, 65_536),
            ("the number of labels", self.id2label.len(), 1_000_000),
        ];
        if let Some((name, value, most)) = sizes
            .iter()
            .find(|(_, value, most)| *value == 0 || value > most)
        {
            return fail(format!("{name} is {value}; it must be from 1 to {most}"));
        }
        let conv_sizes = [
            ("conv_dim", &self.conv_dim, 8_192),
            ("conv_kernel", &self.conv_kernel, 4_096),
            ("conv_stride", &self.conv_stride, 4_096),
        ];
        for (name, values, most) in conv_sizes {
            if let Some(bad) = values.iter().find(|&&v| v == 0 || v > most) {
                return fail(format!(
                    "{name} holds {bad}; each entry must be from 1 to {most}"
                ));
            }
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return fail(format!(
                "layer_norm_eps is {}; it must be a positive number",
                self.layer_norm_eps
            ));
        }
        let longest = 60 * MODEL_SAMPLE_RATE as usize;
        if self.checked_hop_samples().is_none_or(|hop| hop > longest) {
            return fail("the product of conv_stride is over 60 s of audio per frame".into());
        }
        if self.checked_min_samples().is_none_or(|min| min > longest) {
            return fail("the convolutions need over 60 s of audio for one frame".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return fail(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !self
            .hidden_size
            .is_multiple_of(self.num_conv_pos_embedding_groups)
        {
            return fail(format!(
                "hidden_size {} is not divisible by num_conv_pos_embedding_groups {}",
                self.hidden_size, self.num_conv_pos_embedding_groups
            ));
        }
        if let Some(architectures) = &self.architectures
            && !architectures.iter().any(|a| a == CLASSIFIER_ARCHITECTURE)
        {
            return fail(format!(
                "the checkpoint is a {}; the teacher must be an audio classifier ({CLASSIFIER_ARCHITECTURE})",
                architectures.join(", ")
            ));
        }
        if self.adapter_attn_dim.is_some() {
            return fail("adapter_attn_dim is set: MMS adapter layers are not supported".into());
        }
        if self.add_adapter {
            return fail("add_adapter is true: adapter layers are not supported".into());
        }
        self.dropout.validate()?;
        self.labels()?;
        self.check_budget(&TeacherBudget::default()).map(|_| ())
    }

    /// The class names in logit order, from `id2label`.
    pub fn labels(&self) -> Result<Vec<String>, TeacherError> {
        if self.id2label.is_empty() {
            return Err(TeacherError::Config(
                "id2label is missing or empty: the classifier needs its class names".into(),
            ));
        }
        let mut labels = vec![None; self.id2label.len()];
        for (id, label) in &self.id2label {
            // "+0" or "00" would parse to 0 too and leave another index without a label.
            let slot = id
                .parse::<usize>()
                .ok()
                .filter(|index| index.to_string() == *id)
                .and_then(|index| labels.get_mut(index))
                .ok_or_else(|| {
                    TeacherError::Config(format!(
                        "id2label key {id:?} is not an index from 0 to {}",
                        self.id2label.len() - 1
                    ))
                })?;
            *slot = Some(label.clone());
        }
        Ok(labels.into_iter().flatten().collect())
    }

    /// Whether the weighted layer sum reads the last hidden state after the final layer norm:
    /// what the config says, else what the transformers version that saved it did (after, up
    /// to 4.x; before from 5 on, and when the version is not recorded).
    pub fn ties_last_hidden_state(&self) -> bool {
        self.tie_last_hidden_states.unwrap_or_else(|| {
            self.transformers_version
                .as_deref()
                .and_then(|version| version.split('.').next()?.trim().parse::<u32>().ok())
                .is_some_and(|major| major < 5)
        })
    }

    /// The number of samples one frame advances: the product of the convolution strides.
    pub fn hop_samples(&self) -> usize {
        self.checked_hop_samples().unwrap_or(usize::MAX)
    }

    /// The fewest samples that give one frame (the feature encoder's receptive field).
    pub fn min_samples(&self) -> usize {
        self.checked_min_samples().unwrap_or(usize::MAX)
    }

    fn checked_hop_samples(&self) -> Option<usize> {
        self.conv_stride
            .iter()
            .try_fold(1usize, |hop, &stride| hop.checked_mul(stride))
    }

    fn checked_min_samples(&self) -> Option<usize> {
        self.conv_kernel
            .iter()
            .zip(&self.conv_stride)
            .rev()
            .try_fold(1usize, |needed, (&kernel, &stride)| {
                (needed - 1).checked_mul(stride)?.checked_add(kernel)
            })
    }

    /// Frames the encoder produces for `samples` samples: `⌊(L − k)/s⌋ + 1` per convolution.
    pub fn frames(&self, samples: usize) -> usize {
        self.conv_kernel
            .iter()
            .zip(&self.conv_stride)
            .try_fold(samples, |length, (kernel, stride)| {
                length.checked_sub(*kernel).map(|rest| rest / stride + 1)
            })
            .unwrap_or(0)
    }
}

/// The size of a teacher trained from scratch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherShape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub conv_channels: usize,
}

impl Default for TeacherShape {
    /// Trains in minutes on two CPU cores and still learns where the word is.
    fn default() -> Self {
        Self {
            hidden: 96,
            layers: 3,
            heads: 4,
            conv_channels: 32,
        }
    }
}

/// `preprocessor_config.json` (Hugging Face's `Wav2Vec2FeatureExtractor`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessorConfig {
    #[serde(default = "defaults::sampling_rate")]
    pub sampling_rate: u32,
    /// Zero mean and unit variance per clip before the model.
    #[serde(default = "defaults::do_normalize")]
    pub do_normalize: bool,
}

impl Default for PreprocessorConfig {
    fn default() -> Self {
        Self {
            sampling_rate: defaults::sampling_rate(),
            do_normalize: defaults::do_normalize(),
        }
    }
}

impl PreprocessorConfig {
    pub fn from_json(text: &str) -> Result<Self, TeacherError> {
        crate::capped_read::check_config_size(text, "the file")
            .map_err(TeacherError::Preprocessor)?;
        let config: Self =
            serde_json::from_str(text).map_err(|e| TeacherError::Preprocessor(e.to_string()))?;
        if config.sampling_rate != MODEL_SAMPLE_RATE {
            return Err(TeacherError::Preprocessor(format!(
                "the model wants {} Hz audio; only {MODEL_SAMPLE_RATE} Hz models are supported",
                config.sampling_rate
            )));
        }
        Ok(config)
    }

    /// Hugging Face's `zero_mean_unit_var_norm`: `(x − mean) / sqrt(var + 1e-7)`.
    pub fn prepare(&self, samples: &[f32]) -> Vec<f32> {
        if !self.do_normalize || samples.is_empty() {
            return samples.to_vec();
        }
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let scale = 1.0 / (var + 1e-7).sqrt();
        samples
            .iter()
            .map(|&x| ((x as f64 - mean) * scale) as f32)
            .collect()
    }
}
