//! Voice activity from energy alone: a frame is speech when its level stands a margin above the
//! noise floor, a low quantile of the levels of the last seconds — below a word, which fills a
//! small part of them, and steady against noise whose level wanders from frame to frame (brown
//! noise, hum, tones) — so silence and steady noise never wake the models, whatever the
//! microphone's gain.

use super::StreamError;
use crate::audio::MODEL_SAMPLE_RATE;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VadSettings {
    /// Seconds per level measurement.
    pub frame_s: f32,
    /// How far above the noise floor (dB) a frame must be to count as speech.
    pub margin_db: f32,
    /// Seconds of levels the floor is taken from: a sound filling more than `1 − floor_quantile`
    /// of them becomes the floor (a keyword is far shorter).
    pub floor_window_s: f32,
    /// The quantile of those levels that is the floor.
    pub floor_quantile: f32,
    /// Seconds a segment stays open after its last speech frame, bridging the gaps inside words.
    pub hangover_s: f32,
    /// Frames quieter than this (dBFS) are never speech.
    pub min_dbfs: f32,
}

impl Default for VadSettings {
    fn default() -> Self {
        Self {
            frame_s: 0.02,
            margin_db: 9.0,
            floor_window_s: 3.0,
            floor_quantile: 0.3,
            hangover_s: 0.2,
            min_dbfs: -60.0,
        }
    }
}

/// A stretch of speech, in seconds from the start of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_s: f64,
    /// The end of its last speech frame; `None` while it goes on.
    pub end_s: Option<f64>,
    /// When the hangover after it ran out and it was known to have ended; `None` while it goes
    /// on.
    pub closed_s: Option<f64>,
}

pub struct Vad {
    settings: VadSettings,
    frame: usize,
    /// The levels (dB) of the last frames the floor is taken from, oldest first.
    recent_db: VecDeque<f32>,
    recent_frames: usize,
    hangover_frames: u64,
    /// Segments ending longer ago than this are forgotten.
    keep_frames: u64,
    /// Samples of the frame being filled.
    partial: Vec<f32>,
    frames: u64,
    /// Frame indices: closed segments `[start, end)` with the frame that closed them, oldest
    /// first, and the open one's start with its last speech frame.
    closed: VecDeque<(u64, u64, u64)>,
    open: Option<(u64, u64)>,
}

impl Vad {
    /// A detector that remembers the segments of the last `history_s` seconds.
    pub fn new(settings: &VadSettings, history_s: f32) -> Result<Self, StreamError> {
        let frame = (settings.frame_s * MODEL_SAMPLE_RATE as f32).round();
        let numbers = [
            settings.margin_db,
            settings.floor_window_s,
            settings.floor_quantile,
            settings.hangover_s,
            settings.min_dbfs,
            history_s,
        ];
        if !(frame >= 16.0 && frame <= MODEL_SAMPLE_RATE as f32)
            || numbers.iter().any(|n| !n.is_finite())
            || settings.margin_db < 0.0
            || !(settings.floor_window_s >= settings.frame_s && settings.floor_window_s <= 60.0)
            || !(0.0..=1.0).contains(&settings.floor_quantile)
            || settings.hangover_s < 0.0
        {
            return Err(StreamError::Settings(format!(
                "voice activity needs a frame of 1 ms to 1 s, a margin and hangover of at least 0, \
                 a floor window of one frame to 60 s and a quantile from 0 to 1 (given \
                 {settings:?})"
            )));
        }
        let frame_s = frame / MODEL_SAMPLE_RATE as f32;
        let frames_of = |seconds: f32| (seconds / frame_s).ceil() as u64;
        Ok(Self {
            settings: *settings,
            frame: frame as usize,
            recent_db: VecDeque::new(),
            recent_frames: frames_of(settings.floor_window_s).max(1) as usize,
            hangover_frames: frames_of(settings.hangover_s),
            keep_frames: frames_of(history_s),
            partial: Vec::with_capacity(frame as usize),
            frames: 0,
            closed: VecDeque::new(),
            open: None,
        })
    }

    /// Takes the next samples of the stream (already checked to be finite).
    pub fn push(&mut self, mut chunk: &[f32]) {
        while !chunk.is_empty() {
            let take = (self.frame - self.partial.len()).min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() == self.frame {
                let power = self.partial.iter().map(|s| s * s).sum::<f32>() / self.frame as f32;
                self.partial.clear();
                self.frame_level(10.0 * (power + 1e-12).log10());
            }
        }
    }

    fn frame_level(&mut self, level_db: f32) {
        if self.recent_db.len() == self.recent_frames {
            self.recent_db.pop_front();
        }
        self.recent_db.push_back(level_db);
        let mut recent: Vec<f32> = self.recent_db.iter().copied().collect();
        let at = ((recent.len() - 1) as f32 * self.settings.floor_quantile).round() as usize;
        let (_, floor, _) = recent.select_nth_unstable_by(at, f32::total_cmp);
        let speech =
            level_db > *floor + self.settings.margin_db && level_db > self.settings.min_dbfs;
        let now = self.frames;
        self.frames += 1;
        self.open = match (self.open, speech) {
            (None, true) => Some((now, now)),
            (Some((start, _)), true) => Some((start, now)),
            (Some((start, last)), false) if now - last > self.hangover_frames => {
                self.closed.push_back((start, last + 1, now + 1));
                None
            }
            (open, _) => open,
        };
        while let Some(&(_, end, _)) = self.closed.front() {
            if self.frames - end <= self.keep_frames {
                break;
            }
            self.closed.pop_front();
        }
    }

