//! What every student's forward pass is asked for and returns.

use burn::tensor::Tensor;

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
