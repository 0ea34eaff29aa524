//! The worker's side: owns the device and the models, loads them all at once and runs them on
//! each clip as they become ready (in the page's order once all have loaded), answering one
//! model at a time so the page draws rows as they come.

use super::alarm;
use super::calibrating;
use super::device::{self, PendingDevice};
use super::listening::{Live, PendingModel};
use super::model_files::model_files;
use super::protocol::{
    BrowserProfile, FromWorker, KeyedMaps, LiveModel, ModelKind, ModelSource, NamedReading,
    Request, Response, Steer, ToWorker, TrainingRequest, Verdict,
};
use super::trainer;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::future::FutureExt;
use gloo_worker::{HandlerId, Registrable, Worker, WorkerScope};
use serde_bytes::ByteBuf;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use tempokd::device::ComputeDevice;
use tempokd::export::{deployment_cost, student_onnx, time_one_second};
use tempokd::model::{FolderFiles, Model, ReadingRequest};
use tempokd::students::{Precision, Student, StudentFiles};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

#[derive(Default)]
struct State {
    /// Chosen once: wgpu can be initialised only once per worker.
    device: Option<PendingDevice>,
    /// Models by name, in the order the page listed them.
    models: Vec<(String, PendingModel)>,
    /// The run allowed to go on; a newer run or a cancel changes it.
    current_run: Option<u64>,
    live: Rc<Live>,
    /// The calibration allowed to go on; a newer one or a stop changes it.
    calibration: Rc<Cell<Option<u64>>>,
    /// Held by the student being measured, so no two timings share the worker.
    profiling: Rc<futures::lock::Mutex<()>>,
}

pub struct ModelWorker {
    state: Rc<RefCell<State>>,
    /// The last word from the page on the training run.
    steering: Rc<Cell<Steer>>,
    /// The page's verdicts on the training run's checked steps.
    verdicts: Option<UnboundedSender<Verdict>>,
    /// The other run's maps, to the run with KD.
    handing: Option<UnboundedSender<KeyedMaps>>,
}

/// Starts the worker's side in this Web Worker: panics are reported to the page, and requests
/// are taken from now on.
pub fn register() {
    alarm::install_panic_hook();
    ModelWorker::registrar().register();
}

impl Worker for ModelWorker {
    type Message = ();
    type Input = ToWorker;
    type Output = FromWorker;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self {
            state: Rc::default(),
            steering: Rc::new(Cell::new(Steer::Resume)),
            verdicts: None,
            handing: None,
        }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: ToWorker, caller: HandlerId) {
        let scope = scope.clone();
        match request {
            ToWorker::Models(request) => {
                let reply = move |response| scope.respond(caller, FromWorker::Models(response));
                self.models(request, reply);
            }
            ToWorker::Training(TrainingRequest::Train(request)) => {
                let report =
                    move |event| scope.respond(caller, FromWorker::Training(Box::new(event)));
                // The training client learns the device from the run's start, not from here.
                let device = device(&self.state, request.cpu_reason.clone(), |_| {});
                self.steering.set(Steer::Resume);
                let (verdicts, settling) = unbounded();
                self.verdicts = Some(verdicts);
                let (handing, handed_maps) = unbounded();
                self.handing = Some(handing);
                spawn_local(trainer::train(
                    *request,
                    device,
                    trainer::Steering {
                        steer: self.steering.clone(),
                        verdicts: settling,
                        handed_maps,
                    },
                    report,
                ));
            }
            ToWorker::Training(TrainingRequest::Steer(steer)) => {
                self.steering.set(steer);
                if steer == Steer::Stop {
                    // A step waiting for its verdict is dropped: the run stops where it is.
                    self.settle(Verdict::Cancel);
                    // A run waiting for the other's maps hears they will not come.
                    self.handing = None;
                }
            }
            ToWorker::Training(TrainingRequest::Settle(verdict)) => self.settle(verdict),
            ToWorker::Training(TrainingRequest::TakeMaps(maps)) => {
                if let Some(handing) = &self.handing {
                    // The run may have ended already; nothing waits then.
                    let _ = handing.unbounded_send(maps);
                }
            }
        }
    }
}

impl ModelWorker {
    fn settle(&self, verdict: Verdict) {
        if let Some(verdicts) = &self.verdicts {
            // The run may have ended already; nothing waits then.
            let _ = verdicts.unbounded_send(verdict);
        }
    }

    fn models(&self, request: Request, reply: impl Fn(Response) + Clone + 'static) {
        let state = self.state.clone();
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
            Request::Listen {
                session,
                settings,
                models,
                keep_up,
            } => {
                let state = state.borrow();
                let pending = state.pending(models);
                state
                    .live
                    .listen(session, settings, pending, keep_up, reply);
            }
            Request::Hear { session, chunk } => {
                let live = state.borrow().live.clone();
                live.hear(session, &chunk, reply);
            }
            Request::StopListening { session } => state.borrow().live.stop(session),
            Request::Calibrate(request) => {
                let state = state.borrow();
                state.calibration.set(Some(request.run));
                let pending = state.pending(request.models.clone());
                let wanted = state.calibration.clone();
                spawn_local(calibrating::calibrate(*request, pending, wanted, reply));
            }
            Request::StopCalibrating { run } => {
                let state = state.borrow();
                if state.calibration.get() == Some(run) {
                    state.calibration.set(None);
                }
            }
            Request::ExportOnnx { source, precision } => spawn_local(async move {
                let model = source.name.clone();
                let onnx = export_onnx(source, precision).await.map(ByteBuf::from);
                reply(Response::Exported { model, onnx });
            }),
            Request::Profile { source } => {
                let (device, turns) = {
                    let state = state.borrow();
                    (state.device.clone(), state.profiling.clone())
                };
                spawn_local(async move {
                    let _turn = turns.lock().await;
                    let model = source.name.clone();
                    let profile = profile(source, device).await;
                    reply(Response::Profiled { model, profile });
                });
            }
        }
    }
}

