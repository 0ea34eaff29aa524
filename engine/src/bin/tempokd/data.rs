//! `tempokd synth`: the Synthetic Noisy Keywords corpus (or noisy long-clip Speech Commands).

use crate::progress::bar;
use clap::Args;
use std::path::PathBuf;
use std::sync::Mutex;
use tempokd::data::synth::{SynthConfig, WordSource, synthesize};

#[derive(Args, Clone)]
pub struct SynthArgs {
    /// Folder to write the clips and manifest.csv into.
    #[arg(long)]
    pub out: PathBuf,
    /// Clip length(s) in seconds; several (e.g. 1,2,4,8) make a mixed-length corpus.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub length: Vec<f32>,
    /// Clips per class over all splits (80 % train, 10 % validation, 10 % test by voice).
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A folder of your own noise recordings (e.g. Speech Commands' _background_noise_), used
    /// beside the procedural backgrounds.
    #[arg(long)]
    pub noise_dir: Option<PathBuf>,
    /// Signal-to-noise ratio range in dB, as LOW:HIGH.
    #[arg(long, default_value = "0:20", value_parser = parse_range)]
    pub snr: (f32, f32),
    /// Distinct synthetic voices (espeak-ng and flite, varied by accent, pitch, rate and gain).
    #[arg(long, default_value_t = 300)]
    pub voices: usize,
    /// Take the words from a Speech Commands v2 folder instead of synthesizing them: the paper's
    /// noisy long-clip construction.
    #[arg(long)]
    pub speech_commands: Option<PathBuf>,
}

pub fn parse_range(text: &str) -> Result<(f32, f32), String> {
    let (low, high) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not LOW:HIGH, e.g. 0:20"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<f32>()
            .map_err(|_| format!("{part:?} in {text:?} is not a number"))
    };
    Ok((number(low)?, number(high)?))
}

pub fn synth(args: &SynthArgs) -> Result<(), String> {
    let config = SynthConfig {
        out: args.out.clone(),
        lengths: args.length.clone(),
        per_class: args.per_class,
        seed: args.seed,
        snr_db: args.snr,
        noise_dir: args.noise_dir.clone(),
        words: match &args.speech_commands {
            Some(root) => WordSource::SpeechCommands(root.clone()),
            None => WordSource::Synthesized {
                voices: args.voices,
            },
        },
    };
    let started = std::time::Instant::now();
    let current: Mutex<Option<(String, indicatif::ProgressBar)>> = Mutex::new(None);
    let report = synthesize(&config, &|done, total, stage| {
        if let Ok(mut slot) = current.lock() {
            if slot.as_ref().is_none_or(|(name, _)| name != stage) {
                if let Some((_, old)) = slot.take() {
                    old.finish();
                }
                *slot = Some((stage.to_string(), bar(total, stage)));
            }
            if let Some((_, bar)) = slot.as_ref() {
                bar.set_position(done as u64);
            }
        }
    })
    .map_err(|e| e.to_string())?;
    if let Ok(mut slot) = current.lock()
        && let Some((_, bar)) = slot.take()
    {
        bar.finish();
    }
    let seconds = started.elapsed().as_secs_f32();
    println!(
        "{} clips from {} voices ({} utterances) in {:.1} s ({:.0} clips per minute) → {}",
        report.clips,
        report.voices,
        report.utterances,
        seconds,
        report.clips as f32 / seconds.max(1e-3) * 60.0,
        args.out.join("manifest.csv").display()
    );
    Ok(())
}
