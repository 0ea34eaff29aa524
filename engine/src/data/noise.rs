//! Procedural backgrounds: white, pink and brown noise, mains hum, babble made of overlapping
//! synthetic sentences, and music-like tones. Every generator is seeded and returns unit-RMS audio at 16 kHz, so the
//! mixer alone sets the level.

use crate::audio::MODEL_SAMPLE_RATE;
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Procedural {
    White,
    Pink,
    Brown,
    Hum,
    Babble,
    Tones,
}

impl Procedural {
    pub const ALL: [Procedural; 6] = [
        Procedural::White,
        Procedural::Pink,
        Procedural::Brown,
        Procedural::Hum,
        Procedural::Babble,
        Procedural::Tones,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Procedural::White => "white",
            Procedural::Pink => "pink",
            Procedural::Brown => "brown",
            Procedural::Hum => "hum",
            Procedural::Babble => "babble",
            Procedural::Tones => "tones",
        }
    }

    /// The kind a name stands for, or an error that lists the names.
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!("`{name}` is not a background: one of {}", names.join(", "))
            })
    }
}

/// `samples` of the background. Babble draws its words from `speech` (one utterance each);
/// with no speech it falls back to pink noise.
pub fn generate(kind: Procedural, samples: usize, speech: &[Vec<f32>], rng: &mut Rng) -> Vec<f32> {
    let raw = match kind {
        Procedural::White => (0..samples).map(|_| rng.normal()).collect(),
        Procedural::Pink => pink(samples, rng),
        Procedural::Brown => brown(samples, rng),
        Procedural::Hum => hum(samples, rng),
        Procedural::Babble if speech.is_empty() => pink(samples, rng),
        Procedural::Babble => babble(samples, speech, rng),
        Procedural::Tones => tones(samples, rng),
    };
    unit_rms(raw)
}

/// 1/f noise: the sum of octave-spaced random holds (Voss–McCartney).
fn pink(samples: usize, rng: &mut Rng) -> Vec<f32> {
    const ROWS: usize = 12;
    let mut rows = [0f32; ROWS];
    for row in &mut rows {
        *row = rng.normal();
    }
    let mut sum: f32 = rows.iter().sum();
    (0..samples)
        .map(|n| {
            // The row to refresh is the number of trailing zeros of the counter.
            let row = ((n + 1).trailing_zeros() as usize).min(ROWS - 1);
            let fresh = rng.normal();
            sum += fresh - rows[row];
            rows[row] = fresh;
            sum + rng.normal()
        })
        .collect()
}

/// Integrated white noise with a slight leak, so it stays bounded (1/f² below a few kHz).
fn brown(samples: usize, rng: &mut Rng) -> Vec<f32> {
    let mut level = 0f32;
    let mut out: Vec<f32> = (0..samples)
        .map(|_| {
            level = 0.998 * level + 0.05 * rng.normal();
            level
        })
        .collect();
    let mean = out.iter().sum::<f32>() / samples.max(1) as f32;
    out.iter_mut().for_each(|v| *v -= mean);
    out
}

/// Mains hum at 50 or 60 Hz with odd and even harmonics and a little hiss.
fn hum(samples: usize, rng: &mut Rng) -> Vec<f32> {
    let base = if rng.unit() < 0.5 { 50.0 } else { 60.0 };
    let harmonics: Vec<(f32, f32, f32)> = (1..=6)
        .map(|h| {
            let amplitude = rng.uniform(0.2, 1.0) / h as f32;
            let phase = rng.uniform(0.0, std::f32::consts::TAU);
            (base * h as f32, amplitude, phase)
        })
        .collect();
    let rate = MODEL_SAMPLE_RATE as f32;
    (0..samples)
        .map(|n| {
            let t = n as f32 / rate;
            let tone: f32 = harmonics
                .iter()
                .map(|(f, a, p)| a * (std::f32::consts::TAU * f * t + p).sin())
                .sum();
            tone + 0.02 * rng.normal()
        })
        .collect()
}

/// Three to six talkers, each speaking a sentence of random words with short pauses, overlapped.
fn babble(samples: usize, speech: &[Vec<f32>], rng: &mut Rng) -> Vec<f32> {
    let mut out = vec![0f32; samples];
    let talkers = 3 + rng.below(4);
    for _ in 0..talkers {
        let mut at = rng.below(MODEL_SAMPLE_RATE as usize / 2);
        while at < samples {
            let Some(word) = rng.pick(speech) else { break };
            let gain = 1.0 / rms(word).max(1e-6) * rng.uniform(0.5, 1.0);
            for (slot, sample) in out[at..].iter_mut().zip(word) {
                *slot += sample * gain;
            }
            at += word.len() + rng.below(MODEL_SAMPLE_RATE as usize / 8);
        }
    }
    out
}

