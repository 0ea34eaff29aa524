//! What a student is: its classes, its front end and its layer sizes, as stored in
//! `config.json`.

use super::StudentError;
use super::budget::StudentBudget;
use crate::audio::{FeatureConfig, FeatureKind, Features};
use crate::export::Precision;
use serde::{Deserialize, Serialize};

/// LSTM with peepholes and an output projection, read out at the last frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmPConfig {
    pub units: usize,
    pub projection: usize,
    pub dropout: f64,
}

impl Default for LstmPConfig {
    fn default() -> Self {
        Self {
            units: 500,
            projection: 200,
            dropout: 0.3,
        }
    }
}

/// Temporal convolutions over features-as-channels with residual blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcResNetConfig {
    pub first_channels: usize,
    pub first_kernel: usize,
    /// Output channels of each stage; every stage halves the frame rate.
    pub stages: Vec<usize>,
    /// 1 gives TC-ResNet8, 2 gives TC-ResNet14 (the extra block keeps the stride and the
    /// channels, with an identity shortcut).
    pub blocks_per_stage: usize,
    pub kernel: usize,
}

impl Default for TcResNetConfig {
    fn default() -> Self {
        Self {
            first_channels: 16,
            first_kernel: 3,
            stages: vec![24, 32, 48],
            blocks_per_stage: 1,
            kernel: 9,
        }
    }
}

/// Two valid 2-D convolutions, a GRU read out at its last frame, and a dense stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrnnConfig {
    pub conv_channels: Vec<usize>,
    /// `[time, frequency]` per convolution.
    pub conv_kernels: Vec<[usize; 2]>,
    pub gru_units: usize,
    pub dropout: f64,
    /// Hidden dense layers after the GRU: the first linear, the rest ReLU.
    pub dense: Vec<usize>,
}

impl Default for CrnnConfig {
    fn default() -> Self {
        Self {
            conv_channels: vec![16, 16],
            conv_kernels: vec![[3, 3], [5, 3]],
            gru_units: 256,
            dropout: 0.1,
            dense: vec![128, 256],
        }
    }
}

/// Convolutions along time, bidirectional GRUs and query attention from the middle frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttRnnConfig {
    /// Channels of the time convolutions; the last one is 1, so features keep their width.
    pub conv_channels: Vec<usize>,
    pub conv_kernel: usize,
    pub gru_layers: usize,
    /// Units per direction.
    pub gru_units: usize,
    pub heads: usize,
    pub dropout: f64,
    /// Hidden dense layers after attention: the first ReLU, the rest linear.
    pub dense: Vec<usize>,
}

impl AttRnnConfig {
    fn with_heads(heads: usize, dropout: f64) -> Self {
        Self {
            conv_channels: vec![10, 1],
            conv_kernel: 5,
            gru_layers: 2,
            gru_units: 128,
            heads,
            dropout,
            dense: vec![64, 32],
        }
    }
}

/// The layer layout of a student, tagged by its architecture in `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", content = "layout", rename_all = "kebab-case")]
pub enum Architecture {
    LstmP(LstmPConfig),
    #[serde(rename = "tc-resnet")]
    TcResNet(TcResNetConfig),
    Crnn(CrnnConfig),
    AttRnn(AttRnnConfig),
    MhattRnn(AttRnnConfig),
}

/// The reference layouts of the paper's students.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    LstmP,
    TcResNet8,
    TcResNet14,
    Crnn,
    AttRnn,
    MhattRnn,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::LstmP,
        Preset::TcResNet8,
        Preset::TcResNet14,
        Preset::Crnn,
        Preset::AttRnn,
        Preset::MhattRnn,
    ];

    /// The paper's five students, in its order (TC-ResNet8 standing for TC-ResNet).
    pub const PAPER: [Preset; 5] = [
        Preset::LstmP,
        Preset::TcResNet8,
        Preset::Crnn,
        Preset::AttRnn,
        Preset::MhattRnn,
    ];

    /// The name used on the command line and in the UI.
    pub fn name(self) -> &'static str {
        match self {
            Preset::LstmP => "lstm-p",
            Preset::TcResNet8 => "tc-resnet8",
            Preset::TcResNet14 => "tc-resnet14",
            Preset::Crnn => "crnn",
            Preset::AttRnn => "att-rnn",
            Preset::MhattRnn => "mhatt-rnn",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|preset| preset.name() == name)
    }

    /// The preset's layout for `labels`, on the paper's front end (40 MFCC for TC-ResNet, 20
    /// for the others).
    pub fn config(self, labels: Vec<String>) -> StudentConfig {
        let arch = match self {
            Preset::LstmP => Architecture::LstmP(LstmPConfig::default()),
            Preset::TcResNet8 => Architecture::TcResNet(TcResNetConfig::default()),
            Preset::TcResNet14 => Architecture::TcResNet(TcResNetConfig {
                blocks_per_stage: 2,
                ..TcResNetConfig::default()
            }),
            Preset::Crnn => Architecture::Crnn(CrnnConfig::default()),
            Preset::AttRnn => Architecture::AttRnn(AttRnnConfig::with_heads(1, 0.1)),
            Preset::MhattRnn => Architecture::MhattRnn(AttRnnConfig::with_heads(4, 0.2)),
        };
        let n_mfcc = match self {
            Preset::TcResNet8 | Preset::TcResNet14 => 40,
            _ => 20,
        };
        StudentConfig {
            labels,
            input: FeatureKind::Mfcc,
            features: FeatureConfig {
                n_mfcc,
                normalize: matches!(self, Preset::Crnn | Preset::LstmP),
                ..FeatureConfig::default()
            },
            arch,
            weights: Precision::F32,
        }
    }
}

