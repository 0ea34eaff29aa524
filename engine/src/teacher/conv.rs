//! The teacher's 1-D convolutions (the feature encoder's strided layers, the grouped positional
//! convolution) on burn's CPU backend (flex) without autodiff. Flex lowers a convolution to a
//! matrix product over an unfolded copy of the input that it writes one value at a time down
//! its columns, which took a sixth of the base teacher's forward pass; here each unfolded row is
//! a run of consecutive input frames, written in order, and the product is `gemm`'s. The
//! unfolded copy is cut into blocks of output frames, so its size stays bounded on long clips.
//! Under autodiff (training), on WebGPU, and inside [`on_burns_conv`], burn's convolution runs.

use crate::flex::contiguous;
use crate::matmul::{Threads, matmul_into};
use burn::backend::flex::{Flex, FlexTensor};
use burn::nn::PaddingConfig1d;
use burn::nn::conv::Conv1d;
use burn::tensor::{DType, Tensor, TensorData};
use std::cell::Cell;

thread_local! {
    static BURNS_CONV: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with burn's own convolution in the teacher even on the CPU: the reference ours
/// is measured against.
pub fn on_burns_conv<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&BURNS_CONV, work)
}

/// Values in one block of the unfolded input (4 MB): large enough that the product is
/// efficient, small enough to stay in cache on long clips.
const UNFOLDED_BLOCK_VALUES: usize = 1 << 20;

/// The geometry of one 1-D convolution (dilation 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    batch: usize,
    in_channels: usize,
    in_frames: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    /// Zeros before the first input frame (those after the last only shorten nothing: the
    /// output length below already counts them).
    pad_left: usize,
    groups: usize,
    out_frames: usize,
}

impl Geometry {
    /// `None` where burn's convolution should decide (and report) instead: dilation, `Same`
    /// padding, channels that do not split into the groups, no frames, or fewer than the
    /// kernel.
    fn of(conv: &Conv1d, [batch, in_channels, in_frames]: [usize; 3]) -> Option<Self> {
        let [out_channels, group_channels, kernel] = conv.weight.val().dims();
        let (pad_left, pad_right) = match conv.padding {
            PaddingConfig1d::Valid => (0, 0),
            PaddingConfig1d::Explicit(left, right) => (left, right),
            PaddingConfig1d::Same => return None,
        };
        let groups = conv.groups;
        let fits = conv.dilation == 1
            && in_frames > 0
            && conv.stride > 0
            && kernel == conv.kernel_size
            && groups > 0
            && in_channels == group_channels.checked_mul(groups)?
            && out_channels.is_multiple_of(groups);
        let padded = in_frames.checked_add(pad_left)?.checked_add(pad_right)?;
        if !fits || padded < kernel {
            return None;
        }
        Some(Self {
            batch,
            in_channels,
            in_frames,
            out_channels,
            kernel,
            stride: conv.stride,
            pad_left,
            groups,
            out_frames: (padded - kernel) / conv.stride + 1,
        })
    }
}

/// # Shapes
/// - `x`: `[batch, in_channels, frames]` → `[batch, out_channels, out_frames]`
pub(super) fn conv1d(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    if x.is_autodiff() || BURNS_CONV.get() {
        return conv.forward(x);
    }
    ours(conv, x.clone()).unwrap_or_else(|| conv.forward(x))
}

/// Our convolution, or `None` where it does not apply (another backend or type, or a
/// [`Geometry`] it does not cover).
fn ours(conv: &Conv1d, x: Tensor<3>) -> Option<Tensor<3>> {
    let geometry = Geometry::of(conv, x.dims())?;
    let input = flex_f32(x)?;
    let weight = flex_f32(conv.weight.val())?;
    let bias = match &conv.bias {
        Some(bias) => Some(flex_f32(bias.val())?),
        None => None,
    };
    let bias_values = match &bias {
        Some(bias) => Some(bias.as_slice::<f32>()?),
        None => None,
    };
    let out = convolve(input.as_slice()?, weight.as_slice()?, bias_values, geometry);
    let shape = [geometry.batch, geometry.out_channels, geometry.out_frames];
    Some(Tensor::from_primitive::<Flex>(FlexTensor::from_data(
        TensorData::new(out, shape),
    )))
}

/// A contiguous `f32` flex tensor, or `None` on any other backend or type.
fn flex_f32<const D: usize>(tensor: Tensor<D>) -> Option<FlexTensor> {
    let flex = tensor.try_into_primitive::<Flex>().ok()?;
    if flex.dtype() != DType::F32 {
        return None;
    }
    Some(contiguous(&flex))
}

