//! The device a command is asked to run on (`--device`), parsed apart from the devices
//! themselves so it needs no tensors.

use std::fmt;
use std::str::FromStr;

/// One device asked for on the command line: `cpu`, `wgpu` (the adapter wgpu prefers),
/// `wgpu:N` (the N-th discrete GPU wgpu lists), `cuda` or `cuda:N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// burn's CPU backend (flex).
    Cpu,
    /// burn's wgpu backend on Vulkan, Metal or DX12; `None` is wgpu's preferred adapter.
    Wgpu(Option<usize>),
    /// burn's CUDA backend, the GPU of that index.
    Cuda(usize),
}

impl DeviceChoice {
    /// The spellings `--device` takes, for messages.
    pub const SPELLINGS: &'static str = "cpu, wgpu, wgpu:N, cuda or cuda:N";

    /// Parses a comma-separated list of devices (`cuda:0,cuda:1`): one or more, no repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, DeviceChoiceError> {
        let mut devices: Vec<Self> = Vec::new();
        for part in text.split(',') {
            let device: Self = part.parse()?;
            if devices.contains(&device) {
                return Err(DeviceChoiceError::Repeated(device.to_string()));
            }
            devices.push(device);
        }
        Ok(devices)
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(index)) => write!(f, "wgpu:{index}"),
            Self::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = DeviceChoiceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let unknown = || DeviceChoiceError::Unknown(text.to_string());
        let (kind, index) = match text.split_once(':') {
            Some((kind, index)) => {
                // Indices are small; a long run of digits is a typo, not a GPU.
                let index = (index.len() <= 4)
                    .then(|| index.parse::<usize>().ok())
                    .flatten()
                    .ok_or_else(unknown)?;
                (kind, Some(index))
            }
            None => (text, None),
        };
        match (kind.to_ascii_lowercase().as_str(), index) {
            ("cpu", None) => Ok(Self::Cpu),
            ("wgpu", index) => Ok(Self::Wgpu(index)),
            ("cuda", index) => Ok(Self::Cuda(index.unwrap_or(0))),
            _ => Err(unknown()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceChoiceError {
    #[error("unknown device {0:?}: expected {spellings}", spellings = DeviceChoice::SPELLINGS)]
    Unknown(String),
    #[error("{0} is named twice; name each device once")]
    Repeated(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_and_writes_back() {
        for (text, device) in [
            ("cpu", DeviceChoice::Cpu),
            ("wgpu", DeviceChoice::Wgpu(None)),
            ("wgpu:1", DeviceChoice::Wgpu(Some(1))),
            ("cuda:0", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
        ] {
            assert_eq!(text.parse::<DeviceChoice>(), Ok(device), "{text}");
            assert_eq!(device.to_string(), text);
        }
        assert_eq!("CUDA".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!(
            " wgpu ".parse::<DeviceChoice>(),
            Ok(DeviceChoice::Wgpu(None))
        );
    }

    #[test]
    fn lists_read_in_order_and_mistakes_are_named() {
        assert_eq!(
            DeviceChoice::parse_list("cuda:0,cuda:1"),
            Ok(vec![DeviceChoice::Cuda(0), DeviceChoice::Cuda(1)])
        );
        for bad in [
            "",
            "gpu",
            "cpu:0",
            "wgpu:",
            "wgpu:-1",
            "cuda:x",
            "cuda:99999999999",
        ] {
            let error = DeviceChoice::parse_list(bad).unwrap_err();
            assert!(error.to_string().contains("cpu, wgpu"), "{bad}: {error}");
        }
        assert_eq!(
            DeviceChoice::parse_list("cuda,cuda:0"),
            Err(DeviceChoiceError::Repeated("cuda:0".into()))
        );
    }
}
