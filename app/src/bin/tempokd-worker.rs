//! The model worker with WebGPU and the CPU (built by Trunk as a Web Worker, see index.html).

fn main() {
    tempokd_app::worker::register();
}