/// The convolution on row-major buffers: `input` `[batch, in_channels, in_frames]`, `weight`
/// `[out_channels, in_channels / groups, kernel]`, `bias` `[out_channels]`; returns
/// `[batch, out_channels, out_frames]`.
fn convolve(input: &[f32], weight: &[f32], bias: Option<&[f32]>, g: Geometry) -> Vec<f32> {
    let group_in = g.in_channels / g.groups;
    let group_out = g.out_channels / g.groups;
    // One unfolded row per (input channel of the group, kernel tap).
    let rows = group_in * g.kernel;
    let block = (UNFOLDED_BLOCK_VALUES / rows.max(1)).clamp(16, g.out_frames.max(16));
    let mut unfolded = vec![0.0; rows * block.min(g.out_frames)];
    let mut out = vec![0.0; g.batch * g.out_channels * g.out_frames];
    for item in 0..g.batch {
        let item_input =
            &input[item * g.in_channels * g.in_frames..][..g.in_channels * g.in_frames];
        let item_out =
            &mut out[item * g.out_channels * g.out_frames..][..g.out_channels * g.out_frames];
        if let Some(bias) = bias {
            for (row, &b) in item_out.chunks_mut(g.out_frames).zip(bias) {
                row.fill(b);
            }
        }
        for group in 0..g.groups {
            let group_input =
                &item_input[group * group_in * g.in_frames..][..group_in * g.in_frames];
            let group_weight = &weight[group * group_out * rows..][..group_out * rows];
            let group_out_values = &mut item_out[group * group_out * g.out_frames..];
            for first in (0..g.out_frames).step_by(block) {
                let frames = block.min(g.out_frames - first);
                unfold(
                    group_input,
                    g,
                    first,
                    frames,
                    &mut unfolded[..rows * frames],
                );
                matmul_into(
                    &mut group_out_values[first..],
                    g.out_frames,
                    bias.is_some(),
                    group_weight,
                    false,
                    &unfolded[..rows * frames],
                    false,
                    [group_out, rows, frames],
                    Threads::All,
                );
            }
        }
    }
    out
}

/// Writes, for output frames `first..first + frames`, row `channel · kernel + tap` of the
/// unfolded input: the input frame each output frame's tap reads, zero in the padding.
fn unfold(group_input: &[f32], g: Geometry, first: usize, frames: usize, unfolded: &mut [f32]) {
    for (channel, channel_input) in group_input.chunks(g.in_frames).enumerate() {
        for tap in 0..g.kernel {
            let row = &mut unfolded[(channel * g.kernel + tap) * frames..][..frames];
            for (t, value) in row.iter_mut().enumerate() {
                // The padded frame read is (first + t)·stride + tap; minus pad_left in the input.
                let padded = (first + t) * g.stride + tap;
                *value = padded
                    .checked_sub(g.pad_left)
                    .and_then(|frame| channel_input.get(frame))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv1dConfig;
    use burn::tensor::{Device, Distribution, Tolerance};

    fn compare(
        [batch, in_channels, frames]: [usize; 3],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: PaddingConfig1d,
        groups: usize,
        bias: bool,
    ) {
        let device = Device::flex();
        let conv = Conv1dConfig::new(in_channels, out_channels, kernel)
            .with_stride(stride)
            .with_padding(padding)
            .with_groups(groups)
            .with_bias(bias)
            .init(&device);
        let x = Tensor::<3>::random([batch, in_channels, frames], Distribution::Default, &device);
        let ours = ours(&conv, x.clone()).expect("a geometry our convolution covers");
        let burns = on_burns_conv(|| conv1d(&conv, x));
        ours.into_data()
            .assert_approx_eq::<f32>(&burns.into_data(), Tolerance::rel_abs(1e-5, 1e-6));
    }

    #[test]
    fn equals_burns_convolution() {
        // The base teacher's first layer (one channel, kernel 10, stride 5), a strided layer,
        // and the grouped positional convolution with its even kernel and padding.
        compare([2, 1, 400], 8, 10, 5, PaddingConfig1d::Valid, 1, false);
        compare([2, 6, 79], 5, 3, 2, PaddingConfig1d::Valid, 1, true);
        compare(
            [3, 12, 21],
            12,
            8,
            1,
            PaddingConfig1d::Explicit(4, 4),
            4,
            true,
        );
        compare(
            [1, 4, 9],
            6,
            3,
            1,
            PaddingConfig1d::Explicit(2, 0),
            2,
            false,
        );
    }

    #[test]
    fn cuts_long_clips_into_blocks() {
        // 3,072 unfolded rows leave blocks of 341 frames: three blocks, the last one short.
        compare(
            [1, 24, 900],
            4,
            128,
            1,
            PaddingConfig1d::Explicit(64, 64),
            1,
            true,
        );
    }

    #[test]
    fn leaves_what_it_does_not_cover_to_burn() {
        let device = Device::flex();
        let conv = Conv1dConfig::new(2, 2, 3)
            .with_padding(PaddingConfig1d::Same)
            .init(&device);
        assert_eq!(Geometry::of(&conv, [1, 2, 10]), None);
        let conv = Conv1dConfig::new(2, 2, 5).init(&device);
        assert_eq!(
            Geometry::of(&conv, [1, 2, 4]),
            None,
            "shorter than the kernel"
        );
        let dilated = Conv1dConfig::new(2, 2, 3).with_dilation(2).init(&device);
        assert_eq!(Geometry::of(&dilated, [1, 2, 10]), None);
    }
}
