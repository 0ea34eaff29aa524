//! The worker's side of live listening: the stream's chunks go into the engine's
//! [`LiveListener`], which says what each model must read; the jobs are read one at a time, in
//! the order they were handed out, and each reading goes back to the page as it is made.

use super::protocol::{LiveEvent, LiveModel, LiveReading, MAX_LAG_S, Response, TimeMap};
use super::yielding::yield_to_messages;
use crate::browser::wasm_memory_bytes;
use futures::future::{LocalBoxFuture, Shared};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::model::{Model, ReadingRequest};
use tempokd::stream::{Cadence, Job, ListenSettings, LiveListener, StreamError, all_finite};
use wasm_bindgen_futures::spawn_local;

/// Milliseconds of reading between two pauses that let the stream's chunks in.
const SLICE_MS: f64 = 30.0;

/// A model being loaded, or loaded; `None` once loading has failed.
pub type PendingModel = Shared<LocalBoxFuture<'static, Option<Rc<Model>>>>;

/// The live session the page wants, and the one listening.
#[derive(Default)]
pub struct Live {
    wanted: Cell<u64>,
    session: RefCell<Option<Session>>,
}

struct Session {
    id: u64,
    listener: LiveListener,
    models: Vec<(LiveModel, Rc<Model>)>,
    queue: VecDeque<Job>,
    /// Whether a task is reading the queue.
    draining: bool,
    /// Whether late windows are dropped (see [`MAX_LAG_S`]).
    keep_up: bool,
    /// The stream's audio come and not yet pushed to the listener, when the session does not
    /// keep up: it reads every window, and pushes audio only as far as the next job once every
    /// job handed out is read, so it reads the windows `tempokd stream` reads, early ones too.
    unheard: VecDeque<f32>,
    /// Windows dropped per model.
    skipped: Vec<usize>,
    /// The end of the last stretch of speech told to the page.
    speech_told_until: f64,
}

impl Session {
    /// Takes the stream's next chunk: what is to be told of it.
    fn take(&mut self, chunk: &[f32]) -> Result<Vec<LiveEvent>, StreamError> {
        if self.keep_up {
            let jobs = self.listener.push(chunk)?;
            self.queue.extend(jobs);
            self.catch_up();
            return Ok(self.ended_speech());
        }
        let pushed = self.listener.listener().windower().pushed();
        all_finite(chunk, pushed + self.unheard.len() as u64)?;
        self.unheard.extend(chunk);
        // A job being read (a read on the GPU pauses, letting chunks in) has left the queue
        // before its reading is placed; the drain pushes once it is.
        if self.draining {
            return Ok(Vec::new());
        }
        self.push_unheard()
    }

    /// Pushes the audio held back, as far as the next job at most, once every job handed out
    /// is read and placed: what is to be told of it.
    fn push_unheard(&mut self) -> Result<Vec<LiveEvent>, StreamError> {
        while self.queue.is_empty() && !self.unheard.is_empty() {
            let (front, _) = self.unheard.as_slices();
            let (jobs, taken) = self.listener.push_to_next_job(front)?;
            self.unheard.drain(..taken);
            self.queue.extend(jobs);
        }
        Ok(self.ended_speech())
    }

    /// Seconds of the stream come to the worker, pushed or held back.
    fn stream_s(&self) -> f64 {
        let held_back = self.unheard.len() as f64 / MODEL_SAMPLE_RATE as f64;
        self.listener.listener().windower().heard_s() + held_back
    }

    /// Drops the every-hop windows the stream has left more than [`MAX_LAG_S`] behind, when the
    /// session keeps up.
    fn catch_up(&mut self) {
        if !self.keep_up {
            return;
        }
        let heard_s = self.listener.listener().windower().heard_s();
        let (models, skipped) = (&self.models, &mut self.skipped);
        self.queue.retain(|job| {
            let late = models[job.model].0.cadence == Cadence::EveryHop
                && heard_s - job.ready_s > MAX_LAG_S;
            if late {
                skipped[job.model] += 1;
            }
            !late
        });
    }

    /// The stretches of speech that ended since the last call.
    fn ended_speech(&mut self) -> Vec<LiveEvent> {
        let mut events = Vec::new();
        for segment in self.listener.listener().vad().segments() {
            let (Some(end_s), Some(_)) = (segment.end_s, segment.closed_s) else {
                continue;
            };
            if end_s > self.speech_told_until {
                self.speech_told_until = end_s;
                events.push(LiveEvent::SpeechEnded {
                    start_s: segment.start_s,
                    end_s,
                });
            }
        }
        events
    }
}

