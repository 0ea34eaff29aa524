//! `tempokd stream`: models listening to a recording as if it came from a microphone, each
//! keyword they hear printed with where it was said.

use crate::progress::bar;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tempokd::audio::{self, Clip, Limits};
use tempokd::device::ComputeDevice;
use tempokd::model::{Model, ModelKind};
use tempokd::stream::{
    Cadence, Detected, DetectorSettings, Heard, ListenSettings, StreamSettings, VadSettings, listen,
};

/// Samples per chunk fed to the listener, about what a microphone callback delivers.
const CHUNK: usize = 2048;

/// The longest recording `stream` takes: the file cap decides before this does for most formats.
const MAX_SECONDS: f32 = 3600.0;

/// How a recording is listened to: the windows and the detector's timing.
#[derive(Args)]
pub struct ListenArgs {
    /// Seconds each reading looks at.
    #[arg(long, default_value_t = StreamSettings::default().window_s)]
    pub window: f32,
    /// Seconds between readings.
    #[arg(long, default_value_t = StreamSettings::default().hop_s)]
    pub hop: f32,
    /// Seconds within which a second keyword is the same word again.
    #[arg(long, default_value_t = DetectorSettings::default().refractory_s)]
    pub refractory: f32,
    /// Seconds at each end of a window where an attention peak means the window cuts the word
    /// (such readings detect nothing).
    #[arg(long, default_value_t = DetectorSettings::default().edge_s)]
    pub edge: f32,
    /// Seconds at the end of an early window (read for a keyword a window heard in its end
    /// edge, ending this far past that peak) where an attention peak means it cuts the word.
    #[arg(long, default_value_t = DetectorSettings::default().early_edge_s)]
    pub early_edge: f32,
    /// Seconds without speech at a window's end that show it holds its words whole there, so
    /// an attention peak in its end edge decides at once.
    #[arg(long, default_value_t = DetectorSettings::default().quiet_end_s)]
    pub quiet_end: f32,
    /// Seconds a stretch of speech stays open after its last speech frame (bridging the gaps
    /// inside words): how long the teacher, which reads each stretch once it has ended, waits.
    #[arg(long, default_value_t = VadSettings::default().hangover_s)]
    pub hangover: f32,
    /// How the teacher reads the stream: each stretch of speech once, when voice activity says
    /// it ended, as the page's live mode runs it, or every hop like the students.
    #[arg(long, value_enum, default_value_t = TeacherReads::PerSegment)]
    pub teacher_reads: TeacherReads,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TeacherReads {
    PerSegment,
    EveryHop,
}

impl ListenArgs {
    /// How `model` reads the stream: students every hop, the teacher as `--teacher-reads` says.
    pub fn cadence(&self, model: &Model) -> Cadence {
        match (model.kind(), self.teacher_reads) {
            (ModelKind::Teacher, TeacherReads::PerSegment) => Cadence::PerSegment,
            _ => Cadence::EveryHop,
        }
    }

    /// The settings, with the detector's thresholds as given.
    pub fn settings(
        &self,
        threshold: f32,
        thresholds: &[(String, f32)],
    ) -> Result<ListenSettings, String> {
        let settings = ListenSettings {
            stream: StreamSettings {
                window_s: self.window,
                hop_s: self.hop,
                ..StreamSettings::default()
            },
            vad: VadSettings {
                hangover_s: self.hangover,
                ..VadSettings::default()
            },
            detector: DetectorSettings {
                threshold,
                thresholds: thresholds.iter().cloned().collect(),
                refractory_s: self.refractory,
                edge_s: self.edge,
                early_edge_s: self.early_edge,
                quiet_end_s: self.quiet_end,
            },
        };
        settings.check().map_err(|e| e.to_string())?;
        Ok(settings)
    }
}

#[derive(Args)]
pub struct StreamArgs {
    /// A teacher or student folder; repeat for several.
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    #[arg(long)]
    pub audio: PathBuf,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// The probability a keyword needs to count as heard.
    #[arg(long, default_value_t = DetectorSettings::default().threshold)]
    pub threshold: f32,
    /// A keyword's own threshold, as WORD=P; repeat for several.
    #[arg(long, value_parser = parse_keyword_threshold)]
    pub keyword_threshold: Vec<(String, f32)>,
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
    cadence: Cadence,
    #[serde(flatten)]
    detected: Detected,
}

/// A recording as 16 kHz samples, up to [`MAX_SECONDS`].
pub fn read_recording(path: &Path) -> Result<Clip, String> {
    let bytes = tempokd::capped_read::read_capped(path, audio::MAX_FILE_BYTES, "a recording")?;
    let limits = Limits {
        max_seconds: MAX_SECONDS,
        ..Limits::default()
    };
    audio::load_clip(bytes, &limits).map_err(|e| format!("{}: {e}", path.display()))
}

/// A model's readings of a recording at its cadence, with a progress bar over the recording's
/// seconds.
pub fn listen_to(
    model: &Model,
    name: &str,
    clip: &Clip,
    settings: &ListenSettings,
    cadence: Cadence,
) -> Result<Heard, String> {
    let progress = bar(clip.duration_s().ceil() as usize, name);
    let mut heard_s = |s: f64| progress.set_position(s as u64);
    let listening = listen(
        model,
        clip.samples(),
        settings,
        cadence,
        CHUNK,
        &mut heard_s,
    );
    let heard = pollster::block_on(listening).map_err(|e| format!("{name}: {e}"))?;
    progress.finish_and_clear();
    Ok(heard)
}

/// A model loaded to listen: its folder's name and how it reads the stream.
pub struct Listening {
    pub model: Model,
    pub name: String,
    pub cadence: Cadence,
}

impl ListenArgs {
    /// The models in `dirs`, each with its cadence, loaded on the CPU.
    pub fn load(&self, dirs: &[PathBuf]) -> Result<Vec<Listening>, String> {
        let device = ComputeDevice::cpu("the command line runs on the CPU").device;
        (dirs.iter())
            .map(|dir| {
                let model = Model::load_dir(dir, &device).map_err(|e| e.to_string())?;
                Ok(Listening {
                    cadence: self.cadence(&model),
                    name: dir.display().to_string(),
                    model,
                })
            })
            .collect()
    }
}

pub fn stream(args: &StreamArgs) -> Result<(), String> {
    let settings = args
        .listen
        .settings(args.threshold, &args.keyword_threshold)?;
    let clip = read_recording(&args.audio)?;
    let mut models = Vec::new();
    for Listening {
        model,
        name,
        cadence,
    } in args.listen.load(&args.model)?
    {
        let heard = listen_to(&model, &name, &clip, &settings, cadence)?;
        let detector = cadence.detector_settings(&settings.detector);
        let detected = (heard.detected(model.labels(), &detector)).map_err(|e| e.to_string())?;
        models.push(ModelDetections {
            model: name,
            cadence,
            detected,
        });
    }
    let path = &args.audio;
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
    for ModelDetections {
        model,
        cadence,
        detected,
    } in &models
    {
        let read = match cadence {
            Cadence::EveryHop => format!(
                "{} of {} windows had speech and were read, and {} early windows",
                detected.windows_read - detected.early_windows_read,
                detected.windows,
                detected.early_windows_read
            ),
            Cadence::PerSegment => format!(
                "{} stretches of speech read whole, of {} windows",
                detected.windows_read, detected.windows
            ),
        };
        println!("{model}: {} detections ({read})", detected.detections.len());
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
