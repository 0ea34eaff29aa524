//! LSTM-P: an LSTM with peepholes and a projection, read out at its last frame.

use super::config::LstmPConfig;
use super::output::{AttentionRequest, StudentOutput};
use super::recurrent::{PeepholeLstm, PeepholeLstmConfig, frame};
use super::temporal_query::TemporalQuery;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct LstmP {
    lstm: PeepholeLstm,
    dropout: Dropout,
    classifier: Linear,
    attention_head: TemporalQuery,
}

impl LstmPConfig {
    /// Parameters for 20 MFCC and 12 classes (the paper's ≈546K):
    /// LSTM `4·500·(20 + 200) + 4·500 + 3·500 + 500·200 = 543,500`, dense `200·12 + 12 = 2,412`:
    /// 545,912, plus the query `q` (200) used only in training.
    pub fn init(&self, input: usize, classes: usize, device: &Device) -> LstmP {
        LstmP {
            lstm: PeepholeLstmConfig {
                input,
                hidden: self.units,
                projection: self.projection,
            }
            .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.projection, classes).init(device),
            attention_head: TemporalQuery::new(self.projection, device),
        }
    }
}

impl LstmP {
    /// # Shapes
    /// - `features`: `[batch, frames, input]` → logits `[batch, classes]`, attention
    ///   `[batch, frames]`
    pub fn forward(&self, features: Tensor<3>, request: AttentionRequest) -> StudentOutput {
        let [_, frames, _] = features.dims();
        let outputs = self.lstm.forward(features); // [B, T, P]
        // `StudentConfig::min_input_frames` keeps every input at one frame or more.
        let last = frame(outputs.clone(), frames - 1); // [B, P]
        let logits = self.classifier.forward(self.dropout.forward(last));
        let attention = self.attention_head.maybe(|| outputs, request);
        StudentOutput::single_head(logits, attention, request)
    }
}
