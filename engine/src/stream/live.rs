//! One stream heard live by several models, each at its own cadence: the students read the
//! window that ends at every hop (when it holds speech); the teacher, too slow for that on a
//! CPU, reads each stretch of speech once, when voice activity says it has ended. The caller (the
//! page's worker, the tests) runs the models; this decides what each must read and turns each
//! reading into what is shown: the reading placed in time, and the detection it makes.

use super::{
    Detection, Detector, DetectorSettings, ListenSettings, Listener, StreamError, WindowReading,
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

/// Audio one model must read.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The model's place in the list the listener was made with.
    pub model: usize,
    /// Where the audio starts, in seconds from the start of the stream.
    pub start_s: f64,
    pub samples: Vec<f32>,
    /// When it was handed out, in the stream's time: a window's end, or when voice activity said
    /// a stretch of speech had ended.
    pub ready_s: f64,
}

impl Job {
    /// The window of `samples` starting at `start_s`, handed out as it ends.
    pub fn window(model: usize, start_s: f64, samples: Vec<f32>) -> Self {
        let mut job = Self {
            model,
            start_s,
            samples,
            ready_s: 0.0,
        };
        job.ready_s = job.end_s();
        job
    }

    pub fn end_s(&self) -> f64 {
        self.start_s + self.samples.len() as f64 / MODEL_SAMPLE_RATE as f64
    }
}

pub struct LiveListener {
    listener: Listener,
    cadences: Vec<Cadence>,
    detectors: Vec<Detector>,
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
            windows: 0,
            segments_read_until: 0.0,
        })
    }

    /// Takes the next chunk of 16 kHz samples; the audio each model must read because of it.
    /// Each model's jobs come in the order of the stream, the same whatever the chunking (the
    /// order between models may differ).
    pub fn push(&mut self, chunk: &[f32]) -> Result<Vec<Job>, StreamError> {
        if let Some(index) = chunk.iter().position(|s| !s.is_finite()) {
            return Err(StreamError::NonFinite {
                at: self.listener.windower().pushed() + index as u64,
            });
        }
        let mut jobs = Vec::new();
        let mut rest = chunk;
        // Up to each window's end at most, so a stretch of speech that ends is read while the
        // ring still holds it, however long the chunk.
        while !rest.is_empty() {
            let until = self.listener.windower().until_next_window();
            let (now, later) = rest.split_at(until.min(rest.len()));
            for heard in self.listener.push(now)? {
                self.windows += 1;
                if heard.speech {
                    let window = &heard.window;
                    let job = Job::window(0, window.start_s(), window.samples.clone());
                    jobs.extend(self.jobs_for(Cadence::EveryHop, &job));
                }
            }
            jobs.extend(self.ended_segments());
            rest = later;
        }
        Ok(jobs)
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
            self.segments_read_until = end;
            let from = (start - SEGMENT_PAD_S).max(end + SEGMENT_PAD_S - MAX_SEGMENT_S);
            let from = (from.max(0.0) * rate).round() as u64;
            let to = ((end + SEGMENT_PAD_S) * rate).round() as u64;
            let to = to.min(self.listener.windower().pushed());
            if let Some(samples) = self.listener.windower().span(from, to) {
                let job = Job {
                    ready_s: closed,
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
        let reading = WindowReading::new(job, probs, map);
        let detection = (self.detectors.get_mut(job.model))
            .and_then(|detector| detector.observe(labels, &reading));
        (reading, detection)
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
