//! Model weights by name: read from a safetensors file with every key and shape checked, or drawn
//! at random for a fresh model. Models build themselves from a [`ParamSource`], so loading a
//! checkpoint and initialising for training are one code path. Our own models are saved and
//! loaded by the path of field names that burn's module tree gives each tensor.

use crate::device::read_floats;
use crate::rng::Rng;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use thiserror::Error;

/// Room a safetensors file needs beyond its tensors' bytes: the JSON header with names, shapes
/// and offsets. A longer header is refused before it is parsed.
pub const WEIGHTS_HEADER_BYTES: u64 = 16 << 20;

/// The most bytes a safetensors file of at most `max_parameters` f32 parameters can hold.
pub fn max_weights_bytes(max_parameters: u64) -> u64 {
    max_parameters
        .saturating_mul(4)
        .saturating_add(WEIGHTS_HEADER_BYTES)
}

/// The metadata key of an int8 tensor's scale: `scale:` and the tensor's name.
pub const SCALE_PREFIX: &str = "scale:";

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
    #[error(
        "{key} is stored as {dtype}; only F32, F16, BF16 and int8 (I8 with a scale) weights can be read"
    )]
    DType { key: String, dtype: String },
    #[error(
        "{key} is stored as int8 codes, but the file's metadata gives no usable scale for it \
         (\"{SCALE_PREFIX}{key}\": a positive finite number)"
    )]
    Scale { key: String },
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

/// A header naming one tensor twice is ambiguous (a JSON parser keeps either), so it is refused
/// before the file is read; so is a header over [`WEIGHTS_HEADER_BYTES`], before it is parsed
/// (parsed, a header of a hundred million short keys is gigabytes). A shorter header that runs
/// past the file's end is left to the safetensors reader.
fn refuse_duplicate_keys(bytes: &[u8]) -> Result<(), CheckpointError> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Ok(());
    };
    let length = u64::from_le_bytes(*length);
    if length > WEIGHTS_HEADER_BYTES {
        return Err(CheckpointError::Corrupt(format!(
            "its header is {length} bytes; at most {WEIGHTS_HEADER_BYTES} are read"
        )));
    }
    let Some(header) = usize::try_from(length)
        .ok()
        .and_then(|length| rest.get(..length))
    else {
        return Ok(());
    };
    match serde_json::from_slice::<UniqueKeys>(header) {
        Err(error) if error.is_data() => Err(CheckpointError::Corrupt(error.to_string())),
        _ => Ok(()),
    }
}

/// The top-level keys of a safetensors header, each once.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of tensors")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut seen = BTreeSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "the header names `{key}` twice"
                        )));
                    }
                }
                Ok(UniqueKeys)
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// A safetensors file being read. Call [`Checkpoint::finish`] once the model is built: keys
/// nobody asked for mean the file and the config disagree.
pub struct Checkpoint<'a> {
    file: SafeTensors<'a>,
    /// The file's metadata: where int8 tensors keep their scales.
    metadata: HashMap<String, String>,
    /// Each key taken, with how the file stored it.
    taken: BTreeMap<String, Dtype>,
    ignored: Vec<&'static str>,
}

impl<'a> Checkpoint<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, CheckpointError> {
        refuse_duplicate_keys(bytes)?;
        let corrupt = |e: safetensors::SafeTensorError| CheckpointError::Corrupt(e.to_string());
        let file = SafeTensors::deserialize(bytes).map_err(corrupt)?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
        Ok(Self {
            file,
            metadata: header.metadata().clone().unwrap_or_default(),
            taken: BTreeMap::new(),
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
            .filter(|key| !self.taken.contains_key(*key) && !self.ignored.contains(key))
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

    /// How the file stored each key taken so far.
    pub fn stored_as(&self) -> &BTreeMap<String, Dtype> {
        &self.taken
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
        let values = match view.dtype() {
            Dtype::I8 => {
                let scale = (self.metadata.get(&format!("{SCALE_PREFIX}{key}")))
                    .and_then(|text| text.parse::<f32>().ok())
                    .filter(|scale| scale.is_finite() && *scale > 0.0)
                    .ok_or_else(|| CheckpointError::Scale {
                        key: key.to_owned(),
                    })?;
                (view.data().iter())
                    .map(|&byte| f32::from(byte as i8) * scale)
                    .collect()
            }
            dtype => decode_floats(dtype, view.data()).ok_or_else(|| CheckpointError::DType {
                key: key.to_owned(),
                dtype: format!("{dtype:?}"),
            })?,
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(CheckpointError::NonFinite {
                key: key.to_owned(),
            });
        }
        self.taken.insert(key.to_owned(), view.dtype());
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
    rng: Rng,
}

impl RandomInit {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
        }
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
                    .map(|_| self.rng.uniform(-bound, bound))
                    .collect()
            }
        })
    }
}

/// One float tensor of a module, named by its path of field names (`gru.0.forward.weight_ih`),
/// flattened; `shape` restores it.
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Tensor<1>,
}

impl NamedTensor {
    /// Running statistics (batch norm's mean and variance) are state the forward pass updates,
    /// not parameters an optimiser trains; PyTorch's `parameters()` leaves them out too, while
    /// `burn::module::Module::num_params` counts them.
    pub fn is_trainable(&self) -> bool {
        !(self.name.ends_with("running_mean") || self.name.ends_with("running_var"))
    }
}

/// Every float tensor of `module` by path, running statistics included: what a checkpoint of
/// one of our own models holds.
pub fn named_tensors<M: Module>(module: &M) -> Vec<NamedTensor> {
    let mut visitor = PathVisitor::new(None);
    module.visit(&mut visitor);
    visitor.found
}

