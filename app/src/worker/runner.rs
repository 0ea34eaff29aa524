//! The worker's side: owns the device and the models, loads them all at once and runs them on
//! each clip as they become ready (in the page's order once all have loaded), answering one
//! model at a time so the page draws rows as they come.

use super::alarm;
use super::device::{self, PendingDevice};
use super::model_files::model_files;
use super::protocol::{
    ModelKind, ModelSource, Reading, Request, Response, Steer, TeacherAttention, TimeMap,
};
use super::trainer;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use gloo_worker::{HandlerId, Registrable, Worker, WorkerScope};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use tempokd::device::ComputeDevice;
use tempokd::kd;
use tempokd::prediction::Prediction;
use tempokd::students::{AttentionRequest, Student, StudentFiles};
use tempokd::teacher::{AttentionDetail, Teacher, TeacherFiles};
use wasm_bindgen_futures::spawn_local;

/// A loaded model, shared so a run can hold it across awaits while new requests arrive.
#[derive(Clone)]
enum Model {
    Teacher(Rc<Teacher>),
    Student(Rc<Student>),
}

/// A model being loaded, or loaded: `None` once loading has failed (and been reported).
type PendingModel = Shared<LocalBoxFuture<'static, Option<Model>>>;
#[derive(Default)]
struct State {
    /// Chosen once: wgpu can be initialised only once per worker.
    device: Option<PendingDevice>,
    /// Models by name, in the order the page listed them.
    models: Vec<(String, PendingModel)>,
    /// The run allowed to go on; a newer run or a cancel changes it.
    current_run: Option<u64>,
}

pub struct ModelWorker {
    state: Rc<RefCell<State>>,
    /// The last word from the page on the training run.
    steering: Rc<Cell<Steer>>,
}

/// Starts the worker's side in this Web Worker: panics are reported to the page, and requests
/// are taken from now on.
pub fn register() {
    alarm::install_panic_hook();
    ModelWorker::registrar().register();
}

impl Worker for ModelWorker {
    type Message = ();
    type Input = Request;
    type Output = Response;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self {
            state: Rc::default(),
            steering: Rc::new(Cell::new(Steer::Resume)),
        }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: Request, caller: HandlerId) {
        let state = self.state.clone();
        let reply = {
            let scope = scope.clone();
            move |response: Response| scope.respond(caller, response)
        };
        match request {
            Request::ReportPanics { channel, worker } => alarm::ring_on(&channel, worker),
            Request::Load { models, cpu_reason } => load(&state, models, cpu_reason, reply),
            Request::Analyse { run, samples, only } => {
                state.borrow_mut().current_run = Some(run);
                spawn_local(analyse(state, run, samples, only, reply));
            }
            Request::Cancel { run } => {
                let mut state = state.borrow_mut();
                if state.current_run == Some(run) {
                    state.current_run = None;
                }
            }
            Request::Train(request) => {
                let device = device(&state, request.cpu_reason.clone(), reply.clone());
                self.steering.set(Steer::Resume);
                spawn_local(trainer::train(
                    *request,
                    device,
                    self.steering.clone(),
                    reply,
                ));
            }
            Request::SteerTraining(steer) => self.steering.set(steer),
        }
    }
}

/// Starts loading every model at once (after the device is chosen) and registers each at
/// once, so a run asked for before loading ends waits for each model in turn.
fn load(
    state: &Rc<RefCell<State>>,
    sources: Vec<ModelSource>,
    cpu_reason: Option<String>,
    reply: impl Fn(Response) + Clone + 'static,
) {
    let device = device(state, cpu_reason, reply.clone());
    for source in sources {
        let name = source.name.clone();
        let pending = load_model(source, device.clone(), reply.clone())
            .boxed_local()
            .shared();
        // Loading goes on whether or not a run is waiting for this model.
        spawn_local(pending.clone().map(|_| ()));
        let mut state = state.borrow_mut();
        state.models.retain(|(known, _)| *known != name);
        state.models.push((name, pending));
    }
}

/// The worker's device, chosen on first use.
fn device(
    state: &Rc<RefCell<State>>,
    cpu_reason: Option<String>,
    reply: impl Fn(Response) + 'static,
) -> PendingDevice {
    let existing = state.borrow().device.clone();
    existing.unwrap_or_else(|| {
        let device = device::pending(cpu_reason, reply);
        state.borrow_mut().device = Some(device.clone());
        device
    })
}

/// One model on the chosen device, reported as loaded or failed.
async fn load_model(
    source: ModelSource,
    device: PendingDevice,
    reply: impl Fn(Response),
) -> Option<Model> {
    let device = device.await;
    let name = source.name.clone();
    match fetch_model(source, &device, &reply).await {
        Ok(model) => {
            reply(Response::Loaded { model: name });
            Some(model)
        }
        Err(message) => {
            reply(Response::LoadFailed {
                model: name,
                message,
            });
            None
        }
    }
}

