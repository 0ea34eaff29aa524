//! The model worker for browsers without WebGPU: the same worker built without the wgpu backend,
//! a third of the size, so it starts sooner (built by Trunk as a Web Worker, see index.html).

fn main() {
    tempokd_app::worker::register();
}
