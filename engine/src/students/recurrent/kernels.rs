//! The GRU recurrence and its backward pass as cubecl kernels, the GPU's counterpart of
//! [`super::scan`]: one launch runs a whole sequence, where burn's graph would launch about
//! twenty operations per frame.
//!
//! A cube (workgroup) holds one batch row of one GRU and walks its frames in order; its units
//! share the state in workgroup memory and each computes the gates of every `CUBE_DIM`-th hidden
//! unit, with a barrier between frames. Batch rows and GRUs (the two directions) are the cubes
//! of one launch, independent of each other.
//!
//! A launch takes `count` steps from step `first` and leaves what the next launch starts from
//! in `carry`, so that the caller can cut a sequence into launches: Mesa's software Vulkan
//! driver (llvmpipe, the GPU of machines without one) stops a shader after 65,535 loop
//! iterations counted over all its loops, and a whole clip's recurrence would pass that.
//!
//! No kernel binds more than seven tensors: WebGPU promises eight storage buffers to a shader,
//! and cubecl takes one for itself (the LSTM's weights travel in one buffer for that).
//!
//! Layouts are row-major and contiguous: the caller makes them so.

use cubecl::prelude::*;

/// `tanh` on an argument clamped to ±15, where `tanh` is ±1 in `f32`: some WGSL
/// implementations return NaN for large arguments.
#[cube]
fn bounded_tanh(x: f32) -> f32 {
    x.clamp(-15.0, 15.0).tanh()
}

#[cube]
fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The frame a GRU reads at its step `s`: the first GRU forward in time, a second backward.
#[cube]
fn frame_of_step(gru: usize, step: usize, frames: usize) -> usize {
    if gru == 0 { step } else { frames - 1 - step }
}

/// The GRU recurrence of [`super::scan::gru_forward`] (reset gate after the hidden product).
///
/// - `projected`: `[batch, frames, grus, 3·hidden]`, gates reset, update, new
/// - `weight_hh`: `[grus, hidden, 3·hidden]`, `bias_hh`: `[grus, 3·hidden]`
/// - `out`: `[batch, frames, grus·hidden]`, each state aligned with the frame it read
/// - with `keep`: `gates` `[grus, steps, batch, 4·hidden]` (reset, update, candidate and the
///   candidate's recurrent term `U_n·h + b_n`) and `states` `[grus, steps, batch, hidden]`, in
///   the order each GRU took its steps; without, they are not written.
///
/// - `carry`: `[grus, batch, hidden]`, the state after the launch's last step, read back
///   by the next launch
///
/// Cubes: `(batch, grus)`. Workgroup memory: `2·hidden` values.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn gru_forward(
    projected: &Tensor<f32>,
    weight_hh: &Tensor<f32>,
    bias_hh: &Tensor<f32>,
    out: &mut Tensor<f32>,
    gates: &mut Tensor<f32>,
    states: &mut Tensor<f32>,
    carry: &mut Tensor<f32>,
    frames: usize,
    first: usize,
    count: usize,
    #[comptime] hidden: usize,
    #[comptime] keep: bool,
) {
    let row = CUBE_POS_X as usize;
    let gru = CUBE_POS_Y as usize;
    let batch = CUBE_COUNT_X as usize;
    let grus = CUBE_COUNT_Y as usize;
    let units = CUBE_DIM_X as usize;
    let width = 3 * hidden;
    let weights = gru * hidden * width;
    let biases = gru * width;
    // The state in [0, hidden), the next one in [hidden, 2·hidden) until every unit has read
    // the state.
    let mut state = Shared::<[f32]>::new_slice(2 * hidden);
    let carried = (gru * batch + row) * hidden;
    let mut j = UNIT_POS_X as usize;
    while j < hidden {
        let mut h = 0.0;
        if first > 0 {
            h = carry[carried + j];
        }
        state[j] = h;
        j += units;
    }
    sync_cube();
    for step in first..first + count {
        let t = frame_of_step(gru, step, frames);
        let input = ((row * frames + t) * grus + gru) * width;
        let saved = (gru * frames + step) * batch + row;
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let mut reset = bias_hh[biases + j];
            let mut update = bias_hh[biases + hidden + j];
            let mut recurrent = bias_hh[biases + 2 * hidden + j];
            for k in 0..hidden {
                let h = state[k];
                let w = weights + k * width + j;
                reset += h * weight_hh[w];
                update += h * weight_hh[w + hidden];
                recurrent += h * weight_hh[w + 2 * hidden];
            }
            let r = logistic(projected[input + j] + reset);
            let z = logistic(projected[input + hidden + j] + update);
            let c = bounded_tanh(projected[input + 2 * hidden + j] + r * recurrent);
            let h = c + z * (state[j] - c);
            state[hidden + j] = h;
            out[(row * frames + t) * grus * hidden + gru * hidden + j] = h;
            if keep {
                let g = saved * 4 * hidden;
                gates[g + j] = r;
                gates[g + hidden + j] = z;
                gates[g + 2 * hidden + j] = c;
                gates[g + 3 * hidden + j] = recurrent;
                states[saved * hidden + j] = h;
            }
            j += units;
        }
        sync_cube();
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            state[j] = state[hidden + j];
            j += units;
        }
        sync_cube();
    }
    let mut j = UNIT_POS_X as usize;
    while j < hidden {
        carry[carried + j] = state[j];
        j += units;
    }
}

