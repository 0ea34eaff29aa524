//! Detections from a model's readings of successive windows: a keyword whose probability passes
//! its threshold in a window with speech, placed where the model listened, and each word
//! detected once however many windows see it.

use super::{Job, JobKind, StreamError};
use crate::model::TimeMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorSettings {
    /// The probability a keyword needs to count as heard.
    pub threshold: f32,
    /// Per keyword, in place of `threshold`.
    pub thresholds: BTreeMap<String, f32>,
    /// Seconds within which a second detection, of any keyword, is the same word again.
    pub refractory_s: f32,
    /// Seconds at each end of a window where an attention peak means the window cuts the word:
    /// such a reading detects nothing (a model hearing half of "stop" may well say "off"), and a
    /// window further on sees the word whole.
    pub edge_s: f32,
    /// The end edge of an early window (see [`JobKind::Early`]), which ends this far past the
    /// attention peak that asked for it: it may only confirm the keyword a window before it
    /// heard, so it can decide nearer its end than a window at a hop.
    pub early_edge_s: f32,
    /// Seconds without speech, by voice activity, at the end of a window that show that the
    /// window holds its words whole at that end: a peak in its end edge is then a word that
    /// ended, not one the window cuts, and decides at once.
    pub quiet_end_s: f32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            thresholds: BTreeMap::new(),
            refractory_s: 1.0,
            edge_s: 0.25,
            early_edge_s: 0.25,
            quiet_end_s: 0.15,
        }
    }
}

impl DetectorSettings {
    pub fn check(&self) -> Result<(), StreamError> {
        let thresholds = std::iter::once(&self.threshold).chain(self.thresholds.values());
        for threshold in thresholds {
            if !(0.0..=1.0).contains(threshold) {
                return Err(StreamError::Settings(format!(
                    "a threshold is a probability from 0 to 1, not {threshold}"
                )));
            }
        }
        for (name, seconds) in [
            ("refractory time", self.refractory_s),
            ("edge", self.edge_s),
            ("early windows' edge", self.early_edge_s),
            ("quiet end", self.quiet_end_s),
        ] {
            if !(seconds >= 0.0 && seconds.is_finite()) {
                return Err(StreamError::Settings(format!(
                    "the {name} must be at least 0 s, not {seconds} s"
                )));
            }
        }
        Ok(())
    }

    /// Whether a reading's attention peak lies in its window's end edge (an early window's own,
    /// or the one every window keeps) with speech going on into that edge's quiet end: the
    /// window may cut the word it heard.
    pub(super) fn cuts_at_end(&self, reading: &WindowReading) -> bool {
        let end_edge = if reading.only_keyword.is_some() {
            self.early_edge_s
        } else {
            self.edge_s
        };
        let quiet_from = reading.end_s - self.quiet_end_s as f64;
        reading.attention_peak_s > reading.end_s - end_edge as f64
            && reading
                .speech_until_s
                .is_some_and(|until| until > quiet_from)
    }

    fn threshold(&self, label: &str) -> f32 {
        self.thresholds
            .get(label)
            .copied()
            .unwrap_or(self.threshold)
    }
}

/// A keyword heard in the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub label: String,
    pub confidence: f32,
    /// Where the word was said: the peak of the model's temporal attention in the window (its
    /// middle for a model without one), in seconds from the start of the stream.
    pub at_s: f64,
    /// When, at the earliest, it could be shown: the end of the window it was decided in, or for
    /// a stretch of speech read whole, when voice activity said the stretch had ended and its
    /// padding was there.
    pub decided_s: f64,
}

/// A model's reading of one window of the stream: what a detector needs of it, kept apart from
/// the model so that a stream read once can be replayed at any threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowReading {
    pub start_s: f64,
    pub end_s: f64,
    /// The probability of each of the model's labels.
    pub probs: Vec<f32>,
    /// When the audio was there to read, in the stream's time.
    pub ready_s: f64,
    /// Where the model listened: the peak of its temporal attention in the window (the window's
    /// middle for a model without one), in seconds from the start of the stream.
    pub attention_peak_s: f64,
    /// For an early window's reading, the index of the one keyword it may detect (see
    /// [`JobKind::Early`]).
    #[serde(default)]
    pub only_keyword: Option<usize>,
    /// The end of the last speech voice activity had heard by the window's end, if any.
    #[serde(default)]
    pub speech_until_s: Option<f64>,
}

