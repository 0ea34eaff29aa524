//! Placing a word inside a background at a chosen signal-to-noise ratio: the construction of
//! every noisy long clip, in the CLI's corpus and in the browser's training pack alike.

use super::manifest::Window;
use super::noise::{Procedural, generate, rms};
use crate::audio::MODEL_SAMPLE_RATE;
use crate::rng::Rng;

/// The level a silence clip's background is set against, about that of a synthesized word.
pub const SILENCE_REFERENCE_RMS: f32 = 0.08;

/// The loudest a mixed clip may peak; louder mixes are scaled down as a whole.
const PEAK: f32 = 0.95;

/// A finished clip and where its word lies.
pub struct Mixed {
    pub samples: Vec<f32>,
    pub window: Option<Window>,
}

/// Adds `background` (any level) under `word` starting at sample `offset`, scaled so that the
/// word's power over the background's is `snr_db`. `word` may be empty (a silence clip): the
/// background is then kept at the level it would have under a word of RMS `word_rms`.
pub fn mix(
    word: &[f32],
    mut background: Vec<f32>,
    offset: usize,
    snr_db: f32,
    word_rms: f32,
) -> Mixed {
    let speech_rms = if word.is_empty() { word_rms } else { rms(word) };
    let noise_rms = rms(&background);
    let gain = if noise_rms > 0.0 {
        speech_rms / noise_rms / 10f32.powf(snr_db / 20.0)
    } else {
        0.0
    };
    background.iter_mut().for_each(|v| *v *= gain);
    let offset = offset.min(background.len().saturating_sub(word.len()));
    for (slot, sample) in background[offset..].iter_mut().zip(word) {
        *slot += sample;
    }
    let peak = background.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > PEAK {
        let scale = PEAK / peak;
        background.iter_mut().for_each(|v| *v *= scale);
    }
    let rate = MODEL_SAMPLE_RATE as f32;
    let window = (!word.is_empty()).then(|| Window {
        start_s: offset as f32 / rate,
        end_s: (offset + word.len().min(background.len() - offset)) as f32 / rate,
    });
    Mixed {
        samples: background,
        window,
    }
}

/// The spoken part of an utterance: from the first to the last 10 ms frame whose RMS is within
/// 35 dB of the loudest frame's, with 20 ms kept either side.
pub fn trim_to_speech(samples: &[f32]) -> &[f32] {
    let frame = MODEL_SAMPLE_RATE as usize / 100;
    let levels: Vec<f32> = samples.chunks(frame).map(rms).collect();
    let loudest = levels.iter().fold(0f32, |m, v| m.max(*v));
    if loudest <= 0.0 {
        return &samples[..0];
    }
    let threshold = loudest * 10f32.powf(-35.0 / 20.0);
    let first = levels.iter().position(|l| *l >= threshold).unwrap_or(0);
    let last = levels
        .iter()
        .rposition(|l| *l >= threshold)
        .unwrap_or(first);
    let start = first.saturating_sub(2) * frame;
    let end = ((last + 3) * frame).min(samples.len());
    &samples[start..end]
}

/// How to set a recorded word inside generated noise, the way the noisy long clips are made.
#[derive(Clone, Debug, PartialEq)]
pub struct NoisePlacement {
    /// Length of the finished clip.
    pub length_s: f32,
    pub snr_db: f32,
    pub noise: Procedural,
    /// Where the word goes: 0 at the start, 1 at the end, anywhere in between.
    pub position: f32,
    pub seed: u64,
}

/// Why a clip cannot be placed in noise.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlacementError {
    #[error("the clip is silent, so there is no word to place in noise")]
    Silent,
    #[error(
        "the word (the clip's spoken part) lasts {word_s:.2} s, longer than the {length_s} s of \
         noise; choose a longer noise length"
    )]
    TooLong { word_s: f32, length_s: f32 },
    #[error("the noise length must be a positive number of seconds up to 60, not {0}")]
    Length(f32),
    #[error("the SNR must be a number of decibels between -40 and 60, not {0}")]
    Snr(f32),
    #[error("the position must be between 0 and 1, not {0}")]
    Position(f32),
}

