//! The `tempokd` command-line tool: argument parsing and output over library calls.

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tempokd::audio::{self, Clip, FeatureConfig, FeatureExtractor, Limits};
use tempokd::device::ComputeDevice;
use tempokd::kd::{self, HeadFusion, RolloutRow};
use tempokd::teacher::{AttentionDetail, Teacher};

#[derive(Parser)]
#[command(
    name = "tempokd",
    version,
    about = "Temporal knowledge distillation for on-device audio classification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a file, resample it to 16 kHz and print the students' features.
    Features {
        #[arg(long)]
        audio: PathBuf,
        #[arg(long, value_enum, default_value_t = FeatureKind::LogMel)]
        kind: FeatureKind,
        /// Print everything as one JSON object (otherwise a short summary).
        #[arg(long)]
        json: bool,
    },
    /// Run the teacher on a clip: its class probabilities and its temporal attention map.
    Inspect {
        /// A Hugging Face wav2vec 2.0 classifier directory: config.json, model.safetensors and
        /// optionally preprocessor_config.json.
        #[arg(long)]
        teacher: PathBuf,
        #[arg(long)]
        audio: PathBuf,
        /// Print everything as one JSON object (otherwise a short summary).
        #[arg(long)]
        json: bool,
        /// Add every layer's and head's attention weights to the JSON.
        #[arg(long)]
        attentions: bool,
        #[command(flatten)]
        rollout: RolloutArgs,
    },
}

/// Attention rollout settings; the defaults follow the teacher's head.
#[derive(clap::Args)]
struct RolloutArgs {
    /// How one layer's heads are combined.
    #[arg(long, value_enum, default_value_t = Fusion::Mean)]
    head_fusion: Fusion,
    /// Weight of the residual connection: Â = (1−w)·A + w·I.
    #[arg(long, default_value_t = 0.5)]
    residual: f32,
    /// Which row of the rolled-out matrix is the map [default: first-frame for a first-frame
    /// head, mean-of-rows for a mean-pooled head].
    #[arg(long, value_enum)]
    rollout_row: Option<Row>,
    /// Layers taking part, as FIRST..END counted from 0 (END excluded) [default: all].
    #[arg(long, value_parser = parse_layers)]
    rollout_layers: Option<std::ops::Range<usize>>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Fusion {
    Mean,
    Max,
}

#[derive(Clone, Copy, ValueEnum)]
enum Row {
    FirstFrame,
    MeanOfRows,
}

fn parse_layers(text: &str) -> Result<std::ops::Range<usize>, String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not FIRST..END, e.g. 0..12"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| format!("{part:?} in {text:?} is not a layer number"))
    };
    Ok(number(start)?..number(end)?)
}

#[derive(Clone, Copy, ValueEnum)]
enum FeatureKind {
    LogMel,
    Mfcc,
}

fn main() -> ExitCode {
    // `audio::decode` turns the decoder's internal assertions into errors; their panic messages
    // would only repeat the one-line error as noise.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_decoder = info
            .location()
            .is_some_and(|at| at.file().contains("symphonia"));
        if !in_decoder {
            default_hook(info);
        }
    }));
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Features { audio, kind, json } => features(&audio, kind, json),
        Command::Inspect {
            teacher,
            audio,
            json,
            attentions,
            rollout,
        } => inspect(&teacher, &audio, json, attentions, &rollout),
    }
}

fn load_clip(path: &Path) -> Result<Clip, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let extension = path.extension().and_then(|e| e.to_str());
    audio::load_clip(bytes, extension, &Limits::default())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One JSON object on stdout: the clip's rate and length, and `key` holding the result.
fn print_json(clip: &Clip, key: &str, value: serde_json::Value) {
    let mut output = json!({
        "sample_rate": clip.sample_rate(),
        "duration_s": clip.duration_s(),
    });
    output[key] = value;
    println!("{output}");
}

fn features(path: &Path, kind: FeatureKind, as_json: bool) -> Result<(), String> {
    let clip = load_clip(path)?;
    let extractor = FeatureExtractor::new(FeatureConfig::default()).map_err(|e| e.to_string())?;
    let features = match kind {
        FeatureKind::LogMel => extractor.log_mel(clip.samples()),
        FeatureKind::Mfcc => extractor.mfcc(clip.samples()),
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if as_json {
        print_json(&clip, "features", json!(features));
    } else {
        let (lo, hi) = features.range();
        println!(
            "{}: {:.2} s at {} Hz, {} frames × {} bins every {} s, values {lo:.2} … {hi:.2}",
            path.display(),
            clip.duration_s(),
            clip.sample_rate(),
            features.frames,
            features.bins,
            features.frame_s
        );
    }
    Ok(())
}

fn inspect(
    teacher_dir: &Path,
    path: &Path,
    as_json: bool,
    with_attentions: bool,
    settings: &RolloutArgs,
) -> Result<(), String> {
    let clip = load_clip(path)?;
    let device = ComputeDevice::cpu("the command line runs on the CPU");
    let teacher = Teacher::load_dir(teacher_dir, &device.device)
        .map_err(|e| format!("{}: {e}", teacher_dir.display()))?;
    let fusion = match settings.head_fusion {
        Fusion::Mean => HeadFusion::Mean,
        Fusion::Max => HeadFusion::Max,
    };
    let mut rollout_config = teacher.default_rollout();
    rollout_config.head_fusion = fusion;
    rollout_config.residual = settings.residual;
    rollout_config.layers = settings.rollout_layers.clone();
    if let Some(row) = settings.rollout_row {
        rollout_config.row = match row {
            Row::FirstFrame => RolloutRow::FirstFrame,
            Row::MeanOfRows => RolloutRow::MeanOfRows,
        };
    }
    let detail = match with_attentions {
        true => AttentionDetail::PerHead,
        false => AttentionDetail::Fused(fusion),
    };
    let result = pollster::block_on(teacher.infer(clip.samples(), detail))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let maps = result
        .attentions
        .as_ref()
        .ok_or("the teacher returned no attention maps")?;
    let rollout = kd::rollout(maps, &rollout_config).map_err(|e| e.to_string())?;
    let labels = teacher.labels();
    let top = labels.get(result.top).cloned().unwrap_or_default();
    if as_json {
        let mut summary = json!({
            "labels": labels,
            "logits": result.logits,
            "probs": result.probs,
            "top": top,
            "frames": result.frames,
            "frame_s": result.frame_s,
            "rollout": rollout,
        });
        if with_attentions {
            summary["attentions"] = json!(maps.nested());
        }
        print_json(&clip, "teacher", summary);
    } else {
        let peak = rollout
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(frame, _)| frame);
        println!(
            "{}: {:.2} s, teacher says {top:?} ({:.1} %); {} frames of {} ms, attention peaks at {:.2} s",
            path.display(),
            clip.duration_s(),
            100.0 * result.probs.get(result.top).copied().unwrap_or_default(),
            result.frames,
            (result.frame_s * 1000.0).round(),
            peak as f32 * result.frame_s,
        );
    }
    Ok(())
}
