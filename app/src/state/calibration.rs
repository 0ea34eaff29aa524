//! Calibration on the page: how often each loaded model, listening as live mode listens, misses
//! a keyword or hears one nobody said, at every threshold, and the per-keyword thresholds that
//! keep a target rate of false accepts. The worker makes the streams from the keyword pack's
//! held-out words and the visitor's own recordings, or takes the visitor's recording of their
//! surroundings for false accepts; the measurements come back model by model.

use super::models::Models;
use crate::browser::microphone::Microphone;
use crate::state::training_run::PACK;
use crate::worker::{
    CalibrateRequest, CalibrationEvent, CalibrationProgress, CalibrationSettings,
    CalibrationStreams, LiveModel, ModelCalibration, Recording, Request,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::{BTreeMap, BTreeSet};
use tempokd::audio::MODEL_SAMPLE_RATE;

/// Where a calibration is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum CalibrationStatus {
    #[default]
    Idle,
    /// Recording the visitor's surroundings: seconds so far, of how many.
    Recording {
        heard_s: f64,
        total_s: f64,
    },
    /// Getting the pack's words.
    Preparing {
        done: usize,
        total: usize,
    },
    /// The models are reading both streams.
    Reading(CalibrationProgress),
    Done,
    Stopped,
    /// Why it ended early, and what to do.
    Failed(String),
}

impl CalibrationStatus {
    /// Whether a calibration is under way.
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            Self::Recording { .. } | Self::Preparing { .. } | Self::Reading(_)
        )
    }

    /// The share of the work done, 0 to 1.
    pub fn fraction(&self) -> f64 {
        match self {
            Self::Recording { heard_s, total_s } => heard_s / total_s.max(f64::MIN_POSITIVE),
            Self::Preparing { done, total } => *done as f64 / (*total).max(1) as f64,
            Self::Reading(progress) => {
                let within = progress.heard_s / progress.total_s.max(f64::MIN_POSITIVE);
                (progress.index as f64 + within) / progress.models.max(1) as f64
            }
            Self::Done => 1.0,
            _ => 0.0,
        }
    }
}

/// What the calibration's streams held.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamsMade {
    pub keywords: usize,
    pub keyword_stream_s: f64,
    pub background_s: f64,
    pub other_words: usize,
    /// Whether the stream without keywords is the visitor's recording.
    pub recorded: bool,
}

/// The page's calibration; every field is a signal or a stored value, so it is Copy.
#[derive(Clone, Copy)]
pub struct Calibration {
    pub status: RwSignal<CalibrationStatus>,
    pub streams: RwSignal<CalibrationStreams>,
    pub measured_at: RwSignal<CalibrationSettings>,
    /// Whether the stream without keywords is recorded from the microphone.
    pub record_background: RwSignal<bool>,
    /// Models the visitor left out.
    pub left_out: RwSignal<BTreeSet<String>>,
    pub made: RwSignal<Option<StreamsMade>>,
    /// Each model's measurements, in the order they came.
    pub results: RwSignal<Vec<ModelCalibration>>,
    /// Models that could not load, left out of the results.
    pub missing: RwSignal<Vec<String>>,
    run: StoredValue<u64>,
    recorder: StoredValue<Option<Microphone>, LocalStorage>,
}

/// Thresholds the page's trade-off is measured at: finer near 1, where the rates of false
/// accepts fall fastest.
pub fn page_thresholds() -> Vec<f32> {
    let coarse = (2..19).map(|i| i as f32 / 20.0);
    let fine = [0.96, 0.97, 0.98, 0.99, 0.995];
    coarse.chain(fine).collect()
}

