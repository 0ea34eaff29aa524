//! Batch norm in training on burn's CPU backend (flex) as one autodiff node. burn computes the
//! statistics of a channel by swapping the batch and channel axes and copying the result to a
//! contiguous tensor, once in the forward pass and twice more in the backward pass: about a
//! tenth of TC-ResNet8's training step. Here each channel's values are read where they lie,
//! each run of them is summed in f32 lanes and the runs in f64, and the backward pass is the
//! usual closed form in two passes.
//! Inference (running statistics), WebGPU, an autodiff that checkpoints, and
//! [`on_burns_batch_norm`] keep burn's.

use crate::flex::{Tracked, contiguous_all, flex, output_gradient, slices, tracked};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::nn::BatchNorm;
use burn::tensor::{Tensor, TensorData};
use std::cell::Cell;

thread_local! {
    static BURNS_BATCH_NORM: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with burn's own batch norm even on the CPU: the reference ours is tested and
/// measured against.
pub fn on_burns_batch_norm<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&BURNS_BATCH_NORM, work)
}

/// `norm` applied to `x`, updating its running statistics in training as burn does: ours where
/// it applies, else burn's.
///
/// # Shapes
/// - `x`: `[batch, channels, ...]` → the same
pub(crate) fn batch_norm<const D: usize>(norm: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let training = x.is_autodiff() && norm.training.is_enabled();
    if !training || BURNS_BATCH_NORM.get() {
        return norm.forward(x);
    }
    let Some((y, statistics)) = ours(norm, &x) else {
        return norm.forward(x);
    };
    let device = y.device();
    let momentum = norm.momentum;
    // As burn's own training pass updates them.
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Vec<f32>| {
        let batch = Tensor::<1>::from_data(TensorData::new(batch, [channels_of(&y)]), &device);
        let updated = (state.value_sync().to_device(&device))
            .mul_scalar(1.0 - momentum)
            .add(batch.mul_scalar(momentum));
        state.update(updated.detach());
    };
    update(&norm.running_mean, statistics.mean);
    update(&norm.running_var, statistics.variance);
    y
}

fn channels_of<const D: usize>(y: &Tensor<D>) -> usize {
    y.dims()[1]
}

/// How the values of one batch-norm input lie: `batch` runs of `channels · frames` values, each
/// channel's `frames` consecutive (every axis after the channels counts as frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    batch: usize,
    channels: usize,
    frames: usize,
}

impl Layout {
    fn of(dims: &[usize]) -> Option<Self> {
        let (&batch, rest) = dims.split_first()?;
        let (&channels, rest) = rest.split_first()?;
        let frames = rest.iter().product();
        let layout = Self {
            batch,
            channels,
            frames,
        };
        (layout.count() > 0).then_some(layout)
    }

    fn len(&self) -> usize {
        self.batch * self.channels * self.frames
    }

    /// Values per channel.
    fn count(&self) -> usize {
        self.batch * self.frames
    }

    /// Every run of `channel`'s values.
    fn runs<'a>(&self, values: &'a [f32], channel: usize) -> impl Iterator<Item = &'a [f32]> {
        let (frames, stride) = (self.frames, self.channels * self.frames);
        (0..self.batch).map(move |item| &values[item * stride + channel * frames..][..frames])
    }
}

/// The batch's mean and (biased) variance of each channel, which the running statistics take.
struct Statistics {
    mean: Vec<f32>,
    variance: Vec<f32>,
}

/// Our training forward pass, or `None` on another backend or type.
fn ours<const D: usize>(norm: &BatchNorm, x: &Tensor<D>) -> Option<(Tensor<D>, Statistics)> {
    let layout = Layout::of(&x.dims())?;
    let inputs = [
        tracked(x)?,
        tracked(&norm.gamma.val())?,
        tracked(&norm.beta.val())?,
    ];
    let values = contiguous_all(
        inputs.each_ref().map(|i| i.primitive()),
        [layout.len(), layout.channels, layout.channels],
    )?;
    let [input, gamma, beta] = slices(&values);
    let (mean, variance) = statistics(input, layout);
    let epsilon = norm.epsilon;
    let inv_std: Vec<f32> = (variance.iter())
        .map(|&v| (1.0 / (v + epsilon).sqrt()) as f32)
        .collect();
    let mut out = vec![0.0; layout.len()];
    for channel in 0..layout.channels {
        // Centred first, as the backward pass and burn's normalise, so that a large mean does
        // not cancel against the shift.
        let (mean, scale, shift) = (
            mean[channel] as f32,
            gamma[channel] * inv_std[channel],
            beta[channel],
        );
        let frames = layout.frames;
        let stride = layout.channels * frames;
        for item in 0..layout.batch {
            let at = item * stride + channel * frames;
            (out[at..][..frames].iter_mut())
                .zip(&input[at..][..frames])
                .for_each(|(y, &x)| *y = (x - mean) * scale + shift);
        }
    }
    let statistics = Statistics {
        mean: mean.iter().map(|&m| m as f32).collect(),
        variance: variance.iter().map(|&v| v as f32).collect(),
    };
    let out = flex(out, x.dims());
    let [input, gamma, _] = values;
    let state = NormState {
        layout,
        shape: x.dims().to_vec(),
        mean: statistics.mean.clone(),
        inv_std,
        input,
        gamma,
    };
    let out = match NormBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some((Tensor::from_primitive::<Tracked>(out), statistics))
}

