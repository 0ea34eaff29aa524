//! What our CPU convolutions, 1-D ([`crate::conv1d`]) and 2-D ([`crate::conv2d`]), share: the
//! batch cut into parts, the choice between ours and burn's, the convolution without autodiff,
//! and the convolution as one node of burn's autodiff graph on flex whose backward pass is the
//! geometry's own.

use crate::batch_parts::{batch_parts, threads};
use crate::flex::{Tracked, contiguous_all, flex, flex_f32, output_gradient, slices, tracked};
use crate::matmul::Threads;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use std::cell::Cell;
use std::fmt::Debug;
use std::ops::Range;

thread_local! {
    static BURNS_CONV: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with burn's own 1-D and 2-D convolutions even on the CPU: the reference ours
/// are tested and measured against.
pub fn on_burns_conv<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&BURNS_CONV, work)
}

/// A convolution ours computes, of tensors of rank `D`, on row-major buffers.
pub(crate) trait Convolution<const D: usize>: Copy + Debug + Send + Sync + 'static {
    /// `[batch, in_channels, …]`
    fn input_shape(&self) -> [usize; D];
    /// `[out_channels, in_channels / groups, …kernel]`
    fn weight_shape(&self) -> [usize; D];
    /// `[batch, out_channels, …]`
    fn output_shape(&self) -> [usize; D];
    /// The convolution, plus `bias` `[out_channels]` where given.
    fn forward(&self, input: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32>;
    /// The gradients of the input and of the weight (each where wanted) from the output's
    /// gradient `d_out`.
    fn backward(
        &self,
        input: &[f32],
        weight: &[f32],
        d_out: &[f32],
        wanted: Wanted,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>);
}

fn length<const D: usize>(shape: [usize; D]) -> usize {
    shape.iter().product()
}

/// Which gradients the backward pass computes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub input: bool,
    pub weight: bool,
}

/// Multiply-adds below which a convolution stays on the calling thread: handing parts to other
/// threads costs more than they save.
const MIN_PARALLEL_WORK: usize = 1 << 22;

/// A batch of `batch` clips cut into parts, one per core (each at least `min_clips` long), and
/// how each part's products use the threads: one thread each where there are several parts,
/// on every core where there is one, on the calling thread where the whole convolution's
/// `work` (multiply-adds) is small.
pub(crate) fn parts(batch: usize, work: usize, min_clips: usize) -> (Vec<Range<usize>>, Threads) {
    if work < MIN_PARALLEL_WORK {
        return (batch_parts(batch, 1, 1), Threads::One);
    }
    let parts = batch_parts(batch, threads(), min_clips);
    let inside = match parts.len() {
        1 => Threads::All,
        _ => Threads::One,
    };
    (parts, inside)
}

/// The weights' gradients of the parts of a batch, added up (`length` zeros for no part).
pub(crate) fn summed(parts: Vec<Vec<f32>>, length: usize) -> Vec<f32> {
    (parts.into_iter())
        .reduce(|mut total, part| {
            total.iter_mut().zip(part).for_each(|(sum, d)| *sum += d);
            total
        })
        .unwrap_or_else(|| vec![0.0; length])
}

/// `bias` `[out_channels]` added to every value of its channel in `out`
/// `[batch, out_channels, …]`, whose clips each hold `per_clip` values and channels `per_channel`.
pub(crate) fn add_bias(out: &mut [f32], bias: &[f32], per_clip: usize, per_channel: usize) {
    for clip in out.chunks_mut(per_clip) {
        for (channel, &b) in clip.chunks_mut(per_channel).zip(bias) {
            channel.iter_mut().for_each(|value| *value += b);
        }
    }
}

/// `x` through a convolution module: ours where `geometry` of `x`'s shape says it applies and
/// the tensors are flex `f32` ones, else `burns` (the module's own forward pass), as also inside
/// [`on_burns_conv`].
pub(crate) fn ours_or_burns<G: Convolution<D>, const D: usize>(
    x: Tensor<D>,
    weight: &Param<Tensor<D>>,
    bias: Option<&Param<Tensor<1>>>,
    geometry: impl FnOnce([usize; D]) -> Option<G>,
    burns: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    if BURNS_CONV.get() {
        return burns(x);
    }
    let ours =
        geometry(x.dims()).and_then(|g| ours(&x, &weight.val(), bias.map(|bias| bias.val()), g));
    ours.unwrap_or_else(|| burns(x))
}

