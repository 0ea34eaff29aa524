//! What the page knows about the clip on screen, computed by the engine.

use crate::browser_audio;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Features, Limits};

/// Audio bytes from any input (file, drop, recording, demo clip), before decoding.
#[derive(Clone, Debug)]
pub struct AudioSource {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Where the keyword is, in seconds, when the source knows it (demo clips).
    pub keyword_window: Option<(f32, f32)>,
}

/// A decoded, checked and resampled clip with the features the page draws.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub name: String,
    pub source_rate: u32,
    pub source_channels: usize,
    pub clip: Clip,
    pub log_mel: Features,
    pub keyword_window: Option<(f32, f32)>,
}

/// Decodes in the browser, then checks, resamples and analyses in the engine.
pub async fn analyse(source: AudioSource) -> Result<Analysis, String> {
    let decoded = browser_audio::decode(&source.bytes).await?;
    let source_channels = decoded.channels.len();
    let clip = Clip::from_channels(&decoded.channels, decoded.sample_rate, &Limits::default())
        .map_err(|e| capitalise(&e.to_string()))?;
    let extractor = FeatureExtractor::new(FeatureConfig::default()).map_err(|e| e.to_string())?;
    let log_mel = extractor
        .log_mel(clip.samples())
        .map_err(|e| capitalise(&e.to_string()))?;
    Ok(Analysis {
        name: source.name,
        source_rate: decoded.sample_rate,
        source_channels,
        clip,
        log_mel,
        keyword_window: source.keyword_window,
    })
}

/// Engine messages are sentence fragments; the page shows sentences.
fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