/// Backpropagation through time over what [`gru_forward`] kept, as
/// [`super::scan::gru_backward`]: from the output's gradient `d_out`
/// (`[batch, frames, grus·hidden]`), the gradient of the projected inputs `d_projected`
/// (`[batch, frames, grus, 3·hidden]`) and every step's gradient of the recurrent term
/// `d_recurrent` (`[grus, steps, batch, 3·hidden]`, the new gate's scaled by the reset gate),
/// from which the caller sums the recurrent weights' and biases' gradients.
///
/// - `weight_hh_t`: the recurrent weights transposed, `[grus, 3·hidden, hidden]`, so that the
///   units read them in order
///
/// - `carry`: `[grus, batch, hidden]`, the state's gradient carried to the step before the
///   launch's last, read back by the next launch
///
/// The launch takes `count` steps backwards, from step `frames − 1 − first` down.
///
/// Cubes: `(batch, grus)`. Workgroup memory: `4·hidden` values.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn gru_backward(
    gates: &Tensor<f32>,
    states: &Tensor<f32>,
    weight_hh_t: &Tensor<f32>,
    d_out: &Tensor<f32>,
    d_projected: &mut Tensor<f32>,
    d_recurrent: &mut Tensor<f32>,
    carry: &mut Tensor<f32>,
    frames: usize,
    first: usize,
    count: usize,
    #[comptime] hidden: usize,
) {
    let row = CUBE_POS_X as usize;
    let gru = CUBE_POS_Y as usize;
    let batch = CUBE_COUNT_X as usize;
    let grus = CUBE_COUNT_Y as usize;
    let units = CUBE_DIM_X as usize;
    let width = 3 * hidden;
    let weights = gru * width * hidden;
    // The step's gradient of the recurrent term in [0, 3·hidden); in [3·hidden, 4·hidden) the
    // part of the state's gradient carried to the step before that skips the weights.
    let mut shared = Shared::<[f32]>::new_slice(4 * hidden);
    let carried = (gru * batch + row) * hidden;
    let mut j = UNIT_POS_X as usize;
    while j < hidden {
        let mut d = 0.0;
        if first > 0 {
            d = carry[carried + j];
        }
        shared[width + j] = d;
        j += units;
    }
    sync_cube();
    for back in first..first + count {
        let step = frames - 1 - back;
        let t = frame_of_step(gru, step, frames);
        let saved = (gru * frames + step) * batch + row;
        let g = saved * 4 * hidden;
        let d_input = ((row * frames + t) * grus + gru) * width;
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let dh =
                d_out[(row * frames + t) * grus * hidden + gru * hidden + j] + shared[width + j];
            let r = gates[g + j];
            let z = gates[g + hidden + j];
            let c = gates[g + 2 * hidden + j];
            let recurrent = gates[g + 3 * hidden + j];
            let mut before = 0.0;
            if step > 0 {
                before = states[(saved - batch) * hidden + j];
            }
            let d_candidate = dh * (1.0 - z) * (1.0 - c * c);
            let d_update = dh * (before - c) * z * (1.0 - z);
            let d_reset = d_candidate * recurrent * r * (1.0 - r);
            d_projected[d_input + j] = d_reset;
            d_projected[d_input + hidden + j] = d_update;
            d_projected[d_input + 2 * hidden + j] = d_candidate;
            let d_rec = saved * width;
            d_recurrent[d_rec + j] = d_reset;
            d_recurrent[d_rec + hidden + j] = d_update;
            d_recurrent[d_rec + 2 * hidden + j] = d_candidate * r;
            shared[j] = d_reset;
            shared[hidden + j] = d_update;
            shared[2 * hidden + j] = d_candidate * r;
            shared[width + j] = dh * z;
            j += units;
        }
        sync_cube();
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let mut sum = shared[width + j];
            for k in 0..width {
                sum += shared[k] * weight_hh_t[weights + k * hidden + j];
            }
            shared[width + j] = sum;
            j += units;
        }
        sync_cube();
    }
    let mut j = UNIT_POS_X as usize;
    while j < hidden {
        carry[carried + j] = shared[width + j];
        j += units;
    }
}

