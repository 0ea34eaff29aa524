//! The recurrences of the GRU and the peephole LSTM over a whole sequence on plain `f32`
//! buffers, with their backward passes (backpropagation through time over the gates saved by
//! the forward pass). Per frame this is one small matrix product and a loop of gate arithmetic,
//! where burn's autodiff graph would hold about twenty nodes.
//!
//! Layouts are row-major. `batch`, `frames` and the widths come from the tensors' shapes, which
//! the caller checks against the buffers' lengths.

/// `out = a·b` (or `out += a·b`), `a` being `m × k` and `b` `k × n`; either may be given
/// transposed, as stored: `a` as `k × m`, `b` as `n × k`.
#[allow(clippy::too_many_arguments)]
fn matmul(
    out: &mut [f32],
    accumulate: bool,
    a: &[f32],
    a_transposed: bool,
    b: &[f32],
    b_transposed: bool,
    [m, k, n]: [usize; 3],
) {
    let size = |rows: usize, columns: usize| rows.checked_mul(columns).unwrap_or(usize::MAX);
    assert!(out.len() >= size(m, n) && a.len() >= size(m, k) && b.len() >= size(k, n));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    let (a_row, a_column) = match a_transposed {
        false => (k, 1),
        true => (1, m),
    };
    let (b_row, b_column) = match b_transposed {
        false => (n, 1),
        true => (1, k),
    };
    // SAFETY: the assertion above keeps every element gemm reads or writes, at the strides
    // given, inside the three slices; `out` is borrowed mutably, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_column as isize,
            a_row as isize,
            b.as_ptr(),
            b_column as isize,
            b_row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
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
}

