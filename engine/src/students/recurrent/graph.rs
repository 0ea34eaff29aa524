//! The recurrent layers as burn operations frame by frame: the path on WebGPU, and the
//! reference the fused CPU path ([`super::fused`]) is checked against. Under autodiff every
//! frame adds about twenty graph nodes.
//!
//! Sequences pass through as one tensor per frame. Slicing frame `t` out of a
//! `[batch, frames, width]` tensor would cost a full-size gradient per frame in the backward
//! pass (burn's slice backward writes into zeros of the whole shape), quadratic in the clip
//! length; frames that stay separate cost nothing to take apart.

use super::{PeepholeLstm, Stacked};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// The frames of a sequence as separate tensors.
///
/// # Shapes
/// - `x`: `[batch, frames, width]` → frames × `[batch, width]`
pub(super) fn unstack_frames(x: Tensor<3>) -> Vec<Tensor<2>> {
    let [batch, _, width] = x.dims();
    x.split(1, 1)
        .into_iter()
        .map(|frame| frame.reshape([batch, width])) // [B, W]
        .collect()
}

/// `x·W + b` for every frame.
///
/// When gradients are tracked, each frame gets its own product, so that no frame is sliced out
/// of a larger tensor; otherwise slicing is free and one product serves every frame.
///
/// # Shapes
/// - `frames` × `[batch, input]`, `weight`: `[input, out]`, `bias`: `[out]` → frames × `[batch, out]`
fn project(frames: &[Tensor<2>], weight: Tensor<2>, bias: Tensor<1>) -> Vec<Tensor<2>> {
    let bias = bias.unsqueeze_dim::<2>(0); // [1, out]
    let tracked = frames.first().is_some_and(|frame| frame.is_autodiff());
    if tracked || frames.len() < 2 {
        return frames
            .iter()
            .map(|x| x.clone().matmul(weight.clone()) + bias.clone())
            .collect();
    }
    let sequence = stack_frames(frames.to_vec()); // [B, T, I]
    let [batch, count, input] = sequence.dims();
    let projected = sequence.reshape([batch * count, input]).matmul(weight) + bias; // [B·T, out]
    let [_, out] = projected.dims();
    unstack_frames(projected.reshape([batch, count, out]))
}

/// # Shapes
/// - `frames` × `[batch, width]` → `[batch, frames, width]`
pub(super) fn stack_frames(frames: Vec<Tensor<2>>) -> Tensor<3> {
    Tensor::stack(frames, 1)
}

/// Runs GRUs over the same input side by side, the first forward in time and a second one
/// backward, as one batched recurrence: a step of both costs the operations of one.
///
/// # Shapes
/// - `frames` × `[batch, input]` → frames × `[batch, grus·hidden]`
pub(super) fn gru(frames: &[Tensor<2>], stacked: Stacked) -> Vec<Tensor<2>> {
    let Some(first) = frames.first() else {
        return Vec::new();
    };
    let [batch, _] = first.dims();
    let Stacked {
        weight_ih,
        bias_ih,
        weight_hh,
        bias_hh,
    } = stacked;
    let [grus, hidden, gates] = weight_hh.dims();
    let count = frames.len();
    // The frame GRU `g` reads at step `t`: forwards for the first, backwards for the second.
    let frame_at = |g: usize, t: usize| if g == 0 { t } else { count - 1 - t };
    let projected = project(frames, weight_ih, bias_ih); // T × [B, G·3H]
    let inputs = (0..count)
        .map(|t| {
            let parts = (0..grus)
                .map(|g| {
                    projected[frame_at(g, t)]
                        .clone()
                        .narrow(1, g * gates, gates)
                })
                .collect();
            Tensor::stack(parts, 0) // [G, B, 3H]
        })
        .collect();
    let states = recur(inputs, weight_hh, bias_hh.unsqueeze_dim(1)); // steps × [G, B, H]
    (0..count)
        .map(|t| {
            let parts = (0..grus)
                .map(|g| {
                    states[frame_at(g, t)]
                        .clone()
                        .narrow(0, g, 1)
                        .reshape([batch, hidden]) // [B, H]
                })
                .collect();
            Tensor::cat(parts, 1) // [B, G·H]
        })
        .collect()
}

