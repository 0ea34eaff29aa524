//! The recurrences of the GRU and the peephole LSTM over a whole sequence on plain `f32`
//! buffers, with their backward passes (backpropagation through time over the gates saved by
//! the forward pass). Per frame this is one small matrix product and a loop of gate arithmetic
//! that compiles to SIMD instructions, where burn's autodiff graph would hold about twenty
//! nodes.
//!
//! A batch's rows are independent until the weights' gradients are summed, so natively the
//! batch is cut into one part per core (each at least [`MIN_PART_ROWS`] rows), the parts run
//! side by side on rayon's threads, and the parts' weight gradients are added up at the end.
//!
//! Layouts are row-major. `batch`, `frames` and the widths come from the tensors' shapes, which
//! the caller checks against the buffers' lengths.

use crate::activation::{sigmoid, tanh};
use crate::batch_parts::{fill_by_parts, threads};
use crate::matmul::{Product, Threads, transposed};
use std::ops::Range;

/// Fewer rows than this per part and a thread costs more than it saves.
const MIN_PART_ROWS: usize = 8;

fn batch_parts(batch: usize, threads: usize) -> Vec<Range<usize>> {
    crate::batch_parts::batch_parts(batch, threads, MIN_PART_ROWS)
}

/// Values per batch row of the projected inputs and of the output, from their whole lengths.
fn per_row(batch: usize, lengths: [usize; 2]) -> [usize; 2] {
    lengths.map(|length| length / batch.max(1))
}

/// `forward` on each part of the batch (its rows, its projected inputs, its share of the
/// output to fill), and what it returns for each part beside the part's rows.
fn forward_by_parts<S: Send>(
    parts: Vec<Range<usize>>,
    [projected_row, out_row]: [usize; 2],
    projected: &[f32],
    forward: impl Fn(usize, &[f32], &mut [f32]) -> S + Sync,
) -> (Vec<f32>, Vec<(Range<usize>, S)>) {
    let (out, saved) = fill_by_parts(&parts, out_row, |_, rows, out| {
        let input = &projected[rows.start * projected_row..rows.end * projected_row];
        forward(rows.len(), input, out)
    });
    (out, parts.into_iter().zip(saved).collect())
}

/// `backward` on each part a forward pass saved (its rows, what it saved, its rows of the
/// output's gradient, its share of the projected inputs' gradient to fill): the projected
/// inputs' gradient, and the weights' gradients summed over the parts.
fn backward_by_parts<S: Sync, const N: usize>(
    saved: &[(Range<usize>, S)],
    [projected_row, out_row]: [usize; 2],
    d_out: &[f32],
    backward: impl Fn(usize, &S, &[f32], &mut [f32]) -> [Vec<f32>; N] + Sync,
) -> (Vec<f32>, [Vec<f32>; N]) {
    let parts: Vec<_> = saved.iter().map(|(rows, _)| rows.clone()).collect();
    let (d_projected, gradients) = fill_by_parts(&parts, projected_row, |index, rows, share| {
        let d_out = &d_out[rows.start * out_row..rows.end * out_row];
        backward(rows.len(), &saved[index].1, d_out, share)
    });
    let summed = gradients.into_iter().reduce(|mut total, part| {
        for (total, part) in total.iter_mut().zip(part) {
            for (sum, value) in total.iter_mut().zip(part) {
                *sum += value;
            }
        }
        total
    });
    (
        d_projected,
        summed.unwrap_or_else(|| std::array::from_fn(|_| Vec::new())),
    )
}

/// `N` arrays of per-step values, `[steps, step]` each when the whole sequence is kept for the
/// backward pass, else one step's worth, overwritten at every step.
#[derive(Clone)]
struct Planes<const N: usize> {
    values: [Vec<f32>; N],
    step: usize,
    kept: bool,
}

impl<const N: usize> Planes<N> {
    fn new(steps: usize, step: usize, keep: bool) -> Self {
        let length = if keep { steps * step } else { step };
        Self {
            values: std::array::from_fn(|_| vec![0.0; length]),
            step,
            kept: keep,
        }
    }

    fn range(&self, s: usize) -> Range<usize> {
        let start = if self.kept { s * self.step } else { 0 };
        start..start + self.step
    }

    fn step_mut(&mut self, s: usize) -> [&mut [f32]; N] {
        let range = self.range(s);
        self.values.each_mut().map(|v| &mut v[range.clone()])
    }

    fn step(&self, s: usize) -> [&[f32]; N] {
        let range = self.range(s);
        self.values.each_ref().map(|v| &v[range.clone()])
    }
}

impl<const N: usize> std::fmt::Debug for Planes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planes")
            .field("planes", &N)
            .field("step", &self.step)
            .field("kept", &self.kept)
            .finish()
    }
}

/// Independent GRUs over the same frames, the first forward in time, a second backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GruShape {
    pub batch: usize,
    pub frames: usize,
    /// 1 (forward in time) or 2 (forward, then backward).
    pub grus: usize,
    pub hidden: usize,
}

