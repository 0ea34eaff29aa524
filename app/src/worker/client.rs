//! The page's side: starts the worker and passes messages to it.

use super::protocol::{Request, Response};
use super::runner::ModelWorker;
use gloo_worker::{Spawnable, WorkerBridge};

/// Where Trunk puts the worker's loader script (see index.html).
const WORKER_LOADER: &str = "./tempokd-worker_loader.js";

/// A connection to the model worker; dropping it ends the worker.
pub struct ModelClient {
    bridge: WorkerBridge<ModelWorker>,
}

impl ModelClient {
    /// Starts the worker; every response it sends goes to `on_response` on the page's thread.
    pub fn spawn(on_response: impl Fn(Response) + 'static) -> Self {
        let bridge = ModelWorker::spawner()
            .callback(on_response)
            .with_loader(true)
            // Trunk builds workers for wasm-bindgen's no-modules target, loaded by a classic script.
            .as_module(false)
            .spawn(WORKER_LOADER);
        Self { bridge }
    }

    pub fn send(&self, request: Request) {
        self.bridge.send(request);
    }
}
