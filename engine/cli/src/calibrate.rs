//! `tempokd synth-stream`, `tempokd calibration-streams` and `tempokd calibrate`: streams whose
//! words are known (spoken by the corpus's voices, or the page's calibration streams made from
//! the keyword pack), and how often each model listening to them misses a keyword or hears one
//! nobody said, at every threshold.

use crate::curriculum::{SEED, SYNTHESIZERS, Sizes};
use crate::data::parse_range;
use crate::listen::{ListenArgs, Listening, listen_to, read_recording};
use crate::progress::bar;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tempokd::audio::Clip;
use tempokd::audio::{MODEL_SAMPLE_RATE, decode_pcm16_mono, encode_wav};
use tempokd::data::keyword_stream::{StreamConfig, synthesize_stream};
use tempokd::data::pack::{KeywordPack, MAX_PACK_CLIP_BYTES, MAX_PACK_MANIFEST_BYTES};
use tempokd::data::stream_mix::CalibrationStreams;
use tempokd::data::tts::{Synthesizer, VoiceChoice};
use tempokd::data::{Manifest, Split};
use tempokd::model::Model;
use tempokd::stream::calibrate::{CalibrationSettings, ModelCalibration, ReadStream, errors};
use tempokd::stream::{Cadence, ListenSettings, StreamTruth, WindowReading};

#[derive(Args)]
pub struct SynthStreamArgs {
    /// The WAV file to write; what was said goes beside it, as the same name with `.json`.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f32,
    /// Words said, keywords and others [default: one every 5 s].
    #[arg(long)]
    pub words: Option<usize>,
    /// The share of the words that are keywords (0 makes a stream for false accepts alone).
    #[arg(long, default_value_t = 0.75)]
    pub keyword_share: f32,
    /// Each word's signal-to-noise ratio in dB, drawn from LOW:HIGH.
    #[arg(long, default_value = "10:10", value_parser = parse_range)]
    pub snr: (f32, f32),
    /// The least silence between two words, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub gap: f32,
    /// The voices and seed of the corpus whose split speaks (the shipped models' by default,
    /// so its test voices are voices they never trained on).
    #[arg(long, default_value_t = Sizes::FULL.voices)]
    pub voices: usize,
    /// The synthesizers of that corpus (`synth --synthesizers`).
    #[arg(long, value_delimiter = ',', default_values_t = SYNTHESIZERS, value_parser = Synthesizer::parse)]
    pub synthesizers: Vec<Synthesizer>,
    #[arg(long, default_value_t = SEED)]
    pub seed: u64,
    #[arg(long, default_value = "test", value_parser = crate::data::parse_split)]
    pub split: Split,
    /// The stream's own draws (words, times, backgrounds): another value, another stream of the
    /// same voices.
    #[arg(long, default_value_t = 0)]
    pub stream_seed: u64,
}

/// Where a stream's truth file lies: beside it, with `.json` for its extension.
fn truth_path(stream: &Path) -> PathBuf {
    stream.with_extension("json")
}

pub fn synth_stream(args: &SynthStreamArgs) -> Result<(), String> {
    let config = StreamConfig {
        seconds: args.seconds,
        words: args.words.unwrap_or((args.seconds / 5.0) as usize),
        keyword_share: args.keyword_share,
        snr_db: args.snr,
        gap_s: args.gap,
        voices: VoiceChoice::new(args.voices, &args.synthesizers),
        seed: args.seed,
        split: args.split,
        stream_seed: args.stream_seed,
    };
    let made_by = format!(
        "tempokd synth-stream --seconds {} --words {} --keyword-share {} --snr {}:{} --gap {} \
         --voices {} --synthesizers {} --seed {} --split {} --stream-seed {}: voices of that \
         split, procedural backgrounds",
        config.seconds,
        config.words,
        config.keyword_share,
        config.snr_db.0,
        config.snr_db.1,
        config.gap_s,
        config.voices.count,
        config.voices.synthesizer_names(),
        config.seed,
        config.split.name(),
        config.stream_seed,
    );
    let progress = bar(config.words, "speaking");
    let (samples, truth) = synthesize_stream(&config, &made_by, &|done, _| {
        progress.set_position(done as u64)
    })
    .map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    std::fs::write(&args.out, encode_wav(&samples, MODEL_SAMPLE_RATE))
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    let truth_file = truth_path(&args.out);
    let text = serde_json::to_string_pretty(&truth).map_err(|e| e.to_string())?;
    std::fs::write(&truth_file, text).map_err(|e| format!("{}: {e}", truth_file.display()))?;
    println!(
        "{:.1} s with {} keywords and {} other words → {} (what was said: {})",
        truth.duration_s,
        truth.keywords().count(),
        truth.words.len() - truth.keywords().count(),
        args.out.display(),
        truth_file.display()
    );
    Ok(())
}

