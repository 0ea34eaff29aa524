//! One stream heard live by several models, each at its own cadence: the students read the
//! window that ends at every hop (when it holds speech); the teacher, too slow for that on a
//! CPU, reads each stretch of speech once, when voice activity says it has ended. The caller (the
//! page's worker, the tests) runs the models; this decides what each must read and turns each
//! reading into what is shown: the reading placed in time, and the detection it makes.
//!
//! A window whose reading hears a keyword with its attention peak in the window's end edge cuts
//! the word, so it detects nothing; rather than wait for the next hop, the model reads the window
//! that ends just far enough past the peak as soon as that audio is there (an early window), and
//! again while the peak moves on ahead of each early window's end: the word is detected up to a
//! hop sooner, at the cost of a reading or two more.

use super::{
    Detection, Detector, DetectorSettings, ListenSettings, Listener, StreamError, WindowReading,
    is_keyword,
};
use crate::audio::MODEL_SAMPLE_RATE;
use crate::model::TimeMap;
use serde::{Deserialize, Serialize};

/// How often a model reads the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cadence {
    /// The window that ends at every hop, when it holds speech.
    EveryHop,
    /// Each stretch of speech once it has ended, with [`SEGMENT_PAD_S`] either side, at most
    /// [`MAX_SEGMENT_S`] of it.
    PerSegment,
}

impl Cadence {
    /// How readings at this cadence are turned into detections.
    pub fn detector_settings(self, settings: &DetectorSettings) -> DetectorSettings {
        match self {
            Cadence::EveryHop => settings.clone(),
            // A stretch read whole holds its word whole: a peak near its ends is the word's, not
            // a sign of a window cutting it.
            Cadence::PerSegment => DetectorSettings {
                edge_s: 0.0,
                ..settings.clone()
            },
        }
    }
}

/// Audio kept either side of a stretch of speech read whole: voice activity starts after a
/// word's soft onset and ends before its tail.
pub const SEGMENT_PAD_S: f64 = 0.25;

/// The most of a stretch of speech read whole, its last seconds when speech goes on longer (a
/// keyword is shorter; a reading of a long stretch would hold up the models that read every hop).
pub const MAX_SEGMENT_S: f64 = 3.0;

/// How far past an attention peak an early window ends beyond the edge: the peak moves on by a
/// frame or so as the window hears more of the word.
pub const EARLY_MARGIN_S: f64 = 0.02;

/// Why a model reads a job's audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// The window that ends at a hop.
    Hop,
    /// The window that ends [`EARLY_MARGIN_S`] past the edge after an attention peak that the
    /// window before it (a hop's, or an early one) held in its end edge, read before the next hop
    /// for the keyword that window heard (the index of the model's label): the only keyword its
    /// reading may detect, since a window reading part of a word may name another one.
    Early { keyword: usize },
    /// A stretch of speech read whole.
    Segment,
}

/// Audio one model must read.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The model's place in the list the listener was made with.
    pub model: usize,
    pub kind: JobKind,
    /// Where the audio starts, in seconds from the start of the stream.
    pub start_s: f64,
    pub samples: Vec<f32>,
    /// When it was handed out, in the stream's time: a window's end, or when voice activity said
    /// a stretch of speech had ended and its padding was there.
    pub ready_s: f64,
    /// The end of the last speech voice activity had heard by the audio's end, if any.
    pub speech_until_s: Option<f64>,
}

impl Job {
    /// The window of `samples` starting at `start_s` that ends at a hop, handed out as it ends.
    pub fn window(model: usize, start_s: f64, samples: Vec<f32>) -> Self {
        let mut job = Self {
            model,
            kind: JobKind::Hop,
            start_s,
            samples,
            ready_s: 0.0,
            speech_until_s: None,
        };
        job.ready_s = job.end_s();
        job
    }