impl Live {
    /// Starts session `session` once its models have loaded, ending any session before it.
    pub fn listen(
        self: &Rc<Self>,
        session: u64,
        settings: ListenSettings,
        models: Vec<(LiveModel, PendingModel)>,
        keep_up: bool,
        reply: impl Fn(Response) + Clone + 'static,
    ) {
        self.wanted.set(session);
        self.session.replace(None);
        let live = self.clone();
        spawn_local(async move {
            let tell = |event| reply(Response::Live { session, event });
            let mut loaded = Vec::new();
            let mut missing = Vec::new();
            for (model, pending) in models {
                match pending.await {
                    Some(loaded_model) => loaded.push((model, loaded_model)),
                    None => missing.push(model.name),
                }
            }
            // A newer session or a stop came while the models loaded.
            if live.wanted.get() != session {
                return;
            }
            // A worker may have been dealt only models that failed to load; whether any model
            // of the session listens, the page knows once every worker has answered.
            if loaded.is_empty() {
                tell(LiveEvent::Listening {
                    models: Vec::new(),
                    missing,
                });
                return;
            }
            let cadences: Vec<Cadence> = loaded.iter().map(|(model, _)| model.cadence).collect();
            match LiveListener::new(&settings, &cadences) {
                Ok(listener) => {
                    let described = (loaded.iter())
                        .map(|(model, m)| (model.clone(), m.labels().to_vec()))
                        .collect();
                    live.session.replace(Some(Session {
                        id: session,
                        listener,
                        skipped: vec![0; loaded.len()],
                        models: loaded,
                        queue: VecDeque::new(),
                        draining: false,
                        keep_up,
                        unheard: VecDeque::new(),
                        speech_told_until: 0.0,
                    }));
                    tell(LiveEvent::Listening {
                        models: described,
                        missing,
                    });
                }
                Err(error) => tell(LiveEvent::Failed {
                    message: error.to_string(),
                }),
            }
        });
    }

    /// The next chunk of session `session`'s stream; chunks of an ended session are dropped.
    pub fn hear(
        self: &Rc<Self>,
        session: u64,
        chunk: &[f32],
        reply: impl Fn(Response) + Clone + 'static,
    ) {
        let tell = |event| reply(Response::Live { session, event });
        let mut slot = self.session.borrow_mut();
        let Some(live) = slot.as_mut().filter(|live| live.id == session) else {
            return;
        };
        match live.take(chunk) {
            Ok(events) => events.into_iter().for_each(tell),
            Err(error) => {
                *slot = None;
                drop(slot);
                tell(LiveEvent::Failed {
                    message: error.to_string(),
                });
                return;
            }
        }
        if !live.draining && !live.queue.is_empty() {
            live.draining = true;
            drop(slot);
            spawn_local(self.clone().drain(session, reply));
        }
    }

    pub fn stop(&self, session: u64) {
        if self.wanted.get() == session {
            self.wanted.set(session + 1);
            self.session.replace(None);
        }
    }

    /// Reads the queue's jobs one by one until it is empty or the session has ended.
    async fn drain(self: Rc<Self>, session: u64, reply: impl Fn(Response)) {
        let mut slice_started = js_sys::Date::now();
        loop {
            // A model's read does not yield on the CPU: without a pause the stream's next chunks
            // would wait in the worker's inbox until the queue is empty, the session would not
            // know how far the stream has gone, and no late window would be dropped.
            if js_sys::Date::now() - slice_started > SLICE_MS {
                yield_to_messages().await;
                slice_started = js_sys::Date::now();
            }
            let next = {
                let mut slot = self.session.borrow_mut();
                let Some(live) = slot.as_mut().filter(|live| live.id == session) else {
                    return;
                };
                live.catch_up();
                match live.push_unheard() {
                    Ok(events) => {
                        for event in events {
                            reply(Response::Live { session, event });
                        }
                    }
                    Err(error) => {
                        *slot = None;
                        drop(slot);
                        let event = LiveEvent::Failed {
                            message: error.to_string(),
                        };
                        reply(Response::Live { session, event });
                        return;
                    }
                }
                let Some(job) = live.queue.pop_front() else {
                    live.draining = false;
                    return;
                };
                let behind_s = live.stream_s() - job.ready_s;
                let (model, loaded) = live.models[job.model].clone();
                (job, model, loaded, behind_s)
            };
            let (job, model, loaded, behind_s) = next;
            let started = js_sys::Date::now();
            let read = loaded.read(&job.samples, &ReadingRequest::default()).await;
            let ms = js_sys::Date::now() - started;
            let event = match read {
                Ok(read) => {
                    let (reading, skipped) = {
                        let mut slot = self.session.borrow_mut();
                        let Some(live) = slot.as_mut().filter(|live| live.id == session) else {
                            return;
                        };
                        let reading = live.listener.place(
                            &job,
                            loaded.labels(),
                            read.prediction.probs,
                            Some(&read.map),
                        );
                        // An early window whose audio came while this model read.
                        let due = live.listener.due();
                        live.queue.extend(due);
                        (reading, live.skipped[job.model])
                    };
                    let map = TimeMap {
                        start_s: read.map.start_s + job.start_s as f32,
                        ..read.map
                    };
                    LiveEvent::Read(Box::new(LiveReading {
                        model: model.name,
                        reading,
                        map,
                        ms,
                        behind_s,
                        skipped,
                        worker_memory_bytes: wasm_memory_bytes(),
                    }))
                }
                Err(error) => {
                    let current = self.session.borrow().as_ref().map(|live| live.id);
                    if current != Some(session) {
                        return;
                    }
                    self.session.replace(None);
                    reply(Response::Live {
                        session,
                        event: LiveEvent::Failed {
                            message: format!("{} could not read the stream: {error}", model.name),
                        },
                    });
                    return;
                }
            };
            reply(Response::Live { session, event });
        }
    }
}
