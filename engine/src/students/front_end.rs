//! A student's front end: the features it reads from a 16 kHz clip, apart from its weights, so
//! that threads which read clips (a streamed run's) can compute them while the model trains.

use super::{StudentConfig, StudentError};
use crate::audio::{FeatureExtractor, FeatureKind, Features};

/// The features a student reads and the fewest frames its layers accept.
#[derive(Clone)]
pub struct StudentFrontEnd {
    extractor: FeatureExtractor,
    kind: FeatureKind,
    min_frames: usize,
}

impl StudentFrontEnd {
    pub fn new(config: &StudentConfig) -> Result<Self, StudentError> {
        Ok(Self {
            extractor: FeatureExtractor::new(config.features.clone())
                .map_err(|e| StudentError::Config(e.to_string()))?,
            kind: config.input,
            min_frames: config.min_input_frames(),
        })
    }

    /// The features of a 16 kHz mono clip.
    pub fn features(&self, samples: &[f32]) -> Result<Features, StudentError> {
        let features = self.extractor.extract(self.kind, samples)?;
        self.check_frames(features.frames)?;
        Ok(features)
    }

    /// The frames [`features`](Self::features) gives a clip of `samples` samples, without
    /// computing them.
    pub fn frames_for(&self, samples: usize) -> Result<usize, StudentError> {
        let frames = self.extractor.config().frames_for(samples);
        self.check_frames(frames)?;
        Ok(frames)
    }

    fn check_frames(&self, frames: usize) -> Result<(), StudentError> {
        if frames >= self.min_frames {
            return Ok(());
        }
        let c = self.extractor.config();
        Err(StudentError::TooShort {
            frames,
            needed: self.min_frames,
            needed_s: (c.n_fft + (self.min_frames - 1) * c.hop_length) as f32
                / c.sample_rate as f32,
        })
    }
}
