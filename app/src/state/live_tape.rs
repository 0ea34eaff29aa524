//! What the page knows of a live session: the last seconds of the stream's spectrogram, each
//! model's readings placed in time, voice activity, the detections (with their latency) and
//! what each model costs. Chunks from the microphone and events from the workers land here; the
//! detections are made on the page, by the engine's detector, so the thresholds can change while
//! listening and the readings still on screen are heard again with them.
//!
//! A session's models may be dealt out between several workers (see `live_helpers`), each
//! hearing the whole stream: the tape joins their answers into one session.

use crate::worker::{LiveEvent, LiveModel, LiveReading, TimeMap};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use tempokd::audio::FeatureConfig;
use tempokd::stream::{
    Detection, Detector, DetectorSettings, SEGMENT_PAD_S, SpectrogramStream, StreamError,
    StreamSettings, WindowReading,
};

/// Where a session is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LiveStatus {
    #[default]
    Idle,
    /// Opening the microphone and waiting for the models, with what is awaited.
    Starting(String),
    Listening,
    /// Paused by the visitor, or because the tab was hidden (with why).
    Paused(Option<String>),
    Stopped,
    /// The session ended on a failure, with what to do about it.
    Failed(String),
}

impl LiveStatus {
    /// Whether a session holds the microphone.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Starting(_) | Self::Listening | Self::Paused(_))
    }
}

/// Which worker reads a model: 0 is the page's model worker, 1 and on its live helpers.
pub type WorkerIndex = usize;

/// A model of the session, with what it read lately.
pub struct ListeningModel {
    pub model: LiveModel,
    pub worker: WorkerIndex,
    pub labels: Vec<String>,
    detector: Detector,
    /// Readings whose audio is still on the tape, oldest first, with their maps.
    pub readings: VecDeque<(WindowReading, TimeMap)>,
    pub reads: usize,
    pub skipped: usize,
    pub total_ms: f64,
    /// How far behind the stream its last reading began, in seconds.
    pub behind_s: f64,
}

impl ListeningModel {
    pub fn mean_ms(&self) -> f64 {
        self.total_ms / self.reads.max(1) as f64
    }
}

/// A detection in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedDetection {
    pub model: String,
    pub detection: Detection,
    /// Page time (ms) the mark appeared.
    pub shown_ms: f64,
    /// How long after the word's end the mark came; `None` until voice activity has closed
    /// the stretch of speech holding it.
    pub latency: Option<Latency>,
}

/// Whether a word placed at `at_s` lies in the stretch of speech from `start_s` to `end_s`, with
/// the padding a stretch is read with.
fn in_stretch(at_s: f64, (start_s, end_s): (f64, f64)) -> bool {
    at_s >= start_s - SEGMENT_PAD_S && at_s <= end_s + SEGMENT_PAD_S
}

/// The time from the end of the stretch of speech holding a detected word (voice activity's
/// offset) to its mark.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Where the stretch ended, in seconds of the stream.
    pub speech_end_s: f64,
    /// Page milliseconds from when the stream's audio reached that end to the mark; negative
    /// when the mark came before the word ended.
    pub ms: f64,
}

/// The session's state; one per page.
pub struct LiveTape {
    /// Unique to this tape among the page's tapes, so what a drawing keeps of one session is
    /// not taken for another's.
    pub session: u64,
    pub settings: StreamSettings,
    pub detector: DetectorSettings,
    /// Per model, per keyword thresholds chosen by calibration, in place of the detector's.
    pub calibrated: BTreeMap<String, BTreeMap<String, f32>>,
    /// Stream seconds sent to the worker.
    pub heard_s: f64,
    /// Page time (ms) at which the stream reached each chunk's end, within the history.
    arrivals: VecDeque<(f64, f64)>,
    spectrogram: SpectrogramStream,
    /// The spectrogram's frames on the tape: their values (frame-major), with the first frame's
    /// start.
    pub frames: VecDeque<f32>,
    pub first_frame_s: f64,
    pub frame_s: f64,
    pub bins: usize,
    pub models: Vec<ListeningModel>,
    /// Stretches of speech on the tape.
    pub speech: VecDeque<(f64, f64)>,
    /// Every detection of the session, oldest first.
    log: Vec<LoggedDetection>,
    /// How many times `log` has changed, so the page rebuilds its table only when it has.
    log_changes: u64,
    /// Models that were asked for and could not load.
    pub missing: Vec<String>,
    /// The models asked for, in the order they are shown, each with the worker that reads it.
    dealt: Vec<(String, WorkerIndex)>,
    /// The workers that have said which of their models listen.
    joined: BTreeSet<WorkerIndex>,
    /// Where the last stretch of speech a worker told of ended: every worker hears the same
    /// stream, so each tells of the same stretches.
    speech_until_s: f64,
    /// Each worker's wasm memory as its last reading left it, in bytes.
    worker_memory: BTreeMap<WorkerIndex, u64>,
}

