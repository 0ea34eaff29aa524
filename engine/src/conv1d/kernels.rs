//! The convolution and its backward pass on row-major buffers: `input` `[batch, in_channels,
//! in_frames]`, `weight` `[out_channels, in_channels / groups, kernel]`, `output`
//! `[batch, out_channels, out_frames]`. Each block of output columns ([`Geometry::blocks`]) is
//! one product per group with the block's unfolded input, whose rows are runs of consecutive
//! input frames, written in order.

use super::geometry::{Block, Geometry};
use crate::batch_parts::fill_by_parts;
use crate::convolution::{self, Convolution, Wanted};
use crate::matmul::{Product, Threads};
use std::ops::Range;

/// Fewer clips than this per part of the batch and a thread costs more than it saves.
const MIN_PART_CLIPS: usize = 2;

/// The batch cut into parts, one per core, and how each part's products use the threads.
fn parts(g: Geometry) -> (Vec<Range<usize>>, Threads) {
    let work = (g.output_len()).saturating_mul(g.rows());
    convolution::parts(g.batch, work, MIN_PART_CLIPS)
}

/// The geometry of the clips `clips` alone.
fn part_of(g: Geometry, clips: &Range<usize>) -> Geometry {
    Geometry {
        batch: clips.len(),
        ..g
    }
}

fn in_clip(g: Geometry) -> usize {
    g.in_channels * g.in_frames
}

fn out_clip(g: Geometry) -> usize {
    g.out_channels * g.out_frames
}

impl Convolution<3> for Geometry {
    fn input_shape(&self) -> [usize; 3] {
        [self.batch, self.in_channels, self.in_frames]
    }

    fn weight_shape(&self) -> [usize; 3] {
        [self.out_channels, self.group_in(), self.kernel]
    }

    fn output_shape(&self) -> [usize; 3] {
        [self.batch, self.out_channels, self.out_frames]
    }

