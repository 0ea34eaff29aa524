//! What one convolution computes and how its unfolded input is cut into blocks.

use burn::nn::PaddingConfig1d;
use burn::nn::conv::Conv1d;
use std::ops::Range;

/// Values in one block of the unfolded input or of its product (4 MB): large enough that the
/// product is efficient, small enough to stay in cache on long clips.
const BLOCK_VALUES: usize = 1 << 20;

/// Fewest columns in a block, so that a very wide layer still multiplies efficiently.
const MIN_BLOCK_COLUMNS: usize = 16;

/// The geometry of one 1-D convolution (dilation 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub batch: usize,
    pub in_channels: usize,
    pub in_frames: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Zeros before the first input frame (those after the last only shorten nothing: the
    /// output length below already counts them).
    pub pad_left: usize,
    pub groups: usize,
    pub out_frames: usize,
}

impl Geometry {
    /// `None` where burn's convolution should decide (and report) instead: dilation, `Same`
    /// padding, channels that do not split into the groups, no output channels, no frames,
    /// fewer than the kernel, or sizes whose product overflows.
    pub fn of(conv: &Conv1d, [batch, in_channels, in_frames]: [usize; 3]) -> Option<Self> {
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
            && out_channels > 0
            && in_channels == group_channels.checked_mul(groups)?
            && out_channels.is_multiple_of(groups);
        let padded = in_frames.checked_add(pad_left)?.checked_add(pad_right)?;
        if !fits || padded < kernel {
            return None;
        }
        let geometry = Self {
            batch,
            in_channels,
            in_frames,
            out_channels,
            kernel,
            stride: conv.stride,
            pad_left,
            groups,
            out_frames: (padded - kernel) / conv.stride + 1,
        };
        // Each buffer's length, checked once here so that the loops need not.
        batch.checked_mul(in_channels)?.checked_mul(in_frames)?;
        batch
            .checked_mul(out_channels)?
            .checked_mul(geometry.out_frames)?;
        group_channels
            .checked_mul(kernel)?
            .checked_mul(out_channels)?;
        Some(geometry)
    }

    pub fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    pub fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's unfolded input: one per (input channel of the group, kernel tap).
    pub fn rows(&self) -> usize {
        self.group_in() * self.kernel
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * self.rows()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_frames
    }

    /// The blocks of output columns, in order: several whole items of the batch at a time
    /// where an item's frames are few (so that the products are wide), else part of one item.
    pub fn blocks(&self) -> Vec<Block> {
        let widest = BLOCK_VALUES / self.rows().max(self.group_out()).max(1);
        let columns = widest.max(MIN_BLOCK_COLUMNS);
        if self.out_frames >= columns {
            (0..self.batch)
                .flat_map(|item| {
                    (0..self.out_frames)
                        .step_by(columns)
                        .map(move |first| Block {
                            items: item..item + 1,
                            frames: first..(first + columns).min(self.out_frames),
                        })
                })
                .collect()
        } else {
            let per_block = columns / self.out_frames;
            (0..self.batch)
                .step_by(per_block)
                .map(|first| Block {
                    items: first..(first + per_block).min(self.batch),
                    frames: 0..self.out_frames,
                })
                .collect()
        }
    }

    /// The output frames `frames` for which kernel tap `tap` reads an input frame rather than
    /// the padding, as offsets into `frames`.
    pub fn reading(&self, frames: &Range<usize>, tap: usize) -> Range<usize> {
        // Output frame f reads padded frame f·stride + tap, input frame f·stride + tap − pad_left.
        let first_reading = self.pad_left.saturating_sub(tap).div_ceil(self.stride);
        let past_reading = (self.in_frames + self.pad_left)
            .saturating_sub(tap)
            .div_ceil(self.stride);
        let start = first_reading.clamp(frames.start, frames.end);
        let end = past_reading.clamp(start, frames.end);
        start - frames.start..end - frames.start
    }

    /// The input frame output frame `frame` reads at tap `tap`, for frames [`Self::reading`]
    /// gave.
    pub fn input_frame(&self, frame: usize, tap: usize) -> usize {
        frame * self.stride + tap - self.pad_left
    }
}

/// Output columns taken at once: frames `frames` of each item in `items` (several whole items,
/// or part of one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Block {
    pub items: Range<usize>,
    pub frames: Range<usize>,
}

impl Block {
    pub fn columns(&self) -> usize {
        self.items.len() * self.frames.len()
    }
}