impl Calibration {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(CalibrationStatus::Idle),
            streams: RwSignal::new(CalibrationStreams::default()),
            measured_at: RwSignal::new(CalibrationSettings {
                thresholds: page_thresholds(),
                ..CalibrationSettings::default()
            }),
            record_background: RwSignal::new(false),
            left_out: RwSignal::new(BTreeSet::new()),
            made: RwSignal::new(None),
            results: RwSignal::new(Vec::new()),
            missing: RwSignal::new(Vec::new()),
            run: StoredValue::new(0),
            recorder: StoredValue::new_local(None),
        }
    }

    /// Calibrates the chosen models of `listening` (live mode's models at their cadences),
    /// with the visitor's own keyword recordings said beside the pack's; the surroundings are
    /// recorded first when the visitor chose so.
    pub fn start(self, models: Models, listening: Vec<LiveModel>, recordings: Vec<Recording>) {
        let run = self.run.get_value() + 1;
        self.run.set_value(run);
        self.made.set(None);
        self.results.set(Vec::new());
        self.missing.set(Vec::new());
        let left_out = self.left_out.get_untracked();
        let chosen: Vec<LiveModel> = (listening.into_iter())
            .filter(|model| !left_out.contains(&model.name))
            .collect();
        if chosen.is_empty() {
            self.status.set(CalibrationStatus::Failed(
                "No model is chosen: tick at least one to calibrate.".into(),
            ));
            return;
        }
        let request = CalibrateRequest {
            run,
            pack: PACK.into(),
            settings: models.live.settings.get_untracked(),
            models: chosen,
            streams: self.streams.get_untracked(),
            recordings,
            background: None,
            measured_at: self.measured_at.get_untracked(),
        };
        match self.record_background.get_untracked() {
            true => self.record_then_send(models, request),
            false => {
                self.status
                    .set(CalibrationStatus::Preparing { done: 0, total: 1 });
                models.send(Request::Calibrate(Box::new(request)));
            }
        }
    }

    /// Records `background_s` of the visitor's surroundings, then sends the request with it.
    fn record_then_send(self, models: Models, request: CalibrateRequest) {
        let run = request.run;
        let total_s = request.streams.background_s as f64;
        let wanted = (total_s * MODEL_SAMPLE_RATE as f64) as usize;
        self.status.set(CalibrationStatus::Recording {
            heard_s: 0.0,
            total_s,
        });
        let pending = StoredValue::new_local(Some((request, Vec::with_capacity(wanted))));
        let on_chunk = move |chunk: Vec<f32>| {
            if self.run.get_value() != run {
                return;
            }
            let full = pending.try_update_value(|pending| {
                let (_, samples) = pending.as_mut()?;
                let room = wanted - samples.len();
                samples.extend_from_slice(&chunk[..chunk.len().min(room)]);
                Some(samples.len())
            });
            let Some(Some(heard)) = full else { return };
            self.status.set(CalibrationStatus::Recording {
                heard_s: heard as f64 / MODEL_SAMPLE_RATE as f64,
                total_s,
            });
            if heard < wanted {
                return;
            }
            if let Some(Some((mut request, samples))) = pending.try_update_value(Option::take) {
                // Closing the microphone drops this callback; do it after it returns.
                spawn_local(async move { self.recorder.set_value(None) });
                request.background = Some(samples);
                self.status
                    .set(CalibrationStatus::Preparing { done: 0, total: 1 });
                models.send(Request::Calibrate(Box::new(request)));
            }
        };
        spawn_local(async move {
            match Microphone::open(on_chunk).await {
                Ok(microphone) if self.run.get_value() == run => {
                    self.recorder.set_value(Some(microphone))
                }
                Ok(_) => {}
                Err(message) => self.fail(run, message),
            }
        });
    }

    /// An event of calibration `run` from the worker.
    pub fn apply(self, run: u64, event: CalibrationEvent) {
        if run != self.run.get_value() {
            return;
        }
        match event {
            CalibrationEvent::Preparing { done, total } => self
                .status
                .set(CalibrationStatus::Preparing { done, total }),
            CalibrationEvent::Streams {
                keywords,
                keyword_stream_s,
                background_s,
                other_words,
            } => self.made.set(Some(StreamsMade {
                keywords,
                keyword_stream_s,
                background_s,
                other_words,
                recorded: self.record_background.get_untracked(),
            })),
            CalibrationEvent::Reading(progress) => {
                self.status.set(CalibrationStatus::Reading(progress))
            }
            CalibrationEvent::Calibrated(calibration) => {
                self.results.update(|results| results.push(*calibration))
            }
            CalibrationEvent::LeftOut { model } => self.missing.update(|m| m.push(model)),
            CalibrationEvent::Done => self.status.set(CalibrationStatus::Done),
            CalibrationEvent::Failed { message } => {
                self.fail(run, format!("Calibration stopped: {message}"))
            }
        }
    }

    pub fn stop(self, models: Models) {
        let run = self.run.get_value();
        self.run.set_value(run + 1);
        self.recorder.set_value(None);
        models.send(Request::StopCalibrating { run });
        if self.status.get_untracked().is_running() {
            self.status.set(CalibrationStatus::Stopped);
        }
    }

    /// The worker that calibrated is gone (it failed and was started again).
    pub fn worker_restarted(self) {
        if self.status.get_untracked().is_running() {
            let run = self.run.get_value();
            self.fail(
                run,
                "The model worker was started again; press Calibrate to go on.".into(),
            );
        }
    }

    /// Per model, the thresholds chosen for the target rate.
    pub fn chosen_thresholds(self) -> BTreeMap<String, BTreeMap<String, f32>> {
        self.results.with_untracked(|results| {
            (results.iter())
                .map(|r| (r.model.clone(), r.for_target_rate.thresholds.clone()))
                .collect()
        })
    }

    fn fail(self, run: u64, message: String) {
        if run != self.run.get_value() {
            return;
        }
        self.run.set_value(run + 1);
        self.recorder.set_value(None);
        self.status.set(CalibrationStatus::Failed(message));
    }
}

impl Default for Calibration {
    fn default() -> Self {
        Self::new()
    }
}
