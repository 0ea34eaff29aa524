//! What the page knows about the models: the catalog, where they run, how far loading has got,
//! and the current run's readings. Responses from the worker land here.

use crate::state::calibration::Calibration;
use crate::state::catalog::CatalogEntry;
use crate::state::deployment::Deployment;
use crate::state::live::Live;
use crate::state::onnx_export::OnnxExports;
use crate::worker::alarm::{Panic, PanicAlarm};
use crate::worker::{ModelClient, ModelSource, NamedReading, Request, Response, WorkerBuild};
use leptos::prelude::*;
use serde_bytes::ByteBuf;
use tempokd::device::Placement;

/// How far loading the catalog's models has got.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadProgress {
    /// Bytes of every model's weights, from the catalog.
    pub total_bytes: u64,
    /// Bytes of weights fetched so far.
    pub fetched_bytes: u64,
    pub expected: usize,
    pub loaded: usize,
    /// Models that could not be loaded, with why.
    pub failed: Vec<(String, String)>,
    pub started_ms: f64,
    pub finished_ms: Option<f64>,
}

impl LoadProgress {
    pub fn done(&self) -> bool {
        self.expected > 0 && self.loaded + self.failed.len() >= self.expected
    }

    /// Share of the weights fetched, 0 to 1.
    pub fn fraction(&self) -> f64 {
        match self.total_bytes {
            0 => 0.0,
            total => (self.fetched_bytes as f64 / total as f64).min(1.0),
        }
    }
}

/// Where the current run is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RunProgress {
    #[default]
    Idle,
    Running {
        run: u64,
        answered: usize,
        total: usize,
    },
    Finished {
        run: u64,
        ms: f64,
    },
    Cancelled {
        run: u64,
    },
}

impl RunProgress {
    pub fn run(&self) -> u64 {
        match self {
            Self::Idle => 0,
            Self::Running { run, .. } | Self::Finished { run, .. } | Self::Cancelled { run } => {
                *run
            }
        }
    }
}

/// The page's model state, shared by the components (every field is a signal, so it is Copy).
#[derive(Clone, Copy)]
pub struct Models {
    pub catalog: RwSignal<Vec<CatalogEntry>>,
    pub device: RwSignal<Option<Placement>>,
    pub loading: RwSignal<LoadProgress>,
    pub run: RwSignal<RunProgress>,
    pub readings: RwSignal<Vec<NamedReading>>,
    /// Failures of single models on the current clip.
    pub failures: RwSignal<Vec<(String, String)>>,
    /// How many clips the models have been given, so views of one clip know a new one came.
    pub clips: RwSignal<u64>,
    /// Why the models moved to the CPU, or why the worker had to be started again.
    pub notice: RwSignal<Option<String>>,
    /// The live session, which listens with these models.
    pub live: Live,
    /// The calibration of these models' live detections.
    pub calibration: Calibration,
    /// Students written as ONNX files for the visitor.
    pub onnx: OnnxExports,
    /// The deployment card and what this browser measured of the students.
    pub deployment: Deployment,
    /// The current clip, for a model added after it arrived.
    clip: StoredValue<Option<Vec<f32>>>,
    /// Every model asked for, so a new worker can load them all again.
    sources: StoredValue<Vec<ModelSource>>,
    /// Workers started so far; the current one is number `workers`.
    workers: StoredValue<u32>,
    /// The build of the current worker.
    build: StoredValue<Option<WorkerBuild>>,
    client: StoredValue<Option<ModelClient>, LocalStorage>,
    alarm: StoredValue<Option<PanicAlarm>, LocalStorage>,
}

/// Workers started again after a panic before the page gives up and asks for a reload.
const MOST_WORKERS: u32 = 4;

