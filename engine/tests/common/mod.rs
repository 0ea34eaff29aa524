//! Helpers shared by the integration tests that run both natively and in headless Chromium.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

/// One async test body for both targets: blocked on natively, awaited by the browser's runner.
#[macro_export]
macro_rules! async_test {
    ($(#[doc = $doc:expr])* $name:ident, $body:expr) => {
        $(#[doc = $doc])*
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on($body)
        }
        $(#[doc = $doc])*
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            $body.await
        }
    };
}

/// The largest absolute difference between two equally long arrays.
pub fn max_difference(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0, f32::max)
}

/// An F32 tensor of a fixture's safetensors file, flattened.
pub fn fixture_floats(file: &[u8], key: &str) -> Vec<f32> {
    let file = safetensors::SafeTensors::deserialize(file).unwrap();
    let view = file
        .tensor(key)
        .unwrap_or_else(|e| panic!("fixture tensor {key}: {e}"));
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

// Natively, a scratch folder per test (shared with the CLI's tests).
#[cfg(not(target_arch = "wasm32"))]
mod scratch;
#[cfg(not(target_arch = "wasm32"))]
#[allow(unused_imports)]
pub use scratch::{ScratchDir, scratch_dir};

/// The device the browser offers, checked: WebGPU exactly when the browser exposes
/// `navigator.gpu`, so a silent fall-back to the CPU fails the test. Chosen once per test
/// worker (wgpu initialises once) and shared by every test that asks.
#[cfg(target_arch = "wasm32")]
#[allow(dead_code)]
pub async fn browser_device() -> tempokd::device::ComputeDevice {
    thread_local! {
        static CHOSEN: std::cell::RefCell<Option<tempokd::device::ComputeDevice>> =
            const { std::cell::RefCell::new(None) };
    }
    if let Some(device) = CHOSEN.with_borrow(Clone::clone) {
        return device;
    }
    let device = tempokd::device::ComputeDevice::gpu_or_cpu().await;
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap();
    let offers_webgpu = js_sys::Reflect::get(&navigator, &"gpu".into())
        .map(|gpu| !gpu.is_undefined())
        .unwrap_or(false);
    assert_eq!(device.is_gpu(), offers_webgpu, "{}", device.placement);
    CHOSEN.set(Some(device.clone()));
    device
}

/// Milliseconds on a monotonic-enough clock, natively and in the browser.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1e3
}

#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A measurement a test prints (seen with `-- --nocapture`); never asserted on.
pub fn report(line: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    println!("{line}");
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::console_log!("{line}");
}

/// Loads a model folder's files as the page and the command line do ([`Model::load`]: the kind
/// from `config.json`, then that kind's loader), on the CPU. `Err` holds the one-line reason.
pub fn load_model_files(config: &str, weights: &[u8]) -> Result<(), String> {
    use tempokd::model::{FolderFiles, Model};
    let device = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    let files = FolderFiles {
        config,
        weights,
        preprocessor: None,
    };
    Model::load(files, &device)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