    pub fn end_s(&self) -> f64 {
        self.start_s + self.samples.len() as f64 / MODEL_SAMPLE_RATE as f64
    }
}

/// An early window asked for and not yet handed out.
#[derive(Clone, Copy, Debug)]
struct EarlyWindow {
    model: usize,
    /// The sample it ends at.
    end: u64,
    keyword: usize,
}

pub struct LiveListener {
    listener: Listener,
    cadences: Vec<Cadence>,
    detectors: Vec<Detector>,
    /// The detector settings of the models reading every hop: the edges that say when a window
    /// cut a word and where an early window ends.
    detector: DetectorSettings,
    /// Early windows to hand out.
    early: Vec<EarlyWindow>,
    /// Windows heard, with speech or without.
    windows: usize,
    /// The end of the last stretch of speech handed to the per-segment models.
    segments_read_until: f64,
}

impl LiveListener {
    /// A listener for models reading at `cadences`, in the order jobs name them.
    pub fn new(settings: &ListenSettings, cadences: &[Cadence]) -> Result<Self, StreamError> {
        let detectors = (cadences.iter())
            .map(|cadence| Detector::new(cadence.detector_settings(&settings.detector)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            listener: Listener::new(settings)?,
            cadences: cadences.to_vec(),
            detectors,
            detector: settings.detector.clone(),
            early: Vec::new(),
            windows: 0,
            segments_read_until: 0.0,
        })
    }

    /// Takes the next chunk of 16 kHz samples; the audio each model must read because of it,
    /// early windows already due first. Each model's jobs come in the order of the stream (the
    /// order between models may differ). A caller that places each reading before it pushes the
    /// audio after its job (see [`LiveListener::push_to_next_job`]) is handed the same jobs
    /// whatever the chunking; one reading behind the stream is asked for no early window whose
    /// hop's window it has been handed already.
    pub fn push(&mut self, chunk: &[f32]) -> Result<Vec<Job>, StreamError> {
        super::all_finite(chunk, self.listener.windower().pushed())?;
        let mut jobs = self.due();
        let mut rest = chunk;
        // Up to each window's end at most, so a stretch of speech that ends is read while the
        // ring still holds it, however long the chunk; and up to each early window's end.
        while !rest.is_empty() {
            let (now, later) = rest.split_at(self.until_next_job().min(rest.len()));
            for heard in self.listener.push(now)? {
                self.windows += 1;
                if heard.speech {
                    let window = &heard.window;
                    let job = Job {
                        speech_until_s: self.speech_until(window.end_s()),
                        ..Job::window(0, window.start_s(), window.samples.clone())
                    };
                    jobs.extend(self.jobs_for(Cadence::EveryHop, &job));
                }
            }
            jobs.extend(self.due());
            jobs.extend(self.ended_segments());
            rest = later;
        }
        Ok(jobs)
    }

    /// Pushes `audio` as far as the end of the next window, early or at a hop, at most: the jobs
    /// that hands out, and how many samples were taken. Reading these jobs, and placing each
    /// reading, before pushing the rest reads the stream as a listener reading without delay
    /// would, whatever the chunking.
    pub fn push_to_next_job(&mut self, audio: &[f32]) -> Result<(Vec<Job>, usize), StreamError> {
        let taken = self.until_next_job().min(audio.len());
        Ok((self.push(&audio[..taken])?, taken))
    }

    /// Samples still to come before a window, early or at a hop, ends.
    pub fn until_next_job(&self) -> usize {
        let windower = self.listener.windower();
        let pushed = windower.pushed();
        (self.early.iter())
            .map(|early| early.end.saturating_sub(pushed) as usize)
            .fold(windower.until_next_window(), usize::min)
    }

