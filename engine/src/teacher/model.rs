//! wav2vec 2.0 with a sequence-classification head, layer for layer as Hugging Face's
//! `Wav2Vec2ForSequenceClassification` computes it, plus the paper's first-frame head. Its
//! dropout layers act only on an autodiff device (training), as burn's `Dropout` does; every
//! other forward pass is transformers' eval mode.

use super::config::{Activation, ClassifierPooling, DropoutRates};
use crate::kd::HeadFusion;
use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, LayerNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::{gelu_approximate, relu, silu, softmax};

/// The classifier and the encoder it reads.
#[derive(Module, Debug)]
pub struct Wav2Vec2Classifier {
    pub(super) feature_encoder: FeatureEncoder,
    pub(super) feature_projection: FeatureProjection,
    pub(super) encoder: Encoder,
    pub(super) head: ClassificationHead,
}

/// Which attention weights a forward pass keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionDetail {
    None,
    /// One map per layer, its heads fused as soon as the layer has run, so a long clip never
    /// holds every head of every layer at once (what rollout needs).
    Fused(HeadFusion),
    /// Every head of every layer.
    PerHead,
}

/// Logits, and every layer's attention weights when they were asked for.
pub struct Wav2Vec2Output {
    /// `[batch, classes]`
    pub logits: Tensor<2>,
    /// One tensor per layer, first layer first: `[batch, heads, frames, frames]` per head, or
    /// `[batch, 1, frames, frames]` fused; empty for [`AttentionDetail::None`]. Rows sum to 1
    /// except under max fusion.
    pub attentions: Vec<Tensor<4>>,
}

impl Wav2Vec2Classifier {
    /// The model with `rates` for its dropout layers (each already checked to lie in [0, 1)).
    pub(super) fn with_dropout(mut self, rates: &DropoutRates) -> Self {
        self.feature_projection.dropout.prob = rates.feat_proj_dropout;
        self.encoder.dropout.prob = rates.hidden_dropout;
        for layer in &mut self.encoder.layers {
            layer.dropout.prob = rates.hidden_dropout;
            layer.attention.dropout.prob = rates.attention_dropout;
            layer.feed_forward.intermediate_dropout.prob = rates.activation_dropout;
            layer.feed_forward.output_dropout.prob = rates.hidden_dropout;
        }
        self
    }

    /// The model with its convolutional feature encoder frozen: no gradients, no updates.
    pub fn with_frozen_feature_encoder(mut self) -> Self {
        self.feature_encoder = self.feature_encoder.freeze();
        self
    }

    /// # Shapes
    /// - `waveform`: `[batch, samples]`, already normalised as the preprocessor config says
    /// - output logits: `[batch, classes]`; attentions: layers × `[batch, heads, frames, frames]`
    ///   (`heads` is 1 when fused)
    pub fn forward(&self, waveform: Tensor<2>, attention: AttentionDetail) -> Wav2Vec2Output {
        let features = self.feature_encoder.forward(waveform); // [B, C, T]
        let features = features.swap_dims(1, 2); // [B, T, C]
        let hidden = self.feature_projection.forward(features); // [B, T, H]
        let encoded = self
            .encoder
            .forward(hidden, attention, self.head.reads_every_layer());
        Wav2Vec2Output {
            logits: self.head.forward(encoded.last, encoded.hidden_states),
            attentions: encoded.attentions,
        }
    }
}

/// The activations the config may name.
#[derive(Clone, Copy, Debug)]
pub(super) struct Act(pub Activation);

impl Act {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self.0 {
            Activation::Gelu => super::gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
            Activation::Silu => silu(x),
        }
    }
}

/// Raw waveform to frames: a stack of strided 1-D convolutions.
#[derive(Module, Debug)]
pub(super) struct FeatureEncoder {
    pub convs: Vec<Conv1d>,
    /// `feat_extract_norm = "group"`: GroupNorm with one group per channel after the first conv.
    pub group_norm: Option<GroupNorm>,
    /// `feat_extract_norm = "layer"`: a LayerNorm over channels after every conv.
    pub layer_norms: Vec<LayerNorm>,
    #[module(skip)]
    pub activation: Act,
}

