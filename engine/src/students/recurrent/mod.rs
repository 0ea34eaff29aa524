//! Recurrent layers with every gate in one matrix, so a step costs one matrix product. burn's own
//! GRU runs six products per step, and its LSTM has neither peepholes nor an output projection,
//! which LSTM-P needs.
//!
//! On burn's CPU backend a layer runs the whole sequence as one operation ([`fused`], with a
//! hand-written backward pass in [`scan`]), and so it does on burn's wgpu backend (WebGPU in the
//! browser, Vulkan, Metal or DX12 natively: `fused_gpu`, with the kernels in `kernels`). Where
//! neither applies (a state too wide for the kernels' workgroup memory, or
//! [`on_recurrent_graph`]) it builds burn's graph frame by frame ([`graph`]), where the two
//! directions of a bidirectional GRU step together and frames stay separate tensors between
//! stacked layers ([`run_stack`]).

mod fused;
#[cfg(feature = "wgpu")]
mod fused_gpu;
mod graph;
#[cfg(feature = "wgpu")]
mod kernels;
mod scan;

pub use fused::on_recurrent_graph;

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

/// PyTorch's initialisation for recurrent weights: uniform in ±1/√hidden.
fn recurrent_init(hidden: usize) -> Initializer {
    let bound = 1.0 / (hidden as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
}

/// Whether a recurrence over inputs like `x` runs as one operation, on the CPU or on wgpu.
fn fused_applies<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "wgpu")]
    let on_gpu = !fused::graph_only() && fused_gpu::applies(x);
    #[cfg(not(feature = "wgpu"))]
    let on_gpu = false;
    fused::applies(x) || on_gpu
}

/// The GRU recurrence as one operation where one applies: [`fused::gru`] or `fused_gpu::gru`.
fn fused_gru(
    projected: &Tensor<3>,
    weight_hh: &Tensor<3>,
    bias_hh: &Tensor<2>,
) -> Option<Tensor<3>> {
    #[cfg(feature = "wgpu")]
    if fused_gpu::applies(projected) {
        return fused_gpu::gru(projected, weight_hh, bias_hh);
    }
    fused::gru(projected, weight_hh, bias_hh)
}

/// The frame at `index` of a sequence.
///
/// # Shapes
/// - `x`: `[batch, frames, width]` → `[batch, width]`
pub fn frame(x: Tensor<3>, index: usize) -> Tensor<2> {
    let [batch, _, width] = x.dims();
    x.narrow(1, index, 1).reshape([batch, width])
}

#[derive(Clone, Copy, Debug)]
pub struct GruConfig {
    pub input: usize,
    pub hidden: usize,
}

/// A GRU with the reset gate applied after the hidden product (PyTorch's, and Keras's
/// `reset_after=True`). Parameters: `3·hidden·(input + hidden) + 6·hidden`.
#[derive(Module, Debug)]
pub struct Gru {
    /// `[input, 3·hidden]`, gates in the order reset, update, new.
    weight_ih: Param<Tensor<2>>,
    /// `[hidden, 3·hidden]`
    weight_hh: Param<Tensor<2>>,
    bias_ih: Param<Tensor<1>>,
    bias_hh: Param<Tensor<1>>,
}

impl GruConfig {
    pub fn init(&self, device: &Device) -> Gru {
        let init = recurrent_init(self.hidden);
        let gates = 3 * self.hidden;
        Gru {
            weight_ih: init.init([self.input, gates], device),
            weight_hh: init.init([self.hidden, gates], device),
            bias_ih: init.init([gates], device),
            bias_hh: init.init([gates], device),
        }
    }
}

impl Gru {
    /// # Shapes
    /// - `x`: `[batch, frames, input]` → `[batch, frames, hidden]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        run_side_by_side(x, &[self])
    }
}

/// A forward and a backward GRU whose outputs are concatenated per frame.
#[derive(Module, Debug)]
pub struct BiGru {
    forward: Gru,
    backward: Gru,
}

impl GruConfig {
    pub fn init_bidirectional(&self, device: &Device) -> BiGru {
        BiGru {
            forward: self.init(device),
            backward: self.init(device),
        }
    }
}

impl BiGru {
    /// # Shapes
    /// - `x`: `[batch, frames, input]` → `[batch, frames, 2·hidden]`, both directions aligned
    ///   with the input frames
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        run_side_by_side(x, &[&self.forward, &self.backward])
    }
}

