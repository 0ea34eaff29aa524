//! The convolution as one node of burn's autodiff graph on flex, its backward pass
//! [`kernels::backward`].

use super::geometry::Geometry;
use super::kernels::{self, Wanted};
use crate::flex::{Tracked, contiguous_all, flex, output_gradient, slices, tracked};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::nn::conv::Conv1d;
use burn::tensor::Tensor;

/// `conv` on `x` with gradients for whichever of the two is tracked, or `None` where either is
/// not a flex tensor (another backend, or an autodiff that checkpoints). The bias, where there
/// is one, is added by burn's own (tracked) addition.
///
/// # Shapes
/// - `x`: `[batch, in_channels, frames]` → `[batch, out_channels, out_frames]`
pub(super) fn conv1d(conv: &Conv1d, x: &Tensor<3>, g: Geometry) -> Option<Tensor<3>> {
    let inputs = [tracked(x)?, tracked(&conv.weight.val())?];
    let values = contiguous_all(
        inputs.each_ref().map(|i| i.primitive()),
        [g.input_len(), g.weight_len()],
    )?;
    let [input, weight] = slices(&values);
    let out = flex(kernels::forward(input, weight, None, g), g.output_shape());
    let out = match ConvBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            ConvState {
                geometry: g,
                values,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    let out = Tensor::from_primitive::<Tracked>(out);
    Some(match &conv.bias {
        Some(bias) => out + bias.val().reshape([1, g.out_channels, 1]),
        None => out,
    })
}

#[derive(Clone, Debug)]
struct ConvState {
    geometry: Geometry,
    /// The input and the weight, contiguous.
    values: [FlexTensor; 2],
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let ConvState { geometry, values } = ops.state;
        let d_out = output_gradient(grads.consume::<Flex>(&ops.node), geometry.output_len());
        let [input, weight] = slices(&values);
        let [input_node, weight_node] = ops.parents;
        let wanted = Wanted {
            input: input_node.is_some(),
            weight: weight_node.is_some(),
        };
        let d_out = [d_out];
        let [d_out] = slices(&d_out);
        let (d_input, d_weight) = kernels::backward(input, weight, d_out, geometry, wanted);
        if let (Some(node), Some(d_input)) = (input_node, d_input) {
            let shape = [geometry.batch, geometry.in_channels, geometry.in_frames];
            grads.register::<Flex>(node.id, flex(d_input, shape));
        }
        if let (Some(node), Some(d_weight)) = (weight_node, d_weight) {
            let shape = [geometry.out_channels, geometry.group_in(), geometry.kernel];
            grads.register::<Flex>(node.id, flex(d_weight, shape));
        }
    }
}