impl FeatureEncoder {
    /// # Shapes
    /// - `waveform`: `[batch, samples]` → `[batch, conv_dim[-1], frames]`
    fn forward(&self, waveform: Tensor<2>) -> Tensor<3> {
        let mut x = waveform.unsqueeze_dim::<3>(1); // [B, 1, S]
        for (index, conv) in self.convs.iter().enumerate() {
            x = super::conv1d(conv, x); // [B, C_i, T_i]
            if index == 0
                && let Some(norm) = &self.group_norm
            {
                x = norm.forward(x);
            }
            if let Some(norm) = self.layer_norms.get(index) {
                x = norm.forward(x.swap_dims(1, 2)).swap_dims(1, 2); // normalised over C_i
            }
            x = self.activation.apply(x);
        }
        x
    }
}

#[derive(Module, Debug)]
pub(super) struct FeatureProjection {
    pub layer_norm: LayerNorm,
    pub projection: Linear,
    pub dropout: Dropout,
}

impl FeatureProjection {
    /// # Shapes
    /// - `features`: `[batch, frames, conv_dim[-1]]` → `[batch, frames, hidden]`
    fn forward(&self, features: Tensor<3>) -> Tensor<3> {
        let projected = super::linear(&self.projection, self.layer_norm.forward(features));
        self.dropout.forward(projected)
    }
}

/// The convolutional relative position embedding (weight norm already folded).
#[derive(Module, Debug)]
pub(super) struct PositionalConv {
    pub conv: Conv1d,
    #[module(skip)]
    pub activation: Act,
}

impl PositionalConv {
    /// # Shapes
    /// - `hidden`: `[batch, frames, hidden]` → `[batch, frames, hidden]`
    fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        let [_, frames, _] = hidden.dims();
        let x = super::conv1d(&self.conv, hidden.swap_dims(1, 2)); // [B, H, T + 1] for an even kernel
        // Padding by k/2 on both sides leaves one extra frame when k is even.
        let x = x.narrow(2, 0, frames); // [B, H, T]
        self.activation.apply(x).swap_dims(1, 2) // [B, T, H]
    }
}

#[derive(Module, Debug)]
pub(super) struct SelfAttention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub out_proj: Linear,
    pub heads: usize,
    /// On the weights the values are averaged with.
    pub dropout: Dropout,
}

impl SelfAttention {
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]` → (`[batch, frames, hidden]`,
    ///   `[batch, heads, frames, frames]`)
    fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<4>) {
        let [batch, frames, hidden] = x.dims();
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<3>| {
            t.reshape([batch, frames, self.heads, head_dim]) // [B, T, h, d]
                .swap_dims(1, 2) // [B, h, T, d]
        };
        let scale = (head_dim as f64).powf(-0.5);
        let q = split(super::linear(&self.q_proj, x.clone()).mul_scalar(scale));
        let k = split(super::linear(&self.k_proj, x.clone()));
        let v = split(super::linear(&self.v_proj, x));
        let scores = q.matmul(k.swap_dims(2, 3)); // [B, h, T, T]
        let weights = softmax(scores, 3);
        let context = self.dropout.forward(weights.clone()).matmul(v); // [B, h, T, d]
        let context = context.swap_dims(1, 2).reshape([batch, frames, hidden]); // [B, T, H]
        (super::linear(&self.out_proj, context), weights)
    }
}

#[derive(Module, Debug)]
pub(super) struct FeedForward {
    pub intermediate_dense: Linear,
    pub intermediate_dropout: Dropout,
    pub output_dense: Linear,
    pub output_dropout: Dropout,
    #[module(skip)]
    pub activation: Act,
}

impl FeedForward {
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]` → same
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let inner = self
            .activation
            .apply(super::linear(&self.intermediate_dense, x));
        let inner = self.intermediate_dropout.forward(inner);
        self.output_dropout
            .forward(super::linear(&self.output_dense, inner))
    }
}

#[derive(Module, Debug)]
pub(super) struct EncoderLayer {
    pub attention: SelfAttention,
    pub layer_norm: LayerNorm,
    pub feed_forward: FeedForward,
    pub final_layer_norm: LayerNorm,
    /// On the attention's output before its residual sum.
    pub dropout: Dropout,
    /// Pre-layer-norm (large, XLSR) rather than post-layer-norm (base).
    pub stable: bool,
}