impl WindowReading {
    /// A model's reading of the audio a job handed out; `map` is its temporal attention over
    /// that audio, with times from its start.
    pub fn new(job: &Job, probs: Vec<f32>, map: Option<&TimeMap>) -> Self {
        let (start_s, end_s) = (job.start_s, job.end_s());
        let peak = map.and_then(|map| {
            let (at, _) = (map.values.iter().enumerate())
                .filter(|(_, value)| value.is_finite())
                .max_by(|a, b| a.1.total_cmp(b.1))?;
            Some(map.start_s as f64 + (at as f64 + 0.5) * map.frame_s as f64)
        });
        Self {
            start_s,
            end_s,
            probs,
            ready_s: job.ready_s,
            attention_peak_s: start_s + peak.unwrap_or((end_s - start_s) / 2.0),
            only_keyword: match job.kind {
                JobKind::Early { keyword } => Some(keyword),
                JobKind::Hop | JobKind::Segment => None,
            },
            speech_until_s: job.speech_until_s,
        }
    }
    /// The index and probability of the most probable label.
    pub fn top(&self) -> Option<(usize, f32)> {
        (self.probs.iter().copied().enumerate())
            .filter(|(_, p)| p.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Whether a class is a keyword: the silence and unknown classes (`_silence_`, `_unknown_`)
/// are never detected.
pub fn is_keyword(label: &str) -> bool {
    !label.starts_with('_')
}

pub struct Detector {
    settings: DetectorSettings,
    /// Where the last keyword was detected.
    last: Option<f64>,
}

impl Detector {
    pub fn new(settings: DetectorSettings) -> Result<Self, StreamError> {
        settings.check()?;
        Ok(Self {
            settings,
            last: None,
        })
    }

    /// The detection this reading makes, if any; `labels` name the reading's probabilities.
    pub fn observe(&mut self, labels: &[String], reading: &WindowReading) -> Option<Detection> {
        let (top, confidence) = reading.top()?;
        if reading.only_keyword.is_some_and(|keyword| keyword != top) {
            return None;
        }
        let label = labels.get(top)?;
        if !is_keyword(label) || confidence < self.settings.threshold(label) {
            return None;
        }
        let at_s = reading.attention_peak_s;
        let edge = self.settings.edge_s as f64;
        if at_s < reading.start_s + edge || self.settings.cuts_at_end(reading) {
            return None;
        }
        let refractory = self.settings.refractory_s as f64;
        if (self.last).is_some_and(|last| (at_s - last).abs() < refractory) {
            return None;
        }
        self.last = Some(at_s);
        Some(Detection {
            label: label.clone(),
            confidence,
            at_s,
            decided_s: reading.ready_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["_silence_", "_unknown_", "yes", "no"]
            .map(String::from)
            .to_vec()
    }

    /// A window of 1 s starting at `start_s` whose map peaks at `peak_s` into it.
    fn observe(
        detector: &mut Detector,
        start_s: f64,
        probs: [f32; 4],
        peak_s: f32,
    ) -> Option<Detection> {
        observe_job(detector, JobKind::Hop, start_s, probs, peak_s)
    }

    fn observe_job(
        detector: &mut Detector,
        kind: JobKind,
        start_s: f64,
        probs: [f32; 4],
        peak_s: f32,
    ) -> Option<Detection> {
        // Speech up to the window's end, as in a stream where it goes on.
        observe_speech(detector, kind, start_s, probs, peak_s, Some(start_s + 1.0))
    }

    fn observe_speech(
        detector: &mut Detector,
        kind: JobKind,
        start_s: f64,
        probs: [f32; 4],
        peak_s: f32,
        speech_until_s: Option<f64>,
    ) -> Option<Detection> {
        let mut values = vec![0.01; 50];
        values[(peak_s / 0.02) as usize] = 1.0;
        let map = TimeMap {
            start_s: 0.0,
            frame_s: 0.02,
            values,
        };
        let job = Job {
            kind,
            speech_until_s,
            ..Job::window(0, start_s, vec![0.0; 16_000])
        };
        let reading = WindowReading::new(&job, probs.to_vec(), Some(&map));
        detector.observe(&labels(), &reading)
    }

    #[test]
    fn one_word_seen_by_several_windows_is_one_detection_where_it_was_said() {
        let mut detector = Detector::new(DetectorSettings::default()).unwrap();
        let yes = [0.05, 0.05, 0.8, 0.1];
        // A "yes" at 2.4 s, seen by the windows starting at 1.5, 1.75, 2.0 and 2.25 s: the
        // first has it at its edge, the second whole.
        assert_eq!(observe(&mut detector, 1.5, yes, 0.9), None);
        let found = observe(&mut detector, 1.75, yes, 0.65).expect("heard");
        assert_eq!(found.label, "yes");
        assert!((found.at_s - 2.4).abs() < 1e-6, "{found:?}");
        assert_eq!(found.decided_s, 2.75);
        // The later windows, even where the model names the half word it hears otherwise.
        assert_eq!(observe(&mut detector, 2.0, yes, 0.4), None);
        assert_eq!(observe(&mut detector, 2.0, [0.0, 0.1, 0.2, 0.7], 0.4), None);
        // Another word said later is a new detection.
        let later = observe(&mut detector, 3.0, [0.0, 0.1, 0.2, 0.7], 0.5);
        assert_eq!(later.map(|found| found.label), Some("no".into()));
    }

    #[test]
    fn an_early_window_detects_only_the_keyword_it_was_read_for() {
        let mut detector = Detector::new(DetectorSettings::default()).unwrap();
        let early_for_yes = JobKind::Early { keyword: 2 };
        let no = [0.0, 0.1, 0.2, 0.7];
        assert_eq!(
            observe_job(&mut detector, early_for_yes, 1.6, no, 0.5),
            None
        );
        // Nor does the reading it refused hold off the word a hop later.
        let found = observe(&mut detector, 1.75, no, 0.4).expect("heard");
        assert_eq!(found.label, "no");
        let yes = [0.05, 0.05, 0.8, 0.1];
        let found = observe_job(&mut detector, early_for_yes, 3.0, yes, 0.5);
        assert_eq!(found.map(|found| found.label), Some("yes".into()));
    }

    #[test]
    fn an_early_windows_end_edge_is_its_own() {
        let settings = DetectorSettings {
            early_edge_s: 0.15,
            ..DetectorSettings::default()
        };
        let yes = [0.05, 0.05, 0.8, 0.1];
        let early_for_yes = JobKind::Early { keyword: 2 };
        // A peak 0.2 s before the end: in a hop's window's edge, clear of an early window's.
        let mut detector = Detector::new(settings.clone()).unwrap();
        assert_eq!(observe(&mut detector, 0.0, yes, 0.8), None);
        assert!(observe_job(&mut detector, early_for_yes, 0.0, yes, 0.8).is_some());
        // The start edge stays the common one.
        let mut detector = Detector::new(settings).unwrap();
        assert_eq!(
            observe_job(&mut detector, early_for_yes, 0.0, yes, 0.2),
            None
        );
    }

    #[test]
    fn a_window_quiet_at_its_end_decides_a_word_peaking_in_its_end_edge() {
        let yes = [0.05, 0.05, 0.8, 0.1];
        let heard = |speech_until_s| {
            let mut detector = Detector::new(DetectorSettings::default()).unwrap();
            observe_speech(&mut detector, JobKind::Hop, 2.0, yes, 0.85, speech_until_s)
        };
        // Speech stopped 0.2 s before the window's end (the default quiet end is 0.15 s): the
        // word ended inside the window.
        let found = heard(Some(2.8)).expect("a word that ended");
        assert!((found.at_s - 2.85).abs() < 1e-6, "{found:?}");
        // Speech went on until 0.1 s before the end: the window may cut the word.
        assert_eq!(heard(Some(2.9)), None);
        // The start edge stays whatever the end.
        let mut detector = Detector::new(DetectorSettings::default()).unwrap();
        let early_peak = observe_speech(&mut detector, JobKind::Hop, 2.0, yes, 0.1, Some(2.5));
        assert_eq!(early_peak, None);
    }

    #[test]
    fn silence_unknown_and_low_confidence_detect_nothing() {
        let mut detector = Detector::new(DetectorSettings::default()).unwrap();
        assert_eq!(observe(&mut detector, 0.0, [0.9, 0.1, 0.0, 0.0], 0.5), None);
        assert_eq!(observe(&mut detector, 0.0, [0.1, 0.9, 0.0, 0.0], 0.5), None);
        assert_eq!(
            observe(&mut detector, 0.0, [0.2, 0.3, 0.45, 0.05], 0.5),
            None
        );
    }

    #[test]
    fn a_keywords_own_threshold_replaces_the_common_one() {
        let settings = DetectorSettings {
            thresholds: BTreeMap::from([("no".to_string(), 0.95)]),
            ..DetectorSettings::default()
        };
        let mut detector = Detector::new(settings).unwrap();
        assert_eq!(observe(&mut detector, 0.0, [0.0, 0.0, 0.1, 0.9], 0.5), None);
        assert!(observe(&mut detector, 0.0, [0.0, 0.0, 0.9, 0.1], 0.5).is_some());
        for bad in [
            DetectorSettings {
                threshold: 1.5,
                ..DetectorSettings::default()
            },
            DetectorSettings {
                refractory_s: f32::NAN,
                ..DetectorSettings::default()
            },
            DetectorSettings {
                edge_s: -0.1,
                ..DetectorSettings::default()
            },
            DetectorSettings {
                early_edge_s: f32::INFINITY,
                ..DetectorSettings::default()
            },
            DetectorSettings {
                quiet_end_s: -0.05,
                ..DetectorSettings::default()
            },
        ] {
            assert!(Detector::new(bad).is_err());
        }
    }
}