impl Models {
    /// State with no worker behind it; [`Models::start`] connects one.
    pub fn new() -> Self {
        Self {
            catalog: RwSignal::new(Vec::new()),
            device: RwSignal::new(None),
            loading: RwSignal::new(LoadProgress::default()),
            run: RwSignal::new(RunProgress::Idle),
            readings: RwSignal::new(Vec::new()),
            failures: RwSignal::new(Vec::new()),
            clips: RwSignal::new(0),
            notice: RwSignal::new(None),
            live: Live::new(),
            calibration: Calibration::new(),
            onnx: OnnxExports::new(),
            deployment: Deployment::new(),
            clip: StoredValue::new(None),
            sources: StoredValue::new(Vec::new()),
            workers: StoredValue::new(0),
            build: StoredValue::new(None),
            client: StoredValue::new_local(None),
            alarm: StoredValue::new_local(None),
        }
    }

    /// A model's title from the catalog, or its name.
    pub fn title(self, name: &str) -> String {
        self.catalog.with(|catalog| {
            catalog
                .iter()
                .find(|entry| entry.name == name)
                .map_or_else(|| name.to_string(), |entry| entry.title.clone())
        })
    }

    /// Starts the worker and asks it to load `catalog`'s models, on the CPU when `cpu_reason`
    /// says why not on WebGPU.
    pub fn start(self, catalog: Vec<CatalogEntry>, cpu_reason: Option<String>) {
        self.sources
            .set_value(catalog.iter().map(CatalogEntry::source).collect());
        self.catalog.set(catalog);
        self.connect(cpu_reason);
        // A clip that came before the catalog found no worker to hear it.
        if let Some(samples) = self.clip.get_value() {
            self.analyse(samples);
        }
    }

    /// Starts a worker, ending the one before if any, and has it load every model so far.
    fn connect(self, cpu_reason: Option<String>) {
        self.loading
            .set(self.catalog.with_untracked(|catalog| LoadProgress {
                total_bytes: catalog.iter().map(|entry| entry.bytes).sum(),
                expected: catalog.len(),
                started_ms: js_sys::Date::now(),
                ..LoadProgress::default()
            }));
        let worker = self.workers.get_value() + 1;
        self.workers.set_value(worker);
        self.live.worker_restarted(self);
        self.calibration.worker_restarted();
        let cpu_reason = cpu_reason.or_else(|| {
            (!browser_offers_webgpu()).then(|| "this browser offers no WebGPU".to_string())
        });
        let build = worker_build(&cpu_reason);
        self.build.set_value(Some(build));
        let client = ModelClient::spawn(build, move |response| self.apply(response));
        if self.alarm.with_value(Option::is_none) {
            // Without the alarm a panicking worker goes unnoticed, but the models still run.
            if let Ok(alarm) = PanicAlarm::listen(move |panic| self.worker_panicked(panic)) {
                self.alarm.set_value(Some(alarm));
            }
        }
        self.alarm.with_value(|alarm| {
            if let Some(alarm) = alarm {
                client.send(Request::ReportPanics {
                    channel: alarm.name().to_string(),
                    worker,
                });
            }
        });
        client.send(Request::Load {
            models: self.sources.get_value(),
            cpu_reason,
        });
        self.client.set_value(Some(client));
    }

    /// Why the models run on the CPU, once the worker has chosen it.
    pub fn cpu_reason(self) -> Option<String> {
        match self.device.get_untracked() {
            Some(Placement::Cpu { reason }) => Some(reason),
            _ => None,
        }
    }

    /// Whether the models run on the CPU: the worker says so once it has chosen its device;
    /// the CPU-only worker can choose nothing else.
    pub fn on_cpu(self) -> bool {
        match self.device.get_untracked() {
            Some(Placement::Cpu { .. }) => true,
            Some(Placement::Gpu { .. }) => false,
            None => self.build.get_value() == Some(WorkerBuild::Cpu),
        }
    }

