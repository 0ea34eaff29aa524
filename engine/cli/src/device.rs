//! `--device`: where a command trains or scores; a fallback is said on the terminal with its
//! reason.

use clap::Args;
use tempokd::device::{ComputeDevice, DeviceChoice};

#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct DeviceArgs {
    /// Where to run: cpu, wgpu (the GPU wgpu prefers, through Vulkan, Metal or DX12), wgpu:N
    /// (the N-th discrete GPU), cuda or cuda:N (a build with the `cuda` feature). A device
    /// that cannot be had falls back to the CPU, and the command says why.
    #[arg(long, default_value = "cpu", value_parser = parse_devices)]
    pub device: Devices,
}

/// The devices named by one `--device`, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Devices(pub Vec<DeviceChoice>);

fn parse_devices(text: &str) -> Result<Devices, String> {
    DeviceChoice::parse_list(text)
        .map(Devices)
        .map_err(|e| e.to_string())
}

impl std::fmt::Display for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", names.join(","))
    }
}

impl DeviceArgs {
    /// The one device asked for, started; on stderr when it is not the one asked for (a
    /// failing command's error stays its one line on stderr otherwise).
    pub fn start(&self) -> Result<ComputeDevice, String> {
        let [choice] = self.device.0.as_slice() else {
            return Err(format!(
                "--device {}: this command runs on one device; name one of {}",
                self.device,
                DeviceChoice::SPELLINGS
            ));
        };
        let device = ComputeDevice::native(*choice);
        if *choice != DeviceChoice::Cpu && !device.is_gpu() {
            eprintln!("device: {}, not {choice} as asked", device.placement);
        }
        Ok(device)
    }

    /// The flag as a job passes it on to the `tempokd` process it starts.
    pub fn flag(&self) -> [String; 2] {
        ["--device".into(), self.device.to_string()]
    }
}
