//! What one 2-D convolution computes.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;

/// A convolution with stride 1, no dilation and one group over `[batch, in_channels, height,
/// width]` (for the students, frames × frequency bins), padded with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub batch: usize,
    pub in_channels: usize,
    /// `[height, width]` of the input.
    pub in_size: [usize; 2],
    pub out_channels: usize,
    /// `[height, width]`
    pub kernel: [usize; 2],
    /// Zeros before the first row and the first column (those after the last ones show only in
    /// `out_size`).
    pub pad: [usize; 2],
    /// Whether any side is padded, so that some of the unfolded input reads zeros.
    pub padded: bool,
    /// `[height, width]` of the output.
    pub out_size: [usize; 2],
}

impl Geometry {
    /// The geometry of `conv` on an input of `[batch, in_channels, height, width]`, or `None`
    /// where ours does not apply: a stride, a dilation or groups, `Same` padding, a kernel larger
    /// than the padded input, no output channels, or sizes whose products overflow.
    pub fn of(conv: &Conv2d, [batch, in_channels, height, width]: [usize; 4]) -> Option<Self> {
        let [out_channels, weight_channels, kernel_height, kernel_width] = conv.weight.val().dims();
        let [top, left, bottom, right] = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            PaddingConfig2d::Same => return None,
        };
        let fits = conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && conv.kernel_size == [kernel_height, kernel_width]
            && weight_channels == in_channels
            && out_channels > 0
            && height > 0
            && width > 0;
        let padded = [
            height.checked_add(top)?.checked_add(bottom)?,
            width.checked_add(left)?.checked_add(right)?,
        ];
        if !fits || padded[0] < kernel_height || padded[1] < kernel_width {
            return None;
        }
        let geometry = Self {
            batch,
            in_channels,
            in_size: [height, width],
            out_channels,
            kernel: [kernel_height, kernel_width],
            pad: [top, left],
            padded: [top, left, bottom, right] != [0; 4],
            out_size: [padded[0] - kernel_height + 1, padded[1] - kernel_width + 1],
        };
        // Each buffer's length, checked once here so that the loops need not.
        batch
            .checked_mul(in_channels)?
            .checked_mul(height)?
            .checked_mul(width)?;
        let [out_height, out_width] = geometry.out_size;
        batch
            .checked_mul(out_channels)?
            .checked_mul(out_height)?
            .checked_mul(out_width)?;
        geometry
            .rows()
            .checked_mul(out_height.checked_mul(out_width)?)?;
        geometry.rows().checked_mul(out_channels)?;
        Some(geometry)
    }

    /// Rows of a clip's unfolded input: one per input channel and kernel position.
    pub fn rows(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Columns of a clip's unfolded input: one per output position.
    pub fn columns(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }

    pub fn in_clip(&self) -> usize {
        self.in_channels * self.in_size[0] * self.in_size[1]
    }

    pub fn out_clip(&self) -> usize {
        self.out_channels * self.columns()
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * self.rows()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.out_clip()
    }
}