impl LiveTape {
    /// A tape for `settings`, its detections made with `detector`, its models `dealt` to the
    /// workers that read them (in the order they are shown); settings no detector takes are
    /// refused with why.
    pub fn new(
        settings: StreamSettings,
        detector: DetectorSettings,
        dealt: Vec<(String, WorkerIndex)>,
    ) -> Result<Self, StreamError> {
        detector.check()?;
        let features = FeatureConfig::default();
        let frame_s = features.frame_s() as f64;
        let bins = features.n_mels;
        static SESSIONS: AtomicU64 = AtomicU64::new(0);
        Ok(Self {
            session: SESSIONS.fetch_add(1, Ordering::Relaxed),
            settings,
            detector,
            calibrated: BTreeMap::new(),
            heard_s: 0.0,
            arrivals: VecDeque::new(),
            spectrogram: SpectrogramStream::new(features)?,
            frames: VecDeque::new(),
            first_frame_s: 0.0,
            frame_s,
            bins,
            models: Vec::new(),
            speech: VecDeque::new(),
            log: Vec::new(),
            log_changes: 0,
            missing: Vec::new(),
            dealt,
            joined: BTreeSet::new(),
            speech_until_s: f64::NEG_INFINITY,
            worker_memory: BTreeMap::new(),
        })
    }

    /// Every detection of the session, oldest first.
    pub fn log(&self) -> &[LoggedDetection] {
        &self.log
    }

    /// How many times the log has changed (a detection added, replaced or given its latency).
    pub fn log_changes(&self) -> u64 {
        self.log_changes
    }

    /// The workers the session listens with: the page's model worker, and each helper dealt a
    /// model.
    pub fn workers(&self) -> BTreeSet<WorkerIndex> {
        let dealt = self.dealt.iter().map(|(_, worker)| *worker);
        std::iter::once(0).chain(dealt).collect()
    }

    /// Whether every worker of the session has said which of its models listen.
    pub fn is_listening(&self) -> bool {
        self.workers().is_subset(&self.joined)
    }

    /// The wasm memory the session's workers hold, in all, as their last readings left it.
    pub fn worker_memory_bytes(&self) -> u64 {
        self.worker_memory.values().sum()
    }

    /// The place of the tape's first spectrogram frame in the session's stream, counted in
    /// frames.
    pub fn first_frame_index(&self) -> u64 {
        (self.first_frame_s / self.frame_s).round().max(0.0) as u64
    }

    /// The oldest stream second still on the tape.
    pub fn tape_start_s(&self) -> f64 {
        (self.heard_s - self.settings.history_s as f64).max(0.0)
    }

    /// A chunk sent to the worker at page time `now_ms`.
    pub fn heard(&mut self, chunk: &[f32], now_ms: f64) {
        self.heard_s += chunk.len() as f64 / tempokd::audio::MODEL_SAMPLE_RATE as f64;
        self.arrivals.push_back((self.heard_s, now_ms));
        let frames = self.spectrogram.push(chunk);
        if self.frames.is_empty() {
            self.first_frame_s = frames.start_s as f64;
        }
        self.frames.extend(frames.values);
        self.forget_old();
    }

