//! The `tempokd` command-line tool: argument parsing and output over library calls.

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tempokd::audio::{self, Clip, FeatureConfig, FeatureExtractor, Limits};

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
    }
}

fn load_clip(path: &Path) -> Result<Clip, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let extension = path.extension().and_then(|e| e.to_str());
    audio::load_clip(bytes, extension, &Limits::default())
        .map_err(|e| format!("{}: {e}", path.display()))
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
        let output = json!({
            "sample_rate": clip.sample_rate(),
            "duration_s": clip.duration_s(),
            "features": features,
        });
        println!("{output}");
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
