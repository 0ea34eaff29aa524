//! `tempokd stream`: models listening to a recording as if it came from a microphone, each
//! keyword they hear printed with where it was said.

use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use tempokd::audio::{self, Limits};
use tempokd::device::ComputeDevice;
use tempokd::model::Model;
use tempokd::stream::{
    Detected, DetectorSettings, ListenSettings, StreamSettings, VadSettings, detect,
};

/// Samples per chunk fed to the listener, about what a microphone callback delivers.
const CHUNK: usize = 2048;

/// The longest recording `stream` takes: the file cap decides before this does for most formats.
const MAX_SECONDS: f32 = 3600.0;

#[derive(Args)]
pub struct StreamArgs {
    /// A teacher or student folder; repeat for several.
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    #[arg(long)]
    pub audio: PathBuf,
    /// Seconds each reading looks at.
    #[arg(long, default_value_t = StreamSettings::default().window_s)]
    pub window: f32,
    /// Seconds between readings.
    #[arg(long, default_value_t = StreamSettings::default().hop_s)]
    pub hop: f32,
    /// The probability a keyword needs to count as heard.
    #[arg(long, default_value_t = DetectorSettings::default().threshold)]
    pub threshold: f32,
    /// A keyword's own threshold, as WORD=P; repeat for several.
    #[arg(long, value_parser = parse_keyword_threshold)]
    pub keyword_threshold: Vec<(String, f32)>,
    /// Seconds within which the same keyword again is the same word.
    #[arg(long, default_value_t = DetectorSettings::default().refractory_s)]
    pub refractory: f32,
    /// Seconds at each end of a window where an attention peak means the window cuts the word
    /// (such readings detect nothing).
    #[arg(long, default_value_t = DetectorSettings::default().edge_s)]
    pub edge: f32,
    /// Print everything as one JSON object (otherwise one line per detection).
    #[arg(long)]
    pub json: bool,
}

fn parse_keyword_threshold(text: &str) -> Result<(String, f32), String> {
    let (word, threshold) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not WORD=P"))?;
    let threshold = threshold
        .parse()
        .map_err(|_| format!("`{threshold}` is not a probability"))?;
    Ok((word.to_string(), threshold))
}

/// `stream --json`: the settings, and what each model heard.
#[derive(Serialize)]
struct StreamReport {
    audio: String,
    duration_s: f32,
    settings: ListenSettings,
    models: Vec<ModelDetections>,
}

#[derive(Serialize)]
struct ModelDetections {
    model: String,
    #[serde(flatten)]
    detected: Detected,
}

pub fn stream(args: &StreamArgs) -> Result<(), String> {
    let settings = ListenSettings {
        stream: StreamSettings {
            window_s: args.window,
            hop_s: args.hop,
            ..StreamSettings::default()
        },
        vad: VadSettings::default(),
        detector: DetectorSettings {
            threshold: args.threshold,
            thresholds: args.keyword_threshold.iter().cloned().collect(),
            refractory_s: args.refractory,
            edge_s: args.edge,
        },
    };
    settings.check().map_err(|e| e.to_string())?;
    let path = &args.audio;
    let bytes = tempokd::capped_read::read_capped(path, audio::MAX_FILE_BYTES, "a recording")?;
    let limits = Limits {
        max_seconds: MAX_SECONDS,
        ..Limits::default()
    };
    let extension = path.extension().and_then(|e| e.to_str());
    let clip = audio::load_clip(bytes, extension, &limits)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let device = ComputeDevice::cpu("the command line runs on the CPU").device;
    let mut models = Vec::new();
    for dir in &args.model {
        let model = Model::load_dir(dir, &device).map_err(|e| e.to_string())?;
        let detected = pollster::block_on(detect(&model, clip.samples(), &settings, CHUNK))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        models.push(ModelDetections {
            model: dir.display().to_string(),
            detected,
        });
    }
    if args.json {
        let report = StreamReport {
            audio: path.display().to_string(),
            duration_s: clip.duration_s(),
            settings,
            models,
        };
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    for ModelDetections { model, detected } in &models {
        println!(
            "{model}: {} detections ({} of {} windows had speech and were read)",
            detected.detections.len(),
            detected.windows_read,
            detected.windows
        );
        for found in &detected.detections {
            println!(
                "  {:8.2} s  {:<8} {:5.1} %  (decided at {:.2} s)",
                found.at_s,
                found.label,
                100.0 * found.confidence,
                found.decided_s
            );
        }
    }
    Ok(())
}