/// Bidirectional GRUs one after another.
///
/// # Shapes
/// - `x`: `[batch, frames, input]` → `[batch, frames, 2·hidden]`
pub fn run_stack(layers: &[BiGru], x: Tensor<3>) -> Tensor<3> {
    if fused_applies(&x) {
        return layers.iter().fold(x, |x, layer| layer.forward(x));
    }
    // On the graph, slicing a stacked sequence back into frames costs a full-size gradient per
    // frame; frames passed on between layers cost nothing.
    let mut frames = graph::unstack_frames(x);
    for layer in layers {
        frames = graph::gru(&frames, Stacked::new(&[&layer.forward, &layer.backward]));
    }
    graph::stack_frames(frames)
}

/// The weights of GRUs run side by side, stacked so that a step of all costs the operations of
/// one.
struct Stacked {
    /// `[input, grus·3·hidden]`
    weight_ih: Tensor<2>,
    /// `[grus·3·hidden]`
    bias_ih: Tensor<1>,
    /// `[grus, hidden, 3·hidden]`
    weight_hh: Tensor<3>,
    /// `[grus, 3·hidden]`
    bias_hh: Tensor<2>,
}

impl Stacked {
    fn new(grus: &[&Gru]) -> Self {
        Self {
            weight_ih: Tensor::cat(grus.iter().map(|g| g.weight_ih.val()).collect(), 1),
            bias_ih: Tensor::cat(grus.iter().map(|g| g.bias_ih.val()).collect(), 0),
            weight_hh: Tensor::stack(grus.iter().map(|g| g.weight_hh.val()).collect(), 0),
            bias_hh: Tensor::stack(grus.iter().map(|g| g.bias_hh.val()).collect(), 0),
        }
    }
}

/// Runs GRUs over the same input side by side, the first forward in time and a second one
/// backward.
///
/// # Shapes
/// - `x`: `[batch, frames, input]` → `[batch, frames, grus·hidden]`
fn run_side_by_side(x: Tensor<3>, grus: &[&Gru]) -> Tensor<3> {
    let stacked = Stacked::new(grus);
    if fused_applies(&x) {
        let projected = project(
            x.clone(),
            stacked.weight_ih.clone(),
            stacked.bias_ih.clone(),
        );
        if let Some(states) = fused_gru(&projected, &stacked.weight_hh, &stacked.bias_hh) {
            return states;
        }
    }
    graph::stack_frames(graph::gru(&graph::unstack_frames(x), stacked))
}

/// `x·W + b` for every frame at once.
///
/// # Shapes
/// - `x`: `[batch, frames, input]`, `weight`: `[input, out]`, `bias`: `[out]` →
///   `[batch, frames, out]`
fn project(x: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    let [batch, frames, input] = x.dims();
    let [_, out] = weight.dims();
    (x.reshape([batch * frames, input]).matmul(weight) + bias.unsqueeze_dim::<2>(0))
        .reshape([batch, frames, out])
}

#[derive(Clone, Copy, Debug)]
pub struct PeepholeLstmConfig {
    pub input: usize,
    pub hidden: usize,
    pub projection: usize,
}

/// An LSTM whose gates also see the cell (peepholes, Gers & Schmidhuber) and whose output is
/// projected to a smaller size before it is fed back (Sak et al. 2014), as TensorFlow's
/// `LSTMCell(use_peepholes=True, num_proj=…)` computes it:
///
/// ```text
/// i = σ(W_i·x + U_i·h + p_i ⊙ c + b_i)        f = σ(W_f·x + U_f·h + p_f ⊙ c + b_f)
/// c' = f ⊙ c + i ⊙ tanh(W_g·x + U_g·h + b_g)  o = σ(W_o·x + U_o·h + p_o ⊙ c' + b_o)
/// h' = P·(o ⊙ tanh(c'))
/// ```
///
/// Parameters: `4·hidden·(input + projection) + 4·hidden` (one bias) `+ 3·hidden` (peepholes)
/// `+ hidden·projection`.
#[derive(Module, Debug)]
pub struct PeepholeLstm {
    /// `[input, 4·hidden]`, gates in the order input, forget, cell, output.
    weight_ih: Param<Tensor<2>>,
    /// `[projection, 4·hidden]`
    weight_hh: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
    peephole_input: Param<Tensor<1>>,
    peephole_forget: Param<Tensor<1>>,
    peephole_output: Param<Tensor<1>>,
    /// `[hidden, projection]`
    projection: Param<Tensor<2>>,
}

