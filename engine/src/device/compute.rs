//! burn devices and the choice between them.

use super::Placement;
use burn::tensor::Device;

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
    #[cfg(all(target_family = "wasm", feature = "webgpu"))]
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
            #[cfg(all(target_family = "wasm", feature = "webgpu"))]
            gpu: None,
        }
    }

    /// A wgpu adapter, or the CPU with the reason the adapter could not be had.
    ///
    /// wgpu can be initialised once per process (once per page in a browser): call this once
    /// and clone the result.
    #[cfg(feature = "webgpu")]
    pub async fn gpu_or_cpu() -> Self {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => Self::from_gpu(device, &setup),
            Err(error) => Self::cpu(short_reason(&error.to_string())),
        }
    }

    /// The CPU: this build has no WebGPU backend.
    #[cfg(not(feature = "webgpu"))]
    pub async fn gpu_or_cpu() -> Self {
        Self::cpu("this build has no WebGPU")
    }

    /// Calls `on_lost` with the browser's reason when it takes the GPU device away (driver
    /// reset, GPU removed, device destroyed); never on the CPU. Reads on a lost device fail from
    /// then on, so whoever owns the models moves them to the CPU.
    ///
    /// Browser only: there wgpu adds each callback to the device's `lost` promise, beside the
    /// one burn installs, whereas natively a second callback would replace burn's.
    #[cfg(target_family = "wasm")]
    pub fn on_lost(&self, on_lost: impl Fn(String) + Send + 'static) {
        #[cfg(feature = "webgpu")]
        if let Some(gpu) = &self.gpu {
            gpu.set_device_lost_callback(move |kind, message| {
                on_lost(match message.trim().trim_end_matches('.') {
                    "" => format!("{kind:?}"),
                    message => format!("{kind:?}: {message}"),
                })
            });
        }
        // Without WebGPU there is no GPU device to lose.
        #[cfg(not(feature = "webgpu"))]
        drop(on_lost);
    }

    #[cfg(feature = "webgpu")]
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
#[cfg(feature = "webgpu")]
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