/// `word` (16 kHz: a keyword window, or a recording's [`trim_to_speech`]) set inside
/// `placement.length_s` seconds of generated noise at `placement.snr_db`, with its window in
/// the finished clip.
pub fn place_in_noise(word: &[f32], placement: &NoisePlacement) -> Result<Mixed, PlacementError> {
    let NoisePlacement {
        length_s,
        snr_db,
        noise,
        position,
        seed,
    } = placement.clone();
    if !(length_s > 0.0 && length_s <= 60.0) {
        return Err(PlacementError::Length(length_s));
    }
    if !(-40.0..=60.0).contains(&snr_db) {
        return Err(PlacementError::Snr(snr_db));
    }
    if !(0.0..=1.0).contains(&position) {
        return Err(PlacementError::Position(position));
    }
    if word.is_empty() || rms(word) == 0.0 {
        return Err(PlacementError::Silent);
    }
    let rate = MODEL_SAMPLE_RATE as f32;
    let length = (length_s * rate).round() as usize;
    if word.len() > length {
        return Err(PlacementError::TooLong {
            word_s: word.len() as f32 / rate,
            length_s,
        });
    }
    let offset = ((length - word.len()) as f32 * position).round() as usize;
    let mut rng = Rng::new(seed);
    let background = generate(noise, length, &[], &mut rng);
    Ok(mix(word, background, offset, snr_db, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(samples: usize, amplitude: f32) -> Vec<f32> {
        (0..samples)
            .map(|n| amplitude * (n as f32 * 0.3).sin())
            .collect()
    }

    #[test]
    fn the_background_gets_the_asked_snr_and_the_window_is_where_the_word_went() {
        let word = tone(8000, 0.3);
        let background: Vec<f32> = (0..64_000)
            .map(|n| if n % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let mixed = mix(&word, background, 16_000, 10.0, 0.0);
        assert_eq!(mixed.samples.len(), 64_000);
        let window = mixed.window.unwrap_or(Window {
            start_s: -1.0,
            end_s: -1.0,
        });
        assert_eq!((window.start_s, window.end_s), (1.0, 1.5));
        // Outside the word only noise remains: its level is the word's minus 10 dB.
        let noise = rms(&mixed.samples[..16_000]);
        let expected = rms(&word) / 10f32.powf(0.5);
        assert!(
            (noise / expected - 1.0).abs() < 1e-3,
            "{noise} vs {expected}"
        );
    }

    #[test]
    fn loud_mixes_are_scaled_below_full_scale_and_words_at_the_end_fit() {
        let mixed = mix(&tone(8000, 0.9), vec![1.0; 10_000], 9_999, -10.0, 0.0);
        assert!(mixed.samples.iter().all(|v| v.abs() <= PEAK + 1e-6));
        let end = mixed.window.map_or(0.0, |w| w.end_s);
        assert!((end - 10_000.0 / 16_000.0).abs() < 1e-6);
    }

    #[test]
    fn trimming_keeps_the_loud_part_with_a_margin() {
        let mut clip = vec![0.0; 16_000];
        clip[4_000..8_000].copy_from_slice(&tone(4000, 0.5));
        let trimmed = trim_to_speech(&clip);
        assert!(
            trimmed.len() >= 4_000 && trimmed.len() <= 4_000 + 5 * 160,
            "{}",
            trimmed.len()
        );
        assert!(trim_to_speech(&[0.0; 100]).is_empty());
    }

    #[test]
    fn a_word_placed_in_noise_keeps_its_length_position_and_snr() {
        let mut clip = vec![0.0; 16_000];
        clip[4_000..12_000].copy_from_slice(&tone(8_000, 0.3));
        let placement = NoisePlacement {
            length_s: 4.0,
            snr_db: 5.0,
            noise: Procedural::White,
            position: 1.0,
            seed: 3,
        };
        let Ok(mixed) = place_in_noise(trim_to_speech(&clip), &placement) else {
            panic!("a loud word fits in 4 s of noise");
        };
        assert_eq!(mixed.samples.len(), 64_000);
        let window = mixed.window.map_or((0.0, 0.0), |w| (w.start_s, w.end_s));
        // Placed at the end: the window closes the clip and spans the trimmed word.
        assert!((window.1 - 4.0).abs() < 1e-6, "{window:?}");
        let word_s = window.1 - window.0;
        assert!((0.5..0.5 + 0.05).contains(&word_s), "{word_s}");
        let noise = rms(&mixed.samples[..16_000]);
        let expected = rms(&tone(8_000, 0.3)) / 10f32.powf(0.25);
        assert!(
            (noise / expected - 1.0).abs() < 0.05,
            "{noise} vs {expected}"
        );
        // Same settings, same clip.
        let again = place_in_noise(trim_to_speech(&clip), &placement).map(|m| m.samples);
        assert_eq!(again.as_deref(), Ok(&mixed.samples[..]));
    }

    #[test]
    fn placements_that_cannot_work_say_why() {
        let placement = NoisePlacement {
            length_s: 2.0,
            snr_db: 10.0,
            noise: Procedural::Pink,
            position: 0.5,
            seed: 1,
        };
        let silent = place_in_noise(&[0.0; 8_000], &placement).map(|_| ());
        assert_eq!(silent, Err(PlacementError::Silent));
        let long = place_in_noise(&tone(48_000, 0.3), &placement).map(|_| ());
        assert!(
            matches!(long, Err(PlacementError::TooLong { .. })),
            "{long:?}"
        );
        let refused = |asked: NoisePlacement| place_in_noise(&tone(8_000, 0.3), &asked).map(|_| ());
        for length_s in [f32::NAN, -1.0, 61.0] {
            let asked = NoisePlacement {
                length_s,
                ..placement.clone()
            };
            assert!(matches!(refused(asked), Err(PlacementError::Length(_))));
        }
        let loud = NoisePlacement {
            snr_db: 100.0,
            ..placement.clone()
        };
        assert_eq!(refused(loud), Err(PlacementError::Snr(100.0)));
        let outside = NoisePlacement {
            position: 1.5,
            ..placement
        };
        assert_eq!(refused(outside), Err(PlacementError::Position(1.5)));
    }
}