/// The convolution `g` of `x` by `weight` plus `bias`, ours: without autodiff, or as one node of
/// the graph where either tensor is tracked; `None` where a tensor is not a flex `f32` one (another
/// backend, or an autodiff that checkpoints).
pub(crate) fn ours<G: Convolution<D>, const D: usize>(
    x: &Tensor<D>,
    weight: &Tensor<D>,
    bias: Option<Tensor<1>>,
    g: G,
) -> Option<Tensor<D>> {
    match x.is_autodiff() || weight.is_autodiff() {
        true => {
            let out = tracked_conv(x, weight, g)?;
            let mut bias_shape = [1; D];
            bias_shape[1] = g.output_shape()[1];
            Some(match bias {
                // burn's own (tracked) addition.
                Some(bias) => out + bias.reshape(bias_shape),
                None => out,
            })
        }
        false => untracked(x, weight, bias, g),
    }
}

fn untracked<G: Convolution<D>, const D: usize>(
    x: &Tensor<D>,
    weight: &Tensor<D>,
    bias: Option<Tensor<1>>,
    g: G,
) -> Option<Tensor<D>> {
    let input = flex_f32(x.clone())?;
    let weight = flex_f32(weight.clone())?;
    let bias = match bias {
        Some(bias) => Some(flex_f32(bias)?),
        None => None,
    };
    let bias_values = match &bias {
        Some(bias) => Some(bias.as_slice::<f32>()?),
        None => None,
    };
    let out = g.forward(input.as_slice()?, weight.as_slice()?, bias_values);
    Some(Tensor::from_primitive::<Flex>(FlexTensor::from_data(
        TensorData::new(out, g.output_shape()),
    )))
}

