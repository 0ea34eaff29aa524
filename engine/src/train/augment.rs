//! SpecAugment for the students: zeroed bands of time frames and of feature bins, drawn fresh
//! for every clip of every step.

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecAugment {
    pub time_masks: usize,
    /// Widest time mask, in frames.
    pub max_time_width: usize,
    pub bin_masks: usize,
    /// Widest bin mask, in feature bins.
    pub max_bin_width: usize,
}

impl Default for SpecAugment {
    /// The reference recipe: two time masks of up to 10 frames, two of up to 5 bins.
    fn default() -> Self {
        Self {
            time_masks: 2,
            max_time_width: 10,
            bin_masks: 2,
            max_bin_width: 5,
        }
    }
}

impl SpecAugment {
    /// Masks `values` (`frames × bins`, frame-major) in place.
    pub fn apply(&self, values: &mut [f32], frames: usize, bins: usize, rng: &mut Rng) {
        if frames == 0 || bins == 0 || values.len() != frames * bins {
            return;
        }
        for _ in 0..self.time_masks {
            let width = rng.below(self.max_time_width + 1).min(frames);
            let start = rng.below(frames - width + 1);
            values[start * bins..(start + width) * bins].fill(0.0);
        }
        for _ in 0..self.bin_masks {
            let width = rng.below(self.max_bin_width + 1).min(bins);
            let start = rng.below(bins - width + 1);
            for frame in values.chunks_exact_mut(bins) {
                frame[start..start + width].fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_whole_frames_and_whole_bins_within_the_limits() {
        let (frames, bins) = (50, 20);
        let augment = SpecAugment {
            time_masks: 1,
            max_time_width: 10,
            bin_masks: 1,
            max_bin_width: 5,
        };
        for seed in 0..20 {
            let mut values = vec![1.0; frames * bins];
            augment.apply(&mut values, frames, bins, &mut Rng::new(seed));
            let zero_frames = values
                .chunks(bins)
                .filter(|f| f.iter().all(|v| *v == 0.0))
                .count();
            let zero_bins = (0..bins)
                .filter(|b| (0..frames).all(|f| values[f * bins + b] == 0.0))
                .count();
            assert!(
                zero_frames <= 10 && zero_bins <= 5,
                "{zero_frames} {zero_bins}"
            );
            let zeros = values.iter().filter(|v| **v == 0.0).count();
            assert_eq!(
                zeros,
                zero_frames * bins + zero_bins * frames - zero_frames * zero_bins
            );
        }
        // Too-short input is left alone rather than indexed out of range.
        let mut tiny = vec![1.0; 6];
        SpecAugment::default().apply(&mut tiny, 3, 2, &mut Rng::new(1));
        assert_eq!(tiny.len(), 6);
    }
}
