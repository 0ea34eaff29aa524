//! The browser's training pack: short keyword clips (as `tempokd synth --length 1` writes them,
//! with their manifest), each cut down to its word, and the visitor's own recordings; mixed into
//! L-second clips of generated noise at an SNR drawn from a range, with known keyword windows,
//! the same way the corpus's noisy long clips are made.

use super::DataError;
use super::keywords::SILENCE;
use super::manifest::{Example, Split, Window};
use super::mix::{SILENCE_REFERENCE_RMS, mix, trim_to_speech};
use super::noise::{Procedural, generate};
use super::stream_mix::SpokenWord;
use crate::audio::MODEL_SAMPLE_RATE;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The largest pack manifest read: a pack lists some hundred clips in some ten kB.
pub const MAX_PACK_MANIFEST_BYTES: u64 = 16 << 20;

/// The largest pack clip read: a clip is a second or two, and 16-bit samples at 16 kHz are
/// 32 kB a second.
pub const MAX_PACK_CLIP_BYTES: u64 = 1 << 20;

/// One word of the pack: its 16 kHz samples (empty for a silence example) and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct PackWord {
    pub label: String,
    pub split: Split,
    pub samples: Vec<f32>,
}

/// How the pack's words become training clips.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackMix {
    /// Length L of every clip, in seconds.
    pub length_s: f32,
    /// The SNR of each clip is drawn uniformly from this range, in dB.
    pub snr_db: (f32, f32),
    /// Clips made from each word (each in its own noise, at its own place and SNR).
    pub copies: usize,
    pub seed: u64,
}

impl PackMix {
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |why: String| Err(DataError::Invalid(why));
        if !(1.0..=8.0).contains(&self.length_s) {
            return bad(format!(
                "the clip length L must be 1 to 8 s; got {}",
                self.length_s
            ));
        }
        let (low, high) = self.snr_db;
        if !(low.is_finite() && high.is_finite() && low <= high && low >= -20.0 && high <= 40.0) {
            return bad(format!(
                "the SNR range must be LOW ≤ HIGH within -20..40 dB; got {low}..{high}"
            ));
        }
        if !(1..=16).contains(&self.copies) {
            return bad(format!(
                "each word makes 1 to 16 clips; got {}",
                self.copies
            ));
        }
        Ok(())
    }
}

/// A finished training clip: L seconds at 16 kHz, its class and, for a word, where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct PackClip {
    pub samples: Vec<f32>,
    pub target: usize,
    pub window: Option<Window>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeywordPack {
    words: Vec<PackWord>,
}

impl KeywordPack {
    pub fn words(&self) -> &[PackWord] {
        &self.words
    }

    /// The spoken words of `splits`, to place in a stream (silence examples have none); a word
    /// that is not a keyword is named by its label alone, the pack not saying which it is.
    pub fn spoken(&self, splits: &[Split]) -> Vec<SpokenWord> {
        (self.words.iter())
            .filter(|w| splits.contains(&w.split) && !w.samples.is_empty())
            .map(|w| SpokenWord {
                word: w.label.clone(),
                label: w.label.clone(),
                voice: format!("a {} word of the keyword pack", w.split.name()),
                snr_db: 0.0,
                samples: w.samples.clone(),
            })
            .collect()
    }

    /// Adds one shipped example: its word is the clip inside the manifest's window (a clip
    /// without a window is a silence example and adds no speech).
    pub fn add_example(&mut self, example: &Example, clip: &[f32]) -> Result<(), DataError> {
        let label = example
            .labels
            .first()
            .cloned()
            .ok_or_else(|| DataError::Invalid(format!("{} has no label", example.file)))?;
        let rate = MODEL_SAMPLE_RATE as f32;
        let samples = match example.window {
            Some(window) => {
                let start = ((window.start_s * rate) as usize).min(clip.len());
                let end = ((window.end_s * rate).ceil() as usize).clamp(start, clip.len());
                if end == start {
                    return Err(DataError::Invalid(format!(
                        "{}: its window {:.3}–{:.3} s holds none of its {:.3} s",
                        example.file,
                        window.start_s,
                        window.end_s,
                        clip.len() as f32 / rate
                    )));
                }
                clip[start..end].to_vec()
            }
            None => Vec::new(),
        };
        self.words.push(PackWord {
            label,
            split: example.split,
            samples,
        });
        Ok(())
    }