    fn seconds(&self, frames: u64) -> f64 {
        frames as f64 * self.frame as f64 / MODEL_SAMPLE_RATE as f64
    }

    /// The segments remembered, oldest first; the last is open while speech goes on.
    pub fn segments(&self) -> Vec<Segment> {
        let closed = self.closed.iter().map(|&(start, end, closed)| Segment {
            start_s: self.seconds(start),
            end_s: Some(self.seconds(end)),
            closed_s: Some(self.seconds(closed)),
        });
        let open = self.open.map(|(start, _)| Segment {
            start_s: self.seconds(start),
            end_s: None,
            closed_s: None,
        });
        closed.chain(open).collect()
    }

    /// The end of the last frame heard as speech, if any is remembered.
    pub fn last_speech_s(&self) -> Option<f64> {
        let open = self.open.map(|(_, last)| last + 1);
        let closed = self.closed.back().map(|&(_, end, _)| end);
        open.or(closed).map(|end| self.seconds(end))
    }

    /// Whether any speech was heard between `start_s` and `end_s`.
    pub fn speech_between(&self, start_s: f64, end_s: f64) -> bool {
        let now = self.seconds(self.frames);
        self.segments()
            .iter()
            .any(|segment| segment.start_s < end_s && segment.end_s.unwrap_or(now) > start_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const RATE: f32 = MODEL_SAMPLE_RATE as f32;

    /// White noise at `level` (RMS) for `seconds`, with a 440 Hz tone of amplitude `tone` over
    /// `tone_at` (seconds).
    fn signal(seconds: f32, level: f32, tone: f32, tone_at: (f32, f32), seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..(seconds * RATE) as usize)
            .map(|i| {
                let t = i as f32 / RATE;
                let noise = level * 3f32.sqrt() * rng.uniform(-1.0, 1.0);
                let on = t >= tone_at.0 && t < tone_at.1;
                noise
                    + if on {
                        tone * (std::f32::consts::TAU * 440.0 * t).sin()
                    } else {
                        0.0
                    }
            })
            .collect()
    }

    fn segments_of(samples: &[f32], chunk: usize) -> Vec<Segment> {
        let mut vad = Vad::new(&VadSettings::default(), 60.0).unwrap();
        for part in samples.chunks(chunk) {
            vad.push(part);
        }
        vad.segments()
    }

    #[test]
    fn a_word_in_noise_is_one_segment_from_its_onset_to_its_offset() {
        // A tone 20 dB above noise at -40 dBFS, from 1.5 to 2.1 s.
        let samples = signal(4.0, 0.01, 0.1 * 2f32.sqrt(), (1.5, 2.1), 1);
        for chunk in [128, 4_096] {
            let found = segments_of(&samples, chunk);
            assert_eq!(found.len(), 1, "{found:?}");
            let segment = found[0];
            assert!((segment.start_s - 1.5).abs() <= 0.02, "{segment:?}");
            let end = segment.end_s.expect("closed after the hangover");
            assert!((end - 2.1).abs() <= 0.02, "{segment:?}");
        }
    }

    #[test]
    fn silence_and_steady_noise_of_any_level_are_not_speech() {
        assert!(segments_of(&vec![0.0; 64_000], 512).is_empty());
        for level in [0.001, 0.05, 0.3] {
            assert!(segments_of(&signal(6.0, level, 0.0, (0.0, 0.0), 2), 512).is_empty());
        }
        // Noise that grows 20 dB at 2 s is speech only until it fills all but the quantile of the
        // floor's window.
        let mut rising = signal(2.0, 0.005, 0.0, (0.0, 0.0), 3);
        rising.extend(signal(20.0, 0.05, 0.0, (0.0, 0.0), 4));
        let found = segments_of(&rising, 512);
        assert_eq!(found.len(), 1, "{found:?}");
        let end = found[0].end_s.expect("the floor caught up");
        let settings = VadSettings::default();
        let caught_up = settings.floor_window_s * (1.0 - settings.floor_quantile);
        assert!(end - 2.0 < (caught_up + 0.1) as f64, "{found:?}");
    }

    #[test]
    fn speech_is_found_in_the_windows_that_overlap_it() {
        let samples = signal(4.0, 0.01, 0.14, (1.5, 2.1), 5);
        let mut vad = Vad::new(&VadSettings::default(), 60.0).unwrap();
        vad.push(&samples[..32_000]);
        // Still within the word: its last speech is the last frame heard.
        assert!((vad.last_speech_s().expect("speech") - 2.0).abs() <= 0.02);
        vad.push(&samples[32_000..]);
        assert!((vad.last_speech_s().expect("speech") - 2.1).abs() <= 0.02);
        assert!(vad.speech_between(1.0, 2.0));
        assert!(vad.speech_between(2.0, 3.0));
        assert!(!vad.speech_between(0.0, 1.0));
        assert!(!vad.speech_between(2.5, 4.0));
    }

    #[test]
    fn old_segments_are_forgotten_and_bad_settings_refused() {
        let mut samples = signal(3.0, 0.01, 0.14, (1.0, 1.5), 6);
        samples.extend(signal(30.0, 0.01, 0.0, (0.0, 0.0), 7));
        let mut vad = Vad::new(&VadSettings::default(), 10.0).unwrap();
        vad.push(&samples);
        assert!(vad.segments().is_empty());
        let bad = VadSettings {
            frame_s: 0.0,
            ..VadSettings::default()
        };
        assert!(Vad::new(&bad, 10.0).is_err());
        let bad = VadSettings {
            margin_db: f32::NAN,
            ..VadSettings::default()
        };
        assert!(Vad::new(&bad, 10.0).is_err());
    }
}
