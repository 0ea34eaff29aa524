//! A student's weights at lower precision, for deployment: fp16, or int8 with one symmetric scale
//! per tensor. The matrices and kernels (every parameter of two or more dimensions, all but a
//! few hundred values of each student) are rounded; biases, batch norm, peepholes and the query
//! stay f32, where rounding would cost accuracy and save almost nothing.
//!
//! A student at a precision computes in f32 on weights read back from their stored form, so it
//! gives what the exported int8 ONNX model (weights through `DequantizeLinear`) or an fp16 file
//! gives, and its accuracy is the accuracy lost to storing it smaller.

use super::{Student, StudentConfig, StudentError, StudentFiles};
use crate::checkpoint::{Stored, named_tensors, read_to_host, serialize};
pub use crate::export::Precision;
use burn::tensor::f16;
use safetensors::Dtype;
use std::collections::BTreeMap;

/// Whether a parameter of this shape is stored at the lower precision.
pub fn is_rounded(shape: &[usize]) -> bool {
    shape.len() >= 2
}

/// Symmetric int8 codes of one tensor: `w ≈ scale · code`, codes in [−127, 127], `scale =
/// max |w| / 127` (burn's `Q8S` symmetric per-tensor scheme; a test holds them together).
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Codes {
    pub codes: Vec<i8>,
    pub scale: f32,
}

impl Int8Codes {
    pub fn quantize(values: &[f32]) -> Self {
        let peak = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // An all-zero tensor keeps a scale that dequantizes to zeros rather than dividing by 0.
        let scale = if peak > 0.0 { peak / 127.0 } else { 1.0 };
        let codes = values
            .iter()
            .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Self { codes, scale }
    }

    pub fn dequantize(&self) -> Vec<f32> {
        self.codes
            .iter()
            .map(|&c| f32::from(c) * self.scale)
            .collect()
    }
}

/// `values` stored at `precision` and read back.
pub fn round_trip(values: &[f32], precision: Precision) -> Vec<f32> {
    match precision {
        Precision::F32 => values.to_vec(),
        Precision::F16 => values.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
        Precision::Int8 => Int8Codes::quantize(values).dequantize(),
    }
}

/// A parameter of this shape as a file stores it at `precision`.
fn stored(values: Vec<f32>, shape: &[usize], precision: Precision) -> Stored {
    match (is_rounded(shape), precision) {
        (false, _) | (true, Precision::F32) => Stored::F32(values),
        (true, Precision::F16) => {
            Stored::F16(values.iter().map(|&v| f16::from_f32(v).to_bits()).collect())
        }
        (true, Precision::Int8) => {
            let Int8Codes { codes, scale } = Int8Codes::quantize(&values);
            Stored::I8 { codes, scale }
        }
    }
}

impl Student {
    /// `config.json` and `model.safetensors` with the matrices and kernels stored at
    /// `precision`: F16, or I8 codes with each tensor's scale in the file's metadata; the
    /// config's `weights` says which.
    pub async fn save_at(&self, precision: Precision) -> Result<(String, Vec<u8>), StudentError> {
        let arch = self.config.arch_name();
        let host = read_to_host(named_tensors(&self.model))
            .await
            .map_err(StudentError::Device)?
            .into_iter()
            .map(|(name, shape, values)| {
                let stored = stored(values, &shape, precision);
                (name, shape, stored)
            })
            .collect();
        let weights = serialize(host).map_err(|source| StudentError::Weights { arch, source })?;
        let config = StudentConfig {
            weights: precision,
            ..self.config.clone()
        };
        Ok((config.to_json(), weights))
    }

    /// This student with its weights stored at `precision` and read back, on the same device.
    pub async fn at_precision(&self, precision: Precision) -> Result<Student, StudentError> {
        let (config, weights) = self.save_at(precision).await?;
        Student::load(
            StudentFiles {
                config: &config,
                weights: &weights,
            },
            &self.device,
        )
    }
}

/// Refuses weights stored otherwise than the config says: int8 codes in a student whose config
/// does not say int8, or a config saying int8 or fp16 over a file with no tensor stored so.
pub(super) fn check_stored_as(
    config: &StudentConfig,
    stored_as: &BTreeMap<String, Dtype>,
) -> Result<(), StudentError> {
    let said = config.weights;
    let int8 = (stored_as.iter()).find(|(_, dtype)| **dtype == Dtype::I8);
    if let Some((key, _)) = int8
        && said != Precision::Int8
    {
        return Err(StudentError::Config(format!(
            "config.json says its weights are {}, but model.safetensors stores `{key}` as int8 \
             codes; a student saved at int8 has \"weights\": \"int8\" in its config",
            said.name()
        )));
    }
    let expected = match said {
        Precision::F32 => return Ok(()),
        Precision::F16 => Dtype::F16,
        Precision::Int8 => Dtype::I8,
    };
    match stored_as.values().any(|dtype| *dtype == expected) {
        true => Ok(()),
        false => Err(StudentError::Config(format!(
            "config.json says its weights are {}, but model.safetensors holds no tensor stored \
             so; save the student again or remove \"weights\" from its config",
            said.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue};
    use burn::tensor::{Device, Distribution, Tensor};

    #[test]
    fn int8_codes_are_burns_symmetric_per_tensor_quantization() {
        let device = Device::flex();
        let tensor = Tensor::<2>::random([37, 53], Distribution::Normal(0.0, 0.3), &device);
        let values = tensor.to_data().try_to_vec::<f32>().unwrap();
        let scheme = QuantScheme::default()
            .with_value(QuantValue::Q8S)
            .with_store(QuantStore::Native);
        let burns = tensor
            .quantize_dynamic(&scheme)
            .dequantize()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let ours = Int8Codes::quantize(&values);
        let step = ours.scale;
        for (index, (a, b)) in ours.dequantize().iter().zip(&burns).enumerate() {
            assert!(
                (a - b).abs() <= step * 1e-3,
                "value {index}: ours {a}, burn's {b}"
            );
        }
        // Every value within half a step of its code.
        for (v, d) in values.iter().zip(ours.dequantize()) {
            assert!((v - d).abs() <= step / 2.0 + 1e-7);
        }
    }

    #[test]
    fn zeros_and_extremes_survive() {
        assert_eq!(Int8Codes::quantize(&[0.0; 4]).dequantize(), vec![0.0; 4]);
        let codes = Int8Codes::quantize(&[-2.0, 1.0, 2.0]);
        assert_eq!(codes.codes, vec![-127, 64, 127]);
        assert_eq!(
            round_trip(&[1.0, 65504.0], Precision::F16),
            vec![1.0, 65504.0]
        );
        assert_eq!(Precision::from_name("int8"), Some(Precision::Int8));
    }
}
