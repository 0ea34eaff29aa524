//! The convolution and its backward pass on row-major buffers: `input` `[batch, in_channels,
//! height, width]`, `weight` `[out_channels, in_channels, kernel height, kernel width]`,
//! `output` `[batch, out_channels, out height, out width]`. A clip's output rows are cut into
//! blocks ([`row_blocks`]); each block is one product of the weight with the block's unfolded
//! input, whose rows are runs of the input's rows, and the product lands in the output's layout
//! as it is.

use super::geometry::Geometry;
use crate::batch_parts::fill_by_parts;
use crate::convolution::{self, Convolution, Wanted};
use crate::matmul::{Product, Threads};
use std::ops::Range;

/// Values of a block's unfolded input at most (unless one output row alone holds more), so
/// that a long clip costs no more memory than a short one.
const BLOCK_VALUES: usize = 1 << 20;

/// The batch cut into parts, one per core, and how each part's products use the threads.
fn parts(g: Geometry) -> (Vec<Range<usize>>, Threads) {
    let work = g.output_len().saturating_mul(g.rows());
    convolution::parts(g.batch, work, 1)
}

/// A clip's output rows in blocks whose unfolded input holds at most [`BLOCK_VALUES`] values,
/// one row at least.
fn row_blocks(g: Geometry) -> impl Iterator<Item = Range<usize>> {
    let [out_height, out_width] = g.out_size;
    let rows = (BLOCK_VALUES / (g.rows() * out_width).max(1)).max(1);
    (0..out_height)
        .step_by(rows)
        .map(move |first| first..(first + rows).min(out_height))
}

/// The output positions `0..out` whose input, `position + offset − pad`, lies in `0..size`.
fn inside(offset: usize, pad: usize, size: usize, out: usize) -> Range<usize> {
    let first = pad.saturating_sub(offset).min(out);
    let end = (size + pad).saturating_sub(offset).min(out).max(first);
    first..end
}

/// A run of consecutive values an unfolded row shares with an input row.
struct Run {
    /// Where the output row's values start in the block's unfolded input.
    unfolded: usize,
    /// Where the input row starts in the clip.
    input: usize,
    /// The input column under the first of `out_columns`.
    first_input_column: usize,
    /// The output columns whose input lies inside the row; the others read padding.
    out_columns: Range<usize>,
}

/// Every run of values that the unfolded input of the output rows `block` copies from one
/// input row (all else in it is padding), for [`unfold`] and [`fold`] alike, so that the two
/// read and write the same places.
fn for_each_run(g: Geometry, block: &Range<usize>, mut run: impl FnMut(Run)) {
    let [height, width] = g.in_size;
    let [out_height, out_width] = g.out_size;
    let [kernel_height, kernel_width] = g.kernel;
    let [top, left] = g.pad;
    let block_columns = block.len() * out_width;
    for channel in 0..g.in_channels {
        for i in 0..kernel_height {
            let out_rows = inside(i, top, height, out_height);
            let out_rows = out_rows.start.max(block.start)..out_rows.end.min(block.end);
            for j in 0..kernel_width {
                let row = (channel * kernel_height + i) * kernel_width + j;
                let out_columns = inside(j, left, width, out_width);
                if out_columns.is_empty() {
                    continue;
                }
                for out_row in out_rows.clone() {
                    run(Run {
                        unfolded: row * block_columns + (out_row - block.start) * out_width,
                        input: (channel * height + out_row + i - top) * width,
                        first_input_column: out_columns.start + j - left,
                        out_columns: out_columns.clone(),
                    });
                }
            }
        }
    }
}

/// The input of one clip `[in_channels, height, width]` under the output rows `block`,
/// unfolded into `unfolded` `[rows, block's columns]`: row `(c, i, j)` holds, at output position
/// `(y, x)`, the input at `(y + i − top, x + j − left)` of channel `c`, or 0 in the padding.
fn unfold(g: Geometry, clip: &[f32], block: &Range<usize>, unfolded: &mut [f32]) {
    // Unpadded, the runs cover every value.
    if g.padded {
        unfolded.fill(0.0);
    }
    for_each_run(g, block, |run| {
        let to = &mut unfolded[run.unfolded..][run.out_columns.clone()];
        let from = run.input + run.first_input_column;
        to.copy_from_slice(&clip[from..from + to.len()]);
    });
}