/// The peephole LSTM recurrence of [`super::scan::lstm_forward`].
///
/// - `projected`: `[batch, frames, 4·hidden]`, gates input, forget, cell, output
/// - `weights`: `weight_hh` `[projection, 4·hidden]`, the input, forget and output peepholes
///   `[hidden]` each and the projection `[hidden, projection]`, one after another in one buffer
///   
/// - `out`: `[batch, frames, projection]`
/// - with `keep`: `gates` `[frames, batch, 6·hidden]` (the four gates, the cell and
///   `o ⊙ tanh(c)`); without, it is not written
/// - `carry`: `[batch, projection + hidden]`, the state and the cell after the launch's last
///   frame, read back by the next launch
///
/// Cubes: one per batch row. Workgroup memory: `projection + 2·hidden` values.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward(
    projected: &Tensor<f32>,
    weights: &Tensor<f32>,
    out: &mut Tensor<f32>,
    gates: &mut Tensor<f32>,
    carry: &mut Tensor<f32>,
    frames: usize,
    first: usize,
    count: usize,
    #[comptime] hidden: usize,
    #[comptime] projection: usize,
    #[comptime] keep: bool,
) {
    let row = CUBE_POS_X as usize;
    let batch = CUBE_COUNT_X as usize;
    let units = CUBE_DIM_X as usize;
    let width = 4 * hidden;
    let peepholes = projection * width;
    let projection_weight = peepholes + 3 * hidden;
    // The state in [0, projection), the cell in [projection, projection + hidden) and
    // `o ⊙ tanh(c)` after it.
    let mut shared = Shared::<[f32]>::new_slice(projection + 2 * hidden);
    let cell = projection;
    let unprojected = projection + hidden;
    let carried = row * (projection + hidden);
    let mut j = UNIT_POS_X as usize;
    while j < projection + hidden {
        let mut value = 0.0;
        if first > 0 {
            value = carry[carried + j];
        }
        shared[j] = value;
        j += units;
    }
    sync_cube();
    for t in first..first + count {
        let input = (row * frames + t) * width;
        let saved = t * batch + row;
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let mut to_input = projected[input + j];
            let mut to_forget = projected[input + hidden + j];
            let mut to_cell = projected[input + 2 * hidden + j];
            let mut to_output = projected[input + 3 * hidden + j];
            for k in 0..projection {
                let h = shared[k];
                let w = k * width + j;
                to_input += h * weights[w];
                to_forget += h * weights[w + hidden];
                to_cell += h * weights[w + 2 * hidden];
                to_output += h * weights[w + 3 * hidden];
            }
            let before = shared[cell + j];
            let i = logistic(to_input + before * weights[peepholes + j]);
            let f = logistic(to_forget + before * weights[peepholes + hidden + j]);
            let g = bounded_tanh(to_cell);
            let c = f * before + i * g;
            let o = logistic(to_output + c * weights[peepholes + 2 * hidden + j]);
            let m = o * bounded_tanh(c);
            shared[cell + j] = c;
            shared[unprojected + j] = m;
            if keep {
                let s = saved * 6 * hidden;
                gates[s + j] = i;
                gates[s + hidden + j] = f;
                gates[s + 2 * hidden + j] = g;
                gates[s + 3 * hidden + j] = o;
                gates[s + 4 * hidden + j] = c;
                gates[s + 5 * hidden + j] = m;
            }
            j += units;
        }
        sync_cube();
        let mut p = UNIT_POS_X as usize;
        while p < projection {
            let mut h = 0.0;
            for k in 0..hidden {
                h += shared[unprojected + k] * weights[projection_weight + k * projection + p];
            }
            shared[p] = h;
            out[(row * frames + t) * projection + p] = h;
            p += units;
        }
        sync_cube();
    }
    let mut j = UNIT_POS_X as usize;
    while j < projection + hidden {
        carry[carried + j] = shared[j];
        j += units;
    }
}

