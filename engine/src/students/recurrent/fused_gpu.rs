//! The GRU and peephole LSTM recurrences as single operations on burn's wgpu backend: the
//! launches of [`kernels`] as a backend extension of burn's cubecl backend (recorded lazily
//! under burn's fusion, as the page's WebGPU worker runs), and under autodiff one graph node per
//! layer whose backward pass is the kernels' backpropagation through time. The GPU's
//! counterpart of [`super::fused`].
//!
//! Elsewhere (another backend, an autodiff device that checkpoints, a layer too wide for the
//! kernels' workgroup memory) [`gru`] and [`lstm`] give `None` and the layer builds the
//! per-frame graph instead.

use super::kernels;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata, Wgpu, backend_extension};
use burn::tensor::{DType, FloatDType, Shape, Slice, Tensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::{CubeCount, CubeDim};

/// The widest state the kernels take: the backward pass keeps `4·hidden` values in workgroup
/// memory, and WebGPU promises 16 KiB of it.
pub const MAX_HIDDEN: usize = 1024;

/// Units per cube: one per hidden unit up to WebGPU's promised 256 invocations per workgroup.
pub(super) const MAX_UNITS: usize = 256;

/// wgpu under burn's autodiff, as `Device::autodiff()` makes it.
type Tracked = Autodiff<Wgpu, NoCheckpointing>;

/// The recurrences' kernels as operations of a backend.
#[backend_extension(Cube: cfg(feature = "wgpu"), Fusion: cfg(feature = "fusion"))]
pub trait RecurrentKernels: Backend {
    /// [`kernels::gru_forward`]: the states `[batch, frames, grus·hidden]`, and, when `keep`
    /// asks for them, the gates `[grus, steps, batch, 4·hidden]` and the states in step order
    /// `[grus, steps, batch, hidden]` the backward pass reads (one value each otherwise).
    ///
    /// # Shapes
    /// - `projected`: `[batch, frames, grus·3·hidden]`, `weight_hh`: `[grus, hidden, 3·hidden]`,
    ///   `bias_hh`: `[grus, 3·hidden]`
    #[fusion(meta = gru_forward_specs)]
    fn gru_scan(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        bias_hh: FloatTensor<Self>,
        keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`Self::gru_scan`]'s inputs (projected, `weight_hh`, `bias_hh`) from
    /// its output's, `d_out`, and what it kept.
    #[fusion(meta = gru_backward_specs)]
    fn gru_scan_backward(
        gates: FloatTensor<Self>,
        states: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        d_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`kernels::lstm_forward`]: the states `[batch, frames, projection]`, and, when `keep`
    /// asks for them, the gates `[frames, batch, 6·hidden]` and the states frame-major
    /// `[frames, batch, projection]` the backward pass reads (one value each otherwise).
    ///
    /// # Shapes
    /// - `projected`: `[batch, frames, 4·hidden]`, `weight_hh`: `[projection, 4·hidden]`, the
    ///   peepholes `[hidden]` each, `projection`: `[hidden, projection]`
    #[fusion(meta = lstm_forward_specs)]
    fn lstm_scan(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        peephole_input: FloatTensor<Self>,
        peephole_forget: FloatTensor<Self>,
        peephole_output: FloatTensor<Self>,
        projection: FloatTensor<Self>,
        keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`Self::lstm_scan`]'s inputs (projected, `weight_hh`, the three
    /// peepholes, the projection) from its output's, `d_out`, and what it kept.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    #[fusion(meta = lstm_backward_specs)]
    fn lstm_scan_backward(
        gates: FloatTensor<Self>,
        states: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        peephole_input: FloatTensor<Self>,
        peephole_forget: FloatTensor<Self>,
        peephole_output: FloatTensor<Self>,
        projection: FloatTensor<Self>,
        d_out: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// `[batch, frames, grus, hidden]` of a forward pass's inputs.
fn gru_dims(projected: &Shape, weight_hh: &Shape) -> [usize; 4] {
    let [batch, frames, _] = projected.dims::<3>();
    let [grus, hidden, _] = weight_hh.dims::<3>();
    [batch, frames, grus, hidden]
}

/// The shapes of what [`RecurrentKernels::gru_scan`] returns.
fn gru_forward_shapes(projected: &Shape, weight_hh: &Shape, keep: bool) -> [Shape; 3] {
    let [batch, frames, grus, hidden] = gru_dims(projected, weight_hh);
    let out = Shape::new([batch, frames, grus * hidden]);
    match keep {
        true => [
            out,
            Shape::new([grus, frames, batch, 4 * hidden]),
            Shape::new([grus, frames, batch, hidden]),
        ],
        false => [out, Shape::new([1]), Shape::new([1])],
    }
}

#[cfg(feature = "fusion")]
use burn::backend::fusion::custom::TensorSpec;

#[cfg(feature = "fusion")]
fn gru_forward_specs(
    projected: &TensorSpec,
    weight_hh: &TensorSpec,
    _bias_hh: &TensorSpec,
    keep: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let [out, gates, states] = gru_forward_shapes(&projected.shape, &weight_hh.shape, *keep)
        .map(|shape| TensorSpec::new(shape, projected.dtype));
    (out, gates, states)
}

#[cfg(feature = "fusion")]
fn gru_backward_specs(
    _gates: &TensorSpec,
    _states: &TensorSpec,
    weight_hh: &TensorSpec,
    d_out: &TensorSpec,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let [batch, frames, grus, hidden] = {
        let [batch, frames, _] = d_out.shape.dims::<3>();
        let [grus, hidden, _] = weight_hh.shape.dims::<3>();
        [batch, frames, grus, hidden]
    };
    let spec = |shape: Shape| TensorSpec::new(shape, d_out.dtype);
    (
        spec(Shape::new([batch, frames, grus * 3 * hidden])),
        spec(weight_hh.shape.clone()),
        spec(Shape::new([grus, 3 * hidden])),
    )
}

/// `[batch, frames, hidden, projection]` of a forward pass's inputs.
fn lstm_dims(projected: &Shape, projection: &Shape) -> [usize; 4] {
    let [batch, frames, _] = projected.dims::<3>();
    let [hidden, width] = projection.dims::<2>();
    [batch, frames, hidden, width]
}

/// The shapes of what [`RecurrentKernels::lstm_scan`] returns.
fn lstm_forward_shapes(projected: &Shape, projection: &Shape, keep: bool) -> [Shape; 3] {
    let [batch, frames, hidden, width] = lstm_dims(projected, projection);
    let out = Shape::new([batch, frames, width]);
    match keep {
        true => [
            out,
            Shape::new([frames, batch, 6 * hidden]),
            Shape::new([frames, batch, width]),
        ],
        false => [out, Shape::new([1]), Shape::new([1])],
    }
}

#[cfg(feature = "fusion")]
fn lstm_forward_specs(
    projected: &TensorSpec,
    _weight_hh: &TensorSpec,
    _peephole_input: &TensorSpec,
    _peephole_forget: &TensorSpec,
    _peephole_output: &TensorSpec,
    projection: &TensorSpec,
    keep: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let [out, gates, states] = lstm_forward_shapes(&projected.shape, &projection.shape, *keep)
        .map(|shape| TensorSpec::new(shape, projected.dtype));
    (out, gates, states)
}

#[cfg(feature = "fusion")]
#[allow(clippy::too_many_arguments)]
fn lstm_backward_specs(
    gates: &TensorSpec,
    _states: &TensorSpec,
    weight_hh: &TensorSpec,
    peephole_input: &TensorSpec,
    peephole_forget: &TensorSpec,
    peephole_output: &TensorSpec,
    projection: &TensorSpec,
    d_out: &TensorSpec,
) -> (
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
) {
    let [batch, frames, _] = d_out.shape.dims::<3>();
    let [_, _, kept] = gates.shape.dims::<3>();
    let like = |spec: &TensorSpec| TensorSpec::new(spec.shape.clone(), d_out.dtype);
    (
        TensorSpec::new(Shape::new([batch, frames, 4 * kept / 6]), d_out.dtype),
        like(weight_hh),
        like(peephole_input),
        like(peephole_forget),
        like(peephole_output),
        like(projection),
    )
}

/// An uninitialised contiguous `f32` tensor on `like`'s device.
fn empty_like(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, DType::F32)
}

/// Units per cube: one per hidden unit, within the device's limit and [`MAX_UNITS`].
fn units(like: &CubeTensor, hidden: usize) -> usize {
    let device_max = like.client.properties().hardware.max_cube_dim.0 as usize;
    hidden.min(MAX_UNITS).min(device_max).max(1)
}

/// Loop iterations a launch may take, over all of a unit's loops: Mesa's llvmpipe (lavapipe,
/// the Vulkan driver of machines without a GPU) ends a shader's loops after 65,535 iterations
/// counted together, and the launch's own setup takes a few.
const LOOP_BUDGET: usize = 60_000;

/// Runs `launch(first, count)` over every step of a sequence of `steps`, each launch taking as
/// many steps as fit [`LOOP_BUDGET`] at `per_step` loop iterations a step.
fn in_launches(steps: usize, per_step: usize, mut launch: impl FnMut(usize, usize)) {
    let chunk = (LOOP_BUDGET / per_step.max(1)).max(1);
    let mut first = 0;
    while first < steps {
        let count = chunk.min(steps - first);
        launch(first, count);
        first += count;
    }
}

impl RecurrentKernels for CubeBackend {
    fn gru_scan(
        projected: CubeTensor,
        weight_hh: CubeTensor,
        bias_hh: CubeTensor,
        keep: bool,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        let [batch, frames, grus, hidden] = gru_dims(&projected.shape(), &weight_hh.shape());
        let [out, gates, states] = gru_forward_shapes(&projected.shape(), &weight_hh.shape(), keep)
            .map(|shape| empty_like(&projected, shape));
        let carry = empty_like(&projected, Shape::new([grus, batch, hidden]));
        let client = projected.client.clone();
        let units = units(&projected, hidden);
        let rounds = hidden.div_ceil(units);
        let [projected, weight_hh, bias_hh] = [projected, weight_hh, bias_hh].map(into_contiguous);
        in_launches(frames, rounds * (hidden + 2) + 1, |first, count| {
            kernels::gru_forward::launch(
                &client,
                CubeCount::Static(batch as u32, grus as u32, 1),
                CubeDim::new_1d(units as u32),
                projected.clone().into_tensor_arg(),
                weight_hh.clone().into_tensor_arg(),
                bias_hh.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                gates.clone().into_tensor_arg(),
                states.clone().into_tensor_arg(),
                carry.clone().into_tensor_arg(),
                frames,
                first,
                count,
                hidden,
                keep,
            )
        });
        (out, gates, states)
    }

    fn gru_scan_backward(
        gates: CubeTensor,
        states: CubeTensor,
        weight_hh: CubeTensor,
        d_out: CubeTensor,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        let [grus, hidden, width] = weight_hh.shape().dims::<3>();
        let [batch, frames, _] = d_out.shape().dims::<3>();
        let d_projected = empty_like(&d_out, Shape::new([batch, frames, grus * width]));
        let d_recurrent = empty_like(&d_out, Shape::new([grus, frames, batch, width]));
        let carry = empty_like(&d_out, Shape::new([grus, batch, hidden]));
        let client = d_out.client.clone();
        let device = d_out.device.clone();
        let units = units(&d_out, hidden);
        let rounds = hidden.div_ceil(units);
        let weight_hh_t = into_contiguous(Self::float_swap_dims(weight_hh, 1, 2));
        let [gates, states, d_out] = [gates, states, d_out].map(into_contiguous);
        in_launches(frames, rounds * (width + 2) + 1, |first, count| {
            kernels::gru_backward::launch(
                &client,
                CubeCount::Static(batch as u32, grus as u32, 1),
                CubeDim::new_1d(units as u32),
                gates.clone().into_tensor_arg(),
                states.clone().into_tensor_arg(),
                weight_hh_t.clone().into_tensor_arg(),
                d_out.clone().into_tensor_arg(),
                d_projected.clone().into_tensor_arg(),
                d_recurrent.clone().into_tensor_arg(),
                carry.clone().into_tensor_arg(),
                frames,
                first,
                count,
                hidden,
            )
        });
        // Σ over steps 1.. of the state before each step against that step's gradient, one
        // product per GRU over every step and row at once.
        let d_weight = match frames {
            1 => Self::float_zeros(Shape::new([grus, hidden, width]), &device, FloatDType::F32),
            _ => {
                let steps = |range: std::ops::Range<usize>, tensor: CubeTensor, last: usize| {
                    let part = Self::float_slice(
                        tensor,
                        &[
                            Slice::from(0..grus),
                            Slice::from(range),
                            Slice::from(0..batch),
                            Slice::from(0..last),
                        ],
                    );
                    let rows = (frames - 1) * batch;
                    Self::float_reshape(into_contiguous(part), Shape::new([grus, rows, last]))
                };
                let before = steps(0..frames - 1, states, hidden);
                let after = steps(1..frames, d_recurrent.clone(), width);
                Self::float_matmul(Self::float_swap_dims(before, 1, 2), after)
            }
        };
        let d_bias = Self::float_sum_dim(
            Self::float_reshape(d_recurrent, Shape::new([grus, frames * batch, width])),
            1,
        );
        let d_bias = Self::float_reshape(d_bias, Shape::new([grus, width]));
        (d_projected, d_weight, d_bias)
    }

    fn lstm_scan(
        projected: CubeTensor,
        weight_hh: CubeTensor,
        peephole_input: CubeTensor,
        peephole_forget: CubeTensor,
        peephole_output: CubeTensor,
        projection: CubeTensor,
        keep: bool,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        let [batch, frames, hidden, width] = lstm_dims(&projected.shape(), &projection.shape());
        let [out, gates, states] =
            lstm_forward_shapes(&projected.shape(), &projection.shape(), keep);
        let [out, gates] = [out, gates].map(|shape| empty_like(&projected, shape));
        let carry = empty_like(&projected, Shape::new([batch, width + hidden]));
        let client = projected.client.clone();
        let units = units(&projected, hidden.max(width));
        let [hidden_rounds, width_rounds] = [hidden, width].map(|n| n.div_ceil(units));
        let per_step = hidden_rounds * (width + 1) + width_rounds * (hidden + 1) + 1;
        let weights = one_buffer([
            weight_hh,
            peephole_input,
            peephole_forget,
            peephole_output,
            projection,
        ]);
        let projected = into_contiguous(projected);
        in_launches(frames, per_step, |first, count| {
            kernels::lstm_forward::launch(
                &client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(units as u32),
                projected.clone().into_tensor_arg(),
                weights.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                gates.clone().into_tensor_arg(),
                carry.clone().into_tensor_arg(),
                frames,
                first,
                count,
                hidden,
                width,
                keep,
            )
        });
        // Kept, the states are the output frame-major, as the weights' gradient reads them.
        let states = match keep {
            true => into_contiguous(Self::float_swap_dims(out.clone(), 0, 1)),
            false => empty_like(&out, states),
        };
        (out, gates, states)
    }

    fn lstm_scan_backward(
        gates: CubeTensor,
        states: CubeTensor,
        weight_hh: CubeTensor,
        peephole_input: CubeTensor,
        peephole_forget: CubeTensor,
        peephole_output: CubeTensor,
        projection: CubeTensor,
        d_out: CubeTensor,
    ) -> (
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
    ) {
        let [hidden, width] = projection.shape().dims::<2>();
        let [batch, frames, _] = d_out.shape().dims::<3>();
        let d_projected = empty_like(&d_out, Shape::new([batch, frames, 4 * hidden]));
        let d_states = empty_like(&d_out, Shape::new([frames, batch, width]));
        let rows = empty_like(&d_out, Shape::new([batch, width + 4 * hidden]));
        let client = d_out.client.clone();
        let device = d_out.device.clone();
        let units = units(&d_out, hidden.max(width));
        let [hidden_rounds, width_rounds] = [hidden, width].map(|n| n.div_ceil(units));
        let per_step = width_rounds * (4 * hidden + 2) + hidden_rounds * (width + 1) + 1;
        let weights_t = one_buffer([
            Self::float_swap_dims(weight_hh, 0, 1),
            peephole_input,
            peephole_forget,
            peephole_output,
            Self::float_swap_dims(projection.clone(), 0, 1),
        ]);
        let [gates, d_out] = [gates, d_out].map(into_contiguous);
        in_launches(frames, per_step, |first, count| {
            kernels::lstm_backward::launch(
                &client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(units as u32),
                gates.clone().into_tensor_arg(),
                weights_t.clone().into_tensor_arg(),
                d_out.clone().into_tensor_arg(),
                d_projected.clone().into_tensor_arg(),
                d_states.clone().into_tensor_arg(),
                rows.clone().into_tensor_arg(),
                frames,
                first,
                count,
                hidden,
                width,
            )
        });
        // Σ_t m_tᵀ·dh_t over every frame and row, `m = o ⊙ tanh(c)` the sixth of the kept.
        let unprojected = Self::float_slice(
            gates,
            &[
                Slice::from(0..frames),
                Slice::from(0..batch),
                Slice::from(5 * hidden..6 * hidden),
            ],
        );
        let d_projection =
            sum_of_outer_products(as_rows(unprojected, hidden), as_rows(d_states, width));
        // Σ over frames 1.. of the state before each frame against that frame's gates'
        // gradients.
        let d_weight = match frames {
            1 => Self::float_zeros(Shape::new([width, 4 * hidden]), &device, FloatDType::F32),
            _ => {
                let before = Self::float_slice(
                    states,
                    &[
                        Slice::from(0..frames - 1),
                        Slice::from(0..batch),
                        Slice::from(0..width),
                    ],
                );
                let frame_major = Self::float_swap_dims(d_projected.clone(), 0, 1);
                let after = Self::float_slice(
                    frame_major,
                    &[
                        Slice::from(1..frames),
                        Slice::from(0..batch),
                        Slice::from(0..4 * hidden),
                    ],
                );
                sum_of_outer_products(as_rows(before, width), as_rows(after, 4 * hidden))
            }
        };
        // Each row's share of the peepholes' gradients follows its carried gradients.
        let d_peepholes = Self::float_sum_dim(rows, 0);
        let peephole = |k: usize| {
            let start = width + hidden + k * hidden;
            Self::float_reshape(
                Self::float_slice(
                    d_peepholes.clone(),
                    &[Slice::from(0..1), Slice::from(start..start + hidden)],
                ),
                Shape::new([hidden]),
            )
        };
        (
            d_projected,
            d_weight,
            peephole(0),
            peephole(1),
            peephole(2),
            d_projection,
        )
    }
}

/// Tensors one after another, each in row-major order, in one flat buffer: how a kernel takes
/// several weights through one binding.
fn one_buffer<const N: usize>(tensors: [CubeTensor; N]) -> CubeTensor {
    let flat = tensors.map(|tensor| {
        let length = tensor.shape().num_elements();
        CubeBackend::float_reshape(into_contiguous(tensor), Shape::new([length]))
    });
    into_contiguous(CubeBackend::float_cat(flat.into(), 0))
}

/// `tensor` in row-major order, its rows of `[.., last]` taken as one matrix `[rows, last]`.
fn as_rows(tensor: CubeTensor, last: usize) -> CubeTensor {
    let rows = tensor.shape().num_elements() / last.max(1);
    CubeBackend::float_reshape(into_contiguous(tensor), Shape::new([rows, last]))
}

/// `Σ_rows aᵀ·b` of two tensors of the same rows, `[rows, m]` and `[rows, n]` → `[m, n]`.
fn sum_of_outer_products(a: CubeTensor, b: CubeTensor) -> CubeTensor {
    CubeBackend::float_matmul(CubeBackend::float_swap_dims(a, 0, 1), b)
}

/// A wgpu tensor as an input of a tracked operation (a constant when it was plain); `None` on
/// any other backend, or under an autodiff that checkpoints.
fn tracked<const D: usize>(x: &Tensor<D>) -> Option<FloatTensor<Tracked>> {
    match x.is_autodiff() {
        true => x.clone().try_into_primitive::<Tracked>().ok(),
        false => x
            .clone()
            .try_into_primitive::<Wgpu>()
            .ok()
            .map(FloatTensor::<Tracked>::new),
    }
}

/// Whether [`gru`] runs for inputs like `x`: a wgpu `f32` tensor, plain or under autodiff
/// without checkpointing.
pub fn applies<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && tracked(x).is_some()
}

/// The GRU recurrence of [`kernels::gru_forward`], as [`super::fused::gru`] on the CPU.
///
/// # Shapes
/// - `projected`: `[batch, frames, grus·3·hidden]`, `weight_hh`: `[grus, hidden, 3·hidden]`,
///   `bias_hh`: `[grus, 3·hidden]` → `[batch, frames, grus·hidden]`
pub fn gru(projected: &Tensor<3>, weight_hh: &Tensor<3>, bias_hh: &Tensor<2>) -> Option<Tensor<3>> {
    let [batch, frames, _] = projected.dims();
    let [grus, hidden, _] = weight_hh.dims();
    // The first GRU reads forwards, a second backwards; there is no third direction.
    if grus > 2 || hidden > MAX_HIDDEN || batch == 0 || frames == 0 || hidden == 0 {
        return None;
    }
    if [projected.dtype(), weight_hh.dtype(), bias_hh.dtype()] != [DType::F32; 3] {
        return None;
    }
    let any_tracked = [
        projected.is_autodiff(),
        weight_hh.is_autodiff(),
        bias_hh.is_autodiff(),
    ]
    .contains(&true);
    if !any_tracked {
        let (out, _, _) = Wgpu::gru_scan(
            projected.clone().try_into_primitive::<Wgpu>().ok()?,
            weight_hh.clone().try_into_primitive::<Wgpu>().ok()?,
            bias_hh.clone().try_into_primitive::<Wgpu>().ok()?,
            false,
        );
        return Some(Tensor::from_primitive::<Wgpu>(out));
    }
    let inputs = [tracked(projected)?, tracked(weight_hh)?, tracked(bias_hh)?];
    let [p, w, b] = inputs.each_ref().map(|i| i.primitive().clone());
    let (out, gates, states) = Wgpu::gru_scan(p, w.clone(), b, true);
    let out = match GruBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            GruState {
                gates,
                states,
                weight_hh: w,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

#[derive(Clone, Debug)]
struct GruState {
    gates: FloatTensor<Wgpu>,
    states: FloatTensor<Wgpu>,
    weight_hh: FloatTensor<Wgpu>,
}

#[derive(Debug)]
struct GruBackward;

impl Backward<Wgpu, 3> for GruBackward {
    type State = GruState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let GruState {
            gates,
            states,
            weight_hh,
        } = ops.state;
        let d_out = grads.consume::<Wgpu>(&ops.node);
        let (d_projected, d_weight, d_bias) =
            Wgpu::gru_scan_backward(gates, states, weight_hh, d_out);
        for (parent, gradient) in ops.parents.into_iter().zip([d_projected, d_weight, d_bias]) {
            if let Some(node) = parent {
                grads.register::<Wgpu>(node.id, gradient);
            }
        }
    }
}

/// The widest LSTM the kernels take: its backward pass keeps `2·projection + 4·hidden` values
/// in workgroup memory, of WebGPU's promised 16 KiB.
fn lstm_fits(hidden: usize, projection: usize) -> bool {
    2 * projection + 4 * hidden <= 4 * MAX_HIDDEN
}

/// The peephole LSTM recurrence of [`kernels::lstm_forward`], as [`super::fused::lstm`] on the
/// CPU.
///
/// # Shapes
/// - `projected`: `[batch, frames, 4·hidden]`, `weight_hh`: `[projection, 4·hidden]`,
///   `peepholes`: 3 × `[hidden]` (input, forget, output), `projection`: `[hidden, projection]`
///   → `[batch, frames, projection]`
pub fn lstm(
    projected: &Tensor<3>,
    weight_hh: &Tensor<2>,
    peepholes: [&Tensor<1>; 3],
    projection: &Tensor<2>,
) -> Option<Tensor<3>> {
    let [batch, frames, _] = projected.dims();
    let [hidden, width] = projection.dims();
    if batch == 0 || frames == 0 || hidden == 0 || width == 0 || !lstm_fits(hidden, width) {
        return None;
    }
    let dtypes = [
        projected.dtype(),
        weight_hh.dtype(),
        peepholes[0].dtype(),
        peepholes[1].dtype(),
        peepholes[2].dtype(),
        projection.dtype(),
    ];
    if dtypes != [DType::F32; 6] {
        return None;
    }
    let any_tracked = projected.is_autodiff()
        || weight_hh.is_autodiff()
        || peepholes.iter().any(|p| p.is_autodiff())
        || projection.is_autodiff();
    if !any_tracked {
        let plain = |x: Tensor<1>| x.try_into_primitive::<Wgpu>().ok();
        let (out, _, _) = Wgpu::lstm_scan(
            projected.clone().try_into_primitive::<Wgpu>().ok()?,
            weight_hh.clone().try_into_primitive::<Wgpu>().ok()?,
            plain(peepholes[0].clone())?,
            plain(peepholes[1].clone())?,
            plain(peepholes[2].clone())?,
            projection.clone().try_into_primitive::<Wgpu>().ok()?,
            false,
        );
        return Some(Tensor::from_primitive::<Wgpu>(out));
    }
    let inputs = [
        tracked(projected)?,
        tracked(weight_hh)?,
        tracked(peepholes[0])?,
        tracked(peepholes[1])?,
        tracked(peepholes[2])?,
        tracked(projection)?,
    ];
    let [p, weights @ ..] = inputs.each_ref().map(|i| i.primitive().clone());
    let [w, p_i, p_f, p_o, proj] = weights.clone();
    let (out, gates, states) = Wgpu::lstm_scan(p, w, p_i, p_f, p_o, proj, true);
    let out = match LstmBackward
        .prepare::<NoCheckpointing>(inputs.map(|i| i.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            LstmState {
                gates,
                states,
                weights,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

#[derive(Clone, Debug)]
struct LstmState {
    gates: FloatTensor<Wgpu>,
    states: FloatTensor<Wgpu>,
    /// `weight_hh`, the input, forget and output peepholes, and the projection.
    weights: [FloatTensor<Wgpu>; 5],
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Wgpu, 6> for LstmBackward {
    type State = LstmState;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let LstmState {
            gates,
            states,
            weights: [w, p_i, p_f, p_o, proj],
        } = ops.state;
        let d_out = grads.consume::<Wgpu>(&ops.node);
        let (d_p, d_w, d_i, d_f, d_o, d_proj) =
            Wgpu::lstm_scan_backward(gates, states, w, p_i, p_f, p_o, proj, d_out);
        for (parent, gradient) in ops
            .parents
            .into_iter()
            .zip([d_p, d_w, d_i, d_f, d_o, d_proj])
        {
            if let Some(node) = parent {
                grads.register::<Wgpu>(node.id, gradient);
            }
        }
    }
}
