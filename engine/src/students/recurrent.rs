//! Recurrent layers with every gate in one matrix, so a step costs one matrix product; the two
//! directions of a bidirectional GRU step together.
//!
//! Sequences pass between recurrent layers as one tensor per frame. Slicing frame `t` out of a
//! `[batch, frames, width]` tensor would cost a full-size gradient per frame in the backward
//! pass (burn's slice backward writes into zeros of the whole shape), quadratic in the clip
//! length; frames that stay separate cost nothing to take apart.
//!
//! burn's own GRU runs six products per step, and its LSTM has neither peepholes nor an output
//! projection, which LSTM-P needs.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

/// PyTorch's initialisation for recurrent weights: uniform in ±1/√hidden.
fn recurrent_init(hidden: usize) -> Initializer {
    let bound = 1.0 / (hidden as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
}

/// The frames of a sequence as separate tensors.
///
/// # Shapes
/// - `x`: `[batch, frames, width]` → frames × `[batch, width]`
pub fn unstack_frames(x: Tensor<3>) -> Vec<Tensor<2>> {
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

/// The read-out of a recurrent layer: its last frame (zeros for an empty sequence, which
/// `StudentConfig::min_input_frames` keeps from happening).
///
/// # Shapes
/// - `frames` × `[batch, width]` → `[batch, width]`
pub fn last_frame(frames: &[Tensor<2>], batch: usize, width: usize, device: &Device) -> Tensor<2> {
    frames
        .last()
        .cloned()
        .unwrap_or_else(|| Tensor::zeros([batch, width], device))
}

/// # Shapes
/// - `frames` × `[batch, width]` → `[batch, frames, width]`
pub fn stack_frames(frames: Vec<Tensor<2>>) -> Tensor<3> {
    Tensor::stack(frames, 1)
}

#[derive(Clone, Copy, Debug)]
pub struct GruConfig {
    pub input: usize,
    pub hidden: usize,
}

/// A GRU with the reset gate applied after the hidden product (PyTorch's, and Keras's
/// `reset_after=True`). Parameters: `3·hidden·(input + hidden) + 6·hidden`.
#[derive(Module, Debug)]
pub struct Gru {
    /// `[input, 3·hidden]`, gates in the order reset, update, new.
    weight_ih: Param<Tensor<2>>,
    /// `[hidden, 3·hidden]`
    weight_hh: Param<Tensor<2>>,
    bias_ih: Param<Tensor<1>>,
    bias_hh: Param<Tensor<1>>,
}

impl GruConfig {
    pub fn init(&self, device: &Device) -> Gru {
        let init = recurrent_init(self.hidden);
        let gates = 3 * self.hidden;
        Gru {
            weight_ih: init.init([self.input, gates], device),
            weight_hh: init.init([self.hidden, gates], device),
            bias_ih: init.init([gates], device),
            bias_hh: init.init([gates], device),
        }
    }
}

impl Gru {
    pub fn hidden(&self) -> usize {
        let [hidden, _] = self.weight_hh.lazy_shape().dims();
        hidden
    }

    /// # Shapes
    /// - `frames` × `[batch, input]` → frames × `[batch, hidden]`
    pub fn forward(&self, frames: &[Tensor<2>]) -> Vec<Tensor<2>> {
        run_side_by_side(frames, &[self])
    }
}

/// A forward and a backward GRU whose outputs are concatenated per frame.
#[derive(Module, Debug)]
pub struct BiGru {
    forward: Gru,
    backward: Gru,
}

impl GruConfig {
    pub fn init_bidirectional(&self, device: &Device) -> BiGru {
        BiGru {
            forward: self.init(device),
            backward: self.init(device),
        }
    }
}

impl BiGru {
    /// # Shapes
    /// - `frames` × `[batch, input]` → frames × `[batch, 2·hidden]`, both directions aligned
    ///   with the input frames
    pub fn forward(&self, frames: &[Tensor<2>]) -> Vec<Tensor<2>> {
        run_side_by_side(frames, &[&self.forward, &self.backward])
    }
}

/// Runs GRUs over the same input side by side, the first forward in time and a second one
/// backward, as one batched recurrence: a step of both costs the operations of one.
///
/// # Shapes
/// - `frames` × `[batch, input]` → frames × `[batch, grus·hidden]`
fn run_side_by_side(frames: &[Tensor<2>], grus: &[&Gru]) -> Vec<Tensor<2>> {
    let Some(first) = frames.first() else {
        return Vec::new();
    };
    let [batch, _] = first.dims();
    let weight_ih = Tensor::cat(grus.iter().map(|g| g.weight_ih.val()).collect(), 1); // [I, G·3H]
    let bias_ih = Tensor::cat(grus.iter().map(|g| g.bias_ih.val()).collect(), 0); // [G·3H]
    let weight_hh = Tensor::stack::<3>(grus.iter().map(|g| g.weight_hh.val()).collect(), 0); // [G, H, 3H]
    let bias_hh = Tensor::stack::<2>(grus.iter().map(|g| g.bias_hh.val()).collect(), 0); // [G, 3H]
    let [_, hidden, gates] = weight_hh.dims();
    let count = frames.len();
    // The frame GRU `g` reads at step `t`: forwards for the first, backwards for the second.
    let frame_at = |g: usize, t: usize| if g == 0 { t } else { count - 1 - t };
    let projected = project(frames, weight_ih, bias_ih); // T × [B, G·3H]
    let inputs = (0..count)
        .map(|t| {
            let parts = (0..grus.len())
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
            let parts = (0..grus.len())
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

#[derive(Clone, Copy, Debug)]
pub struct PeepholeLstmConfig {
    pub input: usize,
    pub hidden: usize,
    pub projection: usize,
}

/// An LSTM whose gates also see the cell (peepholes, Gers & Schmidhuber) and whose output is
/// projected to a smaller size before it is fed back (Sak et al. 2014), as TensorFlow's
/// `LSTMCell(use_peepholes=True, num_proj=…)` computes it:
///
/// ```text
/// i = σ(W_i·x + U_i·h + p_i ⊙ c + b_i)        f = σ(W_f·x + U_f·h + p_f ⊙ c + b_f)
/// c' = f ⊙ c + i ⊙ tanh(W_g·x + U_g·h + b_g)  o = σ(W_o·x + U_o·h + p_o ⊙ c' + b_o)
/// h' = P·(o ⊙ tanh(c'))
/// ```
///
/// Parameters: `4·hidden·(input + projection) + 4·hidden` (one bias) `+ 3·hidden` (peepholes)
/// `+ hidden·projection`.
#[derive(Module, Debug)]
pub struct PeepholeLstm {
    /// `[input, 4·hidden]`, gates in the order input, forget, cell, output.
    weight_ih: Param<Tensor<2>>,
    /// `[projection, 4·hidden]`
    weight_hh: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
    peephole_input: Param<Tensor<1>>,
    peephole_forget: Param<Tensor<1>>,
    peephole_output: Param<Tensor<1>>,
    /// `[hidden, projection]`
    projection: Param<Tensor<2>>,
}

impl PeepholeLstmConfig {
    pub fn init(&self, device: &Device) -> PeepholeLstm {
        let init = recurrent_init(self.hidden);
        let gates = 4 * self.hidden;
        // A forget gate that starts open lets gradients through long clips from the first step.
        let bias = Tensor::cat(
            vec![
                Tensor::zeros([self.hidden], device),
                Tensor::ones([self.hidden], device),
                Tensor::zeros([2 * self.hidden], device),
            ],
            0,
        );
        PeepholeLstm {
            weight_ih: init.init([self.input, gates], device),
            weight_hh: init.init([self.projection, gates], device),
            bias: Param::from_tensor(bias),
            peephole_input: init.init([self.hidden], device),
            peephole_forget: init.init([self.hidden], device),
            peephole_output: init.init([self.hidden], device),
            projection: init.init([self.hidden, self.projection], device),
        }
    }
}

impl PeepholeLstm {
    pub fn projection(&self) -> usize {
        let [_, projection] = self.projection.lazy_shape().dims();
        projection
    }

    /// # Shapes
    /// - `frames` × `[batch, input]` → frames × `[batch, projection]`
    pub fn forward(&self, frames: &[Tensor<2>]) -> Vec<Tensor<2>> {
        let Some(first) = frames.first() else {
            return Vec::new();
        };
        let [batch, _] = first.dims();
        let device = first.device();
        let weight_hh = self.weight_hh.val();
        let projection_weight = self.projection.val();
        let [hidden, projection] = projection_weight.dims();
        let peephole = |p: &Param<Tensor<1>>| p.val().unsqueeze_dim::<2>(0); // [1, H]
        let (p_i, p_f, p_o) = (
            peephole(&self.peephole_input),
            peephole(&self.peephole_forget),
            peephole(&self.peephole_output),
        );
        let mut h = Tensor::<2>::zeros([batch, projection], &device);
        let mut c = Tensor::<2>::zeros([batch, hidden], &device);
        let mut outputs = Vec::with_capacity(frames.len());
        for x in project(frames, self.weight_ih.val(), self.bias.val()) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values(frames: Vec<Tensor<2>>) -> Vec<f32> {
        stack_frames(frames)
            .without_autodiff()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
    }

    /// The per-frame products taken while training give what the single product of inference
    /// gives (the oracle fixtures check the latter against PyTorch).
    #[test]
    fn tracked_and_untracked_projections_agree() {
        let device = Device::flex();
        let gru = GruConfig {
            input: 3,
            hidden: 4,
        }
        .init_bidirectional(&device);
        let lstm = PeepholeLstmConfig {
            input: 3,
            hidden: 5,
            projection: 2,
        }
        .init(&device);
        let x = Tensor::<3>::random([2, 6, 3], Distribution::Default, &device);
        let plain = unstack_frames(x.clone());
        let tracked = unstack_frames(x.autodiff());
        assert!(tracked[0].is_autodiff() && !plain[0].is_autodiff());
        for (a, b) in [
            (values(gru.forward(&plain)), values(gru.forward(&tracked))),
            (values(lstm.forward(&plain)), values(lstm.forward(&tracked))),
        ] {
            assert_eq!(a.len(), b.len());
            assert!(!a.is_empty());
            let difference = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(difference < 1e-6, "{difference}");
        }
    }
}
