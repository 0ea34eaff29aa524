//! CRNN: two valid 2-D convolutions over time × frequency, a GRU read out at its last frame, and
//! a dense stack.

use super::config::CrnnConfig;
use super::output::{AttentionRequest, StudentOutput};
use super::recurrent::{Gru, GruConfig, frame};
use super::temporal_query::TemporalQuery;
use crate::conv2d::conv2d;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Crnn {
    convs: Vec<Conv2d>,
    gru: Gru,
    dropout: Dropout,
    dense: Vec<Linear>,
    classifier: Linear,
    attention_head: TemporalQuery,
}

impl CrnnConfig {
    /// Parameters for 20 MFCC and 12 classes (the paper's 467,772):
    /// conv 3×3, 1 → 16: `9·16 + 16 = 160`; conv 5×3, 16 → 16: `15·16·16 + 16 = 3,856`;
    /// the GRU reads 16 channels × (20 − 2 − 2) bins = 256 values per frame:
    /// `3·256·(256 + 256) + 6·256 = 394,752`; dense 256 → 128: 32,896; 128 → 256: 33,024;
    /// 256 → 12: 3,084. The query `q` (256) is used only in training.
    pub fn init(&self, input: usize, classes: usize, device: &Device) -> Crnn {
        let mut convs = Vec::new();
        let (mut channels, mut bins) = (1, input);
        for (&out, &[time, freq]) in self.conv_channels.iter().zip(&self.conv_kernels) {
            convs.push(Conv2dConfig::new([channels, out], [time, freq]).init(device));
            (channels, bins) = (out, bins + 1 - freq);
        }
        let mut dense = Vec::new();
        let mut width = self.gru_units;
        for &units in &self.dense {
            dense.push(LinearConfig::new(width, units).init(device));
            width = units;
        }
        Crnn {
            convs,
            gru: GruConfig {
                input: channels * bins,
                hidden: self.gru_units,
            }
            .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dense,
            classifier: LinearConfig::new(width, classes).init(device),
            attention_head: TemporalQuery::new(self.gru_units, device),
        }
    }
}

impl Crnn {
    /// # Shapes
    /// - `features`: `[batch, frames, input]` → logits `[batch, classes]`, attention
    ///   `[batch, frames − Σ(time kernel − 1)]`
    pub fn forward(&self, features: Tensor<3>, request: AttentionRequest) -> StudentOutput {
        let mut x = features.unsqueeze_dim::<4>(1); // [B, 1, T, F]
        for conv in &self.convs {
            x = relu(conv2d(conv, x)); // [B, C, T_i, F_i]
        }
        let [batch, channels, frames, bins] = x.dims();
        // Channels vary fastest within a frame, as a channels-last reshape gives.
        let x = x
            .permute([0, 2, 3, 1])
            .reshape([batch, frames, bins * channels]); // [B, T', F'·C]
        let outputs = self.gru.forward(x); // [B, T', H]
        // `StudentConfig::min_input_frames` keeps every input at one frame or more.
        let last = frame(outputs.clone(), frames - 1); // [B, H]
        let mut y = self.dropout.forward(last);
        for (index, dense) in self.dense.iter().enumerate() {
            y = dense.forward(y);
            if index > 0 {
                y = relu(y);
            }
        }
        let logits = self.classifier.forward(y);
        let attention = self.attention_head.maybe(|| outputs, request);
        StudentOutput::single_head(logits, attention, request)
    }
}