/// The convolution without its bias as one graph node, with gradients for whichever of `x` and
/// `weight` is tracked.
fn tracked_conv<G: Convolution<D>, const D: usize>(
    x: &Tensor<D>,
    weight: &Tensor<D>,
    g: G,
) -> Option<Tensor<D>> {
    let inputs = [tracked(x)?, tracked(weight)?];
    let lengths = [length(g.input_shape()), length(g.weight_shape())];
    let values = contiguous_all(inputs.each_ref().map(|i| i.primitive()), lengths)?;
    let [input, weight] = slices(&values);
    let out = flex(g.forward(input, weight, None), g.output_shape());
    let out = match ConvBackward::<G, D>(g)
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(values, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

/// The backward pass of the convolution `.0`; its state is the input and the weight,
/// contiguous.
#[derive(Debug)]
struct ConvBackward<G, const D: usize>(G);

impl<G: Convolution<D>, const D: usize> Backward<Flex, 2> for ConvBackward<G, D> {
    type State = [FlexTensor; 2];

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = self.0;
        let d_out = output_gradient(grads.consume::<Flex>(&ops.node), length(g.output_shape()));
        let [input, weight] = slices(&ops.state);
        let [input_node, weight_node] = ops.parents;
        let wanted = Wanted {
            input: input_node.is_some(),
            weight: weight_node.is_some(),
        };
        let d_out = [d_out];
        let [d_out] = slices(&d_out);
        let (d_input, d_weight) = g.backward(input, weight, d_out, wanted);
        if let (Some(node), Some(d_input)) = (input_node, d_input) {
            grads.register::<Flex>(node.id, flex(d_input, g.input_shape()));
        }
        if let (Some(node), Some(d_weight)) = (weight_node, d_weight) {
            grads.register::<Flex>(node.id, flex(d_weight, g.weight_shape()));
        }
    }
}

/// What the convolutions' tests share: ours against burn's, output and gradients.
#[cfg(test)]
pub(crate) mod testing {
    use super::on_burns_conv;
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor, TensorData, Tolerance};

    /// A convolution module of burn's that ours stands in for.
    pub trait Layer<const D: usize>: Module {
        /// Ours of `x`, where ours covers its shape.
        fn ours(&self, x: &Tensor<D>) -> Option<Tensor<D>>;
        /// The module applied as the models apply it: ours where it applies, else burn's.
        fn apply(&self, x: Tensor<D>) -> Tensor<D>;
        fn weight_val(&self) -> Tensor<D>;
        fn bias_val(&self) -> Option<Tensor<1>>;
    }

    /// Ours, without autodiff, equals burn's convolution of a random input of shape `input`.
    pub fn assert_output_equals_burns<L: Layer<D>, const D: usize>(
        conv: &L,
        input: [usize; D],
        device: &Device,
    ) {
        let x = Tensor::<D>::random(input, Distribution::Default, device);
        let ours = conv.ours(&x).expect("a covered geometry");
        let burns = on_burns_conv(|| conv.apply(x));
        ours.into_data()
            .assert_approx_eq::<f32>(&burns.into_data(), Tolerance::rel_abs(1e-5, 1e-6));
    }

    /// Under autodiff ours applies to a random input of shape `input`, and its output and
    /// gradients equal burn's.
    pub fn assert_gradients_equal_burns<L: Layer<D>, const D: usize>(
        conv: &L,
        input: [usize; D],
        device: &Device,
    ) {
        let x = Tensor::<D>::random(input, Distribution::Default, device).require_grad();
        assert!(conv.ours(&x).is_some(), "ours applies");
        assert_equal_to_burns(conv, &x, 3 + usize::from(conv.bias_val().is_some()));
    }

    /// A constant input gets no gradient, nor does a frozen weight, from ours as from burn's;
    /// `conv` must have a bias.
    pub fn assert_no_gradient_for_a_constant_input_or_a_frozen_weight<
        L: Layer<D>,
        const D: usize,
    >(
        conv: L,
        input: [usize; D],
        device: &Device,
    ) {
        let constant = Tensor::<D>::random(input, Distribution::Default, device);
        // The output, the weight's and the bias's gradients.
        assert_equal_to_burns(&conv, &constant, 3);
        let frozen = conv.no_grad();
        let x = Tensor::<D>::random(input, Distribution::Default, device).require_grad();
        // The output and the input's gradient.
        assert_equal_to_burns(&frozen, &x, 2);
    }

    /// Ours and burn's outputs and gradients, `expected` of each.
    fn assert_equal_to_burns<L: Layer<D>, const D: usize>(
        conv: &L,
        x: &Tensor<D>,
        expected: usize,
    ) {
        let run = || {
            with_gradients(
                conv.apply(x.clone()),
                x,
                &conv.weight_val(),
                conv.bias_val(),
            )
        };
        assert_equal(&run(), &on_burns_conv(run), expected);
    }

    /// The output `y` of a convolution of `x` and the gradients of `x`, the weight and the bias
    /// (those tracked), under a loss that weighs the output values differently.
    fn with_gradients<const D: usize>(
        y: Tensor<D>,
        x: &Tensor<D>,
        weight: &Tensor<D>,
        bias: Option<Tensor<1>>,
    ) -> Vec<TensorData> {
        let dims = y.dims();
        let weights: Vec<f32> = (0..dims.iter().product::<usize>())
            .map(|i| (i % 7) as f32 / 4.0 - 0.8)
            .collect();
        let weights = Tensor::<D>::from_data(TensorData::new(weights, dims), &y.device());
        let gradients = (y.clone() * weights).sum().backward();
        let mut all = vec![y.into_data()];
        all.extend(x.grad(&gradients).map(|g| g.into_data()));
        all.extend(weight.grad(&gradients).map(|g| g.into_data()));
        all.extend(bias.and_then(|bias| bias.grad(&gradients).map(|g| g.into_data())));
        all
    }

    /// Ours and burn's outputs and gradients, `expected` of each, each within 1e-5 of its
    /// largest value: a weight's gradient sums thousands of terms, which the two add up in
    /// other orders.
    fn assert_equal(ours: &[TensorData], burns: &[TensorData], expected: usize) {
        assert_eq!(ours.len(), expected);
        assert_eq!(burns.len(), expected);
        for (index, (ours, burns)) in ours.iter().zip(burns).enumerate() {
            assert_eq!(ours.shape(), burns.shape());
            let [ours, burns] = [ours, burns].map(|d| d.try_to_vec::<f32>().unwrap());
            let largest = burns.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let difference =
                (ours.iter().zip(&burns)).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                difference <= 1e-5 * largest,
                "tensor {index}: differs by {difference} of {largest}"
            );
        }
    }
}
