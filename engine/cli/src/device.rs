//! `--device`: where a command trains or scores; a fallback is said on the terminal with its
//! reason.

use clap::Args;
use tempokd::device::{ComputeDevice, DeviceChoice, Placement};

#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct DeviceArgs {
    /// Where to run: cpu, wgpu (the GPU wgpu prefers, through Vulkan, Metal or DX12), wgpu:N
    /// (the N-th discrete GPU), cuda or cuda:N (a build with the `cuda` feature). A device
    /// that cannot be had falls back to the CPU, and the command says why. The training
    /// commands also take several GPUs of one backend (cuda:0,cuda:1), data parallel.
    #[arg(long, default_value = "cpu", value_parser = parse_devices)]
    pub device: Devices,
}

/// The devices a training run uses: the first holds the model, and each batch is split over
/// it and the rest (data parallel).
pub struct TrainingDevices {
    pub lead: ComputeDevice,
    pub replicas: Vec<ComputeDevice>,
}

impl TrainingDevices {
    /// Where the run trained, as its last line and its record say it.
    pub fn placements(&self) -> Vec<Placement> {
        std::iter::once(&self.lead)
            .chain(&self.replicas)
            .map(|device| device.placement.clone())
            .collect()
    }
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
    /// The one device asked for, started (see [`start_saying_fallback`]).
    pub fn start(&self) -> Result<ComputeDevice, String> {
        let [choice] = self.device.0.as_slice() else {
            return Err(format!(
                "--device {}: this command runs on one device; name one of {}",
                self.device,
                DeviceChoice::SPELLINGS
            ));
        };
        Ok(start_saying_fallback(*choice))
    }

    /// The devices a training command runs on: one as [`DeviceArgs::start`] gives it, or
    /// several of one GPU backend, each of which must start as asked (a data-parallel run
    /// does not quietly put a part of each batch on the CPU).
    pub fn start_for_training(&self) -> Result<TrainingDevices, String> {
        let choices = self.device.0.as_slice();
        if choices.len() == 1 {
            return Ok(TrainingDevices {
                lead: self.start()?,
                replicas: Vec::new(),
            });
        }
        let refused = |why: String| format!("--device {}: {why}", self.device);
        if choices.contains(&DeviceChoice::Cpu) {
            return Err(refused(
                "the CPU is one device to burn; train data-parallel over several GPUs of one \
                 backend (wgpu:0,wgpu:1 or cuda:0,cuda:1)"
                    .into(),
            ));
        }
        let backend = |choice: &DeviceChoice| matches!(choice, DeviceChoice::Cuda(_));
        if choices.iter().any(|c| backend(c) != backend(&choices[0])) {
            return Err(refused(
                "a data-parallel run uses GPUs of one backend, all wgpu or all cuda".into(),
            ));
        }
        let mut started = Vec::with_capacity(choices.len());
        for choice in choices {
            let device = ComputeDevice::native(*choice);
            if let Placement::Cpu { reason } = &device.placement {
                return Err(refused(format!(
                    "{choice} could not be had ({reason}); a data-parallel run needs every \
                     device it names"
                )));
            }
            started.push(device);
        }
        let lead = started.remove(0);
        Ok(TrainingDevices {
            lead,
            replicas: started,
        })
    }

    /// The first device named, for work that runs on one (the teacher's maps a build of many
    /// runs caches before its students train).
    pub fn start_lead(&self) -> Result<ComputeDevice, String> {
        let lead = (self.device.0.first().copied())
            .ok_or_else(|| format!("--device: name one of {}", DeviceChoice::SPELLINGS))?;
        Ok(start_saying_fallback(lead))
    }

    /// The flag as a job passes it on to the `tempokd` process it starts.
    pub fn flag(&self) -> [String; 2] {
        ["--device".into(), self.device.to_string()]
    }
}

/// `choice` started, or the CPU instead, said on stderr (a failing command's error stays its
/// one line on stderr otherwise).
fn start_saying_fallback(choice: DeviceChoice) -> ComputeDevice {
    let device = ComputeDevice::native(choice);
    if choice != DeviceChoice::Cpu && !device.is_gpu() {
        eprintln!("device: {}, not {choice} as asked", device.placement);
    }
    device
}