impl PeepholeLstmConfig {
    pub fn init(&self, device: &Device) -> PeepholeLstm {
        let init = recurrent_init(self.hidden);
        let gates = 4 * self.hidden;
        // A forget gate that starts open lets gradients through long clips from the first step.
        let bias = Tensor::cat(
            vec![
                Tensor::zeros([self.hidden], device),
                Tensor::ones([self.hidden], device),
                Tensor::zeros([2 * self.hidden], device),
            ],
            0,
        );
        PeepholeLstm {
            weight_ih: init.init([self.input, gates], device),
            weight_hh: init.init([self.projection, gates], device),
            bias: Param::from_tensor(bias),
            peephole_input: init.init([self.hidden], device),
            peephole_forget: init.init([self.hidden], device),
            peephole_output: init.init([self.hidden], device),
            projection: init.init([self.hidden, self.projection], device),
        }
    }
}

impl PeepholeLstm {
    /// The input, forget and output peepholes.
    fn peepholes(&self) -> [Tensor<1>; 3] {
        [
            self.peephole_input.val(),
            self.peephole_forget.val(),
            self.peephole_output.val(),
        ]
    }

    /// # Shapes
    /// - `x`: `[batch, frames, input]` → `[batch, frames, projection]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        if fused_applies(&x) {
            let projected = project(x.clone(), self.weight_ih.val(), self.bias.val());
            let [input, forget, output] = self.peepholes();
            let peepholes = [&input, &forget, &output];
            let weight_hh = self.weight_hh.val();
            let projection = self.projection.val();
            #[cfg(feature = "wgpu")]
            if fused_gpu::applies(&projected)
                && let Some(states) =
                    fused_gpu::lstm(&projected, &weight_hh, peepholes, &projection)
            {
                return states;
            }
            if let Some(states) = fused::lstm(&projected, &weight_hh, peepholes, &projection) {
                return states;
            }
        }
        graph::stack_frames(graph::lstm(&graph::unstack_frames(x), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.without_autodiff()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        assert!(!a.is_empty(), "{what}");
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let difference = a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(difference / scale < 1e-5, "{what}: {difference} of {scale}");
    }

    /// The layer's output and the gradients of a weighted sum of it with respect to the input
    /// and to each parameter, on the fused path or the graph.
    fn run<M: Module>(
        layer: &M,
        forward: impl Fn(&M, Tensor<3>) -> Tensor<3>,
        x: &Tensor<3>,
        graph: bool,
    ) -> Vec<Vec<f32>> {
        let go = || {
            let x = x.clone().require_grad();
            let y = forward(layer, x.clone());
            // Fixed, uneven weights: the same loss on both paths.
            let count = y.dims().iter().product::<usize>();
            let weighting: Vec<f32> = (0..count)
                .map(|i| (i * 37 % 11) as f32 / 5.0 - 1.0)
                .collect();
            let weighting =
                Tensor::<1>::from_floats(weighting.as_slice(), &y.device()).reshape(y.dims());
            let loss = (y.clone() * weighting).sum();
            let grads = loss.backward();
            let gx = x.grad(&grads).map(values).unwrap_or_default();
            let mut all = vec![values(y), gx];
            let gradients = crate::checkpoint::named_gradients(layer, &grads);
            assert_eq!(
                gradients.len(),
                crate::checkpoint::named_tensors(layer).len(),
                "a parameter without a gradient"
            );
            all.extend(gradients.into_iter().map(|g| values(g.values)));
            all
        };
        match graph {
            true => on_recurrent_graph(go),
            false => go(),
        }
    }

    /// The GRU's and the peephole LSTM's kernels on wgpu (Mesa's software Vulkan driver here)
    /// against burn's graph frame by frame on the same device: the same outputs and gradients, tracked and untracked, for
    /// states narrower and wider than a cube's units, one frame and several, and a sequence long
    /// enough to take several launches (llvmpipe's loop limit, `fused_gpu::LOOP_BUDGET`). In the
    /// browser `engine/tests/students.rs` holds every student's kernels to the graph on WebGPU.
    #[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
    #[test]
    fn recurrent_kernels_and_graph_agree_on_wgpu() {
        let device = crate::device::ComputeDevice::native(crate::device::DeviceChoice::Wgpu(None));
        assert!(
            device.is_gpu(),
            "{}: install a Vulkan driver",
            device.placement
        );
        let device = device.device.autodiff();
        for (batch, frames, hidden) in [
            (1, 49, 300),
            (3, 9, 5),
            (2, 1, 7),
            (2, 6, fused_gpu::MAX_UNITS + 9),
        ] {
            let x = Tensor::<3>::random([batch, frames, 4], Distribution::Default, &device);
            assert!(fused_applies(&x) && fused_applies(&x.clone().without_autodiff()));
            assert!(!on_recurrent_graph(|| fused_applies(&x)));
            let config = GruConfig { input: 4, hidden };
            let what = format!("{batch} rows, {frames} frames, {hidden} hidden");
            let bigru = config.init_bidirectional(&device);
            assert_layer_paths_agree(
                &format!("bidirectional GRU, {what}"),
                &bigru,
                BiGru::forward,
                |x| bigru.valid().forward(x),
                &x,
            );
            let gru = config.init(&device);
            assert_layer_paths_agree(
                &format!("GRU, {what}"),
                &gru,
                Gru::forward,
                |x| gru.valid().forward(x),
                &x,
            );
            // A projection a little wider than the state, so that both loops over units run.
            let lstm = PeepholeLstmConfig {
                input: 4,
                hidden,
                projection: hidden + 3,
            }
            .init(&device);
            assert_layer_paths_agree(
                &format!("peephole LSTM, {what}"),
                &lstm,
                PeepholeLstm::forward,
                |x| lstm.valid().forward(x),
                &x,
            );
        }
    }

    /// [`assert_paths_agree`] for one layer: tracked through `forward` and untracked through
    /// `untracked` (the layer without autodiff), each on both paths.
    fn assert_layer_paths_agree<M: Module>(
        name: &str,
        layer: &M,
        forward: impl Fn(&M, Tensor<3>) -> Tensor<3>,
        untracked: impl Fn(Tensor<3>) -> Tensor<3>,
        x: &Tensor<3>,
    ) {
        let plain = || untracked(x.clone().without_autodiff());
        assert_paths_agree(
            name,
            [
                run(layer, &forward, x, false),
                run(layer, &forward, x, true),
            ],
            [values(plain()), values(on_recurrent_graph(plain))],
        );
    }

    /// Per path (the fused one, then the graph): the output and every gradient when tracked,
    /// and the output untracked.
    fn assert_paths_agree(
        name: &str,
        [fused, graph]: [Vec<Vec<f32>>; 2],
        [plain_fused, plain_graph]: [Vec<f32>; 2],
    ) {
        assert_eq!(fused.len(), graph.len());
        for (index, (a, b)) in fused.iter().zip(&graph).enumerate() {
            assert_close(a, b, &format!("{name}, output {index}"));
        }
        assert_close(&plain_fused, &plain_graph, &format!("{name} untracked"));
        assert_close(
            &plain_fused,
            &fused[0],
            &format!("{name} untracked and tracked"),
        );
    }

    /// The fused CPU path against burn's graph frame by frame: the same outputs, and the same
    /// gradient for the input and every parameter, tracked and untracked.
    #[test]
    fn fused_and_graph_paths_agree() {
        let device = Device::flex().autodiff();
        let x = Tensor::<3>::random([3, 9, 4], Distribution::Default, &device);
        // Both paths are taken: the fused one wherever it applies, the graph when told.
        assert!(fused::applies(&x) && fused::applies(&x.clone().without_autodiff()));
        assert!(!on_recurrent_graph(|| fused::applies(&x)));
        let bigru = GruConfig {
            input: 4,
            hidden: 5,
        }
        .init_bidirectional(&device);
        let gru = GruConfig {
            input: 4,
            hidden: 6,
        }
        .init(&device);
        let lstm = PeepholeLstmConfig {
            input: 4,
            hidden: 5,
            projection: 3,
        }
        .init(&device);
        assert_layer_paths_agree(
            "bidirectional GRU",
            &bigru,
            BiGru::forward,
            |x| bigru.valid().forward(x),
            &x,
        );
        assert_layer_paths_agree("GRU", &gru, Gru::forward, |x| gru.valid().forward(x), &x);
        assert_layer_paths_agree(
            "peephole LSTM",
            &lstm,
            PeepholeLstm::forward,
            |x| lstm.valid().forward(x),
            &x,
        );
    }
}
