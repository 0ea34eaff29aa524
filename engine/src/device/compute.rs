//! burn devices and the choice between them.

use super::Placement;
#[cfg(not(target_family = "wasm"))]
use super::choice::DeviceChoice;
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
    #[cfg(all(target_family = "wasm", feature = "wgpu"))]
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
            #[cfg(all(target_family = "wasm", feature = "wgpu"))]
            gpu: None,
        }
    }

    /// A wgpu adapter, or the CPU with the reason the adapter could not be had.
    ///
    /// wgpu can be initialised once per process (once per page in a browser): call this once
    /// and clone the result.
    #[cfg(feature = "wgpu")]
    pub async fn gpu_or_cpu() -> Self {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => Self::from_gpu(device, &setup),
            Err(error) => Self::cpu(short_reason(&error.to_string())),
        }
    }

    /// The CPU: this build has no WebGPU backend.
    #[cfg(not(feature = "wgpu"))]
    pub async fn gpu_or_cpu() -> Self {
        Self::cpu("this build has no WebGPU")
    }

    /// The device a command asked for (`--device`), or the CPU with the reason it could not
    /// be had: a build without that backend, no such adapter, no CUDA driver. The caller
    /// shows [`Self::placement`], so a fallback is never silent.
    ///
    /// wgpu can be initialised once per process for each adapter: call this once per device.
    #[cfg(not(target_family = "wasm"))]
    pub fn native(choice: DeviceChoice) -> Self {
        match choice {
            DeviceChoice::Cpu => Self::cpu("asked for the CPU"),
            DeviceChoice::Wgpu(index) => Self::native_wgpu(index),
            DeviceChoice::Cuda(index) => Self::cuda(index),
        }
    }

    #[cfg(all(not(target_family = "wasm"), feature = "wgpu"))]
    fn native_wgpu(index: Option<usize>) -> Self {
        use burn::tensor::DeviceKind;
        let kind = index.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
        // wgpu panics rather than erring on some drivers' failures; either way the CPU is used.
        let started =
            std::panic::catch_unwind(|| Device::wgpu_options().device_kind(kind).init_with_setup());
        match started {
            Ok(Ok((device, setup))) => Self::from_gpu(device, &setup),
            Ok(Err(error)) => Self::cpu(format!("wgpu: {}", short_reason(&error.to_string()))),
            Err(_) => Self::cpu("wgpu failed while starting its device"),
        }
    }

    #[cfg(all(not(target_family = "wasm"), not(feature = "wgpu")))]
    fn native_wgpu(_index: Option<usize>) -> Self {
        Self::cpu("this build has no wgpu backend (build with the `wgpu` feature)")
    }

    /// A CUDA device, checked by running one small product on it: burn starts CUDA lazily
    /// and a machine without a driver fails only at the first tensor.
    #[cfg(all(not(target_family = "wasm"), feature = "cuda"))]
    fn cuda(index: usize) -> Self {
        use burn::tensor::{Tensor, TensorData};
        let device = Device::cuda(index);
        let probe = device.clone();
        let works = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let ones = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 4], [2, 2]), &probe);
            ones.clone().matmul(ones).into_data().to_vec::<f32>().ok() == Some(vec![2.0; 4])
        }));
        match works {
            Ok(true) => Self {
                device,
                placement: Placement::Gpu {
                    adapter: format!("CUDA device {index}"),
                    api: "CUDA".into(),
                },
            },
            Ok(false) => Self::cpu(format!("CUDA device {index} computed a wrong product")),
            Err(_) => Self::cpu(format!(
                "CUDA device {index} could not be started (no such GPU, or no CUDA driver)"
            )),
        }
    }

    #[cfg(all(not(target_family = "wasm"), not(feature = "cuda")))]
    fn cuda(_index: usize) -> Self {
        Self::cpu("this build has no CUDA backend (build with the `cuda` feature)")
    }

    /// Calls `on_lost` with the browser's reason when it takes the GPU device away (driver
    /// reset, GPU removed, device destroyed); never on the CPU. Reads on a lost device fail from
    /// then on, so whoever owns the models moves them to the CPU.
    ///
    /// Browser only: there wgpu adds each callback to the device's `lost` promise, beside the
    /// one burn installs, whereas natively a second callback would replace burn's.
    #[cfg(target_family = "wasm")]
    pub fn on_lost(&self, on_lost: impl Fn(String) + Send + 'static) {
        #[cfg(feature = "wgpu")]
        if let Some(gpu) = &self.gpu {
            gpu.set_device_lost_callback(move |kind, message| {
                on_lost(match message.trim().trim_end_matches('.') {
                    "" => format!("{kind:?}"),
                    message => format!("{kind:?}: {message}"),
                })
            });
        }
        // Without WebGPU there is no GPU device to lose.
        #[cfg(not(feature = "wgpu"))]
        drop(on_lost);
    }

    #[cfg(feature = "wgpu")]
    fn from_gpu(device: Device, setup: &burn::tensor::wgpu::WgpuSetup) -> Self {
        let info = setup.adapter.get_info();
        let mut name = if info.name.is_empty() {
            // Browsers may withhold adapter names to limit fingerprinting.
            "adapter name withheld by the browser".to_string()
        } else {
            info.name
        };
        // A software rasteriser (Mesa's llvmpipe, SwiftShader) is wgpu on the CPU: say so.
        if info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu {
            name.push_str(", software on the CPU");
        }
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
#[cfg(feature = "wgpu")]
fn short_reason(error: &str) -> String {
    let line = error.lines().next().unwrap_or("unknown error").trim();
    match line.to_ascii_lowercase().contains("no adapter") {
        true if cfg!(target_family = "wasm") => "this browser offers no WebGPU adapter".into(),
        true => "no adapter found (no GPU driver, or no Vulkan, Metal or DX12)".into(),
        false => line.to_string(),
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
        .map_err(|e| one_line(&e.to_string()))?
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

/// A backend's error, whose lines ("…\nCaused by:\n  …") become one, so it reads as one
/// sentence in a message or a log line.
fn one_line(error: &str) -> String {
    let lines: Vec<&str> = (error.lines().map(str::trim))
        .filter(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}