/// The gradient of a block's unfolded input added back onto the input values each entry was
/// read from (`d_clip`, `[in_channels, height, width]`).
fn fold(g: Geometry, d_unfolded: &[f32], block: &Range<usize>, d_clip: &mut [f32]) {
    for_each_run(g, block, |run| {
        let from = &d_unfolded[run.unfolded..][run.out_columns.clone()];
        let start = run.input + run.first_input_column;
        for (to, value) in d_clip[start..start + from.len()].iter_mut().zip(from) {
            *to += value;
        }
    });
}

/// The columns of a clip's `[channels, out height, out width]` output under the output rows
/// `block`.
fn block_columns(g: Geometry, block: &Range<usize>) -> Range<usize> {
    let out_width = g.out_size[1];
    block.start * out_width..block.end * out_width
}

impl Convolution<4> for Geometry {
    fn input_shape(&self) -> [usize; 4] {
        let [height, width] = self.in_size;
        [self.batch, self.in_channels, height, width]
    }

    fn weight_shape(&self) -> [usize; 4] {
        let [height, width] = self.kernel;
        [self.out_channels, self.in_channels, height, width]
    }

    fn output_shape(&self) -> [usize; 4] {
        let [height, width] = self.out_size;
        [self.batch, self.out_channels, height, width]
    }

    fn forward(&self, input: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let g = *self;
        let (parts, inside) = parts(g);
        let (mut out, _) = fill_by_parts(&parts, g.out_clip(), |_, clips, out| {
            let mut unfolded = Vec::new();
            for (clip, out) in clips.zip(out.chunks_exact_mut(g.out_clip())) {
                let clip = &input[clip * g.in_clip()..][..g.in_clip()];
                for block in row_blocks(g) {
                    let columns = block_columns(g, &block);
                    unfolded.resize(g.rows() * columns.len(), 0.0);
                    unfold(g, clip, &block, &mut unfolded);
                    Product::new(weight, &unfolded, [g.out_channels, g.rows(), columns.len()])
                        .out_row_stride(g.columns())
                        .write(&mut out[columns.start..], inside);
                }
            }
        });
        if let Some(bias) = bias {
            convolution::add_bias(&mut out, bias, g.out_clip(), g.columns());
        }
        out
    }

    fn backward(
        &self,
        input: &[f32],
        weight: &[f32],
        d_out: &[f32],
        wanted: Wanted,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let g = *self;
        let (parts, inside) = parts(g);
        let in_row = if wanted.input { g.in_clip() } else { 0 };
        let (d_input, d_weights) = fill_by_parts(&parts, in_row, |_, clips, d_input| {
            let mut unfolded = Vec::new();
            let mut gathered = Vec::new();
            let mut d_weight = vec![0.0; if wanted.weight { g.weight_len() } else { 0 }];
            for (index, clip) in clips.enumerate() {
                let d_out = &d_out[clip * g.out_clip()..][..g.out_clip()];
                let clip = &input[clip * g.in_clip()..][..g.in_clip()];
                for block in row_blocks(g) {
                    let columns = block_columns(g, &block);
                    // The block's output gradient as the products' layout: [out_channels, columns].
                    gathered.clear();
                    for channel in d_out.chunks_exact(g.columns()) {
                        gathered.extend_from_slice(&channel[columns.clone()]);
                    }
                    unfolded.resize(g.rows() * columns.len(), 0.0);
                    if wanted.weight {
                        // d_weight += gathered · unfoldedᵀ
                        unfold(g, clip, &block, &mut unfolded);
                        Product::new(
                            &gathered,
                            &unfolded,
                            [g.out_channels, columns.len(), g.rows()],
                        )
                        .b_transposed()
                        .add(&mut d_weight, inside);
                    }
                    if wanted.input {
                        // d_unfolded = weightᵀ · gathered, folded back onto the input.
                        Product::new(weight, &gathered, [g.rows(), g.out_channels, columns.len()])
                            .a_transposed()
                            .write(&mut unfolded, inside);
                        let d_clip = &mut d_input[index * g.in_clip()..][..g.in_clip()];
                        fold(g, &unfolded, &block, d_clip);
                    }
                }
            }
            d_weight
        });
        let d_weight = (wanted.weight).then(|| convolution::summed(d_weights, g.weight_len()));
        (wanted.input.then_some(d_input), d_weight)
    }
}