impl GruShape {
    /// The frame GRU `g` reads at its step `s`.
    fn frame(&self, g: usize, s: usize) -> usize {
        match g {
            0 => s,
            _ => self.frames - 1 - s,
        }
    }

    /// Lengths of the projected inputs `[batch, frames, grus, 3·hidden]`, the recurrent weights
    /// `[grus, hidden, 3·hidden]`, their biases `[grus, 3·hidden]` and the output
    /// `[batch, frames, grus·hidden]`.
    pub fn lengths(&self) -> [usize; 4] {
        let gates = 3 * self.hidden;
        [
            self.batch * self.frames * self.grus * gates,
            self.grus * self.hidden * gates,
            self.grus * gates,
            self.batch * self.frames * self.grus * self.hidden,
        ]
    }

    fn rows(&self, rows: usize) -> Self {
        Self {
            batch: rows,
            ..*self
        }
    }
}

/// What the GRU's backward pass needs of its forward pass: per part of the batch, its rows and
/// the reset and update gates, the candidate, the candidate's recurrent term `U_n·h + b_n`
/// (before the reset gate scales it) and the states, each `[grus, steps, rows, hidden]` in the
/// order each GRU took its steps.
#[derive(Clone, Debug)]
pub struct GruSaved {
    parts: Vec<(Range<usize>, Planes<5>)>,
}

/// One GRU step of one batch row, every slice `hidden` long but `input`, `recurrent` and `bias`
/// (`3·hidden`, gates reset, update, new); `state` goes from the previous state to the new one.
#[inline(always)]
fn gru_step(
    input: &[f32],
    recurrent: &[f32],
    bias: &[f32],
    state: &mut [f32],
    [reset, update, candidate, recurrent_candidate, kept_state]: [&mut [f32]; 5],
) {
    let n = state.len();
    let (input, recurrent, bias) = (&input[..3 * n], &recurrent[..3 * n], &bias[..3 * n]);
    let (reset, update, candidate) = (&mut reset[..n], &mut update[..n], &mut candidate[..n]);
    let (recurrent_candidate, kept_state) = (&mut recurrent_candidate[..n], &mut kept_state[..n]);
    for j in 0..n {
        let r = sigmoid(input[j] + recurrent[j] + bias[j]);
        let z = sigmoid(input[n + j] + recurrent[n + j] + bias[n + j]);
        let u = recurrent[2 * n + j] + bias[2 * n + j];
        let c = tanh(input[2 * n + j] + r * u);
        let h = c + z * (state[j] - c);
        reset[j] = r;
        update[j] = z;
        candidate[j] = c;
        recurrent_candidate[j] = u;
        kept_state[j] = h;
        state[j] = h;
    }
}

/// One GRU step backwards for one batch row: from the gradient of the step's output (`d_output`
/// plus the carried one), the gradients of the projected input (`d_input`, `3·hidden`: reset,
/// update, new) and of the recurrent term (`d_recurrent`, the same gates, the new one scaled
/// by the reset gate); `carry` becomes the part of the previous state's gradient that does not
/// pass through the recurrent weights.
///
/// The mutable slices are parameters of their own so that the compiler knows they do not
/// overlap and runs the loop in vector lanes.
#[inline(always)]
fn gru_step_backward(
    [reset, update, candidate, recurrent_candidate, before]: [&[f32]; 5],
    d_output: &[f32],
    carry: &mut [f32],
    d_input: &mut [f32],
    d_recurrent: &mut [f32],
) {
    let n = carry.len();
    let (reset, update, candidate) = (&reset[..n], &update[..n], &candidate[..n]);
    let (recurrent_candidate, before, d_output) =
        (&recurrent_candidate[..n], &before[..n], &d_output[..n]);
    let (d_reset, rest) = d_input[..3 * n].split_at_mut(n);
    let (d_update, d_new) = rest.split_at_mut(n);
    let (d_rec_reset, rest) = d_recurrent[..3 * n].split_at_mut(n);
    let (d_rec_update, d_rec_new) = rest.split_at_mut(n);
    for j in 0..n {
        let dh = d_output[j] + carry[j];
        let (r, z, c) = (reset[j], update[j], candidate[j]);
        let d_candidate = dh * (1.0 - z) * (1.0 - c * c);
        let d_z = dh * (before[j] - c) * z * (1.0 - z);
        let d_r = d_candidate * recurrent_candidate[j] * r * (1.0 - r);
        d_reset[j] = d_r;
        d_update[j] = d_z;
        d_new[j] = d_candidate;
        d_rec_reset[j] = d_r;
        d_rec_update[j] = d_z;
        d_rec_new[j] = d_candidate * r;
        carry[j] = dh * z;
    }
}

