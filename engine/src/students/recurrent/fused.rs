//! The recurrences as single operations on burn's CPU backend (flex): the forward pass runs
//! [`scan`]'s loops on the tensors' buffers, and with gradients tracked the whole sequence is
//! one autodiff node whose backward is [`scan`]'s backpropagation through time. burn's backend
//! extension API (`Tensor::try_into_primitive`) reaches the flex and autodiff tensors behind
//! the dispatch `Tensor`.
//!
//! Elsewhere (WebGPU, or an autodiff device that checkpoints) these functions give `None` and
//! the layers build the per-frame graph instead ([`super::graph`]).

use super::scan::{self, GruSaved, GruShape, LstmSaved, LstmShape, LstmWeights};
use crate::flex::{Tracked, contiguous_all, flex, output_gradient, slices, tracked};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::Tensor;
use std::cell::Cell;

thread_local! {
    static GRAPH_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with every recurrent layer on the per-frame graph, as on WebGPU, even where the
/// fused operations apply: the reference they are tested and measured against.
pub fn on_recurrent_graph<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&GRAPH_ONLY, work)
}

/// Whether [`on_recurrent_graph`] holds, and every recurrence builds the per-frame graph. Only
/// the GPU's routing asks; [`applies`] reads the flag itself.
#[cfg(feature = "wgpu")]
pub(super) fn graph_only() -> bool {
    GRAPH_ONLY.get()
}

/// Whether the fused operations run for inputs like `x`: a flex tensor, plain or under
/// autodiff without checkpointing, outside [`on_recurrent_graph`].
pub fn applies<const D: usize>(x: &Tensor<D>) -> bool {
    !GRAPH_ONLY.get() && tracked(x).is_some()
}

/// The GRU recurrence of [`scan::gru_forward`].
///
/// # Shapes
/// - `projected`: `[batch, frames, grus·3·hidden]`, `weight_hh`: `[grus, hidden, 3·hidden]`,
///   `bias_hh`: `[grus, 3·hidden]` → `[batch, frames, grus·hidden]`
pub fn gru(projected: &Tensor<3>, weight_hh: &Tensor<3>, bias_hh: &Tensor<2>) -> Option<Tensor<3>> {
    let [batch, frames, _] = projected.dims();
    let [grus, hidden, _] = weight_hh.dims();
    // The first GRU reads forwards, a second backwards; there is no third direction.
    if grus > 2 {
        return None;
    }
    let shape = GruShape {
        batch,
        frames,
        grus,
        hidden,
    };
    let [p_len, w_len, b_len, _] = shape.lengths();
    let out_shape = [batch, frames, grus * hidden];
    let any_tracked = [
        projected.is_autodiff(),
        weight_hh.is_autodiff(),
        bias_hh.is_autodiff(),
    ]
    .contains(&true);
    if !any_tracked {
        let inputs = [
            projected.clone().try_into_primitive::<Flex>().ok()?,
            weight_hh.clone().try_into_primitive::<Flex>().ok()?,
            bias_hh.clone().try_into_primitive::<Flex>().ok()?,
        ];
        let values = contiguous_all(inputs.each_ref(), [p_len, w_len, b_len])?;
        let [p, w, b] = slices(&values);
        let (out, _) = scan::gru_forward(shape, p, w, b, false);
        return Some(Tensor::from_primitive::<Flex>(flex(out, out_shape)));
    }
    let inputs = [tracked(projected)?, tracked(weight_hh)?, tracked(bias_hh)?];
    let values = contiguous_all(
        inputs.each_ref().map(|i| i.primitive()),
        [p_len, w_len, b_len],
    )?;
    let [p, w, b] = slices(&values);
    let (out, saved) = scan::gru_forward(shape, p, w, b, true);
    let [_, weight_hh, _] = values;
    let out = flex(out, out_shape);
    let out = match GruBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            GruState {
                shape,
                saved: saved?,
                weight_hh,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

#[derive(Clone, Debug)]
struct GruState {
    shape: GruShape,
    saved: GruSaved,
    /// Contiguous.
    weight_hh: FlexTensor,
}

#[derive(Debug)]
struct GruBackward;

impl Backward<Flex, 3> for GruBackward {
    type State = GruState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let GruState {
            shape,
            saved,
            weight_hh,
        } = ops.state;
        let d_out = output_gradient(grads.consume::<Flex>(&ops.node), shape.lengths()[3]);
        let tensors = [weight_hh, d_out];
        let [weight_hh, d_out] = slices(&tensors);
        let [d_projected, d_weight, d_bias] = scan::gru_backward(shape, &saved, weight_hh, d_out);
        let GruShape {
            batch,
            frames,
            grus,
            hidden,
        } = shape;
        let gradients = [
            flex(d_projected, [batch, frames, grus * 3 * hidden]),
            flex(d_weight, [grus, hidden, 3 * hidden]),
            flex(d_bias, [grus, 3 * hidden]),
        ];
        for (parent, gradient) in ops.parents.into_iter().zip(gradients) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, gradient);
            }
        }
    }
}

