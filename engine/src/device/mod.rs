//! Where tensors live: WebGPU (burn's wgpu backend) when the browser or machine offers an
//! adapter, otherwise burn's pure-Rust CPU backend. Natively the CPU is the default and wgpu is
//! asked for explicitly: on a machine without a GPU, wgpu's software Vulkan is far slower than
//! the CPU backend. The choice is reported with its reason so the UI never hides a fallback.
//!
//! [`Placement`] needs no tensors, so a page that only shows where models run builds without
//! burn; the devices themselves come with the `tensors` feature, WebGPU with `webgpu`.

use std::fmt;

#[cfg(feature = "tensors")]
mod compute;
#[cfg(feature = "tensors")]
pub use compute::{ComputeDevice, CpuBackend, read_floats};

/// Where tensors live, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Placement {
    /// A WebGPU / wgpu adapter, by name and graphics API.
    Gpu { adapter: String, api: String },
    /// burn's CPU backend, with the reason no GPU is used.
    Cpu { reason: String },
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Gpu { adapter, api } => write!(f, "WebGPU: {adapter} ({api})"),
            Placement::Cpu { reason } => write!(f, "CPU (no WebGPU: {reason})"),
        }
    }
}