/// The GRU recurrence (reset gate after the hidden product) with the input projections given.
///
/// - `projected`: `[batch, frames, grus, 3·hidden]`, `x·W + b_ih` of every frame, gates in the
///   order reset, update, new
/// - `weight_hh`: `[grus, hidden, 3·hidden]`, `bias_hh`: `[grus, 3·hidden]`
/// - returns `[batch, frames, grus·hidden]`, every GRU's state aligned with the frame it read,
///   and the gates when `keep` asks for them.
pub fn gru_forward(
    shape: GruShape,
    projected: &[f32],
    weight_hh: &[f32],
    bias_hh: &[f32],
    keep: bool,
) -> (Vec<f32>, Option<GruSaved>) {
    gru_forward_in_parts(shape, projected, weight_hh, bias_hh, keep, threads())
}

fn gru_forward_in_parts(
    shape: GruShape,
    projected: &[f32],
    weight_hh: &[f32],
    bias_hh: &[f32],
    keep: bool,
    threads: usize,
) -> (Vec<f32>, Option<GruSaved>) {
    let [projected_len, .., out_len] = shape.lengths();
    let rows = per_row(shape.batch, [projected_len, out_len]);
    let parts = batch_parts(shape.batch, threads);
    let (out, parts) = forward_by_parts(parts, rows, projected, |batch, input, out| {
        gru_forward_part(shape.rows(batch), input, weight_hh, bias_hh, out, keep)
    });
    (out, keep.then_some(GruSaved { parts }))
}

crate::simd::widest_simd!(
    fn gru_forward_part(
        shape: GruShape,
        projected: &[f32],
        weight_hh: &[f32],
        bias_hh: &[f32],
        out: &mut [f32],
        keep: bool,
    ) -> Planes<5> => gru_forward_part_body
);

#[inline(always)]
fn gru_forward_part_body(
    shape: GruShape,
    projected: &[f32],
    weight_hh: &[f32],
    bias_hh: &[f32],
    out: &mut [f32],
    keep: bool,
) -> Planes<5> {
    let GruShape {
        batch,
        frames,
        grus,
        hidden,
    } = shape;
    let gates = 3 * hidden;
    let mut planes = Planes::new(grus * frames, batch * hidden, keep);
    let mut h = vec![0.0; batch * hidden];
    let mut recurrent = vec![0.0; batch * gates];
    for g in 0..grus {
        h.fill(0.0);
        let weight = &weight_hh[g * hidden * gates..(g + 1) * hidden * gates];
        let bias = &bias_hh[g * gates..(g + 1) * gates];
        for s in 0..frames {
            let t = shape.frame(g, s);
            Product::new(&h, weight, [batch, hidden, gates]).write(&mut recurrent, Threads::One);
            let mut step = planes.step_mut(g * frames + s);
            for b in 0..batch {
                let row = b * hidden..(b + 1) * hidden;
                gru_step(
                    &projected[((b * frames + t) * grus + g) * gates..][..gates],
                    &recurrent[b * gates..(b + 1) * gates],
                    bias,
                    &mut h[row.clone()],
                    step.each_mut().map(|plane| &mut plane[row.clone()]),
                );
                out[(b * frames + t) * grus * hidden + g * hidden..][..hidden]
                    .copy_from_slice(&h[row]);
            }
        }
    }
    planes
}

/// Gradients of the GRU recurrence: with respect to the projected inputs
/// (`[batch, frames, grus, 3·hidden]`), `weight_hh` and `bias_hh`, given the output's
/// (`[batch, frames, grus·hidden]`).
pub fn gru_backward(
    shape: GruShape,
    saved: &GruSaved,
    weight_hh: &[f32],
    d_out: &[f32],
) -> [Vec<f32>; 3] {
    let [projected_len, .., out_len] = shape.lengths();
    let rows = per_row(shape.batch, [projected_len, out_len]);
    let (hidden, gates) = (shape.hidden, 3 * shape.hidden);
    let weight_hh_t: Vec<f32> = (weight_hh.chunks_exact(hidden * gates))
        .flat_map(|weight| transposed(weight, hidden, gates))
        .collect();
    let (d_projected, [d_weight, d_bias]) =
        backward_by_parts(&saved.parts, rows, d_out, |batch, planes, d_out, share| {
            gru_backward_part(shape.rows(batch), planes, &weight_hh_t, d_out, share)
        });
    [d_projected, d_weight, d_bias]
}

crate::simd::widest_simd!(
    /// `weight_hh_t`: the recurrent weights transposed, `[grus, 3·hidden, hidden]`, as every
    /// step multiplies by them (stored so once, gemm reads them in order at each step instead
    /// of gathering them again).
    fn gru_backward_part(
        shape: GruShape,
        saved: &Planes<5>,
        weight_hh_t: &[f32],
        d_out: &[f32],
        d_projected: &mut [f32],
    ) -> [Vec<f32>; 2] => gru_backward_part_body
);