    /// Drops what has scrolled off the tape; the log stays.
    fn forget_old(&mut self) {
        let start = self.tape_start_s();
        while self.first_frame_s + self.frame_s < start && self.frames.len() >= self.bins {
            self.frames.drain(..self.bins);
            self.first_frame_s += self.frame_s;
        }
        // One arrival before the tape's start still dates the audio just after it.
        while self.arrivals.get(1).is_some_and(|(end, _)| *end < start) {
            self.arrivals.pop_front();
        }
        while self.speech.front().is_some_and(|(_, end)| *end < start) {
            self.speech.pop_front();
        }
        for model in &mut self.models {
            while model.readings.front().is_some_and(|(r, _)| r.end_s < start) {
                model.readings.pop_front();
            }
        }
    }

    /// Page time (ms) at which the stream reached `t_s`, if still known.
    fn arrival_ms(&self, t_s: f64) -> Option<f64> {
        let at = self.arrivals.partition_point(|(end, _)| *end < t_s);
        self.arrivals.get(at).map(|(_, ms)| *ms)
    }

    /// An event of this session from `worker`, at page time `now_ms`; says why the session
    /// cannot go on, if it cannot.
    pub fn apply(&mut self, worker: WorkerIndex, event: LiveEvent, now_ms: f64) -> Option<String> {
        match event {
            LiveEvent::Listening { models, missing } => {
                if !self.joined.insert(worker) {
                    return None;
                }
                self.missing.extend(missing);
                for (model, labels) in models {
                    self.models.push(ListeningModel {
                        detector: self.detector_for(&model),
                        model,
                        worker,
                        labels,
                        readings: VecDeque::new(),
                        reads: 0,
                        skipped: 0,
                        total_ms: 0.0,
                        behind_s: 0.0,
                    });
                }
                let dealt = &self.dealt;
                let place = |name: &str| dealt.iter().position(|(n, _)| n == name);
                self.models.sort_by_key(|model| place(&model.model.name));
                self.missing.sort_by_key(|name| place(name));
                (self.is_listening() && self.models.is_empty()).then(|| {
                    "none of the chosen models has loaded; see the models' list".to_string()
                })
            }
            LiveEvent::Read(reading) => {
                self.read(*reading, now_ms);
                None
            }
            LiveEvent::SpeechEnded { start_s, end_s } => {
                // Told already by another worker.
                if end_s <= self.speech_until_s {
                    return None;
                }
                self.speech_until_s = end_s;
                self.speech.push_back((start_s, end_s));
                let end_ms = self.arrival_ms(end_s);
                for logged in &mut self.log {
                    let inside = in_stretch(logged.detection.at_s, (start_s, end_s));
                    // Voice activity may split a word at a dip: its latency runs from the
                    // end of its last part.
                    let later = (logged.latency).is_none_or(|l| l.speech_end_s < end_s);
                    if inside && later {
                        logged.latency = end_ms.map(|end| Latency {
                            speech_end_s: end_s,
                            ms: logged.shown_ms - end,
                        });
                        self.log_changes += 1;
                    }
                }
                None
            }
            LiveEvent::Failed { message } => Some(message),
        }
    }

    /// The detector settings `model` detects with: calibrated thresholds where it has them.
    pub fn settings_for(&self, model: &LiveModel) -> DetectorSettings {
        let mut settings = model.cadence.detector_settings(&self.detector);
        if let Some(thresholds) = self.calibrated.get(&model.name) {
            settings.thresholds = thresholds.clone();
        }
        settings
    }

    fn detector_for(&self, model: &LiveModel) -> Detector {
        // Cannot fail: `new`, `set_detector` and `set_calibrated` let in only settings that
        // pass the same check, and a cadence only changes the edge to 0 s.
        Detector::new(self.settings_for(model)).expect("checked settings")
    }

    fn read(&mut self, live: LiveReading, now_ms: f64) {
        let Some(index) = self.models.iter().position(|m| m.model.name == live.model) else {
            return;
        };
        let model = &mut self.models[index];
        model.reads += 1;
        model.total_ms += live.ms;
        model.skipped = live.skipped;
        model.behind_s = live.behind_s;
        self.worker_memory
            .insert(model.worker, live.worker_memory_bytes);
        let detection = model.detector.observe(&model.labels, &live.reading);
        model.readings.push_back((live.reading, live.map));
        if let Some(detection) = detection {
            let latency = self.latency(detection.at_s, now_ms);
            self.log.push(LoggedDetection {
                model: live.model,
                detection,
                shown_ms: now_ms,
                latency,
            });
            self.log_changes += 1;
        }
    }