impl State {
    /// The named models, each as it loads; a model the page names but never asked to load
    /// counts as one that failed.
    fn pending(&self, models: Vec<LiveModel>) -> Vec<(LiveModel, PendingModel)> {
        let failed: PendingModel = futures::future::ready(None).boxed_local().shared();
        (models.into_iter())
            .map(|model| {
                let loading = (self.models.iter())
                    .find(|(name, _)| *name == model.name)
                    .map_or_else(|| failed.clone(), |(_, pending)| pending.clone());
                (model, loading)
            })
            .collect()
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
) -> Option<Rc<Model>> {
    let device = device.await;
    let name = source.name.clone();
    match fetch_model(source, &device, &reply).await {
        Ok(model) => {
            reply(Response::Loaded { model: name });
            Some(Rc::new(model))
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
    let offered_as = source.kind;
    let (config, weights, preprocessor) = model_files(source, reply).await?;
    let files = FolderFiles {
        config: &config,
        weights: &weights,
        preprocessor: preprocessor.as_deref(),
    };
    let model = Model::load(files, &device.device).map_err(|e| e.to_string())?;
    // The page fetched its files as for the kind it offered; a config of the other kind would
    // be shown as what it is not.
    if model.kind() != offered_as {
        return Err(format!(
            "its config.json describes a {}, but it was offered as a {}",
            model.kind().name(),
            offered_as.name()
        ));
    }
    Ok(model)
}

/// A student for work beside the loaded models: its files fetched without reporting to the page
/// (they are not a model loading), its config and weights kept for building it again.
async fn student_files(source: ModelSource) -> Result<(String, Vec<u8>), String> {
    if source.kind != ModelKind::Student {
        return Err(
            "only students are exported or measured here; the teacher is a Hugging Face \
             folder already"
                .into(),
        );
    }
    let (config, weights, _) = model_files(source, &|_| {}).await?;
    Ok((config, weights))
}

fn build_student(
    (config, weights): &(String, Vec<u8>),
    device: &ComputeDevice,
) -> Result<Student, String> {
    let files = StudentFiles { config, weights };
    Student::load(files, &device.device).map_err(|e| e.to_string())
}

/// A student's ONNX file, built on the CPU whatever device the loaded models use.
async fn export_onnx(source: ModelSource, precision: Precision) -> Result<Vec<u8>, String> {
    let files = student_files(source).await?;
    let device = ComputeDevice::cpu("exporting reads the weights on the CPU");
    let student = build_student(&files, &device)?;
    let onnx = student_onnx(&student, precision)
        .await
        .map_err(|e| e.to_string())?;
    Ok(onnx.bytes)
}

/// What a student costs in this browser: built on the CPU apart from the loaded models and
/// timed there, then on the models' device too when that is WebGPU.
async fn profile(
    source: ModelSource,
    device: Option<PendingDevice>,
) -> Result<BrowserProfile, String> {
    let files = student_files(source).await?;
    let cpu = ComputeDevice::cpu("the CPU is measured apart from the models' device");
    let student = build_student(&files, &cpu)?;
    let cost = deployment_cost(&student).await.map_err(|e| e.to_string())?;
    let cpu_ms = time_one_second(&student, now_ms)
        .await
        .map_err(|e| e.to_string())?;
    drop(student);
    let webgpu_ms = match device {
        Some(pending) => {
            let device = pending.await;
            match device.is_gpu() {
                true => Some(time_on(&files, &device).await),
                false => None,
            }
        }
        None => None,
    };
    Ok(BrowserProfile {
        cost,
        cpu_ms,
        webgpu_ms,
    })
}

async fn time_on(files: &(String, Vec<u8>), device: &ComputeDevice) -> Result<f64, String> {
    let student = build_student(files, device)?;
    time_one_second(&student, now_ms)
        .await
        .map_err(|e| e.to_string())
}

/// The worker's clock in milliseconds, finer than `Date`'s where the browser allows.
fn now_ms() -> f64 {
    js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .performance()
        .map_or_else(js_sys::Date::now, |performance| performance.now())
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
        // The teacher's every head, so the page can roll its map out again with other settings.
        let request = ReadingRequest {
            heads: model.kind() == ModelKind::Teacher,
            rollout: None,
        };
        match model.read(&samples, &request).await {
            Ok(read) => reply(Response::Reading {
                run,
                reading: Box::new(NamedReading {
                    model: name,
                    labels: model.labels().to_vec(),
                    probs: read.prediction.probs,
                    top: read.prediction.top,
                    map: read.map,
                    teacher: read.teacher,
                    ms: js_sys::Date::now() - model_started,
                }),
            }),
            Err(error) => reply(Response::Failed {
                run,
                model: name,
                message: error.to_string(),
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
async fn next_ready(waiting: &mut Vec<(String, PendingModel)>) -> (String, Option<Rc<Model>>) {
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
