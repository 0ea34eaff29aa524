//! The model worker's entry point (built by Trunk as a Web Worker, see index.html).

use gloo_worker::Registrable;

fn main() {
    console_error_panic_hook::set_once();
    tempokd_app::worker::ModelWorker::registrar().register();
}
