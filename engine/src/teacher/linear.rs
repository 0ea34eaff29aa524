//! The teacher's linear layers on burn's CPU backend (flex) without autodiff (the maps, `eval`,
//! the page's teacher): the bias written into the output and one product added to it, a
//! product of few rows cut into blocks of columns over the cores natively ([`crate::matmul`]).
//! flex leaves every large product to gemm's own threads, which split it by rows and keep one
//! core waiting on the few frames of a short clip. Under autodiff (training) and on WebGPU
//! burn's `Linear::forward` runs.

use crate::flex::flex_f32;
use crate::matmul::{Product, Threads};
use burn::backend::flex::{Flex, FlexTensor};
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};
use std::cell::Cell;

thread_local! {
    static BURNS_LINEAR: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with burn's own linear layers in the teacher even on the CPU: the reference ours
/// is tested and measured against.
pub fn on_burns_linear<T>(work: impl FnOnce() -> T) -> T {
    crate::reference_path::with_flag(&BURNS_LINEAR, work)
}

/// `layer` applied to `x`.
///
/// # Shapes
/// - `x`: `[..., d_input]` → `[..., d_output]`
pub(super) fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    if x.is_autodiff() || BURNS_LINEAR.get() {
        return layer.forward(x);
    }
    ours(layer, &x).unwrap_or_else(|| layer.forward(x))
}

/// `None` where a tensor is not an untracked flex `f32` one, or the shapes do not fit (burn's
/// forward pass then says why).
fn ours<const D: usize>(layer: &Linear, x: &Tensor<D>) -> Option<Tensor<D>> {
    let weight = layer.weight.val();
    if weight.is_autodiff() {
        return None;
    }
    let [d_input, d_output] = weight.dims();
    let mut shape = x.dims();
    if shape[D - 1] != d_input {
        return None;
    }
    let rows: usize = shape[..D - 1].iter().product();
    let input = flex_f32(x.clone())?;
    let weight = flex_f32(weight)?;
    let mut out = match &layer.bias {
        Some(bias) => {
            let bias = flex_f32(bias.val())?;
            let bias = bias.as_slice::<f32>().filter(|b| b.len() == d_output)?;
            bias.repeat(rows)
        }
        None => vec![0.0; rows * d_output],
    };
    let (input, weight) = (input.as_slice::<f32>()?, weight.as_slice::<f32>()?);
    Product::new(input, weight, [rows, d_input, d_output]).add(&mut out, Threads::All);
    shape[D - 1] = d_output;
    Some(Tensor::from_primitive::<Flex>(FlexTensor::from_data(
        TensorData::new(out, shape),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn ours_equals_burns_linear_layer() {
        let device = Device::flex();
        // A clip's few frames (natively, columns cut into blocks), many frames (gemm's own
        // threads), no bias.
        for (rows, bias) in [(49, true), (1100, true), (7, false)] {
            let layer = LinearConfig::new(512, 400).with_bias(bias).init(&device);
            let x = Tensor::<3>::random([1, rows, 512], Distribution::Default, &device);
            assert!(ours(&layer, &x).is_some(), "{rows} rows: ours ran");
            let ours = linear(&layer, x.clone());
            let burns = on_burns_linear(|| linear(&layer, x));
            assert_eq!(ours.dims(), [1, rows, 400]);
            let [ours, burns] = [ours, burns].map(|t| t.into_data().try_to_vec::<f32>().unwrap());
            for (i, (a, b)) in ours.iter().zip(&burns).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{rows} rows, at {i}: {a} against {b}"
                );
            }
        }
    }
}
