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
/// espeak-ng's voice variants (timbre, gender, the Klatt synthesizer): every one Debian's
/// espeak-ng 1.51 ships but `fast`, which only changes the rate.
const ESPEAK_VARIANTS: [&str; 100] = [
    "adam",
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "david",
    "Demonic",
    "Denis",
    "Diogo",
    "ed",
    "edward",
    "edward2",
    "Gene",
    "Gene2",
    "gustave",
    "announcer",
    "Henrique",
    "Hugo",
    "iven",
    "iven2",
    "iven3",
    "iven4",
    "Jacky",
    "john",
    "kaukovalta",
    "Lee",
    "linda",
    "marcelo",
    "Marco",
    "Mario",
    "max",
    "Michael",
    "michel",
    "miguel",
    "Mike",
    "Mr",
    "Nguyen",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "RicishayMax",
    "RicishayMax2",
    "RicishayMax3",
    "rob",
    "robert",
    "robosoft",
    "robosoft2",
    "robosoft3",
    "robosoft4",
    "robosoft5",
    "robosoft6",
    "robosoft7",
    "robosoft8",
    "steph",
    "steph2",
    "steph3",
    "Storm",
    "Tweaky",
    "UniRobot",
    "zac",
    "anika",
    "anikaRobot",
    "AnxiousAndy",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "whisperf",
    "grandpa",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "klatt5",
    "klatt6",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "norbert",
    "sandro",
    "shelby",
    "travis",
    "victor",
    "whisper",
    "croak",
    "grandma",
];
/// flite's general-domain speakers, each with the voices that render it (`kal16` is `kal`
/// recorded at 16 kHz: one speaker).
const FLITE_SPEAKERS: [&[&str]; 4] = [&["kal", "kal16"], &["awb"], &["rms"], &["slt"]];

/// Share of underlying voices (and so of clips) per split: train, validation, test.
pub const SPLIT_SHARES: [f32; 3] = [0.8, 0.1, 0.1];

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

    /// About `count` distinct voices drawn from the seed, per split (train, validation, test),
    /// about four in five from espeak-ng (which has more accents and timbres), the rest from
    /// flite. Splits never share a timbre: espeak-ng's variants and flite's speakers are divided
    /// 80/10/10 % first, so no underlying voice of a test clip, nor its timbre under another
    /// accent, is ever trained on.
    pub fn catalogue(count: usize, rng: &mut Rng) -> [Vec<Voice>; 3] {
        let mut variants = ESPEAK_VARIANTS.to_vec();
        rng.shuffle(&mut variants);
        let mut speakers = FLITE_SPEAKERS.to_vec();
        rng.shuffle(&mut speakers);
        let variants = divide(&variants);
        let speakers = divide(&speakers);
        [0, 1, 2].map(|split| {
            let wanted = ((count as f32 * SPLIT_SHARES[split]).round() as usize).max(1);
            let mut voices: Vec<Voice> = Vec::with_capacity(wanted);
            let mut attempts = 0;
            while voices.len() < wanted && attempts < wanted * 20 {
                attempts += 1;
                let synthesizer = if rng.unit() < 0.8 || speakers[split].is_empty() {
                    let accent = rng.pick(&ESPEAK_ACCENTS).copied().unwrap_or("en-us");
                    let variant = rng.pick(variants[split]).copied().unwrap_or("m1");
                    Synthesizer::Espeak {
                        voice: format!("{accent}+{variant}"),
                        pitch: 20 + rng.below(61) as u32,
                        rate: 120 + 10 * rng.below(9) as u32,
                    }
                } else {
                    let renditions = rng.pick(speakers[split]).copied().unwrap_or(&["slt"]);
                    Synthesizer::Flite {
                        voice: rng.pick(renditions).copied().unwrap_or("slt").to_string(),
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
        })
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

/// `items` cut into train, validation and test parts by `SPLIT_SHARES`, each part holding one at
/// least when there are three or more.
fn divide<T>(items: &[T]) -> [&[T]; 3] {
    let count = items.len();
    if count < 3 {
        return [items, &[], &[]];
    }
    let validation_at = ((count as f32 * SPLIT_SHARES[0]) as usize).clamp(1, count - 2);
    let test_at = (validation_at + (count as f32 * SPLIT_SHARES[1]) as usize)
        .clamp(validation_at + 1, count - 1);
    [
        &items[..validation_at],
        &items[validation_at..test_at],
        &items[test_at..],
    ]
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
