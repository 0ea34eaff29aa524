//! The page's side: starts a worker and passes messages to it.

use super::protocol::{Request, Response};
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

/// The page's view of the model worker: the messages it takes and gives. The worker's own side
/// is compiled only into the workers, so the page's wasm carries no models.
struct Remote;

impl Worker for Remote {
    type Message = ();
    type Input = Request;
    type Output = Response;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Self
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _message: ()) {}

    fn received(&mut self, _scope: &WorkerScope<Self>, _request: Request, _caller: HandlerId) {}
}

/// A connection to the model worker; dropping it ends the worker.
pub struct ModelClient {
    bridge: WorkerBridge<Remote>,
}

impl ModelClient {
    /// Starts a worker; every response it sends goes to `on_response` on the page's thread.
    pub fn spawn(build: WorkerBuild, on_response: impl Fn(Response) + 'static) -> Self {
        let bridge = Remote::spawner()
            .callback(on_response)
            .with_loader(true)
            // Trunk builds workers for wasm-bindgen's no-modules target, loaded by a classic script.
            .as_module(false)
            .spawn(build.loader());
        Self { bridge }
    }

    pub fn send(&self, request: Request) {
        self.bridge.send(request);
    }
}
