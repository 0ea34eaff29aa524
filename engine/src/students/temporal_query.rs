//! The training-only temporal attention head of the students that have no attention of their
//! own (LSTM-P, TC-ResNet, CRNN).

use super::output::AttentionRequest;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

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

/// The path segment of the training-only head; parameters under it are not deployed.
pub(super) const TRAINING_ONLY: &str = "attention_head";
