//! The one module type over all five students.

use super::att_rnn::AttRnn;
use super::config::{Architecture, StudentConfig};
use super::crnn::Crnn;
use super::lstm_p::LstmP;
use super::output::{AttentionRequest, StudentOutput};
use super::tc_resnet::TcResNet;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Any of the five students.
#[derive(Module, Debug)]
pub enum StudentModel {
    LstmP(LstmP),
    TcResNet(TcResNet),
    Crnn(Crnn),
    AttRnn(AttRnn),
}

impl StudentModel {
    /// Freshly initialised parameters for `config` (which must be valid).
    pub fn init(config: &StudentConfig, device: &Device) -> Self {
        let (input, classes) = (config.input_size(), config.classes());
        match &config.arch {
            Architecture::LstmP(c) => Self::LstmP(c.init(input, classes, device)),
            Architecture::TcResNet(c) => Self::TcResNet(c.init(input, classes, device)),
            Architecture::Crnn(c) => Self::Crnn(c.init(input, classes, device)),
            Architecture::AttRnn(c) | Architecture::MhattRnn(c) => {
                Self::AttRnn(c.init(input, classes, device))
            }
        }
    }

    /// # Shapes
    /// - `features`: `[batch, frames, input]` (MFCC or log-mel, frame-major)
    /// - logits `[batch, classes]`; attention `[batch, student frames]`; heads
    ///   `[batch, heads, student frames]`
    pub fn forward(&self, features: Tensor<3>, request: AttentionRequest) -> StudentOutput {
        match self {
            Self::LstmP(model) => model.forward(features, request),
            Self::TcResNet(model) => model.forward(features, request),
            Self::Crnn(model) => model.forward(features, request),
            Self::AttRnn(model) => model.forward(features, request),
        }
    }
}