#[inline(always)]
fn gru_backward_part_body(
    shape: GruShape,
    saved: &Planes<5>,
    weight_hh_t: &[f32],
    d_out: &[f32],
    d_projected: &mut [f32],
) -> [Vec<f32>; 2] {
    let GruShape {
        batch,
        frames,
        grus,
        hidden,
    } = shape;
    let gates = 3 * hidden;
    let [_, weight_len, bias_len, _] = shape.lengths();
    let mut d_weight = vec![0.0; weight_len];
    let mut d_bias = vec![0.0; bias_len];
    let mut carry = vec![0.0; batch * hidden];
    let zeros = vec![0.0; batch * hidden];
    // Every step's gradient of the recurrent term, so that the weights' gradient, a sum of one
    // rank-`batch` product per step, is one product after the loop.
    let mut d_recurrent = vec![0.0; frames * batch * gates];
    for g in 0..grus {
        carry.fill(0.0);
        let weight_t = &weight_hh_t[g * gates * hidden..(g + 1) * gates * hidden];
        for s in (0..frames).rev() {
            let t = shape.frame(g, s);
            let [reset, update, candidate, recurrent_candidate, _] = saved.step(g * frames + s);
            let before = match s {
                0 => &zeros[..],
                _ => saved.step(g * frames + s - 1)[4],
            };
            let d_step = &mut d_recurrent[s * batch * gates..(s + 1) * batch * gates];
            for b in 0..batch {
                let row = b * hidden..(b + 1) * hidden;
                let d_output = &d_out[(b * frames + t) * grus * hidden + g * hidden..][..hidden];
                gru_step_backward(
                    [reset, update, candidate, recurrent_candidate, before]
                        .map(|v| &v[row.clone()]),
                    d_output,
                    &mut carry[row],
                    &mut d_projected[((b * frames + t) * grus + g) * gates..][..gates],
                    &mut d_step[b * gates..(b + 1) * gates],
                );
            }
            // The first step's state is the zero start, whose gradient nothing needs.
            if s > 0 {
                Product::new(d_step, weight_t, [batch, gates, hidden])
                    .add(&mut carry, Threads::One);
            }
        }
        for row in d_recurrent.chunks_exact(gates) {
            for (sum, d) in d_bias[g * gates..(g + 1) * gates].iter_mut().zip(row) {
                *sum += d;
            }
        }
        // Σ_s h_{s−1}ᵀ·d_rec_s over steps 1.., the states of steps 0..T−1 against the gradients
        // of steps 1..T, each a [(T−1)·batch, ·] block.
        if frames > 1 {
            let states =
                &saved.values[4][g * frames * batch * hidden..][..(frames - 1) * batch * hidden];
            Product::new(
                states,
                &d_recurrent[batch * gates..],
                [hidden, (frames - 1) * batch, gates],
            )
            .a_transposed()
            .write(
                &mut d_weight[g * hidden * gates..(g + 1) * hidden * gates],
                Threads::One,
            );
        }
    }
    [d_weight, d_bias]
}

/// A peephole LSTM with an output projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmShape {
    pub batch: usize,
    pub frames: usize,
    pub hidden: usize,
    pub projection: usize,
}

impl LstmShape {
    /// Lengths of the projected inputs `[batch, frames, 4·hidden]`, the recurrent weights
    /// `[projection, 4·hidden]`, a peephole `[hidden]`, the projection `[hidden, projection]`
    /// and the output `[batch, frames, projection]`.
    pub fn lengths(&self) -> [usize; 5] {
        let gates = 4 * self.hidden;
        [
            self.batch * self.frames * gates,
            self.projection * gates,
            self.hidden,
            self.hidden * self.projection,
            self.batch * self.frames * self.projection,
        ]
    }

    fn rows(&self, rows: usize) -> Self {
        Self {
            batch: rows,
            ..*self
        }
    }
}

/// The LSTM's weights besides the input projection.
#[derive(Clone, Copy, Debug)]
pub struct LstmWeights<'a> {
    /// `[projection, 4·hidden]`, gates in the order input, forget, cell, output.
    pub weight_hh: &'a [f32],
    pub peephole_input: &'a [f32],
    pub peephole_forget: &'a [f32],
    pub peephole_output: &'a [f32],
    /// `[hidden, projection]`
    pub projection: &'a [f32],
}

