//! The stream cut into windows: audio arrives in chunks of any size, and every hop the window of
//! audio that ends there is handed out, exactly as slicing the whole recording would give it.

use super::StreamError;
use crate::audio::MODEL_SAMPLE_RATE;
use serde::{Deserialize, Serialize};

/// How a stream is listened to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// Seconds of audio each reading looks at, ending at its hop.
    pub window_s: f32,
    /// Seconds between readings.
    pub hop_s: f32,
    /// Seconds of the stream kept (and drawn); older audio is dropped.
    pub history_s: f32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            window_s: 1.0,
            hop_s: 0.25,
            history_s: 10.0,
        }
    }
}

/// The longest window a reading may take: what a clip may be.
pub const MAX_WINDOW_S: f32 = 30.0;
/// The most history kept: ten minutes of 16 kHz audio is 38 MB.
pub const MAX_HISTORY_S: f32 = 600.0;
/// Readings closer than this would only repeat each other.
pub const MIN_HOP_S: f32 = 0.01;

/// [`StreamSettings`] in samples at 16 kHz, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub window: usize,
    pub hop: usize,
    pub history: usize,
}

impl StreamSettings {
    pub fn geometry(&self) -> Result<Geometry, StreamError> {
        let samples = |seconds: f32| (seconds * MODEL_SAMPLE_RATE as f32).round() as usize;
        let finite = [self.window_s, self.hop_s, self.history_s]
            .iter()
            .all(|s| s.is_finite());
        if !finite || self.hop_s < MIN_HOP_S || self.hop_s > self.window_s {
            return Err(StreamError::Settings(format!(
                "the hop must be between {MIN_HOP_S} s and the window ({} s); it is {} s",
                self.window_s, self.hop_s
            )));
        }
        if self.window_s > MAX_WINDOW_S || self.window_s > self.history_s {
            return Err(StreamError::Settings(format!(
                "the window must be at most {MAX_WINDOW_S} s and at most the history ({} s); it \
                 is {} s",
                self.history_s, self.window_s
            )));
        }
        if self.history_s > MAX_HISTORY_S {
            return Err(StreamError::Settings(format!(
                "the history must be at most {MAX_HISTORY_S} s; it is {} s",
                self.history_s
            )));
        }
        Ok(Geometry {
            window: samples(self.window_s),
            hop: samples(self.hop_s).max(1),
            history: samples(self.history_s),
        })
    }
}

/// One window of the stream, ending at a hop.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamWindow {
    /// Index in the stream of the window's first sample.
    pub start: u64,
    pub samples: Vec<f32>,
}

impl StreamWindow {
    pub fn start_s(&self) -> f64 {
        self.start as f64 / MODEL_SAMPLE_RATE as f64
    }

    pub fn end_s(&self) -> f64 {
        (self.start + self.samples.len() as u64) as f64 / MODEL_SAMPLE_RATE as f64
    }
}

/// The last `history` samples of the stream in a ring allocated once, and the hop clock: the
/// k-th window ends at sample `window + k·hop`, so the first covers the stream's first window.
pub struct Windower {
    geometry: Geometry,
    ring: Vec<f32>,
    /// Samples pushed since the stream began.
    pushed: u64,
    /// Where the next window ends.
    next_end: u64,
}

impl Windower {
    pub fn new(settings: &StreamSettings) -> Result<Self, StreamError> {
        let geometry = settings.geometry()?;
        Ok(Self {
            geometry,
            ring: vec![0.0; geometry.history],
            pushed: 0,
            next_end: geometry.window as u64,
        })
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Samples pushed since the stream began.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Samples still to come before the next window ends.
    pub fn until_next_window(&self) -> usize {
        (self.next_end - self.pushed) as usize
    }

    /// Where the first window ending after sample `sample` ends, by the hop clock.
    pub fn next_window_end_after(&self, sample: u64) -> u64 {
        let (window, hop) = (self.geometry.window as u64, self.geometry.hop as u64);
        match sample.checked_sub(window) {
            Some(past_first) => window + (past_first / hop + 1) * hop,
            None => window,
        }
    }

    /// Seconds of stream heard so far.
    pub fn heard_s(&self) -> f64 {
        self.pushed as f64 / MODEL_SAMPLE_RATE as f64
    }

    /// Appends a chunk of 16 kHz samples and hands out every window that ends inside it. A
    /// chunk with a sample that is not a number is refused whole.
    pub fn push(&mut self, chunk: &[f32]) -> Result<Vec<StreamWindow>, StreamError> {
        super::all_finite(chunk, self.pushed)?;
        let mut windows = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            // Up to the next window's end, so each window is cut before the ring moves on.
            let (now, later) = rest.split_at(self.until_next_window().min(rest.len()));
            self.append(now);
            rest = later;
            if self.pushed == self.next_end {
                windows.push(self.window_ending_now());
                self.next_end += self.geometry.hop as u64;
            }
        }
        Ok(windows)
    }