    fn forward(&self, input: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let g = *self;
        let (parts, inside) = parts(g);
        let (mut out, _) = fill_by_parts(&parts, out_clip(g), |_, clips, out| {
            let input = &input[clips.start * in_clip(g)..clips.end * in_clip(g)];
            forward_part(input, weight, part_of(g, &clips), out, inside);
        });
        if let Some(bias) = bias {
            convolution::add_bias(&mut out, bias, out_clip(g), g.out_frames);
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
        let d_input_clip = if wanted.input { in_clip(g) } else { 0 };
        let (d_input, d_weights) = fill_by_parts(&parts, d_input_clip, |_, clips, d_input| {
            let input = &input[clips.start * in_clip(g)..clips.end * in_clip(g)];
            let d_out = &d_out[clips.start * out_clip(g)..clips.end * out_clip(g)];
            let d_input = wanted.input.then_some(d_input);
            backward_part(
                input,
                weight,
                d_out,
                part_of(g, &clips),
                wanted.weight,
                d_input,
                inside,
            )
        });
        let d_weight = (wanted.weight).then(|| convolution::summed(d_weights, g.weight_len()));
        (wanted.input.then_some(d_input), d_weight)
    }
}

/// [`Convolution::forward`] without the bias on the clips of `g`, into `out`.
fn forward_part(input: &[f32], weight: &[f32], g: Geometry, out: &mut [f32], threads: Threads) {
    let rows = g.rows();
    let group_out = g.group_out();
    let mut unfolded = Vec::new();
    let mut product = Vec::new();
    for block in g.blocks() {
        let columns = block.columns();
        unfolded.resize(rows * columns, 0.0);
        for group in 0..g.groups {
            unfold(input, g, group, &block, &mut unfolded);
            let group_weight = &weight[group * group_out * rows..][..group_out * rows];
            let dims = [group_out, rows, columns];
            let in_place = block.items.len() == 1;
            // Part of one clip: its output rows take the product in place; several clips: a
            // product of their own, copied to each clip's rows after.
            let (destination, row_stride) = match in_place {
                true => {
                    let at =
                        output_at(g, block.items.start, group * group_out) + block.frames.start;
                    (&mut out[at..], g.out_frames)
                }
                false => {
                    product.resize(group_out * columns, 0.0);
                    (&mut product[..], columns)
                }
            };
            Product::new(group_weight, &unfolded, dims)
                .out_row_stride(row_stride)
                .write(destination, threads);
            if !in_place {
                for (offset, item) in block.items.clone().enumerate() {
                    for channel in 0..group_out {
                        let at = output_at(g, item, group * group_out + channel);
                        let from = channel * columns + offset * g.out_frames;
                        out[at..][..g.out_frames].copy_from_slice(&product[from..][..g.out_frames]);
                    }
                }
            }
        }
    }
}

/// [`Convolution::backward`] on the clips of `g`: adds the input's gradient to `d_input` where given, and
/// returns the weight's (empty unless `weight_wanted`).
fn backward_part(
    input: &[f32],
    weight: &[f32],
    d_out: &[f32],
    g: Geometry,
    weight_wanted: bool,
    mut d_input: Option<&mut [f32]>,
    threads: Threads,
) -> Vec<f32> {
    let rows = g.rows();
    let group_out = g.group_out();
    let mut d_weight = vec![0.0; if weight_wanted { g.weight_len() } else { 0 }];
    let mut unfolded = Vec::new();
    let mut gathered = Vec::new();
    for block in g.blocks() {
        let columns = block.columns();
        let frames = block.frames.len();
        unfolded.resize(rows * columns, 0.0);
        gathered.resize(group_out * columns, 0.0);
        for group in 0..g.groups {
            // The block's output gradient as the product's layout: [group_out, columns].
            for (offset, item) in block.items.clone().enumerate() {
                for channel in 0..group_out {
                    let at = output_at(g, item, group * group_out + channel) + block.frames.start;
                    let to = channel * columns + offset * frames;
                    gathered[to..][..frames].copy_from_slice(&d_out[at..][..frames]);
                }
            }
            if weight_wanted {
                // d_weight[group] += gathered · unfoldedᵀ
                unfold(input, g, group, &block, &mut unfolded);
                let d_group = &mut d_weight[group * group_out * rows..][..group_out * rows];
                let dims = [group_out, columns, rows];
                Product::new(&gathered, &unfolded, dims)
                    .b_transposed()
                    .add(d_group, threads);
            }
            if let Some(d_input) = d_input.as_deref_mut() {
                // d_unfolded = weight[group]ᵀ · gathered, then each value back to the input
                // frame it was read from.
                let group_weight = &weight[group * group_out * rows..][..group_out * rows];
                let dims = [rows, group_out, columns];
                Product::new(group_weight, &gathered, dims)
                    .a_transposed()
                    .write(&mut unfolded, threads);
                fold(&unfolded, g, group, &block, d_input);
            }
        }
    }
    d_weight
}

/// Where output channel `channel` of item `item` starts in the output.
fn output_at(g: Geometry, item: usize, channel: usize) -> usize {
    (item * g.out_channels + channel) * g.out_frames
}

/// Where input channel `channel` of `group` in item `item` starts in the input.
fn input_at(g: Geometry, item: usize, group: usize, channel: usize) -> usize {
    (item * g.in_channels + group * g.group_in() + channel) * g.in_frames
}

/// Writes `group`'s unfolded input for `block`: row `channel · kernel + tap`, column
/// `offset · frames + t`, the input frame that the block's `t`-th frame of its `offset`-th item
/// reads at that tap, zero in the padding.
fn unfold(input: &[f32], g: Geometry, group: usize, block: &Block, unfolded: &mut [f32]) {
    let columns = block.columns();
    let frames = block.frames.len();
    for channel in 0..g.group_in() {
        for tap in 0..g.kernel {
            let row = &mut unfolded[(channel * g.kernel + tap) * columns..][..columns];
            let reading = g.reading(&block.frames, tap);
            for (offset, item) in block.items.clone().enumerate() {
                let source = &input[input_at(g, item, group, channel)..][..g.in_frames];
                let row = &mut row[offset * frames..][..frames];
                row[..reading.start].fill(0.0);
                row[reading.end..].fill(0.0);
                if reading.is_empty() {
                    continue;
                }
                let first = g.input_frame(block.frames.start + reading.start, tap);
                let row = &mut row[reading.clone()];
                match g.stride {
                    1 => row.copy_from_slice(&source[first..][..row.len()]),
                    stride => (row.iter_mut())
                        .zip(source[first..].iter().step_by(stride))
                        .for_each(|(to, &from)| *to = from),
                }
            }
        }
    }
}

/// Adds each value of `group`'s unfolded gradient for `block` to the input frame [`unfold`]
/// read it from.
fn fold(unfolded: &[f32], g: Geometry, group: usize, block: &Block, d_input: &mut [f32]) {
    let columns = block.columns();
    let frames = block.frames.len();
    for channel in 0..g.group_in() {
        for tap in 0..g.kernel {
            let row = &unfolded[(channel * g.kernel + tap) * columns..][..columns];
            let reading = g.reading(&block.frames, tap);
            for (offset, item) in block.items.clone().enumerate() {
                let target = &mut d_input[input_at(g, item, group, channel)..][..g.in_frames];
                let row = &row[offset * frames..][..frames][reading.clone()];
                if reading.is_empty() {
                    continue;
                }
                let first = g.input_frame(block.frames.start + reading.start, tap);
                (target[first..].iter_mut().step_by(g.stride))
                    .zip(row)
                    .for_each(|(to, &from)| *to += from);
            }
        }
    }
}
