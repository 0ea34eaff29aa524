//! TC-ResNet: the features of a frame are the channels of a 1-D convolution over time, so every
//! kernel sees the whole spectrum; residual stages halve the frame rate.

use super::config::TcResNetConfig;
use super::output::{AttentionRequest, StudentOutput};
use super::temporal_query::TemporalQuery;
use crate::batch_norm::batch_norm;
use crate::conv1d::conv1d;
use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Convolutions carry no bias: the batch norm after each one has its own.
fn conv(input: usize, output: usize, kernel: usize, stride: usize, device: &Device) -> Conv1d {
    Conv1dConfig::new(input, output, kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig1d::Explicit(kernel / 2, kernel / 2))
        .with_bias(false)
        .init(device)
}

fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// conv → BN → ReLU → conv → BN, plus a shortcut (1×1 conv → BN → ReLU where the stride or the
/// width changes), then ReLU.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv1d,
    norm1: BatchNorm,
    conv2: Conv1d,
    norm2: BatchNorm,
    shortcut: Option<Shortcut>,
}

#[derive(Module, Debug)]
pub struct Shortcut {
    conv: Conv1d,
    norm: BatchNorm,
}

impl ResidualBlock {
    fn new(input: usize, output: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv(input, output, kernel, stride, device),
            norm1: norm(output, device),
            conv2: conv(output, output, kernel, 1, device),
            norm2: norm(output, device),
            shortcut: (stride != 1 || input != output).then(|| Shortcut {
                conv: conv(input, output, 1, stride, device),
                norm: norm(output, device),
            }),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, input, frames]` → `[batch, output, ⌈frames / stride⌉]`
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = relu(batch_norm(&self.norm1, conv1d(&self.conv1, x.clone())));
        let y = batch_norm(&self.norm2, conv1d(&self.conv2, y));
        let skip = match &self.shortcut {
            Some(shortcut) => relu(batch_norm(&shortcut.norm, conv1d(&shortcut.conv, x))),
            None => x,
        };
        relu(y + skip)
    }
}

#[derive(Module, Debug)]
pub struct TcResNet {
    first: Conv1d,
    first_norm: BatchNorm,
    blocks: Vec<ResidualBlock>,
    classifier: Linear,
    attention_head: TemporalQuery,
}

impl TcResNetConfig {
    /// Parameters of TC-ResNet8 for 40 MFCC and 12 classes, counted as trainable (batch norm's
    /// scale and shift, 2 per channel; its running mean and variance are buffers):
    ///
    /// | layer | weights | BN |
    /// |---|---|---|
    /// | conv 3, 40 → 16 | 1,920 | 32 |
    /// | block 16 → 24: 9·16·24 + 9·24·24 + 16·24 | 9,024 | 144 |
    /// | block 24 → 32: 9·24·32 + 9·32·32 + 24·32 | 16,896 | 192 |
    /// | block 32 → 48: 9·32·48 + 9·48·48 + 32·48 | 36,096 | 288 |
    /// | dense 48 → 12 + bias | 588 | |
    ///
    /// 65,180 in all. The paper's "66K" also counts the running statistics, another 656:
    /// 65,836. TC-ResNet14 adds a stride-1 block per stage (10,368 + 18,432 + 41,472 weights,
    /// 416 BN): 135,868 (136,940 with running statistics, the paper's "137K"). The query `q`
    /// (48) is used only in training.
    pub fn init(&self, input: usize, classes: usize, device: &Device) -> TcResNet {
        let mut blocks = Vec::new();
        let mut width = self.first_channels;
        for &channels in &self.stages {
            blocks.push(ResidualBlock::new(width, channels, self.kernel, 2, device));
            for _ in 1..self.blocks_per_stage {
                blocks.push(ResidualBlock::new(
                    channels,
                    channels,
                    self.kernel,
                    1,
                    device,
                ));
            }
            width = channels;
        }
        TcResNet {
            first: conv(input, self.first_channels, self.first_kernel, 1, device),
            first_norm: norm(self.first_channels, device),
            blocks,
            classifier: LinearConfig::new(width, classes).init(device),
            attention_head: TemporalQuery::new(width, device),
        }
    }
}

impl TcResNet {
    /// # Shapes
    /// - `features`: `[batch, frames, input]` → logits `[batch, classes]`, attention
    ///   `[batch, ⌈frames / 2^stages⌉]`
    pub fn forward(&self, features: Tensor<3>, request: AttentionRequest) -> StudentOutput {
        let x = features.swap_dims(1, 2); // [B, F, T]: features as channels
        let mut x = relu(batch_norm(&self.first_norm, conv1d(&self.first, x))); // [B, C0, T]
        for block in &self.blocks {
            x = block.forward(x); // [B, C_i, T_i]
        }
        let [batch, channels, _] = x.dims();
        let pooled = x.clone().mean_dim(2).reshape([batch, channels]); // [B, C]
        let logits = self.classifier.forward(pooled);
        let context = x.swap_dims(1, 2); // [B, T', C]
        StudentOutput::single_head(
            logits,
            self.attention_head.maybe(|| context, request),
            request,
        )
    }
}