    /// The early windows whose audio is all here, in the order they end. The stream's next
    /// chunk hands them out too; a caller reading later than the audio arrives (the page's
    /// worker) asks at once after each reading. One the ring no longer holds (a history shorter
    /// than a window and a hop, read late) is dropped.
    pub fn due(&mut self) -> Vec<Job> {
        let windower = self.listener.windower();
        let (pushed, window) = (windower.pushed(), windower.geometry().window as u64);
        let rate = MODEL_SAMPLE_RATE as f64;
        let mut due = Vec::new();
        self.early.retain(|early| {
            let here = early.end <= pushed;
            if here {
                due.push(*early);
            }
            !here
        });
        due.sort_by_key(|early| early.end);
        (due.into_iter())
            .filter_map(
                |EarlyWindow {
                     model,
                     end,
                     keyword,
                 }| {
                    let samples = windower.span(end.checked_sub(window)?, end)?;
                    Some(Job {
                        kind: JobKind::Early { keyword },
                        speech_until_s: self.speech_until(end as f64 / rate),
                        ..Job::window(model, (end - window) as f64 / rate, samples)
                    })
                },
            )
            .collect()
    }

    /// The end of the last speech voice activity has heard, as far as it knows at `end_s`: a
    /// job handed out after voice activity heard past its end (an early window asked for late)
    /// cannot tell whether speech stopped before that end when some was heard after it, so it
    /// counts speech up to its end.
    fn speech_until(&self, end_s: f64) -> Option<f64> {
        (self.listener.vad().last_speech_s()).map(|until| until.min(end_s))
    }

    /// Jobs for the stretches of speech that ended since the last call.
    fn ended_segments(&mut self) -> Vec<Job> {
        let rate = MODEL_SAMPLE_RATE as f64;
        let mut jobs = Vec::new();
        let segments = self.listener.vad().segments();
        let ended = (segments.iter())
            .filter_map(|segment| Some((segment.start_s, segment.end_s?, segment.closed_s?)));
        for (start, end, closed) in ended {
            if end <= self.segments_read_until {
                continue;
            }
            let from = (start - SEGMENT_PAD_S).max(end + SEGMENT_PAD_S - MAX_SEGMENT_S);
            let from = (from.max(0.0) * rate).round() as u64;
            let to = ((end + SEGMENT_PAD_S) * rate).round() as u64;
            // A hangover shorter than the padding closes the stretch before its padding is here.
            if to > self.listener.windower().pushed() {
                break;
            }
            self.segments_read_until = end;
            if let Some(samples) = self.listener.windower().span(from, to) {
                let job = Job {
                    kind: JobKind::Segment,
                    ready_s: closed.max(to as f64 / rate),
                    speech_until_s: Some(end),
                    ..Job::window(0, from as f64 / rate, samples)
                };
                jobs.extend(self.jobs_for(Cadence::PerSegment, &job));
            }
        }
        jobs
    }

    /// `job` for each model reading at `cadence`.
    fn jobs_for(&self, cadence: Cadence, job: &Job) -> Vec<Job> {
        (self.cadences.iter().enumerate())
            .filter(|(_, c)| **c == cadence)
            .map(|(model, _)| Job {
                model,
                ..job.clone()
            })
            .collect()
    }

    /// A model's reading of a job's audio (`probs` of its `labels`, and its temporal attention
    /// with times from the audio's start): the reading placed in the stream, and the detection
    /// it makes, if any.
    pub fn heard(
        &mut self,
        job: &Job,
        labels: &[String],
        probs: Vec<f32>,
        map: Option<&TimeMap>,
    ) -> (WindowReading, Option<Detection>) {
        let reading = self.place(job, labels, probs, map);
        let detection = (self.detectors.get_mut(job.model))
            .and_then(|detector| detector.observe(labels, &reading));
        (reading, detection)
    }

