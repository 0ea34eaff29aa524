//! Reading burn's CPU tensors (flex) in place, and making them, for our CPU operations that work
//! on buffers; under burn's autodiff too, where those operations are single graph nodes with a
//! hand-written backward.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, Tensor, TensorData};

/// flex under burn's autodiff, as `Device::autodiff()` makes it.
pub(crate) type Tracked = Autodiff<Flex, NoCheckpointing>;

/// `tensor` with its values in row-major order at the start of its buffer: itself (sharing the
/// buffer, no copy) when it already is, else a contiguous copy.
pub(crate) fn contiguous(tensor: &FlexTensor) -> FlexTensor {
    match tensor.as_slice::<f32>() {
        Some(_) => tensor.clone(),
        None => tensor.to_contiguous(),
    }
}

/// A contiguous `f32` flex tensor, or `None` on any other backend or type.
pub(crate) fn flex_f32<const D: usize>(tensor: Tensor<D>) -> Option<FlexTensor> {
    let flex = tensor.try_into_primitive::<Flex>().ok()?;
    if flex.dtype() != DType::F32 {
        return None;
    }
    Some(contiguous(&flex))
}

/// The values of a tensor [`contiguous`] made contiguous, if it holds `length` `f32`s.
pub(crate) fn slice(tensor: &FlexTensor, length: usize) -> Option<&[f32]> {
    tensor.as_slice::<f32>().filter(|v| v.len() == length)
}

/// A flex tensor of `values`.
pub(crate) fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A flex tensor as an input of a tracked operation (a constant when it was plain); `None` on
/// any other backend, or under an autodiff that checkpoints.
pub(crate) fn tracked<const D: usize>(x: &Tensor<D>) -> Option<FloatTensor<Tracked>> {
    match x.is_autodiff() {
        true => x.clone().try_into_primitive::<Tracked>().ok(),
        false => x
            .clone()
            .try_into_primitive::<Flex>()
            .ok()
            .map(FloatTensor::<Tracked>::new),
    }
}

/// Every input contiguous, if each holds `lengths[i]` `f32`s.
pub(crate) fn contiguous_all<const N: usize>(
    inputs: [&FlexTensor; N],
    lengths: [usize; N],
) -> Option<[FlexTensor; N]> {
    let all = inputs.map(contiguous);
    all.iter()
        .zip(lengths)
        .all(|(tensor, length)| slice(tensor, length).is_some())
        .then_some(all)
}

/// The values of tensors [`contiguous_all`] checked.
pub(crate) fn slices<const N: usize>(tensors: &[FlexTensor; N]) -> [&[f32]; N] {
    tensors
        .each_ref()
        .map(|t| t.as_slice::<f32>().unwrap_or_default())
}

/// The gradient flowing into an operation's output, contiguous.
pub(crate) fn output_gradient(gradient: FlexTensor, length: usize) -> FlexTensor {
    let gradient = contiguous(&gradient);
    // The gradient of an f32 output has its shape and type; anything else is a bug in burn's
    // autodiff, not an input a user controls.
    assert!(
        slice(&gradient, length).is_some(),
        "an f32 gradient of the operation's output shape"
    );
    gradient
}