/// Backpropagation through time over what [`lstm_forward`] kept, as
/// [`super::scan::lstm_backward`]: from the output's gradient `d_out`
/// (`[batch, frames, projection]`), the gradient of the projected inputs `d_projected`
/// (`[batch, frames, 4·hidden]`, the gates before their nonlinearities), every frame's
/// gradient of the state `d_states` (`[frames, batch, projection]`) and each row's share of the
/// peepholes' gradients, from which the caller sums the weights' gradients.
///
/// - `weights_t`: `weight_hh` transposed `[4·hidden, projection]`, the three peepholes
///   `[hidden]` each and the projection transposed `[projection, hidden]`, one after another in
///   one buffer (the products' weights transposed so that the units read them in order)
/// - `rows`: `[batch, projection + 4·hidden]`, per row the state's gradient carried to the frame
///   before (`projection`), the cell's (`hidden`, also working memory of each unit's own hidden
///   units) and the row's share of the input, forget and output peepholes' gradients
///   (`3·hidden`); the carried gradients are read back by the next launch, and the peepholes'
///   add up over launches
///
/// The launch takes `count` frames backwards, from frame `frames − 1 − first` down.
///
/// Cubes: one per batch row. Workgroup memory: `2·projection + 4·hidden` values.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward(
    gates: &Tensor<f32>,
    weights_t: &Tensor<f32>,
    d_out: &Tensor<f32>,
    d_projected: &mut Tensor<f32>,
    d_states: &mut Tensor<f32>,
    rows: &mut Tensor<f32>,
    frames: usize,
    first: usize,
    count: usize,
    #[comptime] hidden: usize,
    #[comptime] projection: usize,
) {
    let row = CUBE_POS_X as usize;
    let batch = CUBE_COUNT_X as usize;
    let units = CUBE_DIM_X as usize;
    let width = 4 * hidden;
    // The state's gradient carried to the frame before in [0, projection), this frame's in
    // [projection, 2·projection), the gates' after them.
    let mut shared = Shared::<[f32]>::new_slice(2 * projection + width);
    let d_state = projection;
    let d_gates = 2 * projection;
    let peepholes = width * projection;
    let projection_t = peepholes + 3 * hidden;
    let carried_state = row * (projection + width);
    let carried_cell = carried_state + projection;
    let d_peepholes = carried_cell + hidden;
    let mut p = UNIT_POS_X as usize;
    while p < projection {
        let mut d = 0.0;
        if first > 0 {
            d = rows[carried_state + p];
        }
        shared[p] = d;
        p += units;
    }
    if first == 0 {
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            rows[carried_cell + j] = 0.0;
            rows[d_peepholes + j] = 0.0;
            rows[d_peepholes + hidden + j] = 0.0;
            rows[d_peepholes + 2 * hidden + j] = 0.0;
            j += units;
        }
    }
    for back in first..first + count {
        let t = frames - 1 - back;
        let saved = (t * batch + row) * 6 * hidden;
        let mut p = UNIT_POS_X as usize;
        while p < projection {
            let dh = d_out[(row * frames + t) * projection + p] + shared[p];
            shared[d_state + p] = dh;
            d_states[(t * batch + row) * projection + p] = dh;
            p += units;
        }
        sync_cube();
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let mut dm = 0.0;
            for k in 0..projection {
                dm += shared[d_state + k] * weights_t[projection_t + k * hidden + j];
            }
            let i = gates[saved + j];
            let f = gates[saved + hidden + j];
            let g = gates[saved + 2 * hidden + j];
            let o = gates[saved + 3 * hidden + j];
            let c = gates[saved + 4 * hidden + j];
            let mut before = 0.0;
            if t > 0 {
                before = gates[saved - batch * 6 * hidden + 4 * hidden + j];
            }
            let tanh_cell = bounded_tanh(c);
            let d_output = dm * tanh_cell * o * (1.0 - o);
            let d_cell = rows[carried_cell + j]
                + dm * o * (1.0 - tanh_cell * tanh_cell)
                + d_output * weights_t[peepholes + 2 * hidden + j];
            let d_in = d_cell * g * i * (1.0 - i);
            let d_forget = d_cell * before * f * (1.0 - f);
            let d_cell_input = d_cell * i * (1.0 - g * g);
            rows[carried_cell + j] = d_cell * f
                + d_in * weights_t[peepholes + j]
                + d_forget * weights_t[peepholes + hidden + j];
            rows[d_peepholes + j] += d_in * before;
            rows[d_peepholes + hidden + j] += d_forget * before;
            rows[d_peepholes + 2 * hidden + j] += d_output * c;
            let d_input = (row * frames + t) * width;
            d_projected[d_input + j] = d_in;
            d_projected[d_input + hidden + j] = d_forget;
            d_projected[d_input + 2 * hidden + j] = d_cell_input;
            d_projected[d_input + 3 * hidden + j] = d_output;
            shared[d_gates + j] = d_in;
            shared[d_gates + hidden + j] = d_forget;
            shared[d_gates + 2 * hidden + j] = d_cell_input;
            shared[d_gates + 3 * hidden + j] = d_output;
            j += units;
        }
        sync_cube();
        // A unit reads back only the carried gradients it wrote, so the next frame needs no
        // barrier before it; the gates' gradients are next written after its first barrier.
        let mut p = UNIT_POS_X as usize;
        while p < projection {
            let mut carried = 0.0;
            for k in 0..width {
                carried += shared[d_gates + k] * weights_t[k * projection + p];
            }
            shared[p] = carried;
            p += units;
        }
    }
    let mut p = UNIT_POS_X as usize;
    while p < projection {
        rows[carried_state + p] = shared[p];
        p += units;
    }
}
