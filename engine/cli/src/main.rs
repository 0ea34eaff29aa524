//! The `tempokd` command-line tool (crate `tempokd-cli`): argument parsing and output over calls
//! into the `tempokd` library.

mod calibrate;
mod curriculum;
mod data;
mod defaults;
mod deploy_card;
mod device;
mod export;
mod figures;
mod heap;
mod jobs;
mod listen;
mod progress;
mod reproduce;
mod stages;
mod stop;
mod train_and_eval;

use clap::{Parser, Subcommand, ValueEnum};

#[global_allocator]
static HEAP: heap::CountingAllocator = heap::CountingAllocator;

use serde::Serialize;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tempokd::audio::{
    self, Clip, FeatureConfig, FeatureExtractor, FeatureKind, Limits, MODEL_SAMPLE_RATE,
};
use tempokd::device::ComputeDevice;
use tempokd::kd::{AttentionMaps, HeadFusion, NestedMaps, RolloutConfig, RolloutRow};
use tempokd::model::{Model, ReadingRequest};
use tempokd::students::{AttentionRequest, Preset, Student};
use tempokd::teacher::Teacher;

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
        #[arg(long, value_enum, default_value_t = Kind::LogMel)]
        kind: Kind,
        /// Print everything as one JSON object (otherwise a short summary).
        #[arg(long)]
        json: bool,
    },
    /// Run the teacher and students on a clip: class probabilities and temporal attention maps.
    Inspect {
        /// A Hugging Face wav2vec 2.0 classifier directory: config.json, model.safetensors and
        /// optionally preprocessor_config.json.
        #[arg(long, required_unless_present = "student")]
        teacher: Option<PathBuf>,
        /// A student directory (config.json and model.safetensors); repeat for several.
        #[arg(long)]
        student: Vec<PathBuf>,
        #[arg(long)]
        audio: PathBuf,
        /// Print everything as one JSON object (otherwise a short summary).
        #[arg(long)]
        json: bool,
        /// Add every layer's and head's attention weights to the JSON.
        #[arg(long, requires = "json")]
        attentions: bool,
        #[command(flatten)]
        rollout: RolloutArgs,
    },
    /// Generate Synthetic Noisy Keywords: spoken keywords (espeak-ng, flite, MBROLA, RHVoice,
    /// Pico, Kokoro, GnuSpeech) at random offsets inside noise, split by voice, as 16 kHz WAV +
    /// manifest.csv.
    Synth(data::SynthArgs),
    /// Train (or fine-tune) the wav2vec 2.0 teacher.
    TrainTeacher(train_and_eval::TeacherArgs),
    /// Train a student, with the teacher's temporal attention distilled when λ > 0.
    TrainStudent(train_and_eval::StudentArgs),
    /// Score a teacher or student on a dataset split: accuracy, per-class accuracy and attention
    /// localisation.
    Eval(train_and_eval::EvalArgs),
    /// The paper's experiment end to end: data, teacher, every student at every length and λ,
    /// and a report with tables and attention figures.
    Reproduce(reproduce::ReproduceArgs),
    /// Train, score and write the default models the page ships with (teacher and every
    /// student without and with KD), each with its model card.
    Defaults(defaults::DefaultsArgs),
    /// Listen to a recording as a stream: every hop the models read the window that ends there
    /// (when it holds speech), and each keyword they hear is printed with where it was said.
    Stream(listen::StreamArgs),
    /// Make a stream for listening tests: keywords and other words said by unseen voices at
    /// random times over changing backgrounds, with what was said written beside it.
    SynthStream(calibrate::SynthStreamArgs),
    /// Make the two streams the page calibrates with, from a keyword pack's held-out words: every
    /// keyword said at known times, and background with other words but no keyword.
    CalibrationStreams(calibrate::CalibrationStreamsArgs),
    /// How often each model listening to streams whose words are known misses a keyword or hears
    /// one nobody said, at every threshold, and each keyword's threshold for a rate of false
    /// accepts per hour.
    Calibrate(calibrate::CalibrateArgs),
    /// Write a student as an ONNX model (opset 17, dynamic batch and time axes): features in,
    /// logits and temporal attention out, the front end described in its metadata.
    Export(export::ExportArgs),
    /// What each shipped student costs and keeps at fp32, fp16 and int8: parameters, ONNX file,
    /// time to classify 1 s here, test accuracy and localisation, and the accuracy lost.
    DeployCard(deploy_card::DeployCardArgs),
    /// List the student architectures: parameters, frame duration and the time to classify a
    /// 1 s clip on this machine.
    Students {
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=4096))]
        classes: u16,
        /// Print everything as one JSON array (otherwise a table).
        #[arg(long)]
        json: bool,
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

