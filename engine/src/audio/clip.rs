use super::{
    AudioError, MAX_CHANNELS, MAX_SAMPLE_MAGNITUDE, MODEL_SAMPLE_RATE, SAMPLE_RATE_RANGE, resample,
};
use serde::{Deserialize, Serialize};

/// What the product accepts as one clip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Longer clips are refused before any work is done on them.
    pub max_seconds: f32,
    /// Shorter clips cannot fill one analysis window.
    pub min_seconds: f32,
    /// A peak below this (in dBFS) counts as digital silence.
    pub silence_dbfs: f32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_seconds: 30.0,
            min_seconds: 0.1,
            silence_dbfs: -90.0,
        }
    }
}

/// Decoded samples held per second of [`Limits::max_seconds`], over every channel: eight
/// channels at 48 kHz, or stereo at 192 kHz.
const DECODED_SAMPLES_PER_SECOND: u64 = 384_000;

/// Decoded samples held at most whatever the limit in seconds (2 GiB of f32: an hour of stereo
/// at 48 kHz fits).
const MAX_DECODED_SAMPLES: u64 = 1 << 29;

impl Limits {
    /// The most samples, over every channel at the file's own rate, that decoding one file may
    /// hold: the limit in seconds times [`DECODED_SAMPLES_PER_SECOND`], at most
    /// [`MAX_DECODED_SAMPLES`].
    pub fn max_decoded_samples(&self) -> u64 {
        let per_limit = f64::from(self.max_seconds.max(0.0)) * DECODED_SAMPLES_PER_SECOND as f64;
        (per_limit as u64).min(MAX_DECODED_SAMPLES)
    }

    /// Refuses a length before decoding or resampling more of it than needed.
    pub fn check_length(&self, frames: usize, sample_rate: u32) -> Result<(), AudioError> {
        let seconds = frames as f32 / sample_rate as f32;
        if seconds > self.max_seconds {
            return Err(AudioError::TooLong {
                seconds,
                max_seconds: self.max_seconds,
            });
        }
        if seconds < self.min_seconds {
            return Err(AudioError::TooShort {
                seconds,
                min_seconds: self.min_seconds,
            });
        }
        Ok(())
    }
}

/// A validated mono clip at [`MODEL_SAMPLE_RATE`]: finite, audible and within the limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    samples: Vec<f32>,
}

impl Clip {
    /// Checks, mixes to mono and resamples planar channels at any plausible rate.
    pub fn from_channels(
        channels: &[Vec<f32>],
        sample_rate: u32,
        limits: &Limits,
    ) -> Result<Self, AudioError> {
        if !SAMPLE_RATE_RANGE.contains(&sample_rate) {
            return Err(AudioError::SampleRate(sample_rate));
        }
        if channels.len() > MAX_CHANNELS {
            return Err(AudioError::Channels(channels.len()));
        }
        // A recorder stopped mid-buffer can leave channels of unequal length: keep the common part.
        let frames = channels.iter().map(Vec::len).min().unwrap_or(0);
        if frames == 0 {
            return Err(AudioError::NoSamples);
        }
        limits.check_length(frames, sample_rate)?;
        let mono = mix_to_mono(channels, frames)?;
        let peak = mono.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let peak_dbfs = 20.0 * peak.max(1e-12).log10();
        if peak_dbfs < limits.silence_dbfs {
            return Err(AudioError::Silent { peak_dbfs });
        }
        let samples = resample(&mono, sample_rate, MODEL_SAMPLE_RATE)?;
        Ok(Self { samples })
    }

    /// Wraps samples that are already mono at 16 kHz (generated or read from our own data).
    pub fn from_mono_16k(samples: Vec<f32>, limits: &Limits) -> Result<Self, AudioError> {
        Self::from_channels(&[samples], MODEL_SAMPLE_RATE, limits)
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<f32> {
        self.samples
    }

    pub fn sample_rate(&self) -> u32 {
        MODEL_SAMPLE_RATE
    }

    pub fn duration_s(&self) -> f32 {
        self.samples.len() as f32 / MODEL_SAMPLE_RATE as f32
    }
}

fn mix_to_mono(channels: &[Vec<f32>], frames: usize) -> Result<Vec<f32>, AudioError> {
    let scale = 1.0 / channels.len() as f32;
    let mut mono = vec![0.0f32; frames];
    for channel in channels {
        for (i, (sum, &s)) in mono.iter_mut().zip(channel).enumerate() {
            if !s.is_finite() {
                return Err(AudioError::NonFinite { index: i });
            }
            if s.abs() > MAX_SAMPLE_MAGNITUDE {
                return Err(AudioError::OutOfRange { index: i, value: s });
            }
            *sum += s * scale;
        }
    }
    Ok(mono)
}
