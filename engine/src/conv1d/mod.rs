//! 1-D convolutions on burn's CPU backend (flex), with and without autodiff: the teacher's
//! (the feature encoder's strided layers, the grouped positional convolution) and TC-ResNet's.
//! Flex lowers a convolution to small matrix products per clip over an unfolded copy of the
//! input that it writes one value at a time down its columns, and its backward pass to a
//! transposed convolution; that was a sixth of the base teacher's forward pass and half of
//! TC-ResNet8's training step. Here each row of the unfolded copy is a run of consecutive input
//! frames, several short clips share one product, the copy is cut into blocks so its size stays
//! bounded on long clips, and under autodiff the whole convolution is one graph node whose
//! backward pass is two more products of the same kind ([`kernels`]).
//! On WebGPU, under an autodiff that checkpoints, for geometries not covered here, and inside
//! [`on_burns_conv`](crate::convolution::on_burns_conv), burn's convolution runs.

mod geometry;
mod kernels;

use crate::convolution;
use burn::nn::conv::Conv1d;
use burn::tensor::Tensor;
use geometry::Geometry;

/// `conv` applied to `x`: ours where it applies, else burn's.
///
/// # Shapes
/// - `x`: `[batch, in_channels, frames]` → `[batch, out_channels, out_frames]`
pub(crate) fn conv1d(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    convolution::ours_or_burns(
        x,
        &conv.weight,
        conv.bias.as_ref(),
        |dims| Geometry::of(conv, dims),
        |x| conv.forward(x),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convolution::testing::{
        Layer, assert_gradients_equal_burns,
        assert_no_gradient_for_a_constant_input_or_a_frozen_weight, assert_output_equals_burns,
    };
    use burn::nn::PaddingConfig1d;
    use burn::nn::conv::Conv1dConfig;
    use burn::tensor::{Device, Distribution};

    struct Case {
        /// `[batch, in_channels, frames]`
        input: [usize; 3],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: PaddingConfig1d,
        groups: usize,
        bias: bool,
    }

    const fn case(input: [usize; 3], out_channels: usize, kernel: usize, stride: usize) -> Case {
        Case {
            input,
            out_channels,
            kernel,
            stride,
            padding: PaddingConfig1d::Valid,
            groups: 1,
            bias: false,
        }
    }

    /// The teacher's geometries (one input channel with stride 5, a strided layer, the
    /// grouped positional convolution with its even kernel), TC-ResNet's (padded, strided, many
    /// short clips that share one product), uneven padding, and a clip long enough for blocks.
    fn cases() -> Vec<Case> {
        let padded = |left, right| PaddingConfig1d::Explicit(left, right);
        vec![
            case([2, 1, 400], 8, 10, 5),
            Case {
                bias: true,
                ..case([2, 6, 79], 5, 3, 2)
            },
            Case {
                padding: padded(4, 4),
                groups: 4,
                bias: true,
                ..case([3, 12, 21], 12, 8, 1)
            },
            Case {
                padding: padded(2, 0),
                groups: 2,
                ..case([1, 4, 9], 6, 3, 1)
            },
            Case {
                padding: padded(4, 4),
                ..case([40, 6, 13], 7, 9, 2)
            },
            Case {
                padding: padded(1, 1),
                ..case([5, 3, 2], 4, 3, 1)
            },
            Case {
                padding: padded(1, 1),
                ..case([1, 40, 399], 16, 3, 1)
            },
            Case {
                padding: padded(4, 4),
                ..case([1, 16, 399], 24, 9, 2)
            },
            Case {
                padding: padded(4, 4),
                ..case([1, 24, 200], 24, 9, 1)
            },
            case([1, 16, 399], 24, 1, 2),
            // 3,072 unfolded rows leave blocks of 341 frames: three blocks, the last one short.
            Case {
                padding: padded(64, 64),
                bias: true,
                ..case([1, 24, 900], 4, 128, 1)
            },
            // Clips of 9 output frames, 1,048,576 / 9,216 = 113 columns a block: 12 clips a
            // block, the last block short.
            Case {
                padding: padded(4, 4),
                ..case([30, 1024, 9], 2, 9, 1)
            },
        ]
    }

    fn layer(case: &Case, device: &Device) -> Conv1d {
        Conv1dConfig::new(case.input[1], case.out_channels, case.kernel)
            .with_stride(case.stride)
            .with_padding(case.padding.clone())
            .with_groups(case.groups)
            .with_bias(case.bias)
            .init(device)
    }

    impl Layer<3> for Conv1d {
        fn ours(&self, x: &Tensor<3>) -> Option<Tensor<3>> {
            let geometry = Geometry::of(self, x.dims())?;
            convolution::ours(x, &self.weight_val(), self.bias_val(), geometry)
        }

        fn apply(&self, x: Tensor<3>) -> Tensor<3> {
            conv1d(self, x)
        }

        fn weight_val(&self) -> Tensor<3> {
            self.weight.val()
        }

        fn bias_val(&self) -> Option<Tensor<1>> {
            self.bias.as_ref().map(|bias| bias.val())
        }
    }

    #[test]
    fn equals_burns_convolution() {
        let device = Device::flex();
        for case in cases() {
            assert_output_equals_burns(&layer(&case, &device), case.input, &device);
        }
    }

    #[test]
    fn gradients_equal_burns() {
        let device = Device::flex().autodiff();
        for case in cases() {
            assert_gradients_equal_burns(&layer(&case, &device), case.input, &device);
        }
    }

    #[test]
    fn a_constant_input_or_a_frozen_weight_gets_no_gradient() {
        let device = Device::flex().autodiff();
        let case = Case {
            padding: PaddingConfig1d::Explicit(1, 1),
            bias: true,
            ..case([4, 3, 11], 5, 3, 1)
        };
        assert_no_gradient_for_a_constant_input_or_a_frozen_weight(
            layer(&case, &device),
            case.input,
            &device,
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
        let no_outputs = Conv1dConfig::new(2, 0, 3).init(&device);
        assert_eq!(Geometry::of(&no_outputs, [1, 2, 10]), None);
        let x = Tensor::<3>::random([1, 2, 10], Distribution::Default, &device);
        assert_eq!(conv1d(&no_outputs, x).dims(), [1, 0, 8], "burn's answer");
    }
}
