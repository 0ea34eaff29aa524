//! The model worker's entry point (built by Trunk as a Web Worker, see index.html).

use gloo_worker::Registrable;

fn main() {
    tempokd_app::worker::alarm::install_panic_hook();
    tempokd_app::worker::ModelWorker::registrar().register();
}