impl EncoderLayer {
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]` → same, with `[batch, heads, frames, frames]` weights
    fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<4>) {
        if self.stable {
            let (attended, weights) = self.attention.forward(self.layer_norm.forward(x.clone()));
            let x = x + self.dropout.forward(attended);
            let x = x.clone() + self.feed_forward.forward(self.final_layer_norm.forward(x));
            (x, weights)
        } else {
            let (attended, weights) = self.attention.forward(x.clone());
            let x = self.layer_norm.forward(x + self.dropout.forward(attended));
            let x = x.clone() + self.feed_forward.forward(x);
            (self.final_layer_norm.forward(x), weights)
        }
    }
}

#[derive(Module, Debug)]
pub(super) struct Encoder {
    pub pos_conv: PositionalConv,
    pub layer_norm: LayerNorm,
    pub layers: Vec<EncoderLayer>,
    /// On the first layer's input.
    pub dropout: Dropout,
    pub stable: bool,
    /// For the stable layout: whether the last recorded hidden state is the one after the final
    /// layer norm (`tie_last_hidden_states`).
    pub tie_last_hidden_state: bool,
}

pub(super) struct Encoded {
    /// `[batch, frames, hidden]`
    pub last: Tensor<3>,
    /// Hugging Face's `hidden_states` (layers + 1 of them: the input of every layer and the
    /// last layer's output), only when asked for.
    pub hidden_states: Vec<Tensor<3>>,
    pub attentions: Vec<Tensor<4>>,
}

impl Encoder {
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]` → [`Encoded`]
    fn forward(&self, x: Tensor<3>, attention: AttentionDetail, keep_hidden: bool) -> Encoded {
        let mut x = x.clone() + self.pos_conv.forward(x);
        if !self.stable {
            x = self.layer_norm.forward(x);
        }
        x = self.dropout.forward(x);
        let mut hidden_states = Vec::new();
        let mut attentions = Vec::new();
        for layer in &self.layers {
            if keep_hidden {
                hidden_states.push(x.clone());
            }
            let (next, weights) = layer.forward(x);
            x = next;
            match attention {
                AttentionDetail::None => {}
                AttentionDetail::PerHead => attentions.push(weights),
                AttentionDetail::Fused(HeadFusion::Mean) => attentions.push(weights.mean_dim(1)),
                AttentionDetail::Fused(HeadFusion::Max) => attentions.push(weights.max_dim(1)),
            }
        }
        let last_layer_output = x.clone();
        if self.stable {
            x = self.layer_norm.forward(x);
        }
        if keep_hidden {
            // transformers 5 records each layer's output, so unless the config ties it the last
            // hidden state of the stable layout comes before the final layer norm.
            let tied = !self.stable || self.tie_last_hidden_state;
            hidden_states.push(if tied { x.clone() } else { last_layer_output });
        }
        Encoded {
            last: x,
            hidden_states,
            attentions,
        }
    }
}

#[derive(Module, Debug)]
pub(super) struct ClassificationHead {
    /// `use_weighted_layer_sum`: one weight per hidden state, softmax-normalised.
    pub layer_weights: Option<Param<Tensor<1>>>,
    /// Hugging Face's head projects every frame before the mean; the first-frame head does not.
    pub projector: Option<Linear>,
    pub classifier: Linear,
    #[module(skip)]
    pub pooling: ClassifierPooling,
}

impl ClassificationHead {
    fn reads_every_layer(&self) -> bool {
        self.layer_weights.is_some()
    }

    /// # Shapes
    /// - `last`: `[batch, frames, hidden]`; `hidden_states`: layers + 1 of the same shape
    /// - output: `[batch, classes]`
    fn forward(&self, last: Tensor<3>, hidden_states: Vec<Tensor<3>>) -> Tensor<2> {
        let hidden = match &self.layer_weights {
            Some(weights) => {
                let count = hidden_states.len();
                let stacked = Tensor::stack::<4>(hidden_states, 1); // [B, L + 1, T, H]
                let weights = softmax(weights.val(), 0).reshape([1, count, 1, 1]);
                (stacked * weights).sum_dim(1).squeeze_dim::<3>(1) // [B, T, H]
            }
            None => last,
        };
        let pooled = match self.pooling {
            ClassifierPooling::FirstFrame => hidden.narrow(1, 0, 1).squeeze_dim::<2>(1), // [B, H]
            ClassifierPooling::Mean => {
                let projected = match &self.projector {
                    Some(projector) => super::linear(projector, hidden),
                    None => hidden,
                }; // [B, T, P]
                projected.mean_dim(1).squeeze_dim::<2>(1) // [B, P]
            }
        };
        super::linear(&self.classifier, pooled)
    }
}

/// A dropout layer that drops nothing until [`Wav2Vec2Classifier::with_dropout`] sets its rate.
pub(super) fn no_dropout() -> Dropout {
    DropoutConfig::new(0.0).init()
}