    /// Adds the visitor's recording of `label` to the training split: its spoken part, at most
    /// `max_s` long so it fits the clips it will be placed in.
    pub fn add_recording(
        &mut self,
        label: &str,
        clip: &[f32],
        max_s: f32,
    ) -> Result<(), DataError> {
        let word = trim_to_speech(clip);
        if word.is_empty() {
            return Err(DataError::Invalid(
                "the recording is silent: record the word again, closer to the microphone".into(),
            ));
        }
        let seconds = word.len() as f32 / MODEL_SAMPLE_RATE as f32;
        if seconds > max_s {
            return Err(DataError::Invalid(format!(
                "the spoken part lasts {seconds:.2} s; a word must be under {max_s} s, so record it alone"
            )));
        }
        self.words.push(PackWord {
            label: label.to_string(),
            split: Split::Train,
            samples: word.to_vec(),
        });
        Ok(())
    }

    /// Every word of `splits` placed `mix.copies` times in noise: seeded, so the same pack and
    /// settings always give the same clips. Labels are looked up in `labels`.
    pub fn mix(
        &self,
        splits: &[Split],
        labels: &[String],
        mix_settings: &PackMix,
    ) -> Result<Vec<PackClip>, DataError> {
        mix_settings.validate()?;
        let words: Vec<&PackWord> = self
            .words
            .iter()
            .filter(|w| splits.contains(&w.split))
            .collect();
        // Babble is made of the split's own speech, so no voice leaks across splits.
        let speech: Vec<Vec<f32>> = words
            .iter()
            .filter(|w| !w.samples.is_empty())
            .map(|w| w.samples.clone())
            .collect();
        let length = (mix_settings.length_s * MODEL_SAMPLE_RATE as f32).round() as usize;
        let root = Rng::new(mix_settings.seed).fork("pack");
        let mut clips = Vec::with_capacity(words.len() * mix_settings.copies);
        for (index, word) in words.iter().enumerate() {
            let target = labels
                .iter()
                .position(|l| *l == word.label)
                .ok_or_else(|| {
                    DataError::Invalid(format!(
                        "the pack's label `{}` is not one the model knows ({})",
                        word.label,
                        labels.join(", ")
                    ))
                })?;
            for copy in 0..mix_settings.copies {
                let mut rng = root.fork(&format!("{index}/{copy}"));
                let noise = *rng.pick(&Procedural::ALL).unwrap_or(&Procedural::Pink);
                let (low, high) = mix_settings.snr_db;
                let snr = rng.uniform(low, high);
                let spoken = &word.samples[..word.samples.len().min(length)];
                let offset = rng.below(length - spoken.len() + 1);
                let background = generate(noise, length, &speech, &mut rng);
                let mixed = mix(spoken, background, offset, snr, SILENCE_REFERENCE_RMS);
                clips.push(PackClip {
                    samples: mixed.samples,
                    target,
                    window: mixed.window.filter(|_| word.label != SILENCE),
                });
            }
        }
        Ok(clips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(label: &str, window: Option<(f32, f32)>, split: Split) -> Example {
        Example {
            row: 2,
            file: format!("{label}.wav"),
            labels: vec![label.to_string()],
            window: window.map(|(start_s, end_s)| Window { start_s, end_s }),
            voice: String::new(),
            noise: String::new(),
            snr_db: None,
            split,
            effects: String::new(),
        }
    }

    fn tone(samples: usize) -> Vec<f32> {
        (0..samples).map(|n| 0.3 * (n as f32 * 0.2).sin()).collect()
    }

    fn labels() -> Vec<String> {
        ["yes", "no", SILENCE].map(String::from).to_vec()
    }

    fn pack() -> KeywordPack {
        let mut clip = vec![0.0; 16_000];
        clip[4_000..9_000].copy_from_slice(&tone(5_000));
        let mut pack = KeywordPack::default();
        let added = [
            pack.add_example(&example("yes", Some((0.25, 0.5625)), Split::Train), &clip),
            pack.add_example(
                &example("no", Some((0.25, 0.5625)), Split::Validation),
                &clip,
            ),
            pack.add_example(&example(SILENCE, None, Split::Train), &clip),
        ];
        assert!(added.iter().all(Result::is_ok), "{added:?}");
        pack
    }

    fn settings() -> PackMix {
        PackMix {
            length_s: 2.0,
            snr_db: (5.0, 5.0),
            copies: 3,
            seed: 4,
        }
    }

    #[test]
    fn words_are_cut_at_their_windows_and_placed_in_l_seconds_of_noise() {
        let pack = pack();
        assert_eq!(pack.words()[0].samples.len(), 5_000);
        assert!(pack.words()[2].samples.is_empty());
        let clips = pack.mix(&[Split::Train], &labels(), &settings());
        let clips = clips.unwrap_or_default();
        assert_eq!(clips.len(), 6, "two train words, three copies each");
        for clip in &clips[..3] {
            assert_eq!(clip.samples.len(), 32_000);
            assert_eq!(clip.target, 0);
            let window = clip.window.unwrap_or(Window {
                start_s: 0.0,
                end_s: 0.0,
            });
            assert!((window.end_s - window.start_s - 5_000.0 / 16_000.0).abs() < 1e-4);
        }
        assert!(
            clips[3..]
                .iter()
                .all(|c| c.target == 2 && c.window.is_none())
        );
        // Each copy is placed somewhere else.
        let starts: Vec<f32> = clips[..3]
            .iter()
            .filter_map(|c| c.window.map(|w| w.start_s))
            .collect();
        assert!(
            starts[0] != starts[1] || starts[1] != starts[2],
            "{starts:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_clips_and_another_seed_others() {
        let pack = pack();
        let once = pack
            .mix(&[Split::Train], &labels(), &settings())
            .unwrap_or_default();
        let again = pack
            .mix(&[Split::Train], &labels(), &settings())
            .unwrap_or_default();
        assert_eq!(once, again);
        let other = PackMix {
            seed: 5,
            ..settings()
        };
        assert_ne!(
            once,
            pack.mix(&[Split::Train], &labels(), &other)
                .unwrap_or_default()
        );
    }

    #[test]
    fn bad_settings_unknown_labels_and_silent_recordings_are_refused() {
        let mut pack = pack();
        for bad in [
            PackMix {
                length_s: 0.5,
                ..settings()
            },
            PackMix {
                snr_db: (10.0, 0.0),
                ..settings()
            },
            PackMix {
                copies: 0,
                ..settings()
            },
        ] {
            assert!(
                pack.mix(&[Split::Train], &labels(), &bad).is_err(),
                "{bad:?}"
            );
        }
        let only_yes = vec!["yes".to_string()];
        let unknown = pack.mix(&[Split::Train], &only_yes, &settings());
        assert!(matches!(unknown, Err(DataError::Invalid(why)) if why.contains("_silence_")));
        assert!(pack.add_recording("yes", &[0.0; 16_000], 1.0).is_err());
        assert!(pack.add_recording("yes", &tone(24_000), 1.0).is_err());
        assert!(pack.add_recording("yes", &tone(8_000), 1.0).is_ok());
        assert_eq!(pack.words().last().map(|w| w.split), Some(Split::Train));
    }
}
