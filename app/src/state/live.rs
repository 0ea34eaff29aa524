//! A live session: the microphone's chunks go to the model worker (which says what each model
//! read) and onto the tape; the visitor pauses, resumes and stops it, and hiding the tab pauses
//! it. A recording can stand in for the microphone, played in real time. The models are the
//! page's loaded ones, so switching between live and clip mode loads nothing again; on the CPU
//! the students are dealt out between the page's model worker and helpers (`live_helpers`).

use super::live_helpers::{LiveHelpers, deal, helpers_wanted};
use super::live_tape::{LiveStatus, LiveTape, WorkerIndex};
use super::models::Models;
use crate::browser::audio::describe;
use crate::browser::microphone::{CHUNK_SAMPLES, Microphone};
use crate::worker::alarm::Panic;
use crate::worker::{Cadence, LiveEvent, LiveModel, ModelKind, Request};
use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::BTreeMap;
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::stream::{DetectorSettings, ListenSettings};
use wasm_bindgen_futures::JsFuture;

/// The page's live state; every field is a signal or a stored value, so it is Copy.
#[derive(Clone, Copy)]
pub struct Live {
    pub status: RwSignal<LiveStatus>,
    /// The tape, redrawn when `frame` changes (once per chunk, not once per event).
    pub tape: RwSignal<Option<LiveTape>, LocalStorage>,
    pub frame: RwSignal<u64>,
    pub settings: RwSignal<ListenSettings>,
    /// Whether the teacher reads every hop like the students, instead of each stretch of speech.
    pub teacher_every_hop: RwSignal<bool>,
    /// Per model, per keyword thresholds chosen by calibration, in place of the sliders'.
    pub calibrated: RwSignal<BTreeMap<String, BTreeMap<String, f32>>>,
    session: StoredValue<u64>,
    microphone: StoredValue<Option<Microphone>, LocalStorage>,
    /// A recording to play as the stream instead of the microphone, once the worker listens.
    recording: StoredValue<Option<Vec<f32>>>,
    /// What plays it, a chunk every tenth of a second.
    player: StoredValue<Option<Interval>, LocalStorage>,
    /// The workers that help the page's model worker listen, once a session on the CPU has
    /// started them.
    helpers: StoredValue<Option<LiveHelpers>, LocalStorage>,
}

