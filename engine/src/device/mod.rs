//! Where tensors live: WebGPU (burn's wgpu backend) when the browser offers an adapter,
//! otherwise burn's pure-Rust CPU backend. Natively the CPU is the default and a GPU is asked
//! for explicitly (`--device`, [`DeviceChoice`]): on a machine without a GPU, wgpu's software
//! Vulkan is far slower than the CPU backend. The choice is reported with its reason so the UI
//! and the command line never hide a fallback.
//!
//! [`Placement`] and [`DeviceChoice`] need no tensors, so a page that only shows where models
//! run builds without burn; the devices themselves come with the `tensors` feature, wgpu
//! (WebGPU in a browser; Vulkan, Metal or DX12 natively) with `wgpu`, CUDA with `cuda`.

use std::fmt;

mod choice;
pub use choice::{DeviceChoice, DeviceChoiceError};
#[cfg(feature = "tensors")]
mod compute;
#[cfg(feature = "tensors")]
pub use compute::{ComputeDevice, CpuBackend, read_floats};

/// The graphics API wgpu names for a browser's WebGPU.
const BROWSER_API: &str = "BrowserWebGpu";

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
            Placement::Gpu { adapter, api } if api == BROWSER_API => {
                write!(f, "WebGPU: {adapter} ({api})")
            }
            Placement::Gpu { adapter, api } => write!(f, "GPU: {adapter} ({api})"),
            Placement::Cpu { reason } if cfg!(target_family = "wasm") => {
                write!(f, "CPU (no WebGPU: {reason})")
            }
            Placement::Cpu { reason } => write!(f, "CPU ({reason})"),
        }
    }
}