#[derive(Args)]
pub struct CalibrationStreamsArgs {
    /// The keyword pack folder (`manifest.csv` and its clips; the page's is static/data/pack):
    /// its validation and test words are said.
    #[arg(long)]
    pub pack: PathBuf,
    /// The folder to write `keywords.wav` and `background.wav` to, each with its truth beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Times each keyword recording is said.
    #[arg(long, default_value_t = CalibrationStreams::default().keyword_copies)]
    pub copies: usize,
    /// Seconds of the stream without keywords.
    #[arg(long, default_value_t = CalibrationStreams::default().background_s)]
    pub background: f32,
    /// Each word's signal-to-noise ratio in dB, drawn from LOW:HIGH.
    #[arg(long, default_value = "10:10", value_parser = parse_range)]
    pub snr: (f32, f32),
    #[arg(long, default_value_t = CalibrationStreams::default().seed)]
    pub seed: u64,
}

/// The streams the page's calibration makes with the same settings, written to files.
pub fn calibration_streams(args: &CalibrationStreamsArgs) -> Result<(), String> {
    let config = CalibrationStreams {
        keyword_copies: args.copies,
        background_s: args.background,
        snr_db: args.snr,
        seed: args.seed,
        ..CalibrationStreams::default()
    };
    let pack = read_pack(&args.pack)?;
    let words = pack.spoken(&[Split::Validation, Split::Test]);
    let streams = tempokd::data::stream_mix::calibration_streams(&words, &config)
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    for ((samples, truth), name) in streams.iter().zip(["keywords", "background"]) {
        let wav = args.out.join(format!("{name}.wav"));
        std::fs::write(&wav, encode_wav(samples, MODEL_SAMPLE_RATE))
            .map_err(|e| format!("{}: {e}", wav.display()))?;
        let truth_file = truth_path(&wav);
        let text = serde_json::to_string_pretty(truth).map_err(|e| e.to_string())?;
        std::fs::write(&truth_file, text).map_err(|e| format!("{}: {e}", truth_file.display()))?;
        println!(
            "{:.1} s with {} keywords and {} other words → {}",
            truth.duration_s,
            truth.keywords().count(),
            truth.words.len() - truth.keywords().count(),
            wav.display()
        );
    }
    Ok(())
}

/// A keyword pack as the page reads it: its manifest's clips, each a 16 kHz mono 16-bit WAV.
fn read_pack(folder: &Path) -> Result<KeywordPack, String> {
    let manifest_path = folder.join("manifest.csv");
    let text =
        tempokd::capped_read::read_capped(&manifest_path, MAX_PACK_MANIFEST_BYTES, "a manifest")?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("{}: not UTF-8 text", manifest_path.display()))?;
    let manifest = Manifest::parse(&text, &manifest_path).map_err(|e| e.to_string())?;
    let mut pack = KeywordPack::default();
    for example in &manifest.examples {
        let path = folder.join(&example.file);
        let bytes = tempokd::capped_read::read_capped(&path, MAX_PACK_CLIP_BYTES, "a pack clip")?;
        let Some((MODEL_SAMPLE_RATE, samples)) = decode_pcm16_mono(&bytes) else {
            return Err(format!(
                "{} is not a 16 kHz mono 16-bit WAV file",
                path.display()
            ));
        };
        pack.add_example(example, &samples)
            .map_err(|e| e.to_string())?;
    }
    Ok(pack)
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// A teacher or student folder; repeat for several (e.g. a student without and with KD).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// A recording whose words are known (`synth-stream` writes one, its truth beside it as the
    /// same name with `.json`); repeat for several.
    #[arg(long, required = true)]
    pub stream: Vec<PathBuf>,
    /// A stream like those of `--stream` but kept out of choosing the thresholds: what the
    /// chosen thresholds give on audio they were not chosen on; repeat for several.
    #[arg(long)]
    pub held_out: Vec<PathBuf>,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// The thresholds the trade-off is measured at.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.99"
    )]
    pub thresholds: Vec<f32>,
    /// The rate of false accepts per hour each keyword's threshold is chosen for.
    #[arg(long, default_value_t = 1.0)]
    pub target_rate: f64,
    /// Seconds before a keyword starts or after it ends where its detection still counts.
    #[arg(long, default_value_t = 0.25)]
    pub tolerance: f64,
    /// Print everything as one JSON object (otherwise a table per model).
    #[arg(long)]
    pub json: bool,
}