/// The GRU recurrence, reset gate after the hidden product, for independent GRUs stacked on the
/// first dimension.
///
/// # Shapes
/// - `inputs`: frames × `[grus, batch, 3·hidden]` (input projections, biases included)
/// - `weight_hh`: `[grus, hidden, 3·hidden]`, `bias_hh`: `[grus, 1, 3·hidden]`
/// - output: steps × `[grus, batch, hidden]`
fn recur(inputs: Vec<Tensor<3>>, weight_hh: Tensor<3>, bias_hh: Tensor<3>) -> Vec<Tensor<3>> {
    let [grus, hidden, _] = weight_hh.dims();
    let batch = inputs.first().map_or(0, |input| input.dims()[1]);
    let mut h = Tensor::<3>::zeros([grus, batch, hidden], &weight_hh.device());
    let mut outputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let recurrent = h.clone().matmul(weight_hh.clone()) + bias_hh.clone(); // [G, B, 3H]
        // Reset and update gates in one sigmoid.
        let reset_update = sigmoid(
            input.clone().narrow(2, 0, 2 * hidden) + recurrent.clone().narrow(2, 0, 2 * hidden),
        ); // [G, B, 2H]
        let reset = reset_update.clone().narrow(2, 0, hidden);
        let update = reset_update.narrow(2, hidden, hidden);
        let candidate = (input.narrow(2, 2 * hidden, hidden)
            + reset * recurrent.narrow(2, 2 * hidden, hidden))
        .tanh();
        // (1 − z)·n + z·h, with one product fewer.
        h = candidate.clone() + update * (h - candidate);
        outputs.push(h.clone());
    }
    outputs
}

/// Gate `index` of a `[batch, gates·hidden]` pre-activation.
fn gate(gates: &Tensor<2>, index: usize, hidden: usize) -> Tensor<2> {
    gates.clone().narrow(1, index * hidden, hidden)
}

/// The peephole LSTM of [`PeepholeLstm`], one frame at a time.
///
/// # Shapes
/// - `frames` × `[batch, input]` → frames × `[batch, projection]`
pub(super) fn lstm(frames: &[Tensor<2>], lstm: &PeepholeLstm) -> Vec<Tensor<2>> {
    let Some(first) = frames.first() else {
        return Vec::new();
    };
    let [batch, _] = first.dims();
    let device = first.device();
    let weight_hh = lstm.weight_hh.val();
    let projection_weight = lstm.projection.val();
    let [hidden, projection] = projection_weight.dims();
    let [p_i, p_f, p_o] = lstm.peepholes().map(|p| p.unsqueeze_dim::<2>(0)); // [1, H]
    let mut h = Tensor::<2>::zeros([batch, projection], &device);
    let mut c = Tensor::<2>::zeros([batch, hidden], &device);
    let mut outputs = Vec::with_capacity(frames.len());
    for x in project(frames, lstm.weight_ih.val(), lstm.bias.val()) {
        let gates = x + h.matmul(weight_hh.clone()); // [B, 4H]
        let input_gate = sigmoid(gate(&gates, 0, hidden) + c.clone() * p_i.clone());
        let forget_gate = sigmoid(gate(&gates, 1, hidden) + c.clone() * p_f.clone());
        c = forget_gate * c + input_gate * gate(&gates, 2, hidden).tanh();
        let output_gate = sigmoid(gate(&gates, 3, hidden) + c.clone() * p_o.clone());
        h = (output_gate * c.clone().tanh()).matmul(projection_weight.clone()); // [B, P]
        outputs.push(h.clone());
    }
    outputs
}