    /// The latency of a mark shown at `now_ms` for a word at `at_s`, if its stretch of speech
    /// has ended (the last of them, when voice activity split the word).
    fn latency(&self, at_s: f64, now_ms: f64) -> Option<Latency> {
        let (_, end_s) = (self.speech.iter()).rfind(|stretch| in_stretch(at_s, **stretch))?;
        self.arrival_ms(*end_s).map(|end_ms| Latency {
            speech_end_s: *end_s,
            ms: now_ms - end_ms,
        })
    }

    /// New detector settings: each model's detector starts again and hears the readings still
    /// on the tape, whose detections replace those logged from them.
    /// Settings no detector takes are refused with why, and nothing changes.
    pub fn set_detector(&mut self, detector: DetectorSettings) -> Result<(), StreamError> {
        detector.check()?;
        self.detector = detector;
        self.detect_again();
        Ok(())
    }

    /// Per model, per keyword thresholds to detect with in place of the detector's (none to
    /// go back to them), applied as [`LiveTape::set_detector`] applies new settings.
    pub fn set_calibrated(
        &mut self,
        calibrated: BTreeMap<String, BTreeMap<String, f32>>,
    ) -> Result<(), StreamError> {
        for thresholds in calibrated.values() {
            let settings = DetectorSettings {
                thresholds: thresholds.clone(),
                ..self.detector.clone()
            };
            settings.check()?;
        }
        self.calibrated = calibrated;
        self.detect_again();
        Ok(())
    }

    /// Each model's detector starts again with its settings and hears the readings still on
    /// the tape, whose detections replace those logged from them.
    fn detect_again(&mut self) {
        let start = self.tape_start_s();
        let oldest_read = |model: &ListeningModel| model.readings.front().map(|(r, _)| r.ready_s);
        for index in 0..self.models.len() {
            let fresh = self.detector_for(&self.models[index].model);
            let model = &mut self.models[index];
            model.detector = fresh;
            let Some(from) = oldest_read(model).map(|ready| ready.max(start)) else {
                continue;
            };
            let name = model.model.name.clone();
            let replaced: Vec<LoggedDetection> = (self.log.iter())
                .filter(|logged| logged.model == name && logged.detection.decided_s >= from)
                .cloned()
                .collect();
            self.log
                .retain(|logged| logged.model != name || logged.detection.decided_s < from);
            let model = &mut self.models[index];
            let mut heard_again = Vec::new();
            for (reading, _) in &model.readings {
                if let Some(detection) = model.detector.observe(&model.labels, reading) {
                    // A word detected before keeps the time and latency it was shown with.
                    let before = replaced
                        .iter()
                        .find(|logged| (logged.detection.at_s - detection.at_s).abs() < 1e-6);
                    heard_again.push(LoggedDetection {
                        model: name.clone(),
                        shown_ms: before.map_or(0.0, |b| b.shown_ms),
                        latency: before.and_then(|b| b.latency),
                        detection,
                    });
                }
            }
            self.log.extend(heard_again);
        }
        self.log
            .sort_by(|a, b| a.detection.decided_s.total_cmp(&b.detection.decided_s));
        self.log_changes += 1;
    }