/// `calibrate --json`: what each model gets wrong at every threshold.
#[derive(Serialize)]
struct CalibrationReport {
    streams: Vec<String>,
    held_out: Vec<String>,
    settings: ListenSettings,
    tolerance_s: f64,
    models: Vec<ModelCalibration>,
}

pub fn calibrate(args: &CalibrateArgs) -> Result<(), String> {
    let base = tempokd::stream::DetectorSettings::default().threshold;
    let settings = args.listen.settings(base, &[])?;
    let measured_at = CalibrationSettings {
        thresholds: args.thresholds.clone(),
        target_per_hour: args.target_rate,
        tolerance_s: args.tolerance,
    };
    measured_at
        .check()
        .map_err(|e| format!("{e}: set by --thresholds, --target-rate and --tolerance"))?;
    let streams = load_streams(&args.stream)?;
    let held_out = load_streams(&args.held_out)?;
    let mut models = Vec::new();
    for Listening {
        model,
        name,
        cadence,
    } in args.listen.load(&args.model)?
    {
        let detector = cadence.detector_settings(&settings.detector);
        let readings = read_streams(&model, &name, &streams, &settings, cadence)?;
        let labels = model.labels();
        let mut calibration = ModelCalibration::measure(
            &name,
            cadence,
            labels,
            &paired(&readings, &streams),
            &detector,
            &measured_at,
        )
        .map_err(|e| e.to_string())?;
        if !held_out.is_empty() {
            let readings = read_streams(&model, &name, &held_out, &settings, cadence)?;
            let chosen = calibration.for_target_rate.settings(&detector);
            let (errors, _) = errors(
                labels,
                &paired(&readings, &held_out),
                &chosen,
                args.tolerance,
            )
            .map_err(|e| e.to_string())?;
            calibration.held_out = Some(errors);
        }
        models.push(calibration);
    }
    let names = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
    let report = CalibrationReport {
        streams: names(&args.stream),
        held_out: names(&args.held_out),
        settings,
        tolerance_s: args.tolerance,
        models,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        print_tables(&report);
    }
    Ok(())
}

/// The most audio one call holds, over all its streams: four hours of 16 kHz samples are 920 MB.
const MAX_TOTAL_S: f64 = 4.0 * 3600.0;

/// Recordings with what was said in each, read from beside them.
fn load_streams(paths: &[PathBuf]) -> Result<Vec<(Clip, StreamTruth)>, String> {
    let mut streams = Vec::new();
    let mut total_s = 0.0;
    for path in paths {
        let truth_file = truth_path(path);
        let text = tempokd::capped_read::read_capped(&truth_file, MAX_TRUTH_BYTES, "a truth file")?;
        let text = String::from_utf8(text)
            .map_err(|_| format!("{}: not UTF-8 text", truth_file.display()))?;
        let truth = StreamTruth::parse(&text, &truth_file.display().to_string())
            .map_err(|e| e.to_string())?;
        let clip = read_recording(path)?;
        if (clip.duration_s() as f64 - truth.duration_s).abs() > 0.1 {
            return Err(format!(
                "{} lasts {:.2} s but {} describes {:.2} s: not the stream it was written for",
                path.display(),
                clip.duration_s(),
                truth_file.display(),
                truth.duration_s
            ));
        }
        total_s += truth.duration_s;
        if total_s > MAX_TOTAL_S {
            return Err(format!(
                "the streams last more than {} h together, and calibrate holds them all in \
                 memory: calibrate them in several calls",
                MAX_TOTAL_S / 3600.0
            ));
        }
        streams.push((clip, truth));
    }
    Ok(streams)
}