/// The features `features` prints.
#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Mfcc,
    LogMel,
}

impl From<Kind> for FeatureKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Mfcc => FeatureKind::Mfcc,
            Kind::LogMel => FeatureKind::LogMel,
        }
    }
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

fn main() -> ExitCode {
    // Training steps free and reallocate the same large buffers; keeping them in the heap spares
    // the kernel faulting in fresh pages every step.
    tempokd::heap::keep_freed_blocks();
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
        Command::Features { audio, kind, json } => features(&audio, kind.into(), json),
        Command::Inspect {
            teacher,
            student,
            audio,
            json,
            attentions,
            rollout,
        } => inspect(
            teacher.as_deref(),
            &student,
            &audio,
            json,
            attentions,
            &rollout,
        ),
        Command::Students { classes, json } => students(classes.into(), json),
        Command::Synth(args) => data::synth(&args),
        Command::TrainTeacher(args) => train_and_eval::train_teacher(&args).map(|trained| {
            println!(
                "teacher saved to {} (best validation at step {}) trained on {}; time: {}",
                args.out.display(),
                trained.run.best_step,
                trained.devices_text(),
                trained.run.times
            )
        }),
        Command::TrainStudent(args) => train_and_eval::train_student(&args).map(|trained| {
            println!(
                "{} saved to {} (best validation at step {}) trained on {}; time: {}",
                args.arch,
                args.out.display(),
                trained.run.best_step,
                trained.devices_text(),
                trained.run.times
            )
        }),
        Command::Eval(args) => train_and_eval::eval(&args),
        Command::Reproduce(args) => reproduce::reproduce(&args),
        Command::Defaults(args) => defaults::defaults(&args),
        Command::Stream(args) => listen::stream(&args),
        Command::SynthStream(args) => calibrate::synth_stream(&args),
        Command::CalibrationStreams(args) => calibrate::calibration_streams(&args),
        Command::Calibrate(args) => calibrate::calibrate(&args),
        Command::Export(args) => export::export(&args),
        Command::DeployCard(args) => deploy_card::deploy_card(&args),
    }
}

fn load_clip(path: &Path) -> Result<Clip, String> {
    let bytes = tempokd::capped_read::read_capped(path, audio::MAX_FILE_BYTES, "a clip")?;
    audio::load_clip(bytes, &Limits::default()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Prints the clip's sample rate and duration and the fields of `body` as one JSON object,
/// written out as it is serialised: a teacher's attention maps can be a gigabyte of numbers.
fn print_json(clip: &Clip, body: &impl Serialize) -> Result<(), String> {
    #[derive(Serialize)]
    struct Output<'a, T> {
        sample_rate: u32,
        duration_s: f32,
        #[serde(flatten)]
        body: &'a T,
    }
    let output = Output {
        sample_rate: clip.sample_rate(),
        duration_s: clip.duration_s(),
        body,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let failed = |e: &dyn std::fmt::Display| format!("writing the JSON: {e}");
    serde_json::to_writer(&mut out, &output).map_err(|e| failed(&e))?;
    writeln!(out)
        .and_then(|()| out.flush())
        .map_err(|e| failed(&e))
}

/// What `inspect --json` prints besides the clip.
#[derive(Serialize)]
struct Inspection<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    teacher: Option<TeacherInspection<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    students: Vec<serde_json::Value>,
}

/// The teacher's summary, and every layer's and head's map when they were asked for.
#[derive(Serialize)]
struct TeacherInspection<'a> {
    #[serde(flatten)]
    summary: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    attentions: Option<NestedMaps<'a>>,
}

