//! The one place that decides where tensors live.
//!
//! WebGPU (burn's wgpu backend) when the browser or machine offers an adapter, otherwise burn's
//! pure-Rust CPU backend. Natively the CPU is the default and wgpu is asked for explicitly:
//! on a machine without a GPU, wgpu's software Vulkan is far slower than the CPU backend.
//! The choice is reported with its reason so the UI never hides a fallback.

use burn::tensor::Device;
use std::fmt;

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

/// burn's native CPU backends in this build. The CLI trains on [`CpuBackend::Flex`], the fastest
/// of them on a 2-core machine (`cargo bench --bench backends`; figures in README); ndarray is
/// compiled in only for that comparison, by the `ndarray` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuBackend {
    Flex,
    #[cfg(feature = "ndarray")]
    Ndarray,
}

impl CpuBackend {
    /// Every CPU backend this build has, the default first.
    pub fn compiled() -> Vec<Self> {
        vec![
            Self::Flex,
            #[cfg(feature = "ndarray")]
            Self::Ndarray,
        ]
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Self::Ndarray => "ndarray",
        }
    }

    pub fn device(self) -> Device {
        match self {
            Self::Flex => Device::flex(),
            // burn 0.22 deprecates ndarray in favour of flex; it stays here to be measured.
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Self::Ndarray => Device::ndarray(),
        }
    }
}

/// A burn device together with how it was chosen.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    pub device: Device,
    pub placement: Placement,
    /// The wgpu device behind `device`, watched for loss in the browser.
    #[cfg(target_family = "wasm")]
    gpu: Option<burn::tensor::wgpu::wgpu::Device>,
}

impl ComputeDevice {
    /// burn's CPU backend; `reason` says why no GPU is used.
    pub fn cpu(reason: impl Into<String>) -> Self {
        Self {
            device: CpuBackend::Flex.device(),
            placement: Placement::Cpu {
                reason: reason.into(),
            },
            #[cfg(target_family = "wasm")]
            gpu: None,
        }
    }

    /// A wgpu adapter, or the CPU with the reason the adapter could not be had.
    ///
    /// wgpu can be initialised once per process (once per page in a browser): call this once
    /// and clone the result.
    pub async fn gpu_or_cpu() -> Self {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => Self::from_gpu(device, &setup),
            Err(error) => Self::cpu(short_reason(&error.to_string())),
        }
    }

    /// Calls `on_lost` with the browser's reason when it takes the GPU device away (driver
    /// reset, GPU removed, device destroyed); never on the CPU. Reads on a lost device fail from
    /// then on, so whoever owns the models moves them to the CPU.
    ///
    /// Browser only: there wgpu adds each callback to the device's `lost` promise, beside the
    /// one burn installs, whereas natively a second callback would replace burn's.
    #[cfg(target_family = "wasm")]
    pub fn on_lost(&self, on_lost: impl Fn(String) + Send + 'static) {
        if let Some(gpu) = &self.gpu {
            gpu.set_device_lost_callback(move |kind, message| {
                on_lost(match message.trim().trim_end_matches('.') {
                    "" => format!("{kind:?}"),
                    message => format!("{kind:?}: {message}"),
                })
            });
        }
    }

    /// A wgpu adapter, synchronously (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn gpu() -> Result<Self, String> {
        Device::wgpu_options()
            .init_with_setup()
            .map(|(device, setup)| Self::from_gpu(device, &setup))
            .map_err(|e| e.to_string())
    }

    fn from_gpu(device: Device, setup: &burn::tensor::wgpu::WgpuSetup) -> Self {
        let info = setup.adapter.get_info();
        let name = if info.name.is_empty() {
            // Browsers may withhold adapter names to limit fingerprinting.
            "adapter name withheld by the browser".to_string()
        } else {
            info.name
        };
        Self {
            device,
            placement: Placement::Gpu {
                adapter: name,
                api: format!("{:?}", info.backend),
            },
            #[cfg(target_family = "wasm")]
            gpu: Some(setup.device.clone()),
        }
    }

    pub fn is_gpu(&self) -> bool {
        matches!(self.placement, Placement::Gpu { .. })
    }
}

/// The first line of a wgpu error, which is the part a visitor can read.
fn short_reason(error: &str) -> String {
    let line = error.lines().next().unwrap_or("unknown error").trim();
    if line.to_ascii_lowercase().contains("no adapter") {
        "this browser offers no WebGPU adapter".to_string()
    } else {
        line.to_string()
    }
}

/// A float tensor's values on the host. Asynchronous because WebGPU reads can only complete
/// after the browser's event loop runs (the synchronous read panics there).
pub async fn read_floats<const D: usize>(
    tensor: burn::tensor::Tensor<D>,
) -> Result<Vec<f32>, String> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| format!("{e:?}"))?
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}