impl<'a> LstmWeights<'a> {
    /// From `weight_hh`, the input, forget and output peepholes and the projection, in that
    /// order.
    pub fn from_parts(parts: [&'a [f32]; 5]) -> Self {
        let [
            weight_hh,
            peephole_input,
            peephole_forget,
            peephole_output,
            projection,
        ] = parts;
        Self {
            weight_hh,
            peephole_input,
            peephole_forget,
            peephole_output,
            projection,
        }
    }
}

/// What the LSTM's backward pass needs of its forward pass: per part of the batch, its rows,
/// the gates (input, forget, cell input, output), cells and `o ⊙ tanh(c)`, each
/// `[frames, rows, hidden]`, and the projected outputs `[frames, rows, projection]`.
#[derive(Clone, Debug)]
pub struct LstmSaved {
    parts: Vec<(Range<usize>, LstmPartSaved)>,
}

#[derive(Clone, Debug)]
struct LstmPartSaved {
    gates: Planes<6>,
    states: Vec<f32>,
}

/// One LSTM step of one batch row, every slice `hidden` long but `input` and `recurrent`
/// (`4·hidden`, gates input, forget, cell, output); `cell` goes from the previous cell to the
/// new one.
#[inline(always)]
fn lstm_step(
    input: &[f32],
    recurrent: &[f32],
    [peephole_input, peephole_forget, peephole_output]: [&[f32]; 3],
    cell: &mut [f32],
    [i_gate, f_gate, g_gate, o_gate, cells, unprojected]: [&mut [f32]; 6],
) {
    let n = cell.len();
    let (input, recurrent) = (&input[..4 * n], &recurrent[..4 * n]);
    let (p_i, p_f, p_o) = (
        &peephole_input[..n],
        &peephole_forget[..n],
        &peephole_output[..n],
    );
    let (i_gate, f_gate, g_gate) = (&mut i_gate[..n], &mut f_gate[..n], &mut g_gate[..n]);
    let (o_gate, cells, unprojected) = (&mut o_gate[..n], &mut cells[..n], &mut unprojected[..n]);
    for j in 0..n {
        let before = cell[j];
        let i = sigmoid(input[j] + recurrent[j] + before * p_i[j]);
        let f = sigmoid(input[n + j] + recurrent[n + j] + before * p_f[j]);
        let g = tanh(input[2 * n + j] + recurrent[2 * n + j]);
        let c = f * before + i * g;
        let o = sigmoid(input[3 * n + j] + recurrent[3 * n + j] + c * p_o[j]);
        i_gate[j] = i;
        f_gate[j] = f;
        g_gate[j] = g;
        o_gate[j] = o;
        cells[j] = c;
        unprojected[j] = o * tanh(c);
        cell[j] = c;
    }
}

/// One LSTM step backwards for one batch row: from the gradient reaching the cell's output
/// through the projection (`dm`) and the cell's carried gradient, the gates' gradients into
/// `d_gates` (`4·hidden`: input, forget, cell, output, before their nonlinearities); the
/// carried gradient goes back one frame and the peepholes' gradients accumulate.
///
/// The mutable slices are parameters of their own so that the compiler knows they do not
/// overlap and runs the loop in vector lanes (split from one buffer inside the caller, they
/// left it scalar).
#[inline(always)]
fn lstm_step_backward(
    [i_gate, f_gate, g_gate, o_gate, cells, before, dm]: [&[f32]; 7],
    [p_i, p_f, p_o]: [&[f32]; 3],
    carry_c: &mut [f32],
    dp_i: &mut [f32],
    dp_f: &mut [f32],
    dp_o: &mut [f32],
    d_gates: &mut [f32],
) {
    let n = carry_c.len();
    let (i_gate, f_gate, g_gate, o_gate) = (&i_gate[..n], &f_gate[..n], &g_gate[..n], &o_gate[..n]);
    let (cells, before, dm) = (&cells[..n], &before[..n], &dm[..n]);
    let (p_i, p_f, p_o) = (&p_i[..n], &p_f[..n], &p_o[..n]);
    let (dp_i, dp_f, dp_o) = (&mut dp_i[..n], &mut dp_f[..n], &mut dp_o[..n]);
    let (d_i, rest) = d_gates[..4 * n].split_at_mut(n);
    let (d_f, rest) = rest.split_at_mut(n);
    let (d_g, d_o) = rest.split_at_mut(n);
    for j in 0..n {
        let (i, f, g, o, c) = (i_gate[j], f_gate[j], g_gate[j], o_gate[j], cells[j]);
        let tanh_cell = tanh(c);
        let d_output = dm[j] * tanh_cell * o * (1.0 - o);
        let d_cell = carry_c[j] + dm[j] * o * (1.0 - tanh_cell * tanh_cell) + d_output * p_o[j];
        let d_in = d_cell * g * i * (1.0 - i);
        let d_forget = d_cell * before[j] * f * (1.0 - f);
        let d_cell_input = d_cell * i * (1.0 - g * g);
        carry_c[j] = d_cell * f + d_in * p_i[j] + d_forget * p_f[j];
        dp_i[j] += d_in * before[j];
        dp_f[j] += d_forget * before[j];
        dp_o[j] += d_output * c;
        d_i[j] = d_in;
        d_f[j] = d_forget;
        d_g[j] = d_cell_input;
        d_o[j] = d_output;
    }
}

/// The peephole LSTM recurrence with the input projections (bias included) given:
/// `projected` `[batch, frames, 4·hidden]` → `[batch, frames, projection]`, and the gates when
/// `keep` asks for them.
pub fn lstm_forward(
    shape: LstmShape,
    projected: &[f32],
    weights: LstmWeights<'_>,
    keep: bool,
) -> (Vec<f32>, Option<LstmSaved>) {
    lstm_forward_in_parts(shape, projected, weights, keep, threads())
}

fn lstm_forward_in_parts(
    shape: LstmShape,
    projected: &[f32],
    weights: LstmWeights<'_>,
    keep: bool,
    threads: usize,
) -> (Vec<f32>, Option<LstmSaved>) {
    let [projected_len, .., out_len] = shape.lengths();
    let rows = per_row(shape.batch, [projected_len, out_len]);
    let parts = batch_parts(shape.batch, threads);
    let (out, parts) = forward_by_parts(parts, rows, projected, |batch, input, out| {
        lstm_forward_part(shape.rows(batch), input, weights, out, keep)
    });
    (out, keep.then_some(LstmSaved { parts }))
}

crate::simd::widest_simd!(
    fn lstm_forward_part(
        shape: LstmShape,
        projected: &[f32],
        weights: LstmWeights<'_>,
        out: &mut [f32],
        keep: bool,
    ) -> LstmPartSaved => lstm_forward_part_body
);

#[inline(always)]
fn lstm_forward_part_body(
    shape: LstmShape,
    projected: &[f32],
    weights: LstmWeights<'_>,
    out: &mut [f32],
    keep: bool,
) -> LstmPartSaved {
    let LstmShape {
        batch,
        frames,
        hidden,
        projection,
    } = shape;
    let gates = 4 * hidden;
    let peepholes = [
        weights.peephole_input,
        weights.peephole_forget,
        weights.peephole_output,
    ];
    let mut saved = LstmPartSaved {
        gates: Planes::new(frames, batch * hidden, keep),
        states: vec![0.0; if keep { frames * batch * projection } else { 0 }],
    };
    let mut h = vec![0.0; batch * projection];
    let mut c = vec![0.0; batch * hidden];
    let mut recurrent = vec![0.0; batch * gates];
    for t in 0..frames {
        Product::new(&h, weights.weight_hh, [batch, projection, gates])
            .write(&mut recurrent, Threads::One);
        let mut step = saved.gates.step_mut(t);
        for b in 0..batch {
            let row = b * hidden..(b + 1) * hidden;
            lstm_step(
                &projected[(b * frames + t) * gates..][..gates],
                &recurrent[b * gates..(b + 1) * gates],
                peepholes,
                &mut c[row.clone()],
                step.each_mut().map(|plane| &mut plane[row.clone()]),
            );
        }
        let [.., unprojected] = step;
        Product::new(unprojected, weights.projection, [batch, hidden, projection])
            .write(&mut h, Threads::One);
        for b in 0..batch {
            out[(b * frames + t) * projection..][..projection]
                .copy_from_slice(&h[b * projection..(b + 1) * projection]);
        }
        if keep {
            saved.states[t * batch * projection..(t + 1) * batch * projection].copy_from_slice(&h);
        }
    }
    saved
}

/// Gradients of the peephole LSTM with respect to the projected inputs, `weight_hh`, the three
/// peepholes and the projection, given the output's (`[batch, frames, projection]`).
pub fn lstm_backward(
    shape: LstmShape,
    saved: &LstmSaved,
    weights: LstmWeights<'_>,
    d_out: &[f32],
) -> [Vec<f32>; 6] {
    let [projected_len, .., out_len] = shape.lengths();
    let rows = per_row(shape.batch, [projected_len, out_len]);
    let (hidden, projection) = (shape.hidden, shape.projection);
    let transposes = LstmTransposes {
        weight_hh: transposed(weights.weight_hh, projection, 4 * hidden),
        projection: transposed(weights.projection, hidden, projection),
    };
    let (d_projected, [d_weight, d_input, d_forget, d_output, d_projection]) =
        backward_by_parts(&saved.parts, rows, d_out, |batch, part, d_out, share| {
            lstm_backward_part(shape.rows(batch), part, weights, &transposes, d_out, share)
        });
    [
        d_projected,
        d_weight,
        d_input,
        d_forget,
        d_output,
        d_projection,
    ]
}

/// The recurrent weight and the projection transposed, as every frame of the backward pass
/// multiplies by them: stored so once per pass, gemm reads them in order at each frame instead
/// of gathering them again.
struct LstmTransposes {
    /// `[4·hidden, projection]`
    weight_hh: Vec<f32>,
    /// `[projection, hidden]`
    projection: Vec<f32>,
}

crate::simd::widest_simd!(
    /// The weights' gradients of one part: `weight_hh`, the three peepholes and the projection.
    fn lstm_backward_part(
        shape: LstmShape,
        saved: &LstmPartSaved,
        weights: LstmWeights<'_>,
        transposes: &LstmTransposes,
        d_out: &[f32],
        d_projected: &mut [f32],
    ) -> [Vec<f32>; 5] => lstm_backward_part_body
);

#[inline(always)]
fn lstm_backward_part_body(
    shape: LstmShape,
    saved: &LstmPartSaved,
    weights: LstmWeights<'_>,
    transposes: &LstmTransposes,
    d_out: &[f32],
    d_projected: &mut [f32],
) -> [Vec<f32>; 5] {
    let LstmShape {
        batch,
        frames,
        hidden,
        projection,
    } = shape;
    let gates = 4 * hidden;
    let [_, weight_len, peephole_len, projection_len, _] = shape.lengths();
    let mut d_weight = vec![0.0; weight_len];
    let mut d_peepholes = [
        vec![0.0; peephole_len],
        vec![0.0; peephole_len],
        vec![0.0; peephole_len],
    ];
    let mut d_projection = vec![0.0; projection_len];
    let mut carry_h = vec![0.0; batch * projection];
    let mut carry_c = vec![0.0; batch * hidden];
    let zeros = vec![0.0; batch * hidden];
    // Every frame's gradients of the output and of the gates, so that the projection's and the
    // recurrent weights' gradients, sums of one rank-`batch` product per frame, are one product
    // each after the loop.
    let mut d_states = vec![0.0; frames * batch * projection];
    let mut d_gates_all = vec![0.0; frames * batch * gates];
    let mut dm = vec![0.0; batch * hidden];
    for t in (0..frames).rev() {
        let dh = &mut d_states[t * batch * projection..(t + 1) * batch * projection];
        for b in 0..batch {
            let row = b * projection..(b + 1) * projection;
            let from_output = &d_out[(b * frames + t) * projection..][..projection];
            for ((d, from_output), carried) in dh[row.clone()]
                .iter_mut()
                .zip(from_output)
                .zip(&carry_h[row])
            {
                *d = from_output + carried;
            }
        }
        let d_gates = &mut d_gates_all[t * batch * gates..(t + 1) * batch * gates];
        Product::new(dh, &transposes.projection, [batch, projection, hidden])
            .write(&mut dm, Threads::One);
        let [i_gate, f_gate, g_gate, o_gate, cells, _] = saved.gates.step(t);
        let before = match t {
            0 => &zeros[..],
            _ => saved.gates.step(t - 1)[4],
        };
        let peepholes = [
            weights.peephole_input,
            weights.peephole_forget,
            weights.peephole_output,
        ];
        for b in 0..batch {
            let row = b * hidden..(b + 1) * hidden;
            let d_input = &mut d_projected[(b * frames + t) * gates..][..gates];
            let [dp_i, dp_f, dp_o] = &mut d_peepholes;
            lstm_step_backward(
                [i_gate, f_gate, g_gate, o_gate, cells, before, &dm].map(|v| &v[row.clone()]),
                peepholes,
                &mut carry_c[row],
                dp_i,
                dp_f,
                dp_o,
                d_input,
            );
            d_gates[b * gates..(b + 1) * gates].copy_from_slice(d_input);
        }
        // The first frame's state is the zero start, whose gradient nothing needs.
        if t > 0 {
            Product::new(d_gates, &transposes.weight_hh, [batch, gates, projection])
                .write(&mut carry_h, Threads::One);
        }
    }
    // Σ_t m_tᵀ·dh_t, and Σ_t h_{t−1}ᵀ·d_gates_t over frames 1.. (the states of frames 0..T−1
    // against the gradients of frames 1..T).
    Product::new(
        &saved.gates.values[5],
        &d_states,
        [hidden, frames * batch, projection],
    )
    .a_transposed()
    .write(&mut d_projection, Threads::One);
    if frames > 1 {
        Product::new(
            &saved.states[..(frames - 1) * batch * projection],
            &d_gates_all[batch * gates..],
            [projection, (frames - 1) * batch, gates],
        )
        .a_transposed()
        .write(&mut d_weight, Threads::One);
    }
    let [d_peephole_input, d_peephole_forget, d_peephole_output] = d_peepholes;
    [
        d_weight,
        d_peephole_input,
        d_peephole_forget,
        d_peephole_output,
        d_projection,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic values in ±0.5.
    fn values(count: usize, seed: u32) -> Vec<f32> {
        (0..count)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 1000.0
                    - 0.5
            })
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(a, b)| a * b).sum()
    }

    /// An analytic gradient against central differences of a weighted sum of the outputs, all
    /// in f32, with a step large enough that rounding stays small next to the slopes.
    fn check_gradient(analytic: &[f32], perturbed: impl Fn(usize, f32) -> f32, count: usize) {
        let step = 1e-2;
        for index in (0..count).step_by(count.div_ceil(12).max(1)) {
            let numeric = (perturbed(index, step) - perturbed(index, -step)) / (2.0 * step);
            let scale = numeric.abs().max(analytic[index].abs()).max(1e-2);
            assert!(
                (numeric - analytic[index]).abs() / scale < 2e-2,
                "index {index}: numeric {numeric}, analytic {}",
                analytic[index]
            );
        }
    }

    #[test]
    fn gru_backward_matches_finite_differences() {
        let shape = GruShape {
            batch: 2,
            frames: 5,
            grus: 2,
            hidden: 3,
        };
        let [p_len, w_len, b_len, out_len] = shape.lengths();
        let (projected, weight, bias) = (values(p_len, 3), values(w_len, 4), values(b_len, 5));
        let weighting = values(out_len, 6);
        let loss = |p: &[f32], w: &[f32], b: &[f32]| {
            dot(&gru_forward(shape, p, w, b, false).0, &weighting)
        };
        let (_, saved) = gru_forward(shape, &projected, &weight, &bias, true);
        let Some(saved) = saved else {
            panic!("the forward pass kept no gates")
        };
        let [d_p, d_w, d_b] = gru_backward(shape, &saved, &weight, &weighting);
        let nudge = |v: &[f32], i: usize, by: f32| {
            let mut v = v.to_vec();
            v[i] += by;
            v
        };
        check_gradient(
            &d_p,
            |i, by| loss(&nudge(&projected, i, by), &weight, &bias),
            p_len,
        );
        check_gradient(
            &d_w,
            |i, by| loss(&projected, &nudge(&weight, i, by), &bias),
            w_len,
        );
        check_gradient(
            &d_b,
            |i, by| loss(&projected, &weight, &nudge(&bias, i, by)),
            b_len,
        );
    }

    #[test]
    fn lstm_backward_matches_finite_differences() {
        let shape = LstmShape {
            batch: 2,
            frames: 5,
            hidden: 3,
            projection: 2,
        };
        let [p_len, w_len, peep_len, proj_len, out_len] = shape.lengths();
        let parts: Vec<Vec<f32>> = [p_len, w_len, peep_len, peep_len, peep_len, proj_len]
            .iter()
            .enumerate()
            .map(|(k, len)| values(*len, 10 + k as u32))
            .collect();
        let weighting = values(out_len, 20);
        let weights =
            |parts: &[Vec<f32>]| -> [Vec<f32>; 5] { std::array::from_fn(|k| parts[k + 1].clone()) };
        let loss = |parts: &[Vec<f32>]| {
            dot(
                &lstm_forward(
                    shape,
                    &parts[0],
                    LstmWeights::from_parts(weights(parts).each_ref().map(Vec::as_slice)),
                    false,
                )
                .0,
                &weighting,
            )
        };
        let rest = weights(&parts);
        let (_, saved) = lstm_forward(
            shape,
            &parts[0],
            LstmWeights::from_parts(rest.each_ref().map(Vec::as_slice)),
            true,
        );
        let Some(saved) = saved else {
            panic!("the forward pass kept no gates")
        };
        let grads = lstm_backward(
            shape,
            &saved,
            LstmWeights::from_parts(rest.each_ref().map(Vec::as_slice)),
            &weighting,
        );
        for (which, analytic) in grads.iter().enumerate() {
            check_gradient(
                analytic,
                |i, by| {
                    let mut nudged = parts.clone();
                    nudged[which][i] += by;
                    loss(&nudged)
                },
                parts[which].len(),
            );
        }
    }

    /// Cutting the batch into parts changes nothing but the order in which the weights'
    /// gradients are summed.
    #[test]
    fn parts_of_a_batch_give_the_whole_batch() {
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len(), "{what}");
            for (a, b) in a.iter().zip(b) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{what}: {a} against {b}"
                );
            }
        };
        let gru = GruShape {
            batch: 27,
            frames: 6,
            grus: 2,
            hidden: 5,
        };
        assert_eq!(batch_parts(gru.batch, 3), [0..9, 9..18, 18..27]);
        let [p_len, w_len, b_len, out_len] = gru.lengths();
        let (projected, weight, bias) = (values(p_len, 3), values(w_len, 4), values(b_len, 5));
        let d_out = values(out_len, 6);
        let [whole, parts] = [1, 3].map(|threads| {
            let (out, saved) = gru_forward_in_parts(gru, &projected, &weight, &bias, true, threads);
            let Some(saved) = saved else {
                panic!("the forward pass kept no gates")
            };
            assert_eq!(saved.parts.len(), threads);
            (out, gru_backward(gru, &saved, &weight, &d_out))
        });
        assert_eq!(whole.0, parts.0, "GRU output");
        for (k, (a, b)) in whole.1.iter().zip(&parts.1).enumerate() {
            close(b, a, &format!("GRU gradient {k}"));
        }

        let lstm = LstmShape {
            batch: 19,
            frames: 5,
            hidden: 4,
            projection: 3,
        };
        let lengths = lstm.lengths();
        let projected = values(lengths[0], 7);
        let rest: [Vec<f32>; 5] =
            std::array::from_fn(|k| values(lengths[[1, 2, 2, 2, 3][k]], 8 + k as u32));
        let weights = LstmWeights::from_parts(rest.each_ref().map(Vec::as_slice));
        let d_out = values(lengths[4], 13);
        let [whole, parts] = [1, 2].map(|threads| {
            let (out, saved) = lstm_forward_in_parts(lstm, &projected, weights, true, threads);
            let Some(saved) = saved else {
                panic!("the forward pass kept no gates")
            };
            assert_eq!(saved.parts.len(), threads);
            (out, lstm_backward(lstm, &saved, weights, &d_out))
        });
        assert_eq!(whole.0, parts.0, "LSTM output");
        for (k, (a, b)) in whole.1.iter().zip(&parts.1).enumerate() {
            close(b, a, &format!("LSTM gradient {k}"));
        }
        // Without keeping the gates the outputs are the same.
        let (out, saved) = lstm_forward_in_parts(lstm, &projected, weights, false, 2);
        assert!(saved.is_none());
        assert_eq!(out, whole.0);
    }
}
