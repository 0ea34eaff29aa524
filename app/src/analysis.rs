//! What the page knows about the clip on screen, computed by the engine.

use crate::browser::audio::{self, capitalise};
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Features, Limits};
use tempokd::data::mix::{NoisePlacement, place_in_noise, trim_to_speech};

/// Audio bytes from any input (file, drop, recording, demo clip), before decoding.
#[derive(Clone, Debug)]
pub struct AudioSource {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Where the keyword is, in seconds, when the source knows it (demo clips).
    pub keyword_window: Option<(f32, f32)>,
}

/// A decoded, checked clip at the models' rate, as the visitor gave it.
#[derive(Clone, Debug)]
pub struct DecodedClip {
    pub name: String,
    pub source_rate: u32,
    pub source_channels: usize,
    pub clip: Clip,
    pub keyword_window: Option<(f32, f32)>,
}

/// The clip the models hear (the decoded one, or it placed in noise) with the features the
/// page draws.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub name: String,
    pub source_rate: u32,
    pub source_channels: usize,
    pub clip: Clip,
    pub log_mel: Features,
    pub keyword_window: Option<(f32, f32)>,
    /// How the clip was placed in noise, if it was.
    pub noise: Option<NoisePlacement>,
}

/// Decodes in the browser, then checks and resamples in the engine.
pub async fn decode(source: AudioSource) -> Result<DecodedClip, String> {
    let limits = Limits::default();
    let decoded = audio::decode(&source.bytes, &limits).await?;
    let clip = Clip::from_channels(&decoded.channels, decoded.sample_rate, &limits)
        .map_err(|e| capitalise(&e.to_string()))?;
    Ok(DecodedClip {
        name: source.name,
        source_rate: decoded.sample_rate,
        source_channels: decoded.channels.len(),
        clip,
        keyword_window: source.keyword_window,
    })
}

impl DecodedClip {
    /// The word: the known keyword window, else the clip's spoken part. Demo clips are noisy
    /// already, so only their window isolates the word.
    pub fn word(&self) -> &[f32] {
        let samples = self.clip.samples();
        let window = self.keyword_window.and_then(|(start_s, end_s)| {
            let at = |s: f32| (s.max(0.0) * MODEL_SAMPLE_RATE as f32).round() as usize;
            samples.get(at(start_s)..at(end_s).min(samples.len()))
        });
        window.unwrap_or_else(|| trim_to_speech(samples))
    }

    /// The clip as given, or its word placed in noise, with its log-mel features.
    pub fn analyse(&self, noise: Option<&NoisePlacement>) -> Result<Analysis, String> {
        let (clip, keyword_window) = match noise {
            None => (self.clip.clone(), self.keyword_window),
            Some(placement) => {
                let mixed = place_in_noise(self.word(), placement)
                    .map_err(|e| capitalise(&e.to_string()))?;
                let window = mixed.window.map(|w| (w.start_s, w.end_s));
                let clip = Clip::from_mono_16k(mixed.samples, &Limits::default())
                    .map_err(|e| capitalise(&e.to_string()))?;
                (clip, window)
            }
        };
        let extractor =
            FeatureExtractor::new(FeatureConfig::default()).map_err(|e| e.to_string())?;
        let log_mel = extractor
            .log_mel(clip.samples())
            .map_err(|e| capitalise(&e.to_string()))?;
        Ok(Analysis {
            name: self.name.clone(),
            source_rate: self.source_rate,
            source_channels: self.source_channels,
            clip,
            log_mel,
            keyword_window,
            noise: noise.cloned(),
        })
    }
}
