//! Placing a word inside a background at a chosen signal-to-noise ratio: the construction of
//! every noisy long clip, in the CLI's corpus and in the browser's training pack alike.

use super::manifest::Window;
use super::noise::rms;
use crate::audio::MODEL_SAMPLE_RATE;

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
}