/// One to three instruments playing notes of random pitch and length, each note a few
/// harmonics under a plucked envelope with a slight vibrato: music as far as a keyword model hears.
fn tones(samples: usize, rng: &mut Rng) -> Vec<f32> {
    let rate = MODEL_SAMPLE_RATE as f32;
    let mut out = vec![0f32; samples];
    for _ in 0..1 + rng.below(3) {
        let brightness = rng.uniform(0.8, 2.0);
        let decay = rng.uniform(2.0, 8.0);
        let mut at = rng.below(MODEL_SAMPLE_RATE as usize / 4);
        while at < samples {
            let midi = 45.0 + rng.below(40) as f32;
            let hz = 440.0 * 2f32.powf((midi - 69.0) / 12.0);
            let length = (rng.uniform(0.12, 0.6) * rate) as usize;
            let loudness = rng.uniform(0.4, 1.0);
            let phase = rng.uniform(0.0, std::f32::consts::TAU);
            for (n, slot) in out[at..].iter_mut().take(length).enumerate() {
                let t = n as f32 / rate;
                let envelope = (t / 0.01).min(1.0) * (-decay * t).exp();
                let vibrato = 1.0 + 0.004 * (std::f32::consts::TAU * 5.0 * t).sin();
                let tone: f32 = (1..=6)
                    .map(|h| {
                        let f = hz * h as f32;
                        if f >= 0.45 * rate {
                            return 0.0;
                        }
                        (std::f32::consts::TAU * f * vibrato * t + phase * h as f32).sin()
                            / (h as f32).powf(brightness)
                    })
                    .sum();
                *slot += loudness * envelope * tone;
            }
            at += length;
        }
    }
    out
}

pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|v| v * v).sum::<f32>() / samples.len() as f32).sqrt()
}

fn unit_rms(mut samples: Vec<f32>) -> Vec<f32> {
    let level = rms(&samples);
    if level > 0.0 {
        samples.iter_mut().for_each(|v| *v /= level);
    }
    samples
}

/// A `samples`-long stretch of a recording from a random place, looped if the recording is
/// shorter, at unit RMS.
pub fn excerpt(recording: &[f32], samples: usize, rng: &mut Rng) -> Vec<f32> {
    if recording.is_empty() {
        return vec![0.0; samples];
    }
    let start = rng.below(recording.len());
    unit_rms(
        recording
            .iter()
            .cycle()
            .skip(start)
            .take(samples)
            .copied()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Power in the lowest and highest eighth of the spectrum, from first differences: the ratio
    /// of difference power to signal power grows with the share of high frequencies.
    fn brightness(x: &[f32]) -> f32 {
        let diff: Vec<f32> = x.windows(2).map(|w| w[1] - w[0]).collect();
        rms(&diff) / rms(x)
    }

    #[test]
    fn colours_have_unit_level_and_the_right_tilt() {
        let mut rng = Rng::new(3);
        let speech = vec![vec![0.1f32; 4000], vec![-0.2; 3000]];
        let n = 32_000;
        let made: Vec<Vec<f32>> = Procedural::ALL
            .iter()
            .map(|k| generate(*k, n, &speech, &mut rng))
            .collect();
        for (kind, samples) in Procedural::ALL.iter().zip(&made) {
            assert_eq!(samples.len(), n);
            assert!((rms(samples) - 1.0).abs() < 1e-3, "{kind:?}");
            assert!(samples.iter().all(|v| v.is_finite()), "{kind:?}");
        }
        // White is brightest, then pink, then brown.
        let [white, pink, brown] = [0, 1, 2].map(|i| brightness(&made[i]));
        assert!(white > pink && pink > brown, "{white} {pink} {brown}");
    }

    #[test]
    fn backgrounds_are_read_by_name() {
        for kind in Procedural::ALL {
            assert_eq!(Procedural::parse(kind.name()), Ok(kind));
        }
        let error = Procedural::parse("rain").unwrap_err();
        assert!(
            error.contains("`rain`") && error.contains("babble"),
            "{error}"
        );
    }

    #[test]
    fn same_seed_same_noise() {
        let a = generate(Procedural::Pink, 1000, &[], &mut Rng::new(9));
        let b = generate(Procedural::Pink, 1000, &[], &mut Rng::new(9));
        assert_eq!(a, b);
    }
}