    /// Appends at most one window's samples (`push` cuts chunks at window ends), which the ring
    /// always holds.
    fn append(&mut self, samples: &[f32]) {
        let capacity = self.ring.len() as u64;
        for &sample in samples {
            self.ring[(self.pushed % capacity) as usize] = sample;
            self.pushed += 1;
        }
    }

    /// The last `length` samples pushed (fewer at the start of the stream), oldest first.
    pub fn last(&self, length: usize) -> Vec<f32> {
        let capacity = self.ring.len() as u64;
        let length = (length as u64).min(self.pushed).min(capacity);
        (self.pushed - length..self.pushed)
            .map(|i| self.ring[(i % capacity) as usize])
            .collect()
    }

    /// Samples `start..end` of the stream (indices from its first sample), while the ring still
    /// holds them all.
    pub fn span(&self, start: u64, end: u64) -> Option<Vec<f32>> {
        let capacity = self.ring.len() as u64;
        if start > end || end > self.pushed || self.pushed - start > capacity {
            return None;
        }
        Some(
            (start..end)
                .map(|i| self.ring[(i % capacity) as usize])
                .collect(),
        )
    }

    fn window_ending_now(&self) -> StreamWindow {
        let window = self.geometry.window;
        StreamWindow {
            start: self.pushed - window as u64,
            samples: self.last(window),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn settings(window_s: f32, hop_s: f32, history_s: f32) -> StreamSettings {
        StreamSettings {
            window_s,
            hop_s,
            history_s,
        }
    }

    #[test]
    fn windows_from_chunks_of_any_size_are_the_recordings_own_slices() {
        let mut rng = Rng::new(3);
        let stream: Vec<f32> = (0..16_000 * 7 + 123)
            .map(|_| rng.uniform(-0.5, 0.5))
            .collect();
        let geometry = settings(1.0, 0.25, 2.0).geometry().unwrap();
        let offline: Vec<StreamWindow> = (0..)
            .map(|k| k * geometry.hop)
            .take_while(|start| start + geometry.window <= stream.len())
            .map(|start| StreamWindow {
                start: start as u64,
                samples: stream[start..start + geometry.window].to_vec(),
            })
            .collect();
        assert_eq!(offline.len(), 25);
        for chunking in [1usize, 128, 4_000, 16_000 * 3, stream.len()] {
            let mut windower = Windower::new(&settings(1.0, 0.25, 2.0)).unwrap();
            let mut heard = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                // Chunks of varying size around `chunking`, as an audio callback delivers them.
                let size = (chunking / 2 + rng.below(chunking + 1)).max(1);
                let end = (at + size).min(stream.len());
                heard.extend(windower.push(&stream[at..end]).unwrap());
                at = end;
            }
            assert_eq!(heard, offline, "chunks of about {chunking}");
        }
    }

    #[test]
    fn the_hop_clock_names_the_next_window_end_after_any_sample() {
        let windower = Windower::new(&settings(1.0, 0.25, 2.0)).unwrap();
        for (sample, next) in [
            (0, 16_000),
            (15_999, 16_000),
            (16_000, 20_000),
            (19_999, 20_000),
            (20_000, 24_000),
            (26_880, 28_000),
        ] {
            assert_eq!(windower.next_window_end_after(sample), next, "{sample}");
        }
    }

    #[test]
    fn the_ring_keeps_only_the_history() {
        let mut windower = Windower::new(&settings(0.5, 0.5, 1.0)).unwrap();
        let stream: Vec<f32> = (0..40_000).map(|i| i as f32).collect();
        windower.push(&stream).unwrap();
        assert_eq!(windower.last(100_000), stream[24_000..]);
        assert_eq!(windower.last(3), [39_997.0, 39_998.0, 39_999.0]);
        assert_eq!(windower.heard_s(), 2.5);
        assert_eq!(
            windower.span(30_000, 30_003).unwrap(),
            stream[30_000..30_003]
        );
        assert_eq!(windower.span(24_000, 40_000).unwrap(), stream[24_000..]);
        // Gone from the ring, not heard yet, or backwards.
        for (start, end) in [(23_999, 30_000), (39_000, 40_001), (30_000, 29_000)] {
            assert_eq!(windower.span(start, end), None, "{start}..{end}");
        }
    }

    #[test]
    fn bad_settings_and_samples_are_refused_with_a_reason() {
        for bad in [
            settings(1.0, 0.0, 10.0),
            settings(1.0, 2.0, 10.0),
            settings(f32::NAN, 0.25, 10.0),
            settings(40.0, 0.25, 60.0),
            settings(5.0, 0.25, 2.0),
            settings(1.0, 0.25, 1e9),
        ] {
            let refused = Windower::new(&bad).err().map(|e| e.to_string());
            assert!(refused.is_some_and(|why| why.contains(" s")), "{bad:?}");
        }
        let mut windower = Windower::new(&StreamSettings::default()).unwrap();
        windower.push(&[0.0; 10]).unwrap();
        let refused = windower.push(&[0.0, f32::NAN]);
        assert_eq!(refused, Err(StreamError::NonFinite { at: 11 }));
    }
}