/// The truth file of an hour's stream with a word every second is about 200 kB.
const MAX_TRUTH_BYTES: u64 = 16 << 20;

fn read_streams(
    model: &Model,
    name: &str,
    streams: &[(Clip, StreamTruth)],
    settings: &ListenSettings,
    cadence: Cadence,
) -> Result<Vec<Vec<WindowReading>>, String> {
    (streams.iter())
        .map(|(clip, _)| {
            listen_to(model, name, clip, settings, cadence).map(|heard| heard.readings)
        })
        .collect()
}

fn paired<'a>(
    readings: &'a [Vec<WindowReading>],
    streams: &'a [(Clip, StreamTruth)],
) -> Vec<ReadStream<'a>> {
    (readings.iter().zip(streams))
        .map(|(readings, (_, truth))| ReadStream { readings, truth })
        .collect()
}

fn print_tables(report: &CalibrationReport) {
    for model in &report.models {
        let Some(first) = model.trade_off.first() else {
            continue;
        };
        let tally = first.errors.tally;
        let reads = match model.cadence {
            Cadence::EveryHop => "every hop",
            Cadence::PerSegment => "each stretch of speech once",
        };
        println!(
            "{} (reading {reads}): {} keywords said in {:.1} min of stream",
            model.model,
            tally.keywords,
            tally.hours * 60.0
        );
        println!(
            "  threshold  missed (false rejects, 95 % CI)   false accepts per hour (95 % CI): \
             in background, on unknown words, on other keywords, repeats"
        );
        for point in &model.trade_off {
            let errors = &point.errors;
            let (missed, fa) = (
                errors.false_reject_interval,
                errors.false_accepts_per_hour_interval,
            );
            let on = errors.tally.false_accepts_on;
            println!(
                "  {:9.2}  {:5.1} % ({:4.1}–{:4.1}) {:>4}/{:<4}   {:7.1} ({:.1}–{:.1}): {} {} {} {}",
                point.threshold,
                100.0 * errors.false_reject_rate,
                100.0 * missed.low,
                100.0 * missed.high,
                errors.tally.keywords - errors.tally.found,
                errors.tally.keywords,
                errors.false_accepts_per_hour,
                fa.low,
                fa.high,
                on.background,
                on.unknown_words,
                on.other_keywords,
                on.repeats,
            );
        }
        let chosen = &model.for_target_rate;
        let thresholds: Vec<String> = (chosen.thresholds.iter())
            .map(|(word, threshold)| format!("{word} {threshold}"))
            .collect();
        let errors = &chosen.errors;
        println!(
            "  thresholds for at most {} false accepts per hour: {}; on the streams they were chosen on {:.1} % \
             missed, {:.1} false accepts per hour (95 % CI {:.1}–{:.1}){}",
            chosen.target_per_hour,
            thresholds.join(", "),
            100.0 * errors.false_reject_rate,
            errors.false_accepts_per_hour,
            errors.false_accepts_per_hour_interval.low,
            errors.false_accepts_per_hour_interval.high,
            match chosen.unreached.is_empty() {
                true => String::new(),
                false => format!(
                    "; not reached at any threshold by {}",
                    chosen.unreached.join(", ")
                ),
            }
        );
        if let Some(errors) = &model.held_out {
            println!(
                "  on the held-out streams ({} keywords, {:.1} min): {:.1} % missed (95 % CI \
                 {:.1}–{:.1}), {:.1} false accepts per hour (95 % CI {:.1}–{:.1})",
                errors.tally.keywords,
                errors.tally.hours * 60.0,
                100.0 * errors.false_reject_rate,
                100.0 * errors.false_reject_interval.low,
                100.0 * errors.false_reject_interval.high,
                errors.false_accepts_per_hour,
                errors.false_accepts_per_hour_interval.low,
                errors.false_accepts_per_hour_interval.high,
            );
        }
    }
}
