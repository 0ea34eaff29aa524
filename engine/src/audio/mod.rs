//! Audio in: decoding, mixing to mono, resampling to the models' 16 kHz, validation and the
//! students' features.
//!
//! Every path into the product goes through [`Clip::from_channels`], so a file decoded here, a
//! file decoded by the browser and a microphone recording are checked and resampled the same way.

mod clip;
#[cfg(feature = "decoders")]
mod decode;
mod features;
#[cfg(feature = "decoders")]
mod flac;
#[cfg(feature = "decoders")]
mod id3;
#[cfg(feature = "decoders")]
mod mp4;
#[cfg(feature = "decoders")]
mod ogg;
#[cfg(feature = "decoders")]
mod opus;
#[cfg(feature = "decoders")]
mod probe;
mod resample;
#[cfg(feature = "decoders")]
mod vorbis_comment;
#[cfg(feature = "decoders")]
mod vorbis_setup;
mod wav;
#[cfg(feature = "decoders")]
mod webm;

pub use clip::{Clip, Limits};
#[cfg(feature = "decoders")]
pub use decode::{decode, load_clip};
pub use features::{
    FeatureConfig, FeatureError, FeatureExtractor, FeatureKind, Features, MelNorm, MelScale,
};
pub use resample::resample;
pub use wav::{decode_pcm16_mono, encode_wav, wav_sample_rate};

use thiserror::Error;

/// The rate every model in the product consumes.
pub const MODEL_SAMPLE_RATE: u32 = 16_000;

/// Sample rates outside this range are treated as a broken header, not as audio.
pub const SAMPLE_RATE_RANGE: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// The largest audio file read, by the command line and the page alike: 30 s of clip needs far
/// less in any format people record in.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The most channels a clip may have; more means a broken header.
pub const MAX_CHANNELS: usize = 64;

/// The largest sample magnitude read. Float audio lies within ±1; this leaves room for floats
/// scaled as integers, while the features' power spectra (a window's sum, squared) stay far
/// inside f32's range, where 1e20 would overflow them to infinity.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1e6;

/// Audio as a decoder hands it over: planar channels at the source rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

/// Everything that can be wrong with audio a user brings. Each message says what happened and,
/// where there is something to do, what to do.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum AudioError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "this is not audio we can read ({0}); use WAV, AIFF, FLAC, MP3, Ogg (Vorbis or Opus), WebM (Opus) or M4A (AAC)"
    )]
    Unsupported(String),
    #[error("the audio data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the file ends early: its header promises {declared_s:.2} s but it holds {decoded_s:.2} s; it was probably cut off while copying"
    )]
    Truncated { declared_s: f32, decoded_s: f32 },
    #[error("the file holds no audio samples")]
    NoSamples,
    #[error(
        "a sample rate of {0} Hz is not plausible (expected 1 kHz to 768 kHz): the header is broken"
    )]
    SampleRate(u32),
    #[error("{0} channels is not plausible (expected 1 to 64): the header is broken")]
    Channels(usize),
    #[error("sample {index} is not a number (NaN or infinity): the audio is corrupt")]
    NonFinite { index: usize },
    #[error(
        "sample {index} is {value:e}, and samples are read up to ±{MAX_SAMPLE_MAGNITUDE:e} \
         (float audio is meant to lie within ±1): the audio is corrupt or wrongly scaled"
    )]
    OutOfRange { index: usize, value: f32 },
    #[error(
        "{channels} channels at {rate} Hz hold more samples than are decoded for one file \
         ({most} over every channel): mix it down to mono or resample it to 48 kHz or less"
    )]
    TooManySamples {
        channels: usize,
        rate: u32,
        most: u64,
    },
    #[error(
        "the clip is silent (peak {peak_dbfs:.0} dBFS): check the microphone or pick another file"
    )]
    Silent { peak_dbfs: f32 },
    #[error(
        "the clip is {seconds:.1} s long and the limit is {max_seconds:.0} s: trim it and try again"
    )]
    TooLong { seconds: f32, max_seconds: f32 },
    #[error("the clip is {seconds:.3} s long; at least {min_seconds:.2} s is needed")]
    TooShort { seconds: f32, min_seconds: f32 },
    #[error("resampling from {from_hz} Hz failed: {reason}")]
    Resample { from_hz: u32, reason: String },
}