impl Live {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(LiveStatus::Idle),
            tape: RwSignal::new_local(None),
            frame: RwSignal::new(0),
            settings: RwSignal::new(ListenSettings::default()),
            teacher_every_hop: RwSignal::new(false),
            calibrated: RwSignal::new(BTreeMap::new()),
            session: StoredValue::new(0),
            microphone: StoredValue::new_local(None),
            recording: StoredValue::new(None),
            player: StoredValue::new_local(None),
            helpers: StoredValue::new_local(None),
        }
    }

    /// Has the worker listen with every model that has not failed to load, the students at
    /// every hop and the teacher at the cadence chosen; the microphone opens once it listens.
    pub fn start(self, models: Models) {
        self.recording.set_value(None);
        self.begin(models, true);
    }

    /// As [`Live::start`], with a 16 kHz recording played as the stream in real time instead of
    /// the microphone. The worker reads every window however far behind it falls, so what it
    /// finds is what `tempokd stream` finds in the same recording.
    pub fn play(self, models: Models, samples: Vec<f32>) {
        self.recording.set_value(Some(samples));
        self.begin(models, false);
    }

    fn begin(self, models: Models, keep_up: bool) {
        let session = self.session.get_value() + 1;
        self.session.set_value(session);
        let settings = self.settings.get_untracked();
        let workers = 1 + self.ready_helpers(models);
        let dealt = deal(self.models_and_kinds(models), workers);
        let shown = (dealt.iter())
            .map(|(model, worker)| (model.name.clone(), *worker))
            .collect();
        let tape = LiveTape::new(settings.stream, settings.detector.clone(), shown).and_then(
            |mut tape| {
                tape.set_calibrated(self.calibrated.get_untracked())?;
                Ok(tape)
            },
        );
        let tape = match tape {
            Ok(tape) => tape,
            Err(error) => {
                self.status
                    .set(LiveStatus::Failed(format!("Cannot listen: {error}.")));
                return;
            }
        };
        let listening_workers = tape.workers();
        self.tape.set(Some(tape));
        self.status.set(LiveStatus::Starting(
            "Waiting for the models to load…".into(),
        ));
        for worker in listening_workers {
            let share: Vec<LiveModel> = (dealt.iter())
                .filter(|(_, w)| *w == worker)
                .map(|(model, _)| model.clone())
                .collect();
            if worker > 0 {
                let sources = share
                    .iter()
                    .filter_map(|m| models.source(&m.name))
                    .collect();
                self.helpers.with_value(|helpers| {
                    if let Some(helpers) = helpers {
                        helpers.load(worker, sources);
                    }
                });
            }
            let listen = Request::Listen {
                session,
                settings: settings.clone(),
                models: share,
                keep_up,
            };
            self.send_to(models, worker, listen);
        }
    }

    /// Starts the helpers this browser's cores call for, when the models run on the CPU and
    /// none have been started; says how many the session may deal models to.
    fn ready_helpers(self, models: Models) -> usize {
        if !models.on_cpu() {
            return 0;
        }
        let wanted = helpers_wanted();
        if wanted > 0 && self.helpers.with_value(Option::is_none) {
            let on_event = move |worker, session, event| self.apply(models, worker, session, event);
            let on_panic = move |panic| self.helper_panicked(models, panic);
            let helpers = LiveHelpers::spawn(wanted, on_event, on_panic);
            self.helpers.set_value(Some(helpers));
        }
        self.helpers
            .with_value(|helpers| helpers.as_ref().map_or(0, LiveHelpers::count))
    }

    /// A helper failed: the session it listened in cannot go on, and the next one starts fresh
    /// helpers.
    fn helper_panicked(self, models: Models, panic: Panic) {
        let session = self.session.get_value();
        // The alarm that called is the helpers'; drop them once it has returned.
        spawn_local(async move { self.helpers.set_value(None) });
        let listened = (self.tape).with_untracked(|tape| {
            (tape.as_ref()).is_some_and(|tape| tape.workers().contains(&(panic.worker as usize)))
        });
        if !listened || !self.status.get_untracked().is_open() {
            return;
        }
        self.fail(
            models,
            session,
            format!(
                "A helper of the model worker failed ({}); press Listen to go on.",
                panic.message
            ),
        );
    }

    /// Sends `request` to `worker`: the page's model worker (0) or a helper.
    fn send_to(self, models: Models, worker: WorkerIndex, request: Request) {
        match worker {
            0 => models.send(request),
            _ => self.helpers.with_value(|helpers| {
                if let Some(helpers) = helpers {
                    helpers.send(worker, request);
                }
            }),
        }
    }

    /// Sends `request` to every worker of the session (the page's model worker when there is
    /// none).
    fn send_to_all(self, models: Models, request: impl Fn() -> Request) {
        let workers = (self.tape)
            .with_untracked(|tape| tape.as_ref().map(LiveTape::workers))
            .unwrap_or_else(|| [0].into());
        for worker in workers {
            self.send_to(models, worker, request());
        }
    }

    /// Every model that has not failed to load, the students reading every hop and the teacher
    /// at the cadence chosen.
    pub fn listening_models(self, models: Models) -> Vec<LiveModel> {
        (self.models_and_kinds(models).into_iter())
            .map(|(model, _)| model)
            .collect()
    }

    fn models_and_kinds(self, models: Models) -> Vec<(LiveModel, ModelKind)> {
        let teacher_cadence = match self.teacher_every_hop.get_untracked() {
            true => Cadence::EveryHop,
            false => Cadence::PerSegment,
        };
        models.catalog.with_untracked(|catalog| {
            (catalog.iter())
                .filter(|entry| !models.failed_to_load(&entry.name))
                .map(|entry| {
                    let cadence = match entry.kind {
                        ModelKind::Teacher => teacher_cadence,
                        ModelKind::Student => Cadence::EveryHop,
                    };
                    let model = LiveModel {
                        name: entry.name.clone(),
                        cadence,
                    };
                    (model, entry.kind)
                })
                .collect()
        })
    }

    /// Plays the recording as the stream, a chunk every tenth of a second, until its end.
    fn play_recording(self, models: Models, session: u64, samples: Vec<f32>) {
        self.status.set(LiveStatus::Listening);
        let chunks: Vec<Vec<f32>> = (samples.chunks(CHUNK_SAMPLES as usize))
            .map(<[f32]>::to_vec)
            .collect();
        let next = std::cell::Cell::new(0);
        let player = Interval::new(1000 * CHUNK_SAMPLES / MODEL_SAMPLE_RATE, move || {
            if self.session.get_value() != session
                || self.status.get_untracked() != LiveStatus::Listening
            {
                return;
            }
            match chunks.get(next.get()) {
                Some(chunk) => {
                    next.set(next.get() + 1);
                    self.chunk(models, session, chunk.clone());
                }
                // Stopping drops this interval; do it after its callback returns.
                None => spawn_local(async move { self.stop(models) }),
            }
        });
        self.player.set_value(Some(player));
    }

    /// Opens the microphone once the worker listens, so the stream starts when the audio does.
    fn open_microphone(self, models: Models, session: u64) {
        self.status.set(LiveStatus::Starting(
            "Opening the microphone (allow it when the browser asks)…".into(),
        ));
        spawn_local(async move {
            let on_chunk = move |chunk: Vec<f32>| self.chunk(models, session, chunk);
            match Microphone::open(on_chunk).await {
                // A stop while the visitor was asked for the microphone leaves it closed.
                Ok(microphone) if self.session.get_value() == session => {
                    self.microphone.set_value(Some(microphone));
                    self.status.set(LiveStatus::Listening);
                }
                Ok(_) => {}
                Err(message) => self.fail(models, session, message),
            }
        });
    }

    /// A chunk of the microphone: heard once the worker listens, dropped before.
    fn chunk(self, models: Models, session: u64, chunk: Vec<f32>) {
        if self.session.get_value() != session
            || self.status.get_untracked() != LiveStatus::Listening
        {
            return;
        }
        let now = js_sys::Date::now();
        self.tape.update(|tape| {
            if let Some(tape) = tape {
                tape.heard(&chunk, now);
            }
        });
        self.send_to_all(models, || Request::Hear {
            session,
            chunk: chunk.clone(),
        });
        self.frame.update(|frame| *frame += 1);
    }

    /// An event of a session from `worker` (0 the page's model worker, 1 and on its helpers).
    pub fn apply(self, models: Models, worker: WorkerIndex, session: u64, event: LiveEvent) {
        if session != self.session.get_value() {
            return;
        }
        let now = js_sys::Date::now();
        let is_listening = move || {
            (self.tape).with_untracked(|tape| tape.as_ref().is_some_and(LiveTape::is_listening))
        };
        let was_listening = is_listening();
        // Readings and speech come several times a hop; while chunks come, the page shows
        // them with the next chunk (`frame`) instead of redrawing for each.
        let shown_with_next_chunk =
            matches!(event, LiveEvent::Read(_) | LiveEvent::SpeechEnded { .. })
                && self.status.get_untracked() == LiveStatus::Listening;
        let failure = (self.tape)
            .try_update_untracked(|tape| {
                tape.as_mut()
                    .and_then(|tape| tape.apply(worker, event, now))
            })
            .flatten();
        if !shown_with_next_chunk {
            self.tape.notify();
        }
        // The microphone (or the recording) starts once, when the last worker joins.
        let joined = !was_listening && is_listening();
        if let Some(message) = failure {
            self.fail(models, session, format!("Listening stopped: {message}."));
        } else if joined && matches!(self.status.get_untracked(), LiveStatus::Starting(_)) {
            match self.recording.get_value() {
                Some(samples) => self.play_recording(models, session, samples),
                None => self.open_microphone(models, session),
            }
        }
    }

    /// Pauses capture; `why` says why when the visitor did not ask.
    pub fn pause(self, models: Models, why: Option<String>) {
        if self.status.get_untracked() != LiveStatus::Listening {
            return;
        }
        self.status.set(LiveStatus::Paused(why));
        // Readings since the last chunk were taken in untold (see `apply`).
        self.tape.notify();
        self.steer_microphone(models, Microphone::pause);
    }

    pub fn resume(self, models: Models) {
        if !matches!(self.status.get_untracked(), LiveStatus::Paused(_)) {
            return;
        }
        self.status.set(LiveStatus::Listening);
        self.steer_microphone(models, Microphone::resume);
    }

    /// Ends the session: the microphone is released and the tape and log stay on screen.
    pub fn stop(self, models: Models) {
        let session = self.session.get_value();
        self.session.set_value(session + 1);
        self.microphone.set_value(None);
        self.player.set_value(None);
        self.send_to_all(models, || Request::StopListening { session });
        if self.status.get_untracked().is_open() {
            self.status.set(LiveStatus::Stopped);
        }
        // Readings since the last chunk were taken in untold (see `apply`).
        self.tape.notify();
    }

    /// The worker that listened is gone (it failed and was started again); the helpers go
    /// with it, as the models may have moved to another device.
    pub fn worker_restarted(self, models: Models) {
        self.helpers.set_value(None);
        if self.status.get_untracked().is_open() {
            let session = self.session.get_value();
            self.fail(
                models,
                session,
                "The model worker was started again; press Listen to go on.".into(),
            );
        }
    }

    /// New detector settings, applied to the readings on the tape and all later ones.
    pub fn set_detector(self, detector: DetectorSettings) {
        if detector.check().is_err() {
            return;
        }
        self.settings
            .update(|settings| settings.detector = detector.clone());
        self.tape.update(|tape| {
            if let Some(tape) = tape {
                // Checked above.
                let _ = tape.set_detector(detector);
            }
        });
        self.frame.update(|frame| *frame += 1);
    }

    /// Per model thresholds chosen by calibration (none to go back to the sliders'), applied
    /// to the readings on the tape and all later ones, this session and the next.
    pub fn set_calibrated(self, calibrated: BTreeMap<String, BTreeMap<String, f32>>) {
        let applied = self
            .tape
            .try_update(|tape| match tape {
                Some(tape) => tape.set_calibrated(calibrated.clone()),
                None => Ok(()),
            })
            .unwrap_or(Ok(()));
        // Calibration chooses thresholds from 0 to 1, which every detector takes.
        if applied.is_ok() {
            self.calibrated.set(calibrated);
            self.frame.update(|frame| *frame += 1);
        }
    }

    fn fail(self, models: Models, session: u64, message: String) {
        if session != self.session.get_value() {
            return;
        }
        self.stop(models);
        self.status.set(LiveStatus::Failed(message));
    }

    /// Pauses or resumes the open microphone; a failure ends the session.
    fn steer_microphone(self, models: Models, steer: fn(&Microphone) -> Result<JsFuture, String>) {
        let session = self.session.get_value();
        let steered = self
            .microphone
            .with_value(|microphone| microphone.as_ref().map(steer));
        let fail = move |message: String| {
            self.fail(
                models,
                session,
                format!("The microphone failed: {message}."),
            )
        };
        match steered {
            Some(Ok(done)) => spawn_local(async move {
                if let Err(error) = done.await {
                    fail(describe(&error));
                }
            }),
            Some(Err(message)) => fail(message),
            None => {}
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}
