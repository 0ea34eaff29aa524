//! Speech from the two Debian synthesizers, espeak-ng and flite, varied by voice, accent variant,
//! pitch, rate and gain into hundreds of distinct voices.

use super::DataError;
use super::mix::trim_to_speech;
use crate::audio::{Limits, load_clip};
use crate::rng::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;

/// espeak-ng's English accents.
const ESPEAK_ACCENTS: [&str; 7] = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
];
/// espeak-ng's voice variants (timbre and gender).
const ESPEAK_VARIANTS: [&str; 16] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
    "klatt3", "croak",
];
/// flite's built-in general-domain voices.
const FLITE_VOICES: [&str; 5] = ["kal", "kal16", "awb", "rms", "slt"];

#[derive(Clone, Debug, PartialEq)]
pub enum Synthesizer {
    /// `accent+variant`, pitch 0–99, words per minute.
    Espeak {
        voice: String,
        pitch: u32,
        rate: u32,
    },
    /// voice name, mean F0 in Hz, duration stretch (1 = normal speed).
    Flite {
        voice: String,
        f0: u32,
        stretch: f32,
    },
}

/// One distinct speaker.
#[derive(Clone, Debug, PartialEq)]
pub struct Voice {
    pub synthesizer: Synthesizer,
    pub gain_db: f32,
}

impl Voice {
    /// A stable name that says how the voice is made (the manifest's `voice` column).
    pub fn id(&self) -> String {
        match &self.synthesizer {
            Synthesizer::Espeak { voice, pitch, rate } => {
                format!("espeak-ng:{voice}:p{pitch}:s{rate}:g{:+.0}", self.gain_db)
            }
            Synthesizer::Flite { voice, f0, stretch } => {
                format!("flite:{voice}:f0={f0}:x{stretch:.2}:g{:+.0}", self.gain_db)
            }
        }
    }

    /// `count` distinct voices drawn from the seed, about four in five from espeak-ng (which has
    /// more accents and timbres), the rest from flite.
    pub fn catalogue(count: usize, rng: &mut Rng) -> Vec<Voice> {
        let mut voices: Vec<Voice> = Vec::with_capacity(count);
        let mut attempts = 0;
        while voices.len() < count && attempts < count * 20 {
            attempts += 1;
            let synthesizer = if rng.unit() < 0.8 {
                let accent = rng.pick(&ESPEAK_ACCENTS).copied().unwrap_or("en-us");
                let variant = rng.pick(&ESPEAK_VARIANTS).copied().unwrap_or("m1");
                Synthesizer::Espeak {
                    voice: format!("{accent}+{variant}"),
                    pitch: 20 + rng.below(61) as u32,
                    rate: 120 + 10 * rng.below(9) as u32,
                }
            } else {
                Synthesizer::Flite {
                    voice: rng
                        .pick(&FLITE_VOICES)
                        .copied()
                        .unwrap_or("slt")
                        .to_string(),
                    f0: 80 + 5 * rng.below(29) as u32,
                    stretch: 0.8 + 0.05 * rng.below(10) as f32,
                }
            };
            let voice = Voice {
                synthesizer,
                gain_db: -12.0 + 2.0 * rng.below(7) as f32,
            };
            if !voices.iter().any(|v| v.id() == voice.id()) {
                voices.push(voice);
            }
        }
        voices
    }

    /// The word spoken by this voice, as 16 kHz mono trimmed to the spoken part. `scratch` is a
    /// folder for the synthesizer's output file (both write WAV files with proper headers).
    pub fn speak(&self, word: &str, scratch: &Path) -> Result<Vec<f32>, DataError> {
        let file = scratch.join(format!(
            "{}-{word}.wav",
            self.id().replace([':', '+', '='], "_")
        ));
        let (program, args) = match &self.synthesizer {
            Synthesizer::Espeak { voice, pitch, rate } => (
                "espeak-ng",
                vec![
                    "-v".into(),
                    voice.clone(),
                    "-p".into(),
                    pitch.to_string(),
                    "-s".into(),
                    rate.to_string(),
                    "-w".into(),
                    file.display().to_string(),
                    word.into(),
                ],
            ),
            Synthesizer::Flite { voice, f0, stretch } => (
                "flite",
                vec![
                    "-voice".into(),
                    voice.clone(),
                    "--setf".into(),
                    format!("int_f0_target_mean={f0}"),
                    "--setf".into(),
                    format!("duration_stretch={stretch}"),
                    "-t".into(),
                    word.into(),
                    "-o".into(),
                    file.display().to_string(),
                ],
            ),
        };
        let status = Command::new(program).args(&args).output().map_err(|e| {
            DataError::Invalid(format!(
                "could not run {program} ({e}): install the Debian package {program} (apt-get install {program})"
            ))
        })?;
        if !status.status.success() {
            return Err(DataError::Invalid(format!(
                "{program} failed for voice {} and word `{word}`: {}",
                self.id(),
                String::from_utf8_lossy(&status.stderr).trim()
            )));
        }
        let bytes = std::fs::read(&file).map_err(|e| DataError::file(&file, e))?;
        let _ = std::fs::remove_file(&file);
        let clip = load_clip(bytes, Some("wav"), &Limits::default())
            .map_err(|e| DataError::file(&file, e))?;
        let gain = 10f32.powf(self.gain_db / 20.0);
        Ok(trim_to_speech(clip.samples())
            .iter()
            .map(|v| v * gain)
            .collect())
    }
}

/// A private scratch folder for synthesizer output, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Result<Self, DataError> {
        // Unique per call, so concurrent runs in one process never share (or delete) a folder.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tempokd-scratch-{tag}-{}-{call}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| DataError::file(&dir, e))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