    /// Loads one more model beside the others and has it hear the clip on screen, if any.
    pub fn add(self, entry: CatalogEntry, source: ModelSource) {
        let name = entry.name.clone();
        self.loading.update(|loading| {
            loading.total_bytes += entry.bytes;
            loading.expected += 1;
            loading.started_ms = js_sys::Date::now();
            loading.finished_ms = None;
        });
        self.catalog.update(|catalog| catalog.push(entry));
        self.sources
            .update_value(|sources| sources.push(source.clone()));
        self.send(Request::Load {
            models: vec![source],
            // The worker has chosen its device already.
            cpu_reason: None,
        });
        let Some(samples) = self.clip.get_value() else {
            return;
        };
        match self.run.get_untracked() {
            // A run still going would miss the newcomer's place in the order: start it again.
            RunProgress::Running { .. } => self.analyse(samples),
            _ => self.start_run(samples, Some(vec![name])),
        }
    }

    /// WebGPU is gone: a new worker loads every model on the CPU and the clip is heard again.
    fn move_to_cpu(self, why: String) {
        self.notice.set(Some(format!(
            "WebGPU stopped: {why}. The models run on the CPU now."
        )));
        self.restart(why);
        if let Some(samples) = self.clip.get_value() {
            self.analyse(samples);
        }
    }

    /// A new worker on the CPU, loading every model again from the start.
    fn restart(self, cpu_reason: String) {
        self.device.set(None);
        self.onnx.abandon();
        self.deployment.abandon();
        self.connect(Some(cpu_reason));
    }

    /// A worker's panic: on WebGPU the models move to the CPU; on the CPU the same clip would
    /// fail again, so a fresh worker waits for the visitor.
    fn worker_panicked(self, panic: Panic) {
        if panic.worker != self.workers.get_value() {
            return;
        }
        let message = panic.message;
        if self.workers.get_value() >= MOST_WORKERS {
            self.notice.set(Some(format!(
                "The model worker failed again ({message}); reload the page to start afresh."
            )));
            self.client.set_value(None);
            self.stop_run();
            return;
        }
        match self.device.get_untracked() {
            Some(Placement::Gpu { .. }) => {
                self.move_to_cpu(format!("the model worker failed on it ({message})"));
            }
            placement => {
                self.notice.set(Some(format!(
                    "The model worker failed ({message}) and has been started again; \
                     choose a clip to try once more."
                )));
                self.stop_run();
                let reason = match placement {
                    Some(Placement::Cpu { reason }) => reason,
                    _ => "the model worker failed before it chose a device".to_string(),
                };
                self.restart(reason);
            }
        }
    }

    fn stop_run(self) {
        if let RunProgress::Running { run, .. } = self.run.get_untracked() {
            self.run.set(RunProgress::Cancelled { run });
        }
    }

    /// Runs every model on a 16 kHz clip; the worker takes each model as soon as it has loaded.
    pub fn analyse(self, samples: Vec<f32>) {
        self.clip.set_value(Some(samples.clone()));
        self.clips.update(|clips| *clips += 1);
        self.readings.set(Vec::new());
        self.failures.set(Vec::new());
        self.start_run(samples, None);
    }

    /// A new run of every model, or only of those in `only` (the others' readings stay).
    fn start_run(self, samples: Vec<f32>, only: Option<Vec<String>>) {
        let run = self.run.with_untracked(RunProgress::run) + 1;
        let total = match &only {
            Some(names) => names.len(),
            None => self
                .loading
                .with_untracked(|loading| loading.expected - loading.failed.len()),
        };
        self.run.set(RunProgress::Running {
            run,
            answered: 0,
            total,
        });
        self.send(Request::Analyse { run, samples, only });
    }

    pub fn cancel(self) {
        if let RunProgress::Running { run, .. } = self.run.get_untracked() {
            self.send(Request::Cancel { run });
        }
    }

    /// Where the model named `name` was loaded from.
    pub fn source(self, name: &str) -> Option<ModelSource> {
        self.sources
            .with_value(|sources| sources.iter().find(|s| s.name == name).cloned())
    }

    /// Whether the model could not be loaded.
    pub fn failed_to_load(self, name: &str) -> bool {
        (self.loading).with_untracked(|loading| loading.failed.iter().any(|(n, _)| n == name))
    }

    pub(crate) fn send(self, request: Request) {
        self.client.with_value(|client| {
            if let Some(client) = client {
                client.send(request);
            }
        });
    }