/// The gradient of every float parameter of `module` that has one after a backward pass.
pub fn named_gradients<M: Module>(module: &M, gradients: &Gradients) -> Vec<NamedTensor> {
    let mut visitor = PathVisitor::new(Some(gradients));
    module.visit(&mut visitor);
    visitor.found
}

/// Collects values, or gradients when given them, with the path of each.
struct PathVisitor<'g> {
    path: Vec<String>,
    gradients: Option<&'g Gradients>,
    found: Vec<NamedTensor>,
}

impl<'g> PathVisitor<'g> {
    fn new(gradients: Option<&'g Gradients>) -> Self {
        Self {
            path: Vec::new(),
            gradients,
            found: Vec::new(),
        }
    }
}

impl ModuleVisitor for PathVisitor<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let shape = value.dims().to_vec();
        let picked = match self.gradients {
            None => Some(value),
            Some(gradients) => value.grad(gradients),
        };
        if let Some(tensor) = picked {
            self.found.push(NamedTensor {
                name: self.path.join("."),
                values: tensor.reshape([shape.iter().product::<usize>()]),
                shape,
            });
        }
    }
}

/// Replaces every float tensor of `module` by the value stored under its path in `source`,
/// checking shapes. Call [`Checkpoint::finish`] afterwards to refuse keys the module lacks.
pub fn load_by_path<M: Module>(
    module: M,
    source: &mut impl ParamSource,
) -> Result<M, CheckpointError> {
    let mut mapper = PathLoader {
        path: Vec::new(),
        source,
        error: None,
    };
    let module = module.map(&mut mapper);
    match mapper.error {
        Some(error) => Err(error),
        None => Ok(module),
    }
}

struct PathLoader<'s, S> {
    path: Vec<String>,
    source: &'s mut S,
    /// The first failure; `map` cannot return one, so the rest of the walk is skipped.
    error: Option<CheckpointError>,
}

impl<S: ParamSource> ModuleMapper for PathLoader<'_, S> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let shape: [usize; D] = param.lazy_shape().dims();
        let device = param.lazy_device();
        let key = self.path.join(".");
        match self.source.tensor(&key, shape, Init::Zeros, &device) {
            Ok(tensor) => {
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            Err(error) => {
                self.error = Some(error);
                param
            }
        }
    }
}

/// A safetensors file (F32) of named tensors, read back from the device.
pub async fn to_safetensors(tensors: Vec<NamedTensor>) -> Result<Vec<u8>, CheckpointError> {
    let host = read_to_host(tensors)
        .await
        .map_err(CheckpointError::Corrupt)?;
    serialize(
        (host.into_iter())
            .map(|(name, shape, values)| (name, shape, Stored::F32(values)))
            .collect(),
    )
}

/// Named tensors read back from the device: (name, shape, values), or why the read failed.
pub async fn read_to_host(
    tensors: Vec<NamedTensor>,
) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>, String> {
    let mut host = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let values = read_floats(tensor.values).await?;
        host.push((tensor.name, tensor.shape, values));
    }
    Ok(host)
}

/// A tensor's values as a file stores them.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    F32(Vec<f32>),
    /// IEEE half-precision bit patterns.
    F16(Vec<u16>),
    /// Symmetric int8 codes: the values are `scale · code`.
    I8 {
        codes: Vec<i8>,
        scale: f32,
    },
}

/// A safetensors file of named tensors, each stored as given; the int8 tensors' scales go into
/// the file's metadata (under [`SCALE_PREFIX`] and the tensor's name).
pub fn serialize(tensors: Vec<(String, Vec<usize>, Stored)>) -> Result<Vec<u8>, CheckpointError> {
    let mut metadata = HashMap::new();
    let host: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = (tensors.into_iter())
        .map(|(name, shape, stored)| {
            let (dtype, bytes) = match stored {
                Stored::F32(values) => (
                    Dtype::F32,
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
                Stored::F16(bits) => (
                    Dtype::F16,
                    bits.iter().flat_map(|b| b.to_le_bytes()).collect(),
                ),
                Stored::I8 { codes, scale } => {
                    // Display writes the shortest text that parses back to the same f32.
                    metadata.insert(format!("{SCALE_PREFIX}{name}"), scale.to_string());
                    (Dtype::I8, codes.iter().map(|&c| c as u8).collect())
                }
            };
            (name, shape, dtype, bytes)
        })
        .collect();
    let views = host
        .iter()
        .map(|(name, shape, dtype, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| CheckpointError::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = (!metadata.is_empty()).then_some(metadata);
    safetensors::serialize(views, metadata).map_err(|e| CheckpointError::Corrupt(e.to_string()))
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
    fn a_header_over_its_allowance_is_refused_before_it_is_parsed() {
        let file = |header: &[u8]| {
            let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
            bytes.extend(header);
            bytes
        };
        // Keys enough to pass the allowance, each one distinct.
        let mut keys = String::from("{");
        let mut key = 0u64;
        while keys.len() as u64 <= WEIGHTS_HEADER_BYTES {
            keys.push_str(&format!("\"{key}\":0,"));
            key += 1;
        }
        keys.push_str("\"end\":0}");
        let expected = format!(
            "its header is {} bytes; at most {WEIGHTS_HEADER_BYTES} are read",
            keys.len()
        );
        assert_eq!(
            refuse_duplicate_keys(&file(keys.as_bytes())),
            Err(CheckpointError::Corrupt(expected))
        );
        // A header within the allowance is parsed: a repeated key is found.
        assert!(matches!(
            refuse_duplicate_keys(&file(br#"{"a":0,"a":0}"#)),
            Err(CheckpointError::Corrupt(why)) if why.contains("names `a` twice")
        ));
        assert_eq!(refuse_duplicate_keys(&file(br#"{"a":0,"b":0}"#)), Ok(()));
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
