//! Att-RNN and MHAtt-RNN: time convolutions, bidirectional GRUs, and attention whose queries
//! come from the middle frame. The attention weights are the student's own a_S.

use super::config::AttRnnConfig;
use super::output::{AttentionRequest, StudentOutput};
use super::recurrent::{BiGru, GruConfig, frame, run_stack};
use crate::batch_norm::batch_norm;
use crate::conv2d::conv2d;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct AttRnn {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    grus: Vec<BiGru>,
    /// Every head's query from the middle frame at once: `[2·units, heads·2·units]`.
    query: Linear,
    dropout: Dropout,
    dense: Vec<Linear>,
    classifier: Linear,
    heads: usize,
}

impl AttRnnConfig {
    /// Parameters for 20 MFCC and 12 classes. MHAtt-RNN (the paper's 743,025):
    /// conv 5×1, 1 → 10: `5·10 + 10 = 60`, BN 20; conv 5×1, 10 → 1: `5·10 + 1 = 51`, BN 2;
    /// BiGRU 20 → 2×128: `2·(3·128·(20 + 128) + 6·128) = 115,200`; BiGRU 256 → 2×128:
    /// `2·(3·128·(256 + 128) + 6·128) = 296,448`; queries `4·(256·256 + 256) = 263,168`;
    /// dense 1024 → 64: 65,600; 64 → 32: 2,080; 32 → 12: 396.
    /// Att-RNN has one head: queries 65,792 and dense 256 → 64 16,448, 496,497 in all.
    pub fn init(&self, input: usize, classes: usize, device: &Device) -> AttRnn {
        let kernel = self.conv_kernel;
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut channels = 1;
        for &out in &self.conv_channels {
            convs.push(
                Conv2dConfig::new([channels, out], [kernel, 1])
                    .with_padding(PaddingConfig2d::Explicit(kernel / 2, 0, kernel / 2, 0))
                    .init(device),
            );
            norms.push(BatchNormConfig::new(out).init(device));
            channels = out;
        }
        let mut grus = Vec::new();
        let mut width = input;
        for _ in 0..self.gru_layers {
            grus.push(
                GruConfig {
                    input: width,
                    hidden: self.gru_units,
                }
                .init_bidirectional(device),
            );
            width = 2 * self.gru_units;
        }
        let mut dense = Vec::new();
        let mut features = self.heads * width;
        for &units in &self.dense {
            dense.push(LinearConfig::new(features, units).init(device));
            features = units;
        }
        AttRnn {
            convs,
            norms,
            grus,
            query: LinearConfig::new(width, self.heads * width).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dense,
            classifier: LinearConfig::new(features, classes).init(device),
            heads: self.heads,
        }
    }
}

impl AttRnn {
    /// # Shapes
    /// - `features`: `[batch, frames, input]` → logits `[batch, classes]`, attention
    ///   `[batch, frames]`, heads `[batch, heads, frames]`
    pub fn forward(&self, features: Tensor<3>, request: AttentionRequest) -> StudentOutput {
        let [batch, frames, input] = features.dims();
        let mut x = features.unsqueeze_dim::<4>(1); // [B, 1, T, F]
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            x = batch_norm(norm, conv2d(conv, x).tanh()); // [B, C_i, T, F]
        }
        let x = x.reshape([batch, frames, input]); // [B, T, F]: the last conv has 1 channel
        let sequence = run_stack(&self.grus, x); // [B, T, 2H]
        let [_, _, width] = sequence.dims();
        let middle = frame(sequence.clone(), frames / 2); // [B, 2H]
        let queries = self
            .query
            .forward(middle)
            .reshape([batch, self.heads, width]); // [B, heads, 2H]
        let scores = queries.matmul(sequence.clone().swap_dims(1, 2)); // [B, heads, T]
        let weights = softmax(scores, 2); // [B, heads, T]
        let contexts = weights.clone().matmul(sequence); // [B, heads, 2H]
        let mut y = self
            .dropout
            .forward(contexts.reshape([batch, self.heads * width])); // [B, heads·2H]
        for (index, dense) in self.dense.iter().enumerate() {
            y = dense.forward(y);
            if index == 0 {
                y = relu(y);
            }
        }
        let logits = self.classifier.forward(y);
        let (attention, heads) = match request {
            AttentionRequest::None => (None, None),
            AttentionRequest::Mean => (Some(mean_over_heads(weights)), None),
            AttentionRequest::PerHead => (Some(mean_over_heads(weights.clone())), Some(weights)),
        };
        StudentOutput {
            logits,
            attention,
            heads,
        }
    }
}

/// # Shapes
/// - `weights`: `[batch, heads, frames]` → `[batch, frames]`
fn mean_over_heads(weights: Tensor<3>) -> Tensor<2> {
    weights.mean_dim(1).squeeze_dim::<2>(1)
}