/// Each channel's mean and biased variance: each run summed in f32 lanes, the runs in f64.
fn statistics(input: &[f32], layout: Layout) -> (Vec<f64>, Vec<f64>) {
    let count = layout.count() as f64;
    (0..layout.channels)
        .map(|channel| {
            let runs = || layout.runs(input, channel);
            let sum: f64 = runs().map(|run| f64::from(lane_sum(run, |v| v))).sum();
            let mean = sum / count;
            let centre = mean as f32;
            let squares: f64 = runs()
                .map(|run| f64::from(lane_sum(run, |v| (v - centre) * (v - centre))))
                .sum();
            (mean, squares / count)
        })
        .unzip()
}

/// Independent partial sums: sixteen of them, so that the additions of a run do not wait on one
/// another and compile to SIMD (a single running sum, in order, cannot be reordered, and took
/// most of the batch norm's time).
const LANES: usize = 16;

/// Σ `term(v)` over `values`, added in [`LANES`] lanes.
#[inline(always)]
fn lane_sum(values: &[f32], term: impl Fn(f32) -> f32) -> f32 {
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| term(v)).sum();
    let mut lanes = [0.0f32; LANES];
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += term(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// (Σ g, Σ g·`normalised`(x)) over the pairs of `g` and `x`, added in [`LANES`] lanes.
#[inline(always)]
fn lane_sums_of_gradient(g: &[f32], x: &[f32], normalised: impl Fn(f32) -> f32) -> (f32, f32) {
    let (g_chunks, x_chunks) = (g.chunks_exact(LANES), x.chunks_exact(LANES));
    let (g_tail, x_tail) = (g_chunks.remainder(), x_chunks.remainder());
    let mut sums = [0.0f32; LANES];
    let mut weighted = [0.0f32; LANES];
    for (g, x) in g_chunks.zip(x_chunks) {
        for lane in 0..LANES {
            sums[lane] += g[lane];
            weighted[lane] += g[lane] * normalised(x[lane]);
        }
    }
    let tail = g_tail.iter().zip(x_tail);
    (
        sums.iter().sum::<f32>() + g_tail.iter().sum::<f32>(),
        weighted.iter().sum::<f32>() + tail.map(|(&g, &x)| g * normalised(x)).sum::<f32>(),
    )
}

#[derive(Clone, Debug)]
struct NormState {
    layout: Layout,
    shape: Vec<usize>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// Contiguous.
    input: FlexTensor,
    gamma: FlexTensor,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    /// With x̂ = (x − mean)·inv_std and g the output's gradient, per channel:
    /// d_beta = Σ g, d_gamma = Σ g·x̂, d_x = gamma·inv_std·(g − mean(g) − x̂·mean(g·x̂)).
    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let NormState {
            layout,
            shape,
            mean,
            inv_std,
            input,
            gamma,
        } = ops.state;
        let d_out = [output_gradient(
            grads.consume::<Flex>(&ops.node),
            layout.len(),
        )];
        let [d_out] = slices(&d_out);
        let tensors = [input, gamma];
        let [input, gamma] = slices(&tensors);
        let [input_node, gamma_node, beta_node] = ops.parents;
        let mut d_input = input_node.is_some().then(|| vec![0.0; layout.len()]);
        let mut d_gamma = vec![0.0; layout.channels];
        let mut d_beta = vec![0.0; layout.channels];
        let count = layout.count() as f64;
        for channel in 0..layout.channels {
            let (mean, inv_std) = (mean[channel], inv_std[channel]);
            let normalised = |x: f32| (x - mean) * inv_std;
            let (mut sum, mut sum_normalised) = (0.0f64, 0.0f64);
            for (g, x) in layout.runs(d_out, channel).zip(layout.runs(input, channel)) {
                let (run_sum, run_normalised) = lane_sums_of_gradient(g, x, normalised);
                sum += f64::from(run_sum);
                sum_normalised += f64::from(run_normalised);
            }
            d_beta[channel] = sum as f32;
            d_gamma[channel] = sum_normalised as f32;
            let Some(d_input) = &mut d_input else {
                continue;
            };
            let mean_g = (sum / count) as f32;
            let mean_g_normalised = (sum_normalised / count) as f32;
            let scale = gamma[channel] * inv_std;
            let frames = layout.frames;
            let stride = layout.channels * frames;
            for item in 0..layout.batch {
                let at = item * stride + channel * frames;
                for ((d, &g), &x) in (d_input[at..][..frames].iter_mut())
                    .zip(&d_out[at..][..frames])
                    .zip(&input[at..][..frames])
                {
                    *d = scale * (g - mean_g - normalised(x) * mean_g_normalised);
                }
            }
        }
        if let (Some(node), Some(d_input)) = (input_node, d_input) {
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(d_input, shape)),
            );
        }
        if let Some(node) = gamma_node {
            grads.register::<Flex>(node.id, flex(d_gamma, [layout.channels]));
        }
        if let Some(node) = beta_node {
            grads.register::<Flex>(node.id, flex(d_beta, [layout.channels]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Device, Distribution};

    fn read<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.without_autodiff()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// The output, the gradients of the input, gamma and beta (those tracked) under a loss that
    /// weighs every value differently, and the running statistics after the step.
    fn with_gradients<const D: usize>(norm: &BatchNorm, x: &Tensor<D>) -> Vec<Vec<f32>> {
        let y = batch_norm(norm, x.clone());
        let weights: Vec<f32> = (0..y.shape().num_elements())
            .map(|i| (i % 7) as f32 / 4.0 - 0.8)
            .collect();
        let weights = Tensor::<D>::from_data(TensorData::new(weights, y.dims()), &y.device());
        let gradients = (y.clone() * weights).sum().backward();
        let mut all = vec![read(y)];
        all.extend(x.grad(&gradients).map(read));
        all.extend(norm.gamma.val().grad(&gradients).map(read));
        all.extend(norm.beta.val().grad(&gradients).map(read));
        all.push(read(norm.running_mean.value_sync()));
        all.push(read(norm.running_var.value_sync()));
        all
    }

    /// Ours and burn's, each within 1e-5 of its largest value, each on a new layer of
    /// `channels` (two layers, so that neither sees the other's running statistics).
    fn assert_equal_to_burns<const D: usize>(x: &Tensor<D>, expected: usize) {
        let channels = x.dims()[1];
        let ours = with_gradients(&layer(channels, &x.device()), x);
        let burns = on_burns_batch_norm(|| with_gradients(&layer(channels, &x.device()), x));
        assert_eq!(ours.len(), expected);
        assert_eq!(burns.len(), expected);
        for (index, (ours, burns)) in ours.iter().zip(&burns).enumerate() {
            assert_eq!(ours.len(), burns.len());
            let largest = burns.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let difference =
                (ours.iter().zip(burns)).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                difference <= 1e-5 * largest.max(1e-12),
                "tensor {index}: differs by {difference} of {largest}"
            );
        }
    }

    /// A layer whose gamma and beta are not the initial ones, so that both matter.
    fn layer(channels: usize, device: &Device) -> BatchNorm {
        let norm = BatchNormConfig::new(channels).init(device);
        let values = |f: fn(usize) -> f32| {
            let values = (0..channels).map(f).collect();
            Tensor::<1>::from_data(TensorData::new(values, [channels]), device)
        };
        let gamma = values(|c| 0.5 + (c % 5) as f32 / 5.0);
        let beta = values(|c| (c % 3) as f32 - 1.0);
        BatchNorm {
            gamma: burn::module::Param::from_tensor(gamma),
            beta: burn::module::Param::from_tensor(beta),
            ..norm
        }
    }

    #[test]
    fn training_equals_burns_batch_norm() {
        let device = Device::flex().autodiff();
        // TC-ResNet's [batch, channels, frames], one clip, and Att-RNN's [batch, channels,
        // frames, features]; values off zero so that the variance is not the only scale.
        let x = |dims| Tensor::<3>::random(dims, Distribution::Normal(0.7, 2.0), &device);
        for dims in [[100, 16, 49], [1, 24, 200], [3, 5, 1]] {
            assert_equal_to_burns(&x(dims).require_grad(), 6);
        }
        let x = Tensor::<4>::random([4, 10, 25, 20], Distribution::Normal(-0.3, 1.0), &device);
        assert_equal_to_burns(&x.require_grad(), 6);
    }

    #[test]
    fn a_constant_input_gets_no_gradient_and_inference_is_burns() {
        let device = Device::flex().autodiff();
        let x = Tensor::<3>::random([6, 4, 9], Distribution::Default, &device);
        // The output, gamma's and beta's gradients, the running statistics.
        assert_equal_to_burns(&x, 5);
        assert!(ours(&layer(4, &device), &x).is_some(), "ours applies");
        let inference = layer(4, &Device::flex());
        let x = Tensor::<3>::random([6, 4, 9], Distribution::Default, &Device::flex());
        assert_eq!(
            read(batch_norm(&inference, x.clone())),
            read(inference.forward(x))
        );
    }
}