fn features(path: &Path, kind: FeatureKind, as_json: bool) -> Result<(), String> {
    let clip = load_clip(path)?;
    let extractor = FeatureExtractor::new(FeatureConfig::default()).map_err(|e| e.to_string())?;
    let features = extractor
        .extract(kind, clip.samples())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if as_json {
        print_json(&clip, &json!({ "features": features }))?;
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
    teacher_dir: Option<&Path>,
    student_dirs: &[PathBuf],
    path: &Path,
    as_json: bool,
    with_attentions: bool,
    settings: &RolloutArgs,
) -> Result<(), String> {
    let clip = load_clip(path)?;
    let device = ComputeDevice::cpu("the command line runs on the CPU");
    let mut teacher = None;
    if let Some(dir) = teacher_dir {
        let (summary, line, maps) =
            inspect_teacher(dir, &clip, with_attentions, settings, &device.device)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        teacher = Some((summary, maps));
        if !as_json {
            println!("{}: {:.2} s, {line}", path.display(), clip.duration_s());
        }
    }
    let mut students = Vec::new();
    for dir in student_dirs {
        let (summary, line) = inspect_student(dir, &clip, with_attentions, &device.device)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        students.push(summary);
        if !as_json {
            println!("{}: {:.2} s, {line}", path.display(), clip.duration_s());
        }
    }
    if !as_json {
        return Ok(());
    }
    let teacher = teacher.as_ref().map(|(summary, maps)| TeacherInspection {
        summary,
        attentions: maps.as_ref().map(AttentionMaps::nested),
    });
    print_json(&clip, &Inspection { teacher, students })
}

/// The frame a temporal map peaks at.
fn peak(map: &[f32]) -> usize {
    map.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(frame, _)| frame)
}

/// The teacher's rollout settings: its own, changed where the command line says.
fn rollout_settings(teacher: &Teacher, settings: &RolloutArgs) -> RolloutConfig {
    let mut rollout = teacher.default_rollout();
    rollout.head_fusion = match settings.head_fusion {
        Fusion::Mean => HeadFusion::Mean,
        Fusion::Max => HeadFusion::Max,
    };
    rollout.residual = settings.residual;
    rollout.layers = settings.rollout_layers.clone();
    if let Some(row) = settings.rollout_row {
        rollout.row = match row {
            Row::FirstFrame => RolloutRow::FirstFrame,
            Row::MeanOfRows => RolloutRow::MeanOfRows,
        };
    }
    rollout
}

/// The teacher's JSON summary, a one-line description, and every layer's and head's map when
/// `with_attentions`.
fn inspect_teacher(
    dir: &Path,
    clip: &Clip,
    with_attentions: bool,
    settings: &RolloutArgs,
    device: &burn::tensor::Device,
) -> Result<(serde_json::Value, String, Option<AttentionMaps>), String> {
    let teacher = Teacher::load_dir(dir, device).map_err(|e| e.to_string())?;
    let request = ReadingRequest {
        heads: with_attentions,
        rollout: Some(rollout_settings(&teacher, settings)),
    };
    let config = teacher.config().clone();
    let model = Model::Teacher(Box::new(teacher));
    let reading =
        pollster::block_on(model.read(clip.samples(), &request)).map_err(|e| e.to_string())?;
    let (top, probability) = reading.prediction.top_label(model.labels());
    let line = format!(
        "teacher says {top:?} ({:.1} %); {} frames of {} ms, attention peaks at {:.2} s",
        100.0 * probability,
        reading.frames,
        (reading.map.frame_s * 1000.0).round(),
        peak(&reading.map.values) as f32 * reading.map.frame_s,
    );
    let mut summary = reading.prediction.to_json(model.labels());
    summary["frames"] = json!(reading.frames);
    summary["frame_s"] = json!(reading.map.frame_s);
    summary["rollout"] = json!(reading.map.values);
    if config.do_stable_layer_norm && config.use_weighted_layer_sum {
        // Which of transformers' two behaviours the weighted layer sum follows, and why.
        let because = match config.tie_last_hidden_states {
            Some(_) => "tie_last_hidden_states in config.json".to_string(),
            None => format!(
                "transformers_version {} in config.json",
                config.transformers_version.as_deref().unwrap_or("(none)")
            ),
        };
        summary["last_hidden_state"] = json!({
            "after_final_layer_norm": config.ties_last_hidden_state(),
            "because": because,
        });
    }
    let maps = reading
        .teacher
        .filter(|_| with_attentions)
        .map(|attention| attention.layers);
    Ok((summary, line, maps))
}