/// Fetches one model's files (unless the visitor picked them) and builds it on `device`.
async fn fetch_model(
    source: ModelSource,
    device: &ComputeDevice,
    reply: &impl Fn(Response),
) -> Result<Model, String> {
    let kind = source.kind;
    let (config, weights, preprocessor) = model_files(source, reply).await?;
    match kind {
        ModelKind::Teacher => {
            let files = TeacherFiles {
                config: &config,
                preprocessor: preprocessor.as_deref(),
                weights: &weights,
            };
            let teacher = Teacher::load(files, &device.device).map_err(|e| e.to_string())?;
            Ok(Model::Teacher(Rc::new(teacher)))
        }
        ModelKind::Student => {
            let files = StudentFiles {
                config: &config,
                weights: &weights,
            };
            let student = Student::load(files, &device.device).map_err(|e| e.to_string())?;
            Ok(Model::Student(Rc::new(student)))
        }
    }
}

/// Runs every model (or those named in `only`) on the clip, each once it has loaded: the first
/// loaded model still waiting goes next, in the page's order among those ready, so the first
/// map does not wait for the largest download. Stops early when the run is replaced or
/// cancelled.
async fn analyse(
    state: Rc<RefCell<State>>,
    run: u64,
    samples: Vec<f32>,
    only: Option<Vec<String>>,
    reply: impl Fn(Response),
) {
    let started = js_sys::Date::now();
    let mut waiting = state.borrow().models.clone();
    if let Some(names) = only {
        waiting.retain(|(name, _)| names.contains(name));
    }
    let still_wanted = || state.borrow().current_run == Some(run);
    while !waiting.is_empty() {
        if !still_wanted() {
            reply(Response::Cancelled { run });
            return;
        }
        let (name, loaded) = next_ready(&mut waiting).await;
        // A model that failed to load was reported then; the others go on.
        let Some(model) = loaded else {
            continue;
        };
        // Loading may have taken a while, and the run been replaced meanwhile.
        if !still_wanted() {
            reply(Response::Cancelled { run });
            return;
        }
        let model_started = js_sys::Date::now();
        match model.hear(&samples).await {
            Ok(heard) => reply(Response::Reading {
                run,
                reading: Box::new(Reading {
                    model: name,
                    labels: heard.labels,
                    probs: heard.prediction.probs,
                    top: heard.prediction.top,
                    map: heard.map,
                    teacher: heard.teacher,
                    ms: js_sys::Date::now() - model_started,
                }),
            }),
            Err(message) => reply(Response::Failed {
                run,
                model: name,
                message,
            }),
        }
    }
    reply(Response::Finished {
        run,
        ms: js_sys::Date::now() - started,
    });
}

/// Takes from `waiting` (not empty) the first model, in its order, whose loading has ended, or
/// else waits for the next one to end; `None` when that model failed to load.
async fn next_ready(waiting: &mut Vec<(String, PendingModel)>) -> (String, Option<Model>) {
    let index = match waiting.iter().position(|(_, model)| model.peek().is_some()) {
        Some(index) => index,
        None => {
            let loading = waiting.iter().map(|(_, model)| model.clone());
            futures::future::select_all(loading).await.1
        }
    };
    let (name, model) = waiting.remove(index);
    (name, model.await)
}

/// What one model heard in a clip, before the run names and times it.
struct Heard {
    labels: Vec<String>,
    prediction: Prediction,
    map: TimeMap,
    teacher: Option<TeacherAttention>,
}

impl Model {
    async fn hear(&self, samples: &[f32]) -> Result<Heard, String> {
        match self {
            Model::Teacher(teacher) => hear_teacher(teacher, samples).await,
            Model::Student(student) => hear_student(student, samples).await,
        }
    }
}

async fn hear_teacher(teacher: &Teacher, samples: &[f32]) -> Result<Heard, String> {
    let inference = teacher
        .infer(samples, AttentionDetail::PerHead)
        .await
        .map_err(|e| e.to_string())?;
    let layers = inference
        .attentions
        .ok_or("the teacher returned no attention maps")?;
    let settings = teacher.default_rollout();
    let rollout = kd::rollout(&layers, &settings).map_err(|e| e.to_string())?;
    Ok(Heard {
        labels: teacher.labels().to_vec(),
        prediction: inference.prediction,
        map: TimeMap {
            start_s: 0.0,
            frame_s: inference.frame_s,
            values: rollout,
        },
        teacher: Some(TeacherAttention {
            layers,
            rollout: settings,
        }),
    })
}

async fn hear_student(student: &Student, samples: &[f32]) -> Result<Heard, String> {
    let inference = student
        .infer(samples, AttentionRequest::Mean)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Heard {
        labels: student.labels().to_vec(),
        prediction: inference.prediction,
        map: TimeMap {
            start_s: inference.axis.start_s,
            frame_s: inference.axis.frame_s,
            values: inference.attention.unwrap_or_default(),
        },
        teacher: None,
    })
}
