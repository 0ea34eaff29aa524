//! Listening to a stream instead of a finished clip: audio arrives in chunks of any size
//! (`windows.rs` keeps the last seconds of it and hands out the window that ends at every hop),
//! voice activity decides which windows are worth a model's time (`vad.rs`), and each model's
//! readings of those windows become detections, each placed where the model listened
//! (`detector.rs`). The models run wherever the caller runs them (the CLI, the page's worker);
//! [`detect`] is the whole path over a recording, for the CLI and the tests, and `calibrate.rs`
//! measures how often it is wrong, at every threshold, on streams whose words are known.
//! `spectrogram.rs` gives the live view its spectrogram frame by frame as the audio arrives.

pub mod calibrate;
mod detector;
mod live;
mod spectrogram;
mod truth;
mod vad;
mod windows;

pub use detector::{Detection, Detector, DetectorSettings, WindowReading, is_keyword};
pub use live::{Cadence, EARLY_MARGIN_S, Job, JobKind, LiveListener, MAX_SEGMENT_S, SEGMENT_PAD_S};
pub use spectrogram::SpectrogramStream;
pub use truth::{SaidWord, StreamTruth, TRUTH_VERSION};
pub use vad::{Segment, Vad, VadSettings};
pub use windows::{
    Geometry, MAX_HISTORY_S, MAX_WINDOW_S, MIN_HOP_S, StreamSettings, StreamWindow, Windower,
};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    Settings(String),
    #[error("sample {at} of the stream is not a number (NaN or infinity): the audio is corrupt")]
    NonFinite { at: u64 },
}

/// Refuses a chunk with a sample that is not a number, naming where it lies in the stream
/// (`pushed` samples came before the chunk).
pub fn all_finite(chunk: &[f32], pushed: u64) -> Result<(), StreamError> {
    match chunk.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(StreamError::NonFinite {
            at: pushed + index as u64,
        }),
        None => Ok(()),
    }
}

/// Everything a listener is set with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListenSettings {
    pub stream: StreamSettings,
    pub vad: VadSettings,
    pub detector: DetectorSettings,
}

impl ListenSettings {
    /// Refuses settings no listener can work with, saying why.
    pub fn check(&self) -> Result<(), StreamError> {
        self.stream.geometry()?;
        self.detector.check()?;
        Vad::new(&self.vad, self.stream.history_s)?;
        let (window, hop) = (self.stream.window_s, self.stream.hop_s);
        if window - 2.0 * self.detector.edge_s < hop {
            return Err(StreamError::Settings(format!(
                "windows of {window} s every {hop} s leave moments at no window's middle once \
                 {} s at each edge are left out: lengthen the window or shorten the hop",
                self.detector.edge_s
            )));
        }
        Ok(())
    }
}

/// A window of the stream and whether voice activity was heard in it.
#[derive(Clone, Debug, PartialEq)]
pub struct HeardWindow {
    pub window: StreamWindow,
    pub speech: bool,
}

/// The stream's windows and its voice activity, shared by every model listening to it.
pub struct Listener {
    windower: Windower,
    vad: Vad,
}

impl Listener {
    pub fn new(settings: &ListenSettings) -> Result<Self, StreamError> {
        settings.check()?;
        Ok(Self {
            windower: Windower::new(&settings.stream)?,
            vad: Vad::new(&settings.vad, settings.stream.history_s)?,
        })
    }

    /// Takes the next chunk of 16 kHz samples; the windows that end in it, each with whether
    /// voice activity was heard in it as of its end, so any chunking gives the same answers. A
    /// chunk with a sample that is not a number is refused whole.
    pub fn push(&mut self, chunk: &[f32]) -> Result<Vec<HeardWindow>, StreamError> {
        all_finite(chunk, self.windower.pushed())?;
        let mut heard = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(self.windower.until_next_window().min(rest.len()));
            let windows = self.windower.push(now)?;
            self.vad.push(now);
            heard.extend(windows.into_iter().map(|window| HeardWindow {
                speech: self.vad.speech_between(window.start_s(), window.end_s()),
                window,
            }));
            rest = later;
        }
        Ok(heard)
    }

    pub fn windower(&self) -> &Windower {
        &self.windower
    }

    pub fn vad(&self) -> &Vad {
        &self.vad
    }
}

