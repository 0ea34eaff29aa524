//! What every student's forward pass returns, the training-only temporal attention head of the
//! students that have no attention of their own, and the one module type over all five.

use super::att_rnn::AttRnn;
use super::config::{Architecture, StudentConfig};
use super::crnn::Crnn;
use super::lstm_p::LstmP;
use super::tc_resnet::TcResNet;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Which temporal attention a forward pass computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionRequest {
    /// Logits only: the deployed cost (the query head of LSTM-P, TC-ResNet and CRNN is skipped).
    None,
    /// a_S, one distribution over the student's frames (mean over heads for MHAtt-RNN).
    Mean,
    /// a_S and every head's own distribution.
    PerHead,
}

/// Logits and the temporal attention asked for.
pub struct StudentOutput {
    /// `[batch, classes]`
    pub logits: Tensor<2>,
    /// a_S, `[batch, frames]`, rows sum to 1.
    pub attention: Option<Tensor<2>>,
    /// `[batch, heads, frames]` (one head for students without attention of their own).
    pub heads: Option<Tensor<3>>,
}

impl StudentOutput {
    /// For students whose attention is one distribution.
    pub(super) fn single_head(
        logits: Tensor<2>,
        attention: Option<Tensor<2>>,
        request: AttentionRequest,
    ) -> Self {
        let heads = match request {
            AttentionRequest::PerHead => attention.clone().map(|a| a.unsqueeze_dim::<3>(1)),
            _ => None,
        };
        Self {
            logits,
            attention,
            heads,
        }
    }
}

/// `a_S = softmax(c′·q)`: a trainable query `q` scoring the context vectors `c′` a student
/// pools or reads out. Only training and visualisation use it; the classifier never does.
#[derive(Module, Debug)]
pub struct TemporalQuery {
    q: Param<Tensor<1>>,
}

impl TemporalQuery {
    /// A random (not zero) start: with `q = 0`, the KD loss could not reach the backbone
    /// through `c′` until `q` itself had moved.
    pub fn new(dim: usize, device: &Device) -> Self {
        let bound = 1.0 / (dim as f64).sqrt();
        Self {
            q: Initializer::Uniform {
                min: -bound,
                max: bound,
            }
            .init([dim], device),
        }
    }

    /// # Shapes
    /// - `context`: `[batch, frames, dim]` → `[batch, frames]`
    pub fn forward(&self, context: Tensor<3>) -> Tensor<2> {
        let [_, _, dim] = context.dims();
        let scores = (context * self.q.val().reshape([1, 1, dim])).sum_dim(2); // [B, T, 1]
        softmax(scores.squeeze_dim::<2>(2), 1) // [B, T]
    }

    /// Computed, context included, only when asked for.
    pub fn maybe(
        &self,
        context: impl FnOnce() -> Tensor<3>,
        request: AttentionRequest,
    ) -> Option<Tensor<2>> {
        (request != AttentionRequest::None).then(|| self.forward(context()))
    }
}

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

/// The path segment of the training-only head; parameters under it are not deployed.
pub(super) const TRAINING_ONLY: &str = "attention_head";
