//! TempoKD engine: everything that is not UI. Audio in, models, temporal knowledge distillation
//! and training. Runs natively and in wasm; the `tempokd` command line is its own crate
//! (`engine/cli/`, `tempokd-cli`) over this one.

#[cfg(feature = "tensors")]
mod activation;
pub mod audio;
#[cfg(feature = "tensors")]
pub mod batch_norm;
#[cfg(feature = "tensors")]
mod batch_parts;
pub mod capped_read;
#[cfg(feature = "tensors")]
pub mod checkpoint;
#[cfg(feature = "tensors")]
mod conv1d;
#[cfg(feature = "tensors")]
mod conv2d;
#[cfg(feature = "tensors")]
pub mod convolution;
pub mod data;
pub mod device;
pub mod export;
#[cfg(feature = "tensors")]
mod flex;
pub mod heap;
pub mod kd;
#[cfg(feature = "tensors")]
mod matmul;
pub mod metrics;
pub mod model;
#[cfg(not(target_family = "wasm"))]
pub mod parallel;
pub mod prediction;
#[cfg(feature = "tensors")]
mod reference_path;
pub mod rng;
#[cfg(feature = "tensors")]
mod simd;
pub mod stream;
#[cfg(feature = "tensors")]
pub mod students;
#[cfg(feature = "tensors")]
pub mod teacher;
#[cfg(feature = "tensors")]
pub mod train;
