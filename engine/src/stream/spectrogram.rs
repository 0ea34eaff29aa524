//! A stream's log-mel spectrogram, frame by frame as its audio arrives: what the live view
//! scrolls. Frames are those of the whole recording's spectrogram, whatever the chunking.

use super::StreamError;
use crate::audio::{FeatureConfig, FeatureExtractor, Features};

pub struct SpectrogramStream {
    extractor: FeatureExtractor,
    /// Audio from the start of the next frame on.
    pending: Vec<f32>,
    /// Frames handed out so far.
    frames: u64,
}

impl SpectrogramStream {
    pub fn new(config: FeatureConfig) -> Result<Self, StreamError> {
        let extractor =
            FeatureExtractor::new(config).map_err(|e| StreamError::Settings(e.to_string()))?;
        Ok(Self {
            extractor,
            pending: Vec::new(),
            frames: 0,
        })
    }

    /// Takes the next chunk of 16 kHz samples; the frames it completes (none when it completes
    /// none), with `start_s` in the stream's time. Samples that are not numbers count as 0.
    pub fn push(&mut self, chunk: &[f32]) -> Features {
        let config = self.extractor.config();
        let (hop, n_fft, bins) = (config.hop_length, config.n_fft, config.n_mels);
        let first = self.frames;
        self.pending
            .extend(chunk.iter().map(|s| if s.is_finite() { *s } else { 0.0 }));
        let mut features = match self.extractor.log_mel(&self.pending) {
            Ok(features) => features,
            // Not yet a whole frame.
            Err(_) => Features {
                frames: 0,
                bins,
                frame_s: config.frame_s(),
                start_s: 0.0,
                values: Vec::new(),
            },
        };
        let consumed = (features.frames * hop).min(self.pending.len());
        // The next frame starts `frames · hop` in; it needs `n_fft` from there.
        self.pending.drain(..consumed);
        debug_assert!(self.pending.len() < n_fft);
        self.frames += features.frames as u64;
        features.start_s += first as f32 * features.frame_s;
        features
    }

    /// Frames handed out so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn any_chunking_gives_the_whole_recordings_frames() {
        let mut rng = Rng::new(3);
        let samples: Vec<f32> = (0..16_000 * 2 + 77)
            .map(|_| rng.uniform(-0.5, 0.5))
            .collect();
        let whole = FeatureExtractor::new(FeatureConfig::default())
            .unwrap()
            .log_mel(&samples)
            .unwrap();
        for chunk in [1, 128, 1_600, 5_000, samples.len()] {
            let mut stream = SpectrogramStream::new(FeatureConfig::default()).unwrap();
            let mut values = Vec::new();
            let mut starts = Vec::new();
            for part in samples.chunks(chunk) {
                let frames = stream.push(part);
                if frames.frames > 0 {
                    starts.push((frames.start_s, values.len() / whole.bins));
                }
                values.extend(frames.values);
            }
            assert_eq!(stream.frames() as usize, whole.frames, "chunks of {chunk}");
            assert_eq!(values.len(), whole.values.len());
            for (a, b) in values.iter().zip(&whole.values) {
                assert!((a - b).abs() < 1e-4, "chunks of {chunk}: {a} against {b}");
            }
            for (start_s, frame) in starts {
                let expected = whole.start_s + frame as f32 * whole.frame_s;
                assert!((start_s - expected).abs() < 1e-5, "chunks of {chunk}");
            }
        }
    }

    #[test]
    fn audio_that_is_not_a_number_is_drawn_as_silence() {
        let mut stream = SpectrogramStream::new(FeatureConfig::default()).unwrap();
        let frames = stream.push(&[f32::NAN; 1_600]);
        assert_eq!(frames.frames, 4);
        assert!(frames.values.iter().all(|v| v.is_finite()));
    }
}