/// A model's readings of a recording: of the windows with speech in them and its early windows
/// (see [`JobKind::Early`]), or of its stretches of speech.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    pub readings: Vec<WindowReading>,
    /// Windows in all, at a hop: the model only reads those with speech.
    pub windows: usize,
}

/// What [`detect`] found in a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detected {
    pub detections: Vec<Detection>,
    /// Readings made: of the windows at a hop with speech and of early windows (or of each
    /// stretch of speech once).
    pub windows_read: usize,
    /// Of them, early windows.
    pub early_windows_read: usize,
    /// Windows in all, at a hop.
    pub windows: usize,
}

impl Heard {
    /// What a detector set with `settings` finds in these readings.
    pub fn detected(
        &self,
        labels: &[String],
        settings: &DetectorSettings,
    ) -> Result<Detected, StreamError> {
        Ok(Detected {
            detections: detections(labels, &self.readings, settings)?,
            windows_read: self.readings.len(),
            early_windows_read: (self.readings.iter())
                .filter(|reading| reading.only_keyword.is_some())
                .count(),
            windows: self.windows,
        })
    }
}

/// The detections a detector set with `settings` makes from readings of one stream, in order.
pub fn detections(
    labels: &[String],
    readings: &[WindowReading],
    settings: &DetectorSettings,
) -> Result<Vec<Detection>, StreamError> {
    let mut detector = Detector::new(settings.clone())?;
    Ok((readings.iter())
        .filter_map(|reading| detector.observe(labels, reading))
        .collect())
}

/// Why a stream could not be listened to.
#[cfg(feature = "tensors")]
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}

/// One model reading a stream at `cadence` through its own [`LiveListener`], as live listening
/// does, chunk by chunk as the caller hands them over, keeping every reading; the caller may
/// stop or yield between chunks.
#[cfg(feature = "tensors")]
pub struct ModelListening<'a> {
    model: &'a crate::model::Model,
    live: LiveListener,
    readings: Vec<WindowReading>,
}

#[cfg(feature = "tensors")]
impl<'a> ModelListening<'a> {
    pub fn new(
        model: &'a crate::model::Model,
        settings: &ListenSettings,
        cadence: Cadence,
    ) -> Result<Self, StreamError> {
        Ok(Self {
            model,
            live: LiveListener::new(settings, &[cadence])?,
            readings: Vec::new(),
        })
    }

    /// Hears the next chunk and reads the audio it completes, each job as soon as its audio is
    /// there, so what a reading asks to read next is read where a live listener reading without
    /// delay would, whatever the chunking. A chunk with a sample that is not a number is refused
    /// whole.
    pub async fn hear(&mut self, chunk: &[f32]) -> Result<(), ListenError> {
        all_finite(chunk, self.live.listener().windower().pushed())?;
        let request = crate::model::ReadingRequest::default();
        let mut rest = chunk;
        while !rest.is_empty() {
            let (jobs, taken) = self.live.push_to_next_job(rest)?;
            for job in jobs {
                let reading = self.model.read(&job.samples, &request).await?;
                let (reading, _) = self.live.heard(
                    &job,
                    self.model.labels(),
                    reading.prediction.probs,
                    Some(&reading.map),
                );
                self.readings.push(reading);
            }
            rest = &rest[taken..];
        }
        Ok(())
    }

    /// Seconds of the stream heard so far.
    pub fn heard_s(&self) -> f64 {
        self.live.listener().windower().heard_s()
    }