/// Where a student's frames sit on the clip's time axis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameAxis {
    pub frames: usize,
    /// Seconds from one frame to the next.
    pub frame_s: f32,
    /// Where frame 0's cell starts, in seconds (negative when it is centred near the start).
    pub start_s: f32,
}

/// Input frames per student frame, input frames lost at the edges, and the input frame that
/// student frame 0 is centred on.
struct Reduction {
    stride: usize,
    lost: usize,
    first_centre: usize,
}

impl Default for Reduction {
    fn default() -> Self {
        Self {
            stride: 1,
            lost: 0,
            first_centre: 0,
        }
    }
}

/// A student: its classes, front end and layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudentConfig {
    /// One name per class.
    pub labels: Vec<String>,
    pub input: FeatureKind,
    pub features: FeatureConfig,
    #[serde(flatten)]
    pub arch: Architecture,
    /// How `model.safetensors` stores the matrices and kernels (see `students::precision`); a
    /// config without it is fp32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub weights: Precision,
}

/// Layers so large that building them would exhaust memory are refused before allocation.
const MAX_WIDTH: usize = 8192;
const MAX_DEPTH: usize = 64;
const MAX_KERNEL: usize = 63;

impl StudentConfig {
    pub fn from_json(text: &str) -> Result<Self, StudentError> {
        crate::capped_read::check_config_size(text, "the file").map_err(StudentError::Config)?;
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| StudentError::Config(format!("not JSON ({e})")))?;
        if json.get("model_type").is_some() {
            return Err(StudentError::Config(
                "this is a Hugging Face model config (it has \"model_type\"), a teacher, not a \
                 student"
                    .into(),
            ));
        }
        let config: Self = serde_json::from_value(json).map_err(|e| {
            StudentError::Config(format!(
                "{e} (expected \"arch\": one of lstm-p, tc-resnet, crnn, att-rnn, mhatt-rnn, with \
                 its \"layout\", \"labels\", \"input\" and \"features\")"
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        // A config is plain data: serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn classes(&self) -> usize {
        self.labels.len()
    }

    /// The architecture's name as `config.json` spells it.
    pub fn arch_name(&self) -> &'static str {
        match self.arch {
            Architecture::LstmP(_) => "lstm-p",
            Architecture::TcResNet(_) => "tc-resnet",
            Architecture::Crnn(_) => "crnn",
            Architecture::AttRnn(_) => "att-rnn",
            Architecture::MhattRnn(_) => "mhatt-rnn",
        }
    }

    /// Values per input frame.
    pub fn input_size(&self) -> usize {
        match self.input {
            FeatureKind::Mfcc => self.features.n_mfcc,
            FeatureKind::LogMel => self.features.n_mels,
        }
    }

    /// How the student's time axis relates to its input frames.
    fn reduction(&self) -> Reduction {
        match &self.arch {
            Architecture::LstmP(_) | Architecture::AttRnn(_) | Architecture::MhattRnn(_) => {
                Reduction::default()
            }
            // Each stage's strided, half-padded convolution keeps every second frame, centred
            // on it: ⌈t/2⌉ per stage, ⌈t/2^stages⌉ in all.
            Architecture::TcResNet(c) => Reduction {
                stride: 1 << c.stages.len(),
                ..Reduction::default()
            },
            // Valid convolutions lose `kernel − 1` frames each; output frame 0 is centred half
            // a kernel into the input.
            Architecture::Crnn(c) => Reduction {
                lost: c.conv_kernels.iter().map(|[t, _]| t - 1).sum(),
                first_centre: c.conv_kernels.iter().map(|[t, _]| t / 2).sum(),
                ..Reduction::default()
            },
        }
    }

    /// Student frames for `input_frames` feature frames (0 when too few).
    pub fn frames_for_input(&self, input_frames: usize) -> usize {
        let reduction = self.reduction();
        input_frames
            .saturating_sub(reduction.lost)
            .div_ceil(reduction.stride)
    }

    /// The fewest feature frames that give the student one frame.
    pub fn min_input_frames(&self) -> usize {
        self.reduction().lost + 1
    }

    /// The student's frames for features computed from a clip.
    pub fn frame_axis(&self, features: &Features) -> FrameAxis {
        let Reduction {
            stride,
            first_centre,
            ..
        } = self.reduction();
        let centre_s = features.start_s + (first_centre as f32 + 0.5) * features.frame_s;
        let frame_s = stride as f32 * features.frame_s;
        FrameAxis {
            frames: self.frames_for_input(features.frames),
            frame_s,
            start_s: centre_s - frame_s / 2.0,
        }
    }

    /// Refuses layouts that cannot be built or cost more than the default budget.
    pub fn validate(&self) -> Result<(), StudentError> {
        self.validate_within(&StudentBudget::default())
    }

    /// Refuses layouts that cannot be built or cost more than `budget`, before anything is
    /// allocated.
    pub fn validate_within(&self, budget: &StudentBudget) -> Result<(), StudentError> {
        self.check_fields()?;
        self.check_budget(budget).map(|_| ())
    }

    /// Each field within its own bounds.
    fn check_fields(&self) -> Result<(), StudentError> {
        let bad = |why: String| Err(StudentError::Config(why));
        if self.labels.is_empty() || self.labels.len() > MAX_WIDTH {
            return bad(format!(
                "labels must name between 1 and {MAX_WIDTH} classes, found {}",
                self.labels.len()
            ));
        }
        self.features
            .validate()
            .map_err(|e| StudentError::Config(e.to_string()))?;
        let within = |name: &str, value: usize, max: usize| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(StudentError::Config(format!(
                    "{name} must be between 1 and {max}, found {value}"
                )))
            }
        };
        let width = |name: &str, value: usize| within(name, value, MAX_WIDTH);
        let depth = |name: &str, value: usize| within(name, value, MAX_DEPTH);
        let odd_kernel = |name: &str, kernel: usize| {
            if kernel % 2 == 1 && kernel <= MAX_KERNEL {
                Ok(())
            } else {
                Err(StudentError::Config(format!(
                    "{name} must be odd and at most {MAX_KERNEL}, found {kernel}"
                )))
            }
        };
        let dropout = |value: f64| {
            if (0.0..1.0).contains(&value) {
                Ok(())
            } else {
                Err(StudentError::Config(format!(
                    "dropout must be in [0, 1), found {value}"
                )))
            }
        };
        let input = self.input_size();
        match &self.arch {
            Architecture::LstmP(c) => {
                width("units", c.units)?;
                width("projection", c.projection)?;
                dropout(c.dropout)?;
            }
            Architecture::TcResNet(c) => {
                width("first_channels", c.first_channels)?;
                depth("stages", c.stages.len())?;
                depth("blocks_per_stage", c.blocks_per_stage)?;
                for &channels in &c.stages {
                    width("stage channels", channels)?;
                }
                odd_kernel("first_kernel", c.first_kernel)?;
                odd_kernel("kernel", c.kernel)?;
                // 2^stages must not overflow the frame arithmetic.
                if c.stages.len() > 16 {
                    return bad(format!("at most 16 stages, found {}", c.stages.len()));
                }
            }
            Architecture::Crnn(c) => {
                depth("conv layers", c.conv_channels.len())?;
                if c.conv_kernels.len() != c.conv_channels.len() {
                    return bad(format!(
                        "{} conv_kernels for {} conv_channels",
                        c.conv_kernels.len(),
                        c.conv_channels.len()
                    ));
                }
                for &channels in &c.conv_channels {
                    width("conv channels", channels)?;
                }
                for &[time, frequency] in &c.conv_kernels {
                    within("conv kernel (time)", time, MAX_KERNEL)?;
                    within("conv kernel (frequency)", frequency, MAX_KERNEL)?;
                }
                let lost: usize = c.conv_kernels.iter().map(|[_, f]| f - 1).sum();
                if lost >= input {
                    return bad(format!(
                        "the convolutions need more than {lost} feature bins; the input has {input}"
                    ));
                }
                width("gru_units", c.gru_units)?;
                depth("dense layers", c.dense.len().max(1))?;
                for &units in &c.dense {
                    width("dense units", units)?;
                }
                dropout(c.dropout)?;
            }
            Architecture::AttRnn(c) | Architecture::MhattRnn(c) => {
                depth("conv layers", c.conv_channels.len())?;
                if c.conv_channels.last() != Some(&1) {
                    return bad("the last conv_channels entry must be 1".into());
                }
                for &channels in &c.conv_channels {
                    width("conv channels", channels)?;
                }
                odd_kernel("conv_kernel", c.conv_kernel)?;
                depth("gru_layers", c.gru_layers)?;
                width("gru_units", c.gru_units)?;
                depth("heads", c.heads)?;
                depth("dense layers", c.dense.len().max(1))?;
                for &units in &c.dense {
                    width("dense units", units)?;
                }
                dropout(c.dropout)?;
            }
        }
        Ok(())
    }
}