    /// A model's reading of a job's audio placed in the stream, as [`LiveListener::heard`]
    /// places it, for a caller that detects elsewhere (the page's worker: the page detects, with
    /// the thresholds the visitor sets). A window that heard a keyword with its attention peak
    /// in its end edge asks for an early window, whatever the keyword's probability, so that
    /// readings replayed at another threshold are those that threshold would have made; an
    /// early window asks again only for the keyword it was read for.
    pub fn place(
        &mut self,
        job: &Job,
        labels: &[String],
        probs: Vec<f32>,
        map: Option<&TimeMap>,
    ) -> WindowReading {
        let reading = WindowReading::new(job, probs, map);
        let keyword = (reading.top())
            .map(|(top, _)| top)
            .filter(|top| labels.get(*top).is_some_and(|label| is_keyword(label)));
        let asks = match (job.kind, keyword) {
            (JobKind::Hop, Some(_)) => keyword,
            (JobKind::Early { keyword: asked }, Some(heard)) if heard == asked => keyword,
            _ => None,
        };
        if let Some(keyword) = asks
            && self.detector.cuts_at_end(&reading)
        {
            let rate = MODEL_SAMPLE_RATE as f64;
            let windower = self.listener.windower();
            let early_edge_s = self.detector.early_edge_s as f64;
            let end = reading.attention_peak_s + early_edge_s + EARLY_MARGIN_S;
            let end = (end * rate).ceil();
            let end = end as u64;
            let next_hop = windower.next_window_end_after((reading.end_s * rate).round() as u64);
            // The next hop's window, when it ends first or has been handed out already, reads
            // the word as soon.
            if end < next_hop && windower.pushed() < next_hop {
                self.early.push(EarlyWindow {
                    model: job.model,
                    end,
                    keyword,
                });
            }
        }
        reading
    }

    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// Windows heard so far, with speech or without.
    pub fn windows(&self) -> usize {
        self.windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::tests::bursts;

    fn jobs(samples: &[f32], chunk: usize) -> Vec<Job> {
        let cadences = [Cadence::EveryHop, Cadence::PerSegment];
        let mut live = LiveListener::new(&ListenSettings::default(), &cadences).unwrap();
        let mut jobs = Vec::new();
        for part in samples.chunks(chunk) {
            jobs.extend(live.push(part).unwrap());
        }
        jobs
    }

    #[test]
    fn each_stretch_of_speech_is_read_once_whole_and_every_hop_of_it_by_the_others() {
        let samples = bursts();
        let whole = jobs(&samples, samples.len());
        let per_segment: Vec<&Job> = whole.iter().filter(|job| job.model == 1).collect();
        // One reading per burst (at 1, 6 and 12.5 s, 0.4 s long), padded either side.
        assert_eq!(
            per_segment.len(),
            3,
            "{:?}",
            per_segment.iter().map(|j| j.start_s).collect::<Vec<_>>()
        );
        for (job, burst) in per_segment.iter().zip([1.0, 6.0, 12.5]) {
            assert!(
                (job.start_s - (burst - SEGMENT_PAD_S)).abs() < 0.03,
                "{}",
                job.start_s
            );
            assert!(
                (job.end_s() - (burst + 0.4 + SEGMENT_PAD_S)).abs() < 0.03,
                "{}",
                job.end_s()
            );
            let at = ((burst - job.start_s) * 16_000.0) as usize;
            assert_eq!(
                job.samples[at + 100],
                samples[(burst * 16_000.0) as usize + 100]
            );
        }
        // The every-hop model reads the windows with speech, as the listener hears them.
        let mut listener = Listener::new(&ListenSettings::default()).unwrap();
        let with_speech: Vec<f64> = (listener.push(&samples).unwrap().iter())
            .filter(|heard| heard.speech)
            .map(|heard| heard.window.start_s())
            .collect();
        let every_hop: Vec<f64> = (whole.iter())
            .filter(|job| job.model == 0)
            .map(|job| job.start_s)
            .collect();
        assert_eq!(every_hop, with_speech);
        let of = |jobs: &[Job], model: usize| -> Vec<Job> {
            jobs.iter()
                .filter(|job| job.model == model)
                .cloned()
                .collect()
        };
        for chunk in [160, 4_000, 33_333] {
            let chunked = jobs(&samples, chunk);
            for model in [0, 1] {
                assert_eq!(of(&chunked, model), of(&whole, model), "chunks of {chunk}");
            }
        }
    }

    /// A map of 1 s in frames of 20 ms peaking at `peak_s` from its start.
    fn peaking_at(peak_s: f64) -> TimeMap {
        let mut values = vec![0.01; 50];
        values[(peak_s / 0.02) as usize] = 1.0;
        TimeMap {
            start_s: 0.0,
            frame_s: 0.02,
            values,
        }
    }

    #[test]
    fn a_keyword_heard_at_a_windows_end_is_read_again_as_soon_as_the_audio_past_it_is_there() {
        let samples = bursts();
        let labels = ["_unknown_", "yes", "no"].map(String::from).to_vec();
        let (yes, no) = (vec![0.1, 0.9, 0.0], vec![0.1, 0.0, 0.9]);
        let unknown = vec![0.9, 0.1, 0.0];
        let at = |seconds: f64| (seconds * 16_000.0) as usize;
        // Speech that seems to go on to every window's end: the burst's own ends at 1.4 s.
        let mut settings = ListenSettings::default();
        settings.detector.quiet_end_s = 1.0;
        let mut live = LiveListener::new(&settings, &[Cadence::EveryHop]).unwrap();
        let jobs = live.push(&samples[..at(1.5)]).unwrap();
        let hop = jobs.last().expect("the burst at 1 s is heard").clone();
        assert_eq!((hop.kind, hop.end_s()), (JobKind::Hop, 1.5));
        // Peaks outside the end edge, or on a class that is no keyword, ask for nothing.
        live.place(&hop, &labels, yes.clone(), Some(&peaking_at(0.5)));
        live.place(&hop, &labels, unknown, Some(&peaking_at(0.91)));
        // Nor does a stretch of speech read whole, which holds its word whole.
        let segment = Job {
            kind: JobKind::Segment,
            ..hop.clone()
        };
        live.place(&segment, &labels, yes.clone(), Some(&peaking_at(0.91)));
        assert_eq!(live.until_next_job(), at(0.25));
        // A "yes" peaking at 1.41 s, in the end edge: no detection, an early window instead.
        let (reading, found) = live.heard(&hop, &labels, yes.clone(), Some(&peaking_at(0.91)));
        assert_eq!(found, None);
        let end_s = reading.attention_peak_s + 0.25 + EARLY_MARGIN_S;
        assert!(live.until_next_job() < at(0.25));
        assert!(live.push(&samples[at(1.5)..at(1.65)]).unwrap().is_empty());
        let jobs = live.push(&samples[at(1.65)..at(1.69)]).unwrap();
        assert_eq!(jobs.len(), 1);
        let early = &jobs[0];
        assert_eq!(early.kind, JobKind::Early { keyword: 1 });
        assert!(
            early.end_s() >= end_s && early.end_s() < end_s + 1.0 / 16_000.0,
            "{} for {end_s}",
            early.end_s()
        );
        let start = at(early.start_s);
        assert_eq!(early.samples, samples[start..start + 16_000]);
        assert_eq!(early.ready_s, early.end_s());
        // The early window holds the peak clear of its edge: the word is detected there, a hop
        // sooner, and nothing more is asked for.
        let peak = reading.attention_peak_s - early.start_s;
        let (_, found) = live.heard(early, &labels, yes.clone(), Some(&peaking_at(peak)));
        let found = found.expect("detected in the early window");
        assert_eq!(found.decided_s, early.end_s());
        assert!((found.at_s - reading.attention_peak_s).abs() < 0.02);
        assert_eq!(live.until_next_job(), at(1.75) - at(1.69));
        // An early window read for "yes" that hears another keyword in its end edge asks for
        // nothing: the next hop reads that one.
        live.place(early, &labels, no, Some(&peaking_at(0.77)));
        assert_eq!(live.until_next_job(), at(1.75) - at(1.69));
        // A peak that moved on within the early window's end edge asks for another early window
        // when that ends before the next hop (1.75 s), and not when it would end after it.
        live.place(early, &labels, yes.clone(), Some(&peaking_at(0.95)));
        assert_eq!(live.until_next_job(), at(1.75) - at(1.69));
        live.place(early, &labels, yes.clone(), Some(&peaking_at(0.77)));
        assert!(live.until_next_job() < at(1.75) - at(1.69));
        let jobs = live.push(&samples[at(1.69)..at(1.8)]).unwrap();
        let kinds: Vec<(JobKind, f64)> = jobs.iter().map(|j| (j.kind, j.end_s())).collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert_eq!(kinds[0].0, JobKind::Early { keyword: 1 });
        assert!((kinds[0].1 - 1.72).abs() < 0.01, "{kinds:?}");
        assert_eq!(
            kinds[1],
            (JobKind::Hop, 1.75),
            "the early window comes first"
        );
        assert_eq!(live.until_next_job(), at(2.0) - at(1.8));
        // Nor once the next hop's window is out: it reads the word as soon.
        live.place(&jobs[0], &labels, yes.clone(), Some(&peaking_at(0.77)));
        assert!(live.due().is_empty());
        // A reading made once the next hop's window is out asks for nothing: that window is
        // read as soon.
        live.place(&hop, &labels, yes, Some(&peaking_at(0.91)));
        assert!(live.due().is_empty());
        assert_eq!(live.until_next_job(), at(2.0) - at(1.8));
    }

    #[test]
    fn a_window_quiet_at_its_end_decides_at_once_without_an_early_window() {
        let samples = bursts();
        let labels = ["_unknown_", "yes"].map(String::from).to_vec();
        let yes = vec![0.1, 0.9];
        let at = |seconds: f64| (seconds * 16_000.0) as usize;
        let mut live = LiveListener::new(&ListenSettings::default(), &[Cadence::EveryHop]).unwrap();
        let jobs = live.push(&samples[..at(1.75)]).unwrap();
        let hop = jobs
            .last()
            .expect("the burst from 1 to 1.4 s is heard")
            .clone();
        assert_eq!(hop.end_s(), 1.75);
        let until = hop.speech_until_s.expect("speech heard");
        assert!((until - 1.4).abs() <= 0.02, "{until}");
        // A peak at 1.55 s, in the end edge, but no speech in the window's last 0.15 s.
        let (_, found) = live.heard(&hop, &labels, yes, Some(&peaking_at(0.8)));
        assert!((found.expect("decided at once").at_s - 1.56).abs() < 0.02);
        assert_eq!(live.until_next_job(), at(0.25));
    }

    #[test]
    fn a_stretch_read_whole_detects_its_word_at_the_attention_peak_even_near_its_edge() {
        let settings = ListenSettings::default();
        let mut live = LiveListener::new(&settings, &[Cadence::PerSegment]).unwrap();
        let job = Job {
            ready_s: 3.3,
            ..Job::window(0, 2.0, vec![0.0; 16_000])
        };
        let labels = ["yes", "_unknown_"].map(String::from).to_vec();
        let mut values = vec![0.0; 50];
        values[2] = 1.0;
        let map = TimeMap {
            start_s: 0.0,
            frame_s: 0.02,
            values,
        };
        let (reading, found) = live.heard(&job, &labels, vec![0.9, 0.1], Some(&map));
        assert_eq!((reading.start_s, reading.end_s), (2.0, 3.0));
        let found = found.expect("a detection");
        assert_eq!(found.label, "yes");
        assert!(
            (found.at_s - 2.05).abs() < 1e-6 && found.decided_s == 3.3,
            "{found:?}"
        );
    }
}