    pub fn finish(self) -> Heard {
        Heard {
            windows: self.live.windows(),
            readings: self.readings,
        }
    }
}

/// One model reading a whole recording as a stream at `cadence` (see [`ModelListening`]), fed
/// in chunks of `chunk` samples as a microphone would deliver them; `progress(seconds)` is told
/// how far into the recording it is.
#[cfg(feature = "tensors")]
pub async fn listen(
    model: &crate::model::Model,
    samples: &[f32],
    settings: &ListenSettings,
    cadence: Cadence,
    chunk: usize,
    progress: &mut dyn FnMut(f64),
) -> Result<Heard, ListenError> {
    let mut listening = ModelListening::new(model, settings, cadence)?;
    for part in samples.chunks(chunk.max(1)) {
        listening.hear(part).await?;
        progress(listening.heard_s());
    }
    Ok(listening.finish())
}

/// One model listening to a whole recording as a stream (see [`listen`]), and what it detects.
#[cfg(feature = "tensors")]
pub async fn detect(
    model: &crate::model::Model,
    samples: &[f32],
    settings: &ListenSettings,
    cadence: Cadence,
    chunk: usize,
    progress: &mut dyn FnMut(f64),
) -> Result<Detected, ListenError> {
    let heard = listen(model, samples, settings, cadence, chunk, progress).await?;
    let detector = cadence.detector_settings(&settings.detector);
    Ok(heard.detected(model.labels(), &detector)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// 14 s of quiet noise with a loud burst at 1, 6 and 12.5 s: the first burst ends more than
    /// the history before the stream does.
    pub(super) fn bursts() -> Vec<f32> {
        let mut rng = Rng::new(9);
        (0..16_000 * 14)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                let burst = [1.0, 6.0, 12.5].iter().any(|at| t >= *at && t < at + 0.4);
                let level = if burst { 0.3 } else { 0.005 };
                level * rng.uniform(-1.0, 1.0)
            })
            .collect()
    }

    fn heard(samples: &[f32], chunk: usize) -> Vec<HeardWindow> {
        let mut listener = Listener::new(&ListenSettings::default()).unwrap();
        let mut heard = Vec::new();
        for part in samples.chunks(chunk) {
            heard.extend(listener.push(part).unwrap());
        }
        heard
    }

    #[test]
    fn any_chunking_hears_the_same_windows_with_the_same_speech() {
        let samples = bursts();
        let whole = heard(&samples, samples.len());
        assert_eq!(whole.len(), 53);
        let with_speech: Vec<f64> = (whole.iter())
            .filter(|heard| heard.speech)
            .map(|heard| heard.window.start_s())
            .collect();
        // Each burst lies in the four or five windows that overlap it.
        assert!((12..=15).contains(&with_speech.len()), "{with_speech:?}");
        assert!(
            with_speech.iter().any(|start| *start < 1.0),
            "{with_speech:?}"
        );
        for chunk in [128, 1_000, 16_000] {
            assert_eq!(heard(&samples, chunk), whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_chunk_with_a_bad_sample_is_refused_whole_and_the_stream_goes_on() {
        let mut listener = Listener::new(&ListenSettings::default()).unwrap();
        listener.push(&[0.0; 100]).unwrap();
        let refused = listener.push(&[0.0, 0.0, f32::INFINITY]);
        assert_eq!(refused, Err(StreamError::NonFinite { at: 102 }));
        assert_eq!(listener.windower().pushed(), 100);
        let windows = listener.push(&vec![0.0; 16_000]).unwrap();
        assert_eq!(windows.len(), 1);
        let settings = ListenSettings {
            stream: StreamSettings {
                window_s: 0.5,
                hop_s: 0.25,
                ..StreamSettings::default()
            },
            ..ListenSettings::default()
        };
        assert!(
            Listener::new(&settings).is_err(),
            "no window's middle covers some moments"
        );
    }
}
