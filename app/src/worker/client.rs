//! The page's side: starts a worker and passes messages to it.

use super::protocol::{FromWorker, Request, Response, ToWorker, TrainingEvent, TrainingRequest};
use gloo_worker::{HandlerId, Spawnable, Worker, WorkerBridge, WorkerScope};

/// Which build of the model worker to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerBuild {
    /// WebGPU, falling back to the CPU when the browser offers no adapter.
    WebGpu,
    /// burn's CPU backend only: a third of the size, so it starts sooner.
    Cpu,
}

impl WorkerBuild {
    /// Where Trunk puts each worker's loader script (see index.html).
    fn loader(self) -> &'static str {
        match self {
            Self::WebGpu => "./tempokd-worker_loader.js",
            Self::Cpu => "./tempokd-cpu-worker_loader.js",
        }
    }
}

/// The page's view of a worker: the messages it takes and gives. The worker's own side is
/// compiled only into the workers, so the page's wasm carries no models.
struct Remote;

impl Worker for Remote {
    type Message = ();
    type Input = ToWorker;
    type Output = FromWorker;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, _scope: &WorkerScope<Self>, _request: ToWorker, _caller: HandlerId) {}
}

/// Starts a worker of `build`; every message it sends goes to `on_message` on the page's thread.
fn spawn(build: WorkerBuild, on_message: impl Fn(FromWorker) + 'static) -> WorkerBridge<Remote> {
    Remote::spawner()
        .callback(on_message)
        .with_loader(true)
        // Trunk builds workers for wasm-bindgen's no-modules target, loaded by a classic script.
        .as_module(false)
        .spawn(build.loader())
}

/// A connection to a worker that loads and runs models; dropping it ends the worker.
pub struct ModelClient {
    bridge: WorkerBridge<Remote>,
}

impl ModelClient {
    /// Starts a worker; every response it sends goes to `on_response` on the page's thread.
    pub fn spawn(build: WorkerBuild, on_response: impl Fn(Response) + 'static) -> Self {
        let bridge = spawn(build, move |message| {
            // Training events answer training requests, which this client never sends.
            if let FromWorker::Models(response) = message {
                on_response(response);
            }
        });
        Self { bridge }
    }

    pub fn send(&self, request: Request) {
        self.bridge.send(ToWorker::Models(request));
    }
}

/// A connection to a worker that trains; dropping it ends the worker (and the run).
pub struct TrainingClient {
    bridge: WorkerBridge<Remote>,
}

impl TrainingClient {
    /// Starts a worker; every event of its run goes to `on_event` on the page's thread.
    pub fn spawn(build: WorkerBuild, on_event: impl Fn(TrainingEvent) + 'static) -> Self {
        let bridge = spawn(build, move |message| {
            // Model responses answer model requests, which this client never sends.
            if let FromWorker::Training(event) = message {
                on_event(*event);
            }
        });
        Self { bridge }
    }

    pub fn send(&self, request: TrainingRequest) {
        self.bridge.send(ToWorker::Training(request));
    }
}
