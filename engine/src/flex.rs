//! Reading burn's CPU tensors (flex) in place, for our CPU operations that work on buffers.

use burn::backend::flex::FlexTensor;

/// `tensor` with its values in row-major order at the start of its buffer: itself (sharing the
/// buffer, no copy) when it already is, else a contiguous copy.
pub(crate) fn contiguous(tensor: &FlexTensor) -> FlexTensor {
    match tensor.as_slice::<f32>() {
        Some(_) => tensor.clone(),
        None => tensor.to_contiguous(),
    }
}