/// The peephole LSTM recurrence of [`scan::lstm_forward`].
///
/// # Shapes
/// - `projected`: `[batch, frames, 4·hidden]`, `weight_hh`: `[projection, 4·hidden]`,
///   `peepholes`: 3 × `[hidden]` (input, forget, output), `projection`: `[hidden, projection]`
///   → `[batch, frames, projection]`
pub fn lstm(
    projected: &Tensor<3>,
    weight_hh: &Tensor<2>,
    peepholes: [&Tensor<1>; 3],
    projection: &Tensor<2>,
) -> Option<Tensor<3>> {
    let [batch, frames, _] = projected.dims();
    let [hidden, width] = projection.dims();
    let shape = LstmShape {
        batch,
        frames,
        hidden,
        projection: width,
    };
    let [p_len, w_len, peep_len, proj_len, _] = shape.lengths();
    let lengths = [p_len, w_len, peep_len, peep_len, peep_len, proj_len];
    let out_shape = [batch, frames, width];
    let any_tracked = projected.is_autodiff()
        || weight_hh.is_autodiff()
        || peepholes.iter().any(|p| p.is_autodiff())
        || projection.is_autodiff();
    if !any_tracked {
        let plain = |x: Tensor<1>| x.try_into_primitive::<Flex>().ok();
        let inputs = [
            projected.clone().try_into_primitive::<Flex>().ok()?,
            weight_hh.clone().try_into_primitive::<Flex>().ok()?,
            plain(peepholes[0].clone())?,
            plain(peepholes[1].clone())?,
            plain(peepholes[2].clone())?,
            projection.clone().try_into_primitive::<Flex>().ok()?,
        ];
        let values = contiguous_all(inputs.each_ref(), lengths)?;
        let [p, rest @ ..] = slices(&values);
        let (out, _) = scan::lstm_forward(shape, p, LstmWeights::from_parts(rest), false);
        return Some(Tensor::from_primitive::<Flex>(flex(out, out_shape)));
    }
    let inputs = [
        tracked(projected)?,
        tracked(weight_hh)?,
        tracked(peepholes[0])?,
        tracked(peepholes[1])?,
        tracked(peepholes[2])?,
        tracked(projection)?,
    ];
    let values = contiguous_all(inputs.each_ref().map(|i| i.primitive()), lengths)?;
    let [p, rest @ ..] = slices(&values);
    let (out, saved) = scan::lstm_forward(shape, p, LstmWeights::from_parts(rest), true);
    let [_, weights @ ..] = values;
    let out = flex(out, out_shape);
    let out = match LstmBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            LstmState {
                shape,
                saved: saved?,
                weights,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

#[derive(Clone, Debug)]
struct LstmState {
    shape: LstmShape,
    saved: LstmSaved,
    /// `weight_hh`, the input, forget and output peepholes, and the projection, contiguous.
    weights: [FlexTensor; 5],
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 6> for LstmBackward {
    type State = LstmState;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let LstmState {
            shape,
            saved,
            weights,
        } = ops.state;
        let d_out = output_gradient(grads.consume::<Flex>(&ops.node), shape.lengths()[4]);
        let d_out = [d_out];
        let [d_out] = slices(&d_out);
        let weights = LstmWeights::from_parts(slices(&weights));
        let gradients = scan::lstm_backward(shape, &saved, weights, d_out);
        let LstmShape {
            batch,
            frames,
            hidden,
            projection: width,
        } = shape;
        let [d_p, d_w, d_i, d_f, d_o, d_proj] = gradients;
        let gradients = [
            flex(d_p, [batch, frames, 4 * hidden]),
            flex(d_w, [width, 4 * hidden]),
            flex(d_i, [hidden]),
            flex(d_f, [hidden]),
            flex(d_o, [hidden]),
            flex(d_proj, [hidden, width]),
        ];
        for (parent, gradient) in ops.parents.into_iter().zip(gradients) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, gradient);
            }
        }
    }
}
