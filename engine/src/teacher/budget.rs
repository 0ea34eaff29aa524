//! What a teacher config costs before anything is built: its weights, and the attention and
//! feature-encoder memory of the longest clip it may be given. Every field has its own bound,
//! but a config with every stride 1 makes a frame per sample, and a T×T attention of terabytes.

use super::TeacherError;
use super::config::{ClassifierPooling, FeatureNorm, Wav2Vec2Config};
use crate::audio::MODEL_SAMPLE_RATE;
use serde::{Deserialize, Serialize};

/// The most a teacher may cost. The defaults take wav2vec 2.0 large on a 30 s clip (the
/// longest a clip may be) and refuse what a browser tab cannot hold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherBudget {
    /// Weights of the convolutions, the transformer and the heads.
    pub max_parameters: u64,
    /// Bytes of one layer's attention weights (every head) on the longest clip.
    pub max_attention_bytes: u64,
    /// Bytes of the maps a reading keeps for the rollout, one per layer (its heads fused), on
    /// the longest clip; and of any batch of readings, per head when those are asked for.
    pub max_kept_maps_bytes: u64,
    /// Bytes of the feature encoder's widest output on the longest clip.
    pub max_encoder_bytes: u64,
    pub longest_clip_s: f32,
}

impl Default for TeacherBudget {
    fn default() -> Self {
        Self {
            max_parameters: 400_000_000,
            max_attention_bytes: 1 << 30,
            max_kept_maps_bytes: 1 << 30,
            max_encoder_bytes: 1 << 30,
            longest_clip_s: 30.0,
        }
    }
}

/// The cost of a teacher config.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TeacherCost {
    /// The weight matrices and vectors of every layer (norms included).
    pub parameters: u64,
    /// Encoder frames of the longest clip.
    pub frames: u64,
    pub attention_bytes: u64,
    /// One fused map per layer.
    pub kept_maps_bytes: u64,
    pub encoder_bytes: u64,
}

fn product(factors: &[usize]) -> u64 {
    factors
        .iter()
        .fold(1u64, |total, &f| total.saturating_mul(f as u64))
}

impl Wav2Vec2Config {
    /// The cost of this config for clips up to `longest_clip_s` (its fields must be within
    /// their own bounds, as [`Wav2Vec2Config::validate`] checks first).
    pub fn cost(&self, longest_clip_s: f32) -> TeacherCost {
        let h = self.hidden_size;
        let mut parameters = 0u64;
        let mut add = |amount: u64| parameters = parameters.saturating_add(amount);
        let mut channels = 1;
        let mut length = length_samples(longest_clip_s);
        let mut widest = 0u64;
        for (layer, ((&out, &kernel), &stride)) in self
            .conv_dim
            .iter()
            .zip(&self.conv_kernel)
            .zip(&self.conv_stride)
            .enumerate()
        {
            add(product(&[kernel, channels, out]));
            if self.conv_bias {
                add(out as u64);
            }
            let normed = match self.feat_extract_norm {
                FeatureNorm::Group => layer == 0,
                FeatureNorm::Layer => true,
            };
            if normed {
                add(product(&[2, out]));
            }
            length = length.saturating_sub(kernel) / stride.max(1) + 1;
            widest = widest.max(product(&[out, length]));
            channels = out;
        }
        // The feature projection (its norm and linear), the positional convolution (grouped,
        // weight-normalised: a gain per kernel position), the encoder's norm.
        add(product(&[2, channels]) + product(&[channels, h]) + h as u64);
        let group = h / self.num_conv_pos_embedding_groups.max(1);
        add(product(&[h, group, self.num_conv_pos_embeddings])
            + (self.num_conv_pos_embeddings + h) as u64);
        add(product(&[2, h]));
        let i = self.intermediate_size;
        let layer = product(&[4, h, h]) + product(&[2, h, i]) + (i + 9 * h) as u64;
        add(layer.saturating_mul(self.num_hidden_layers as u64));
        if self.use_weighted_layer_sum {
            add(self.num_hidden_layers as u64 + 1);
        }
        let classes = self.id2label.len();
        let head_input = match self.classifier_pooling {
            ClassifierPooling::Mean => {
                let p = self.classifier_proj_size;
                add(product(&[h, p]) + p as u64);
                p
            }
            ClassifierPooling::FirstFrame => h,
        };
        add(product(&[head_input, classes]) + classes as u64);
        let frames = self.frames(length_samples(longest_clip_s)) as u64;
        TeacherCost {
            parameters,
            frames,
            attention_bytes: maps_bytes(frames, self.num_attention_heads),
            kept_maps_bytes: maps_bytes(frames, self.num_hidden_layers),
            encoder_bytes: widest.saturating_mul(4),
        }
    }

    /// Refuses a config over `budget`, saying what it would need and what is allowed.
    pub fn check_budget(&self, budget: &TeacherBudget) -> Result<TeacherCost, TeacherError> {
        let cost = self.cost(budget.longest_clip_s);
        let over = |why: String| Err(TeacherError::Config(why));
        if cost.parameters > budget.max_parameters {
            return over(format!(
                "this model has {} parameters (hidden_size {}, num_hidden_layers {}, \
                 intermediate_size {}); the budget is {} (max_parameters)",
                cost.parameters,
                self.hidden_size,
                self.num_hidden_layers,
                self.intermediate_size,
                budget.max_parameters
            ));
        }
        if cost.attention_bytes > budget.max_attention_bytes {
            return over(format!(
                "on a {} s clip its attention needs {} bytes per layer (num_attention_heads {} × \
                 {} frames squared; conv_stride makes a frame every {} samples); the budget is \
                 {} (max_attention_bytes)",
                budget.longest_clip_s,
                cost.attention_bytes,
                self.num_attention_heads,
                cost.frames,
                self.hop_samples(),
                budget.max_attention_bytes
            ));
        }
        if cost.kept_maps_bytes > budget.max_kept_maps_bytes {
            return over(format!(
                "on a {} s clip the attention maps a reading keeps need {} bytes \
                 (num_hidden_layers {} × {} frames squared); the budget is {} \
                 (max_kept_maps_bytes)",
                budget.longest_clip_s,
                cost.kept_maps_bytes,
                self.num_hidden_layers,
                cost.frames,
                budget.max_kept_maps_bytes
            ));
        }
        if cost.encoder_bytes > budget.max_encoder_bytes {
            return over(format!(
                "on a {} s clip its feature encoder needs {} bytes for one layer's output \
                 (conv_dim × the frames conv_stride leaves); the budget is {} \
                 (max_encoder_bytes)",
                budget.longest_clip_s, cost.encoder_bytes, budget.max_encoder_bytes
            ));
        }
        Ok(cost)
    }
}

/// Bytes of `maps` attention maps of `frames` × `frames` f32.
pub(super) fn maps_bytes(frames: u64, maps: usize) -> u64 {
    frames
        .saturating_mul(frames)
        .saturating_mul(maps as u64)
        .saturating_mul(4)
}

fn length_samples(seconds: f32) -> usize {
    (seconds.max(0.0) * MODEL_SAMPLE_RATE as f32) as usize
}
