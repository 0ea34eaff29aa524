//! The exact GELU on burn's CPU backend (flex) without autodiff, as one pass over the buffer
//! that compiles to SIMD instructions ([`crate::activation::gelu`]): flex's own calls libm's
//! `erff` per element, and the teacher's maps run GELU on every sample of its front end's first
//! layers. Under autodiff (training) and on WebGPU burn's `gelu` runs.

use crate::activation::{gelu_in_place, gelu_into};
use crate::flex::contiguous;
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::{DType, Tensor, TensorData, activation};
use std::cell::Cell;

thread_local! {
    static BURNS_GELU: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with burn's own GELU in the teacher even on the CPU: the reference ours is
/// measured against.
pub fn on_burns_gelu<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&BURNS_GELU, work)
}

/// # Shapes
/// - `x`: any → the same
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.is_autodiff() || BURNS_GELU.get() {
        return activation::gelu(x);
    }
    let Ok(mut flex) = x.clone().try_into_primitive::<Flex>() else {
        return activation::gelu(x);
    };
    // The primitive now holds the only reference to its buffer unless the caller kept one.
    drop(x);
    if flex.dtype() != DType::F32 {
        return activation::gelu(Tensor::from_primitive::<Flex>(flex));
    }
    let elements = flex.layout().num_elements();
    let whole_buffer = flex.as_slice::<f32>().map(<[f32]>::len) == Some(elements)
        && flex.storage::<f32>().len() == elements;
    if whole_buffer && let Some(values) = flex.try_storage_mut::<f32>() {
        gelu_in_place(values);
        return Tensor::from_primitive::<Flex>(flex);
    }
    // Shared or strided: into a new buffer, from the values in place when they are contiguous.
    let contiguous = contiguous(&flex);
    let Some(values) = contiguous.as_slice::<f32>() else {
        return activation::gelu(Tensor::from_primitive::<Flex>(contiguous));
    };
    let mut out = vec![0.0; values.len()];
    gelu_into(values, &mut out);
    let shape = contiguous.layout().shape().clone();
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, shape)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    /// In place (a tensor nobody else holds), on a shared tensor and on a transposed view (not
    /// contiguous): the same values as burn's GELU within the two erfs' rounding, and the same
    /// shape.
    #[test]
    fn equals_burns_gelu_on_any_layout() {
        let device = Device::flex();
        let data: Vec<f32> = (0..300)
            .map(|i| (i * 37 % 300) as f32 / 25.0 - 6.0)
            .collect();
        let tensor = || Tensor::<3>::from_data(TensorData::new(data.clone(), [2, 3, 50]), &device);
        let shared = tensor();
        let cases = [
            ("in place", gelu(tensor()), tensor()),
            ("shared", gelu(shared.clone()), shared),
            (
                "transposed",
                gelu(tensor().swap_dims(1, 2)),
                tensor().swap_dims(1, 2),
            ),
        ];
        for (case, ours, input) in cases {
            assert_eq!(ours.dims(), input.dims(), "{case}");
            let reference = values(activation::gelu(input.clone()));
            let inputs = values(input);
            for ((ours, reference), x) in values(ours).iter().zip(&reference).zip(&inputs) {
                let tolerance = 3e-7 * x.abs().max(1.0);
                assert!(
                    (ours - reference).abs() <= tolerance,
                    "{case}: gelu({x}) = {ours} against {reference}"
                );
            }
        }
    }
}