    /// Takes in one response from the worker. Responses about an older run are dropped.
    pub fn apply(self, response: Response) {
        let current = self.run.with_untracked(RunProgress::run);
        match response {
            Response::Device(placement) => self.device.set(Some(placement)),
            Response::DeviceLost { reason } => {
                self.move_to_cpu(format!("the browser took the GPU device away ({reason})"));
            }
            Response::Fetched { model, file, bytes } => {
                // Weights of unknown size would push the bar past its total.
                let sized = self.catalog.with_untracked(|catalog| {
                    catalog
                        .iter()
                        .any(|entry| entry.name == model && entry.bytes > 0)
                });
                if file == "model.safetensors" && sized {
                    self.loading
                        .update(|loading| loading.fetched_bytes += bytes);
                }
            }
            Response::Loaded { .. } => self.loading.update(|loading| loading.loaded += 1),
            Response::LoadFailed { model, message } => {
                self.loading
                    .update(|loading| loading.failed.push((model, message)));
                // A model that cannot load will not answer this run either.
                self.run.update(|run| {
                    if let RunProgress::Running { total, .. } = run {
                        *total = total.saturating_sub(1);
                    }
                });
            }
            Response::Reading { run, reading } if run == current => {
                self.show_reading(*reading);
                self.count_answer();
            }
            Response::Failed {
                run,
                model,
                message,
            } if run == current => {
                self.failures
                    .update(|failures| failures.push((model, message)));
                self.count_answer();
            }
            Response::Finished { run, ms } if run == current => {
                self.run.set(RunProgress::Finished { run, ms });
            }
            Response::Cancelled { run } if run == current => {
                self.run.set(RunProgress::Cancelled { run });
            }
            Response::Live { session, event } => self.live.apply(self, 0, session, event),
            Response::Calibration { run, event } => self.calibration.apply(run, event),
            Response::Exported { model, onnx } => {
                self.onnx.apply(model, onnx.map(ByteBuf::into_vec));
            }
            Response::Profiled { model, profile } => self.deployment.apply(model, profile),
            // About a run that a newer one replaced.
            Response::Reading { .. }
            | Response::Failed { .. }
            | Response::Finished { .. }
            | Response::Cancelled { .. } => {}
        }
        let finished_loading = self
            .loading
            .with_untracked(|loading| loading.done() && loading.finished_ms.is_none());
        if finished_loading {
            self.loading
                .update(|loading| loading.finished_ms = Some(js_sys::Date::now()));
        }
    }

    /// Places a reading among the others in the catalog's order, whatever order the worker
    /// answered in (it takes models as they finish loading).
    fn show_reading(self, reading: NamedReading) {
        let place = |name: &str| {
            self.catalog.with_untracked(|catalog| {
                catalog
                    .iter()
                    .position(|entry| entry.name == name)
                    .unwrap_or(usize::MAX)
            })
        };
        let own = place(&reading.model);
        self.readings.update(|readings| {
            let at = readings.partition_point(|shown| place(&shown.model) <= own);
            readings.insert(at, reading);
        });
    }

    fn count_answer(self) {
        self.run.update(|run| {
            if let RunProgress::Running { answered, .. } = run {
                *answered += 1;
            }
        });
    }
}

/// The worker build to start: the CPU-only one starts sooner, so it serves whenever WebGPU is
/// not going to be used.
pub fn worker_build(cpu_reason: &Option<String>) -> WorkerBuild {
    match cpu_reason {
        Some(_) => WorkerBuild::Cpu,
        None if !browser_offers_webgpu() => WorkerBuild::Cpu,
        None => WorkerBuild::WebGpu,
    }
}

/// Whether the browser has WebGPU at all (`navigator.gpu`); whether it offers an adapter, only
/// the worker can find out.
fn browser_offers_webgpu() -> bool {
    web_sys::window()
        .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined())
}

impl Default for Models {
    fn default() -> Self {
        Self::new()
    }
}