/// What the GRU's backward pass needs of its forward pass, each `[grus, steps, batch, hidden]`
/// in the order each GRU took its steps.
#[derive(Clone, Debug)]
pub struct GruSaved {
    reset: Vec<f32>,
    update: Vec<f32>,
    candidate: Vec<f32>,
    /// The candidate's recurrent term `U_n·h + b_n`, before the reset gate scales it.
    recurrent_candidate: Vec<f32>,
    states: Vec<f32>,
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
    let GruShape {
        batch,
        frames,
        grus,
        hidden,
    } = shape;
    let gates = 3 * hidden;
    let [_, _, _, out_len] = shape.lengths();
    let mut out = vec![0.0; out_len];
    let saved_len = if keep { out_len } else { 0 };
    let mut saved = GruSaved {
        reset: vec![0.0; saved_len],
        update: vec![0.0; saved_len],
        candidate: vec![0.0; saved_len],
        recurrent_candidate: vec![0.0; saved_len],
        states: vec![0.0; saved_len],
    };
    let mut h = vec![0.0; batch * hidden];
    let mut recurrent = vec![0.0; batch * gates];
    for g in 0..grus {
        h.fill(0.0);
        let weight = &weight_hh[g * hidden * gates..(g + 1) * hidden * gates];
        let bias = &bias_hh[g * gates..(g + 1) * gates];
        for s in 0..frames {
            let t = shape.frame(g, s);
            matmul(
                &mut recurrent,
                false,
                &h,
                false,
                weight,
                false,
                [batch, hidden, gates],
            );
            for b in 0..batch {
                let input = &projected[((b * frames + t) * grus + g) * gates..][..gates];
                let rec = &recurrent[b * gates..(b + 1) * gates];
                let at = ((g * frames + s) * batch + b) * hidden;
                for j in 0..hidden {
                    let reset = sigmoid(input[j] + rec[j] + bias[j]);
                    let update = sigmoid(input[hidden + j] + rec[hidden + j] + bias[hidden + j]);
                    let recurrent_candidate = rec[2 * hidden + j] + bias[2 * hidden + j];
                    let candidate = (input[2 * hidden + j] + reset * recurrent_candidate).tanh();
                    let state = candidate + update * (h[b * hidden + j] - candidate);
                    h[b * hidden + j] = state;
                    out[(b * frames + t) * grus * hidden + g * hidden + j] = state;
                    if keep {
                        saved.reset[at + j] = reset;
                        saved.update[at + j] = update;
                        saved.candidate[at + j] = candidate;
                        saved.recurrent_candidate[at + j] = recurrent_candidate;
                        saved.states[at + j] = state;
                    }
                }
            }
        }
    }
    (out, keep.then_some(saved))
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
    let GruShape {
        batch,
        frames,
        grus,
        hidden,
    } = shape;
    let gates = 3 * hidden;
    let [projected_len, weight_len, bias_len, _] = shape.lengths();
    let mut d_projected = vec![0.0; projected_len];
    let mut d_weight = vec![0.0; weight_len];
    let mut d_bias = vec![0.0; bias_len];
    let mut carry = vec![0.0; batch * hidden];
    // Every step's gradient of the recurrent term, so that the weights' gradient, a sum of one
    // rank-`batch` product per step, is one product after the loop.
    let mut d_recurrent = vec![0.0; frames * batch * gates];
    for g in 0..grus {
        carry.fill(0.0);
        let weight = &weight_hh[g * hidden * gates..(g + 1) * hidden * gates];
        for s in (0..frames).rev() {
            let t = shape.frame(g, s);
            let step = (g * frames + s) * batch * hidden;
            let previous = (s > 0).then(|| &saved.states[step - batch * hidden..step]);
            let d_step = &mut d_recurrent[s * batch * gates..(s + 1) * batch * gates];
            for b in 0..batch {
                let at = step + b * hidden;
                let d_input = &mut d_projected[((b * frames + t) * grus + g) * gates..][..gates];
                let d_rec = &mut d_step[b * gates..(b + 1) * gates];
                for j in 0..hidden {
                    let dh = d_out[(b * frames + t) * grus * hidden + g * hidden + j]
                        + carry[b * hidden + j];
                    let reset = saved.reset[at + j];
                    let update = saved.update[at + j];
                    let candidate = saved.candidate[at + j];
                    let before = previous.map_or(0.0, |p| p[b * hidden + j]);
                    let d_candidate = dh * (1.0 - update) * (1.0 - candidate * candidate);
                    let d_update = dh * (before - candidate) * update * (1.0 - update);
                    let d_reset =
                        d_candidate * saved.recurrent_candidate[at + j] * reset * (1.0 - reset);
                    d_input[j] = d_reset;
                    d_input[hidden + j] = d_update;
                    d_input[2 * hidden + j] = d_candidate;
                    d_rec[j] = d_reset;
                    d_rec[hidden + j] = d_update;
                    d_rec[2 * hidden + j] = d_candidate * reset;
                    carry[b * hidden + j] = dh * update;
                }
            }
            // The first step's state is the zero start, whose gradient nothing needs.
            if s > 0 {
                matmul(
                    &mut carry,
                    true,
                    d_step,
                    false,
                    weight,
                    true,
                    [batch, gates, hidden],
                );
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
                &saved.states[g * frames * batch * hidden..][..(frames - 1) * batch * hidden];
            matmul(
                &mut d_weight[g * hidden * gates..(g + 1) * hidden * gates],
                false,
                states,
                true,
                &d_recurrent[batch * gates..],
                false,
                [hidden, (frames - 1) * batch, gates],
            );
        }
    }
    [d_projected, d_weight, d_bias]
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
    pub fn from_parts(parts: &'a [Vec<f32>; 5]) -> Self {
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

/// What the LSTM's backward pass needs of its forward pass: gates, cells and `o ⊙ tanh(c)`,
/// each `[frames, batch, hidden]`, and the projected outputs `[frames, batch, projection]`.
#[derive(Clone, Debug)]
pub struct LstmSaved {
    input: Vec<f32>,
    forget: Vec<f32>,
    cell_input: Vec<f32>,
    output: Vec<f32>,
    cells: Vec<f32>,
    unprojected: Vec<f32>,
    states: Vec<f32>,
}

/// The peephole LSTM recurrence with the input projections (bias included) given:
/// `projected` `[batch, frames, 4·hidden]` → `[batch, frames, projection]`, and the gates when
/// `keep` asks for them.
pub fn lstm_forward(
    shape: LstmShape,
    projected: &[f32],
    weights: LstmWeights,
    keep: bool,
) -> (Vec<f32>, Option<LstmSaved>) {
    let LstmShape {
        batch,
        frames,
        hidden,
        projection,
    } = shape;
    let gates = 4 * hidden;
    let [.., out_len] = shape.lengths();
    let mut out = vec![0.0; out_len];
    let cells_len = if keep { frames * batch * hidden } else { 0 };
    let mut saved = LstmSaved {
        input: vec![0.0; cells_len],
        forget: vec![0.0; cells_len],
        cell_input: vec![0.0; cells_len],
        output: vec![0.0; cells_len],
        cells: vec![0.0; cells_len],
        unprojected: vec![0.0; cells_len],
        states: vec![0.0; if keep { out_len } else { 0 }],
    };
    let mut h = vec![0.0; batch * projection];
    let mut c = vec![0.0; batch * hidden];
    let mut m = vec![0.0; batch * hidden];
    let mut recurrent = vec![0.0; batch * gates];
    for t in 0..frames {
        matmul(
            &mut recurrent,
            false,
            &h,
            false,
            weights.weight_hh,
            false,
            [batch, projection, gates],
        );
        for b in 0..batch {
            let x = &projected[(b * frames + t) * gates..][..gates];
            let rec = &recurrent[b * gates..(b + 1) * gates];
            let at = (t * batch + b) * hidden;
            for j in 0..hidden {
                let before = c[b * hidden + j];
                let input = sigmoid(x[j] + rec[j] + before * weights.peephole_input[j]);
                let forget =
                    sigmoid(x[hidden + j] + rec[hidden + j] + before * weights.peephole_forget[j]);
                let cell_input = (x[2 * hidden + j] + rec[2 * hidden + j]).tanh();
                let cell = forget * before + input * cell_input;
                let output = sigmoid(
                    x[3 * hidden + j] + rec[3 * hidden + j] + cell * weights.peephole_output[j],
                );
                c[b * hidden + j] = cell;
                m[b * hidden + j] = output * cell.tanh();
                if keep {
                    saved.input[at + j] = input;
                    saved.forget[at + j] = forget;
                    saved.cell_input[at + j] = cell_input;
                    saved.output[at + j] = output;
                    saved.cells[at + j] = cell;
                    saved.unprojected[at + j] = m[b * hidden + j];
                }
            }
        }
        matmul(
            &mut h,
            false,
            &m,
            false,
            weights.projection,
            false,
            [batch, hidden, projection],
        );
        for b in 0..batch {
            out[(b * frames + t) * projection..][..projection]
                .copy_from_slice(&h[b * projection..(b + 1) * projection]);
        }
        if keep {
            saved.states[t * batch * projection..(t + 1) * batch * projection].copy_from_slice(&h);
        }
    }
    (out, keep.then_some(saved))
}

/// Gradients of the peephole LSTM with respect to the projected inputs, `weight_hh`, the three
/// peepholes and the projection, given the output's (`[batch, frames, projection]`).
pub fn lstm_backward(
    shape: LstmShape,
    saved: &LstmSaved,
    weights: LstmWeights,
    d_out: &[f32],
) -> [Vec<f32>; 6] {
    let LstmShape {
        batch,
        frames,
        hidden,
        projection,
    } = shape;
    let gates = 4 * hidden;
    let [projected_len, weight_len, peephole_len, projection_len, _] = shape.lengths();
    let mut d_projected = vec![0.0; projected_len];
    let mut d_weight = vec![0.0; weight_len];
    let mut d_peepholes = [
        vec![0.0; peephole_len],
        vec![0.0; peephole_len],
        vec![0.0; peephole_len],
    ];
    let mut d_projection = vec![0.0; projection_len];
    let mut carry_h = vec![0.0; batch * projection];
    let mut carry_c = vec![0.0; batch * hidden];
    // Every frame's gradients of the output and of the gates, so that the projection's and the
    // recurrent weights' gradients, sums of one rank-`batch` product per frame, are one product
    // each after the loop.
    let mut d_states = vec![0.0; frames * batch * projection];
    let mut d_gates_all = vec![0.0; frames * batch * gates];
    let mut dm = vec![0.0; batch * hidden];
    for t in (0..frames).rev() {
        let cells = t * batch * hidden..(t + 1) * batch * hidden;
        let dh = &mut d_states[t * batch * projection..(t + 1) * batch * projection];
        for b in 0..batch {
            for p in 0..projection {
                dh[b * projection + p] =
                    d_out[(b * frames + t) * projection + p] + carry_h[b * projection + p];
            }
        }
        let d_gates = &mut d_gates_all[t * batch * gates..(t + 1) * batch * gates];
        matmul(
            &mut dm,
            false,
            dh,
            false,
            weights.projection,
            true,
            [batch, projection, hidden],
        );
        for b in 0..batch {
            let at = cells.start + b * hidden;
            let d_input = &mut d_projected[(b * frames + t) * gates..][..gates];
            for j in 0..hidden {
                let input = saved.input[at + j];
                let forget = saved.forget[at + j];
                let cell_input = saved.cell_input[at + j];
                let output = saved.output[at + j];
                let cell = saved.cells[at + j];
                let before = match t {
                    0 => 0.0,
                    _ => saved.cells[at - batch * hidden + j],
                };
                let tanh_cell = cell.tanh();
                let d_m = dm[b * hidden + j];
                let d_output = d_m * tanh_cell * output * (1.0 - output);
                let d_cell = carry_c[b * hidden + j]
                    + d_m * output * (1.0 - tanh_cell * tanh_cell)
                    + d_output * weights.peephole_output[j];
                let d_in = d_cell * cell_input * input * (1.0 - input);
                let d_forget = d_cell * before * forget * (1.0 - forget);
                let d_cell_input = d_cell * input * (1.0 - cell_input * cell_input);
                carry_c[b * hidden + j] = d_cell * forget
                    + d_in * weights.peephole_input[j]
                    + d_forget * weights.peephole_forget[j];
                d_peepholes[0][j] += d_in * before;
                d_peepholes[1][j] += d_forget * before;
                d_peepholes[2][j] += d_output * cell;
                for (gate, d) in [d_in, d_forget, d_cell_input, d_output]
                    .into_iter()
                    .enumerate()
                {
                    d_input[gate * hidden + j] = d;
                    d_gates[b * gates + gate * hidden + j] = d;
                }
            }
        }
        // The first frame's state is the zero start, whose gradient nothing needs.
        if t > 0 {
            matmul(
                &mut carry_h,
                false,
                d_gates,
                false,
                weights.weight_hh,
                true,
                [batch, gates, projection],
            );
        }
    }
    // Σ_t m_tᵀ·dh_t, and Σ_t h_{t−1}ᵀ·d_gates_t over frames 1.. (the states of frames 0..T−1
    // against the gradients of frames 1..T).
    matmul(
        &mut d_projection,
        false,
        &saved.unprojected,
        true,
        &d_states,
        false,
        [hidden, frames * batch, projection],
    );
    if frames > 1 {
        matmul(
            &mut d_weight,
            false,
            &saved.states[..(frames - 1) * batch * projection],
            true,
            &d_gates_all[batch * gates..],
            false,
            [projection, (frames - 1) * batch, gates],
        );
    }
    let [d_peephole_input, d_peephole_forget, d_peephole_output] = d_peepholes;
    [
        d_projected,
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

    /// `matmul` against the definition, for every transposition and with accumulation.
    #[test]
    fn matmul_matches_the_definition() {
        let [m, k, n] = [3, 4, 5];
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let at = |i: usize, l: usize| if a_t { a[l * m + i] } else { a[i * k + l] };
            let bt = |l: usize, j: usize| if b_t { b[j * k + l] } else { b[l * n + j] };
            let mut out = vec![1.0; m * n];
            matmul(&mut out, true, &a, a_t, &b, b_t, [m, k, n]);
            for i in 0..m {
                for j in 0..n {
                    let expected: f32 = 1.0 + (0..k).map(|l| at(i, l) * bt(l, j)).sum::<f32>();
                    assert!((out[i * n + j] - expected).abs() < 1e-5);
                }
            }
        }
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
                    LstmWeights::from_parts(&weights(parts)),
                    false,
                )
                .0,
                &weighting,
            )
        };
        let rest = weights(&parts);
        let (_, saved) = lstm_forward(shape, &parts[0], LstmWeights::from_parts(&rest), true);
        let Some(saved) = saved else {
            panic!("the forward pass kept no gates")
        };
        let grads = lstm_backward(shape, &saved, LstmWeights::from_parts(&rest), &weighting);
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
}
