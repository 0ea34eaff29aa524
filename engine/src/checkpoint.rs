//! Model weights by name: read from a safetensors file with every key and shape checked, or drawn
//! at random for a fresh model. Models build themselves from a [`ParamSource`], so loading a
//! checkpoint and initialising for training are one code path.

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeSet;
use thiserror::Error;

/// What is wrong with a weights file, naming the key and both shapes where there is one.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum CheckpointError {
    #[error("not a readable safetensors file ({0}); it may be truncated or corrupt")]
    Corrupt(String),
    #[error("{key} is missing (expected shape {expected:?})")]
    Missing { key: String, expected: Vec<usize> },
    #[error("{key} has shape {found:?} but the config needs {expected:?}")]
    Shape {
        key: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{key} is stored as {dtype}; only F32, F16 and BF16 weights can be read")]
    DType { key: String, dtype: String },
    #[error("{key} holds a NaN or infinite value")]
    NonFinite { key: String },
    #[error("{} key(s) that the config does not describe: {}", .0.len(), .0.join(", "))]
    Unexpected(Vec<String>),
}

/// How a fresh parameter is drawn when there is no checkpoint.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    Zeros,
    Ones,
    /// Uniform in ±1/√fan_in (PyTorch's default for linear and convolution layers).
    FanIn(usize),
}

/// Where a model's parameters come from.
pub trait ParamSource {
    /// Whether the source holds `key` (for optional or alternatively spelled parameters).
    fn contains(&self, key: &str) -> bool;

    /// The values of `key`, row-major, checked against `shape`.
    fn take(&mut self, key: &str, shape: &[usize], init: Init)
    -> Result<Vec<f32>, CheckpointError>;

    /// [`ParamSource::take`] as a tensor on `device`.
    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
        device: &Device,
    ) -> Result<Tensor<D>, CheckpointError> {
        let values = self.take(key, &shape, init)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }
}

/// A safetensors file being read. Call [`Checkpoint::finish`] once the model is built: keys
/// nobody asked for mean the file and the config disagree.
pub struct Checkpoint<'a> {
    file: SafeTensors<'a>,
    taken: BTreeSet<String>,
    ignored: Vec<&'static str>,
}

impl<'a> Checkpoint<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, CheckpointError> {
        let file =
            SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        Ok(Self {
            file,
            taken: BTreeSet::new(),
            ignored: Vec::new(),
        })
    }

    /// Keys that may be present and are deliberately not used (training-only parameters).
    pub fn ignoring(mut self, keys: &[&'static str]) -> Self {
        self.ignored.extend_from_slice(keys);
        self
    }

    /// Fails if the file holds keys that were neither taken nor ignored.
    pub fn finish(self) -> Result<(), CheckpointError> {
        let unexpected: Vec<String> = self
            .file
            .names()
            .into_iter()
            .filter(|key| !self.taken.contains(*key) && !self.ignored.contains(key))
            .map(str::to_owned)
            .collect();
        if unexpected.is_empty() {
            Ok(())
        } else {
            let mut unexpected = unexpected;
            unexpected.sort();
            Err(CheckpointError::Unexpected(unexpected))
        }
    }
}

impl ParamSource for Checkpoint<'_> {
    fn contains(&self, key: &str) -> bool {
        self.file.tensor(key).is_ok()
    }

    fn take(&mut self, key: &str, shape: &[usize], _: Init) -> Result<Vec<f32>, CheckpointError> {
        let view = self
            .file
            .tensor(key)
            .map_err(|_| CheckpointError::Missing {
                key: key.to_owned(),
                expected: shape.to_vec(),
            })?;
        if view.shape() != shape {
            return Err(CheckpointError::Shape {
                key: key.to_owned(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let values =
            decode_floats(view.dtype(), view.data()).ok_or_else(|| CheckpointError::DType {
                key: key.to_owned(),
                dtype: format!("{:?}", view.dtype()),
            })?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(CheckpointError::NonFinite {
                key: key.to_owned(),
            });
        }
        self.taken.insert(key.to_owned());
        Ok(values)
    }
}

/// Little-endian floats of a supported dtype; `None` for any other dtype.
fn decode_floats(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let pairs = || {
        bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::BF16 => Some(pairs().map(|h| f32::from_bits((h as u32) << 16)).collect()),
        Dtype::F16 => Some(pairs().map(f16_to_f32).collect()),
        _ => None,
    }
}

/// IEEE 754 half precision to single precision, subnormals included.
fn f16_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((half >> 10) & 0x1f) as i32;
    let mantissa = (half & 0x3ff) as f32;
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
    }
}

/// Fresh parameters from a seeded generator, so a random model is reproducible.
pub struct RandomInit {
    state: u64,
}

impl RandomInit {
    pub fn new(seed: u64) -> Self {
        // splitmix64 needs no non-zero state; mixing the seed once spreads small seeds apart.
        Self {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn next_unit(&mut self) -> f32 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 24 bits give every float in [0, 1) that f32 can step through evenly.
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl ParamSource for RandomInit {
    fn contains(&self, _: &str) -> bool {
        false
    }

    fn take(&mut self, _: &str, shape: &[usize], init: Init) -> Result<Vec<f32>, CheckpointError> {
        let count = shape.iter().product();
        Ok(match init {
            Init::Zeros => vec![0.0; count],
            Init::Ones => vec![1.0; count],
            Init::FanIn(fan_in) => {
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                (0..count)
                    .map(|_| (2.0 * self.next_unit() - 1.0) * bound)
                    .collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn random_init_is_reproducible_and_bounded() {
        let draw = |seed| {
            RandomInit::new(seed)
                .take("w", &[1000], Init::FanIn(4))
                .unwrap()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        assert!(a.iter().all(|v| v.abs() <= 0.5));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