/// One student's JSON summary and a one-line description.
fn inspect_student(
    dir: &Path,
    clip: &Clip,
    with_heads: bool,
    device: &burn::tensor::Device,
) -> Result<(serde_json::Value, String), String> {
    let student = Student::load_dir(dir, device).map_err(|e| e.to_string())?;
    let arch = student.config().arch_name();
    let model = Model::Student(Box::new(student));
    let request = ReadingRequest {
        heads: with_heads,
        rollout: None,
    };
    let reading =
        pollster::block_on(model.read(clip.samples(), &request)).map_err(|e| e.to_string())?;
    let (top, probability) = reading.prediction.top_label(model.labels());
    let map = &reading.map;
    let line = format!(
        "{arch} says {top:?} ({:.1} %); {} frames of {} ms, attention peaks at {:.2} s",
        100.0 * probability,
        reading.frames,
        (map.frame_s * 1000.0).round(),
        map.start_s + (peak(&map.values) as f32 + 0.5) * map.frame_s,
    );
    let mut summary = reading.prediction.to_json(model.labels());
    summary["arch"] = json!(arch);
    summary["dir"] = json!(dir.display().to_string());
    summary["frames"] = json!(reading.frames);
    summary["frame_s"] = json!(map.frame_s);
    summary["start_s"] = json!(map.start_s);
    summary["attention"] = json!(map.values);
    if let Some(heads) = reading.heads {
        summary["heads"] = json!(heads);
    }
    Ok((summary, line))
}

/// Every preset with its size and its measured time for one 1 s clip.
fn students(classes: usize, as_json: bool) -> Result<(), String> {
    let device = ComputeDevice::cpu("the command line runs on the CPU");
    let labels: Vec<String> = (0..classes).map(|i| format!("class {i}")).collect();
    let one_second = vec![0.1f32; MODEL_SAMPLE_RATE as usize];
    let mut rows = Vec::new();
    for preset in Preset::ALL {
        let student = Student::new(preset.config(labels.clone()), &device.device)
            .map_err(|e| e.to_string())?;
        let infer = || pollster::block_on(student.infer(&one_second, AttentionRequest::None));
        let result = infer().map_err(|e| e.to_string())?;
        let inference_ms = median_ms(INFERENCE_RUNS, || {
            let _ = infer();
        });
        let config = student.config();
        rows.push(json!({
            "name": preset.name(),
            "arch": config.arch_name(),
            "params": student.deployed_params(),
            "training_only_params": student.training_only_params(),
            "input": format!("{} {}", config.input_size(), match config.input {
                FeatureKind::Mfcc => "MFCC",
                FeatureKind::LogMel => "log-mel",
            }),
            "frames_per_second": result.axis.frames,
            "frame_s": result.axis.frame_s,
            "inference_ms": inference_ms,
        }));
    }
    if as_json {
        println!("{}", json!(rows));
        return Ok(());
    }
    println!(
        "{:<12} {:>9} {:>10} {:>9} {:>11} {:>10}",
        "student", "params", "input", "frame ms", "frames/1 s", "1 s clip ms"
    );
    for row in &rows {
        println!(
            "{:<12} {:>9} {:>10} {:>9.0} {:>11} {:>10.2}",
            row["name"].as_str().unwrap_or_default(),
            row["params"].as_u64().unwrap_or_default(),
            row["input"].as_str().unwrap_or_default(),
            row["frame_s"].as_f64().unwrap_or_default() * 1000.0,
            row["frames_per_second"].as_u64().unwrap_or_default(),
            row["inference_ms"].as_f64().unwrap_or_default(),
        );
    }
    println!(
        "(median of {INFERENCE_RUNS} runs on the CPU, features included; params exclude the training-only query q)"
    );
    Ok(())
}

/// Runs per student for the inference time; the median is reported.
const INFERENCE_RUNS: usize = 15;

/// The median wall time of `runs` calls of `run`, in milliseconds.
pub fn median_ms(runs: usize, mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