    /// The log as CSV: one row per detection.
    pub fn csv(&self) -> String {
        let mut csv =
            String::from("time_s,word,model,confidence,decided_s,speech_end_s,latency_ms\n");
        for logged in &self.log {
            let d = &logged.detection;
            let latency = logged.latency.map_or(",".to_string(), |latency| {
                format!("{:.3},{:.0}", latency.speech_end_s, latency.ms)
            });
            csv.push_str(&format!(
                "{:.3},{},{},{:.4},{:.3},{latency}\n",
                d.at_s, d.label, logged.model, d.confidence, d.decided_s
            ));
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Cadence;
    use wasm_bindgen_test::wasm_bindgen_test;

    const LABELS: [&str; 4] = ["_silence_", "_unknown_", "yes", "no"];

    /// A tape whose models are read by the workers `dealt` names.
    fn tape_dealt(dealt: &[(&str, WorkerIndex)]) -> LiveTape {
        let dealt = (dealt.iter())
            .map(|(name, worker)| (name.to_string(), *worker))
            .collect();
        LiveTape::new(
            StreamSettings::default(),
            DetectorSettings::default(),
            dealt,
        )
        .unwrap()
    }

    /// Worker `worker` listening with `models`; `missing` did not load.
    fn listening(models: &[&str], missing: &[&str]) -> LiveEvent {
        let models = (models.iter())
            .map(|name| {
                let model = LiveModel {
                    name: name.to_string(),
                    cadence: Cadence::EveryHop,
                };
                (model, LABELS.iter().map(|l| l.to_string()).collect())
            })
            .collect();
        LiveEvent::Listening {
            models,
            missing: missing.iter().map(|name| name.to_string()).collect(),
        }
    }

    /// A tape whose models all read on the page's model worker, listening.
    fn tape_with(models: &[&str]) -> LiveTape {
        let dealt: Vec<(&str, WorkerIndex)> = models.iter().map(|name| (*name, 0)).collect();
        let mut tape = tape_dealt(&dealt);
        assert_eq!(tape.apply(0, listening(models, &[]), 0.0), None);
        assert!(tape.is_listening());
        tape
    }

    /// A reading by `model` of the second ending at `end_s`, sure of "yes" by `p`, its attention
    /// peaked at the window's middle.
    fn read(model: &str, end_s: f64, p: f32) -> LiveEvent {
        let start_s = end_s - 1.0;
        let map = TimeMap {
            start_s: start_s as f32,
            frame_s: 0.1,
            values: (0..10).map(|i| if i == 5 { 0.5 } else { 0.05 }).collect(),
        };
        LiveEvent::Read(Box::new(LiveReading {
            model: model.into(),
            reading: WindowReading {
                start_s,
                end_s,
                probs: vec![0.0, 1.0 - p, p, 0.0],
                ready_s: end_s,
                attention_peak_s: start_s + 0.55,
                only_keyword: None,
                speech_until_s: None,
            },
            map,
            ms: 5.0,
            behind_s: 0.0,
            skipped: 0,
            worker_memory_bytes: 0,
        }))
    }

    /// Ten minutes of stream in tenth-second chunks, read every hop by two models.
    #[wasm_bindgen_test]
    fn ten_minutes_keep_only_the_tapes_history() {
        let mut tape = tape_with(&["a", "b"]);
        let chunk: Vec<f32> = (0..1_600).map(|i| (i as f32 * 0.3).sin() * 0.1).collect();
        for tenth in 1..=6_000u32 {
            tape.heard(&chunk, f64::from(tenth) * 100.0);
            let now_s = f64::from(tenth) / 10.0;
            if tenth % 5 == 0 && now_s >= 1.0 {
                for model in ["a", "b"] {
                    tape.apply(0, read(model, now_s, 0.1), f64::from(tenth) * 100.0);
                }
            }
            if tenth % 50 == 0 {
                let speech = LiveEvent::SpeechEnded {
                    start_s: now_s - 1.0,
                    end_s: now_s - 0.5,
                };
                tape.apply(0, speech, f64::from(tenth) * 100.0);
            }
        }
        assert!((tape.heard_s - 600.0).abs() < 1e-6);
        let history = f64::from(tape.settings.history_s);
        let frames = tape.frames.len() / tape.bins;
        assert!(
            frames as f64 <= history / tape.frame_s + 2.0,
            "{frames} frames kept"
        );
        assert!(tape.first_frame_s >= 600.0 - history - 2.0 * tape.frame_s);
        for model in &tape.models {
            assert_eq!(model.reads, 1_199);
            // Readings every half second whose window is still on the tape.
            assert!(
                model.readings.len() <= 22,
                "{} readings kept",
                model.readings.len()
            );
        }
        assert!(
            tape.arrivals.len() <= 102,
            "{} arrivals kept",
            tape.arrivals.len()
        );
        assert!(tape.speech.len() <= 2);
        assert!(tape.log.is_empty());
        // Nothing detected: the page's log table is never rebuilt.
        assert_eq!(tape.log_changes(), 0);
    }

    #[wasm_bindgen_test]
    fn new_thresholds_hear_the_readings_on_the_tape_again() {
        let mut tape = tape_with(&["a"]);
        tape.heard(&vec![0.0; 16_000 * 3], 1_000.0);
        tape.apply(0, read("a", 2.0, 0.6), 1_500.0);
        assert_eq!(tape.log.len(), 1);
        assert_eq!(tape.log[0].detection.label, "yes");

        let strict = DetectorSettings {
            threshold: 0.7,
            ..DetectorSettings::default()
        };
        let changes = tape.log_changes();
        tape.set_detector(strict.clone()).unwrap();
        assert!(tape.log.is_empty(), "{:?}", tape.log);
        assert!(
            tape.log_changes() > changes,
            "a log heard again is a change"
        );
        let mut per_keyword = strict;
        per_keyword.thresholds.insert("yes".into(), 0.55);
        tape.set_detector(per_keyword).unwrap();
        assert_eq!(tape.log.len(), 1);
        assert_eq!(tape.log[0].detection.confidence, 0.6);
        // Later readings are heard with the new settings.
        tape.heard(&vec![0.0; 16_000 * 2], 2_000.0);
        tape.apply(0, read("a", 4.5, 0.58), 2_100.0);
        assert_eq!(tape.log.len(), 2);
        assert!(
            tape.csv()
                .starts_with("time_s,word,model,confidence,decided_s,speech_end_s,latency_ms\n")
        );
        assert_eq!(tape.csv().lines().count(), 3);
    }

    #[wasm_bindgen_test]
    fn calibrated_thresholds_change_only_their_own_models_detections() {
        let mut tape = tape_with(&["a", "b"]);
        tape.heard(&vec![0.0; 16_000 * 3], 1_000.0);
        tape.apply(0, read("a", 2.0, 0.6), 1_500.0);
        tape.apply(0, read("b", 2.0, 0.6), 1_500.0);
        assert_eq!(tape.log.len(), 2);
        let strict_for_a =
            BTreeMap::from([("a".to_string(), BTreeMap::from([("yes".into(), 0.8)]))]);
        tape.set_calibrated(strict_for_a.clone()).unwrap();
        let models: Vec<&str> = tape.log.iter().map(|l| l.model.as_str()).collect();
        assert_eq!(models, ["b"]);
        // The sliders' settings move the other models; "a" keeps its calibrated threshold.
        let lenient = DetectorSettings {
            threshold: 0.3,
            ..DetectorSettings::default()
        };
        tape.set_detector(lenient).unwrap();
        assert_eq!(tape.log.len(), 1);
        let impossible = BTreeMap::from([("a".to_string(), BTreeMap::from([("yes".into(), 2.0)]))]);
        assert!(tape.set_calibrated(impossible).is_err());
        assert_eq!(
            tape.calibrated, strict_for_a,
            "a refused change changes nothing"
        );
        tape.set_calibrated(BTreeMap::new()).unwrap();
        assert_eq!(tape.log.len(), 2);
    }

    #[wasm_bindgen_test]
    fn latency_runs_from_the_end_of_speech_to_the_mark() {
        let mut tape = tape_with(&["a"]);
        // The stream reached 1.0 s at page time 10,000 ms and 2.0 s at 11,000 ms.
        tape.heard(&vec![0.0; 16_000], 10_000.0);
        tape.heard(&vec![0.0; 16_000], 11_000.0);
        // Marked before voice activity closed the word: its latency waits for the close.
        tape.apply(0, read("a", 2.0, 0.9), 11_300.0);
        assert_eq!(tape.log[0].latency, None);
        assert_eq!(tape.log_changes(), 1);
        let ended = LiveEvent::SpeechEnded {
            start_s: 1.2,
            end_s: 1.8,
        };
        tape.apply(0, ended, 11_400.0);
        // 1.8 s arrived with the chunk that ended at 2.0 s.
        let latency = |speech_end_s, ms| Some(Latency { speech_end_s, ms });
        assert_eq!(tape.log[0].latency, latency(1.8, 300.0));
        assert_eq!(tape.log_changes(), 2, "a latency given is a change");
        // A word whose speech had already ended gets its latency at once.
        tape.heard(&vec![0.0; 16_000 * 2], 12_000.0);
        tape.apply(
            0,
            LiveEvent::SpeechEnded {
                start_s: 2.6,
                end_s: 3.2,
            },
            12_100.0,
        );
        assert_eq!(
            tape.log_changes(),
            2,
            "speech holding no detection changes nothing"
        );
        tape.apply(0, read("a", 3.5, 0.9), 12_250.0);
        assert_eq!(tape.log.len(), 2);
        assert_eq!(tape.log[1].latency, latency(3.2, 250.0));
        let rows: Vec<String> = tape.csv().lines().skip(1).map(String::from).collect();
        assert!(rows[0].ends_with(",2.000,1.800,300"), "{rows:?}");
        // A word voice activity split at a dip: its latency runs from the end of its last part.
        // The stream reached 4.5, 5, 5.5 and 6 s at 13,000, 13,500, 14,000 and 14,500 ms.
        for ms in [13_000.0, 13_500.0, 14_000.0, 14_500.0] {
            tape.heard(&vec![0.0; 8_000], ms);
        }
        tape.apply(0, read("a", 6.0, 0.9), 14_600.0);
        let part = |start_s, end_s| LiveEvent::SpeechEnded { start_s, end_s };
        tape.apply(0, part(5.0, 5.4), 14_700.0);
        assert_eq!(tape.log[2].latency, latency(5.4, 600.0));
        tape.apply(0, part(5.55, 5.8), 14_800.0);
        assert_eq!(tape.log[2].latency, latency(5.8, 100.0));
        assert_eq!(
            tape.apply(
                0,
                LiveEvent::Failed {
                    message: "gone".into()
                },
                0.0
            ),
            Some("gone".into())
        );
    }

    #[wasm_bindgen_test]
    fn a_session_dealt_to_two_workers_listens_once_both_have_joined() {
        let mut tape = tape_dealt(&[("teacher", 0), ("a", 0), ("b", 1), ("c", 0), ("d", 1)]);
        assert_eq!(tape.workers(), BTreeSet::from([0, 1]));
        assert_eq!(tape.apply(1, listening(&["d", "b"], &[]), 0.0), None);
        assert!(!tape.is_listening(), "the page's worker has not joined");
        assert_eq!(
            tape.apply(0, listening(&["teacher", "a"], &["c"]), 0.0),
            None
        );
        assert!(tape.is_listening());
        let shown: Vec<(&str, WorkerIndex)> = (tape.models.iter())
            .map(|m| (m.model.name.as_str(), m.worker))
            .collect();
        assert_eq!(shown, [("teacher", 0), ("a", 0), ("b", 1), ("d", 1)]);
        assert_eq!(tape.missing, ["c"]);
        // A worker that says it again adds nothing.
        tape.apply(1, listening(&["d", "b"], &[]), 0.0);
        assert_eq!(tape.models.len(), 4);

        // Each worker tells of the same stretch of speech; the tape keeps it once.
        tape.heard(&vec![0.0; 16_000 * 2], 1_000.0);
        for worker in [1, 0] {
            let ended = LiveEvent::SpeechEnded {
                start_s: 0.5,
                end_s: 1.2,
            };
            tape.apply(worker, ended, 1_100.0);
        }
        assert_eq!(tape.speech.len(), 1);

        // Each worker's memory counts once, whichever of its models read last.
        let mut with_memory = |model: &str, bytes: u64| {
            let LiveEvent::Read(mut reading) = read(model, 2.0, 0.1) else {
                unreachable!()
            };
            reading.worker_memory_bytes = bytes;
            tape.apply(0, LiveEvent::Read(reading), 1_200.0);
        };
        with_memory("a", 30 << 20);
        with_memory("b", 10 << 20);
        with_memory("d", 12 << 20);
        assert_eq!(tape.worker_memory_bytes(), 42 << 20);
    }

    #[wasm_bindgen_test]
    fn a_session_whose_workers_loaded_nothing_says_so() {
        let mut tape = tape_dealt(&[("a", 0), ("b", 1)]);
        assert_eq!(tape.apply(0, listening(&[], &["a"]), 0.0), None);
        let failure = tape.apply(1, listening(&[], &["b"]), 0.0);
        assert!(failure.is_some_and(|why| why.contains("none of the chosen models")));
    }
}
