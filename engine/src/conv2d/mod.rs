//! 2-D convolutions on burn's CPU backend (flex), with and without autodiff: CRNN's and
//! Att-RNN's (stride 1, no dilation, one group, zero padding). Flex lowers a 2-D convolution to
//! its 3-D one and the backward pass to a transposed 3-D convolution; here each clip is one
//! product of the weight with the clip's unfolded input, written straight into the output's
//! layout, and under autodiff the whole convolution is one graph node whose backward pass is two
//! more products per clip ([`kernels`]); natively the batch is cut into one part per core.
//! On WebGPU, under an autodiff that checkpoints, for geometries not covered here, and inside
//! [`on_burns_conv`](crate::convolution::on_burns_conv), burn's convolution runs.

mod geometry;
mod kernels;

use crate::convolution;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use geometry::Geometry;

/// `conv` applied to `x`: ours where it applies, else burn's.
///
/// # Shapes
/// - `x`: `[batch, in_channels, height, width]` → `[batch, out_channels, out height, out width]`
pub(crate) fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
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
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    /// A valid convolution without bias.
    const fn case(input: [usize; 4], out_channels: usize, kernel: [usize; 2]) -> Case {
        Case {
            input,
            out_channels,
            kernel,
            padding: PaddingConfig2d::Valid,
            bias: false,
        }
    }

    struct Case {
        /// `[batch, in_channels, height, width]`
        input: [usize; 4],
        out_channels: usize,
        kernel: [usize; 2],
        padding: PaddingConfig2d,
        bias: bool,
    }

    /// CRNN's two convolutions (valid, 1 → 16 and 16 → 16), Att-RNN's (padded along time
    /// only, 1 → 10 and 10 → 1), uneven padding on every side, a kernel as large as the padded
    /// input, a batch large enough to be cut into parts, and clips long enough for their
    /// output rows to be cut into blocks, valid and padded.
    fn cases() -> Vec<Case> {
        let padded = |top, left, bottom, right| PaddingConfig2d::Explicit(top, left, bottom, right);
        vec![
            Case {
                bias: true,
                ..case([3, 1, 12, 10], 16, [3, 3])
            },
            Case {
                bias: true,
                ..case([2, 16, 10, 8], 16, [5, 3])
            },
            Case {
                padding: padded(2, 0, 2, 0),
                bias: true,
                ..case([2, 1, 11, 6], 10, [5, 1])
            },
            Case {
                padding: padded(2, 0, 2, 0),
                ..case([2, 10, 11, 6], 1, [5, 1])
            },
            Case {
                padding: padded(1, 2, 0, 3),
                bias: true,
                ..case([2, 3, 5, 4], 2, [3, 4])
            },
            Case {
                padding: padded(1, 0, 1, 0),
                ..case([1, 2, 2, 3], 3, [4, 3])
            },
            Case {
                bias: true,
                ..case([24, 16, 20, 18], 16, [5, 3])
            },
            // 240 unfolded rows of 36 columns: blocks of 121 output rows, the last of 54.
            Case {
                bias: true,
                ..case([1, 16, 300, 38], 4, [5, 3])
            },
            // 320 unfolded rows of 8 columns: blocks of 409 output rows, the last of 291.
            Case {
                padding: padded(2, 0, 2, 0),
                ..case([2, 64, 700, 8], 2, [5, 1])
            },
        ]
    }

    fn layer(case: &Case, device: &Device) -> Conv2d {
        Conv2dConfig::new([case.input[1], case.out_channels], case.kernel)
            .with_padding(case.padding.clone())
            .with_bias(case.bias)
            .init(device)
    }

    impl Layer<4> for Conv2d {
        fn ours(&self, x: &Tensor<4>) -> Option<Tensor<4>> {
            let geometry = Geometry::of(self, x.dims())?;
            convolution::ours(x, &self.weight_val(), self.bias_val(), geometry)
        }

        fn apply(&self, x: Tensor<4>) -> Tensor<4> {
            conv2d(self, x)
        }

        fn weight_val(&self) -> Tensor<4> {
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
            input: [3, 2, 7, 6],
            out_channels: 4,
            kernel: [3, 2],
            padding: PaddingConfig2d::Explicit(1, 0, 1, 1),
            bias: true,
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
        let input = [1, 2, 10, 8];
        let same = Conv2dConfig::new([2, 2], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        assert_eq!(Geometry::of(&same, input), None);
        let strided = Conv2dConfig::new([2, 2], [3, 3])
            .with_stride([2, 1])
            .init(&device);
        assert_eq!(Geometry::of(&strided, input), None);
        let dilated = Conv2dConfig::new([2, 2], [3, 3])
            .with_dilation([1, 2])
            .init(&device);
        assert_eq!(Geometry::of(&dilated, input), None);
        let grouped = Conv2dConfig::new([2, 2], [3, 3])
            .with_groups(2)
            .init(&device);
        assert_eq!(Geometry::of(&grouped, input), None);
        let large = Conv2dConfig::new([2, 2], [11, 3]).init(&device);
        assert_eq!(Geometry::of(&large, input), None, "taller than the input");
        let x = Tensor::<4>::random(input, Distribution::Default, &device);
        assert_eq!(conv2d(&strided, x).dims(), [1, 2, 4, 6], "burn's answer");
    }
}
