//! Tensors run where the device module puts them, natively and in the browser, and the choice is
//! reported. In headless Chromium with `--enable-unsafe-webgpu` this exercises WebGPU.

use burn::tensor::{Tensor, TensorData};
use tempokd::device::ComputeDevice;

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// `[[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]]`, read back asynchronously (the only read
/// that works in a browser).
async fn small_matmul(device: &ComputeDevice) -> Vec<f32> {
    let a = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]),
        &device.device,
    );
    let b = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], [3, 2]),
        &device.device,
    );
    let product = a.matmul(b).into_data_async().await.unwrap();
    product.try_into_vec::<f32>().unwrap()
}

const EXPECTED: [f32; 4] = [4.0, 5.0, 10.0, 11.0];

async_test!(cpu_runs_a_matmul_and_says_why, async {
    let device = ComputeDevice::cpu("asked for the CPU");
    assert_eq!(small_matmul(&device).await, EXPECTED);
    let shown = device.placement.to_string();
    match cfg!(target_arch = "wasm32") {
        true => assert_eq!(shown, "CPU (no WebGPU: asked for the CPU)"),
        false => assert_eq!(shown, "CPU (asked for the CPU)"),
    }
});

/// In a browser that exposes `navigator.gpu` the tensor must run on WebGPU, not fall back.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn webgpu_runs_the_same_matmul_when_the_browser_offers_it() {
    let global = js_sys::global();
    let navigator = js_sys::Reflect::get(&global, &"navigator".into()).unwrap();
    let offers_webgpu = js_sys::Reflect::get(&navigator, &"gpu".into())
        .map(|gpu| !gpu.is_undefined())
        .unwrap_or(false);
    let device = ComputeDevice::gpu_or_cpu().await;
    wasm_bindgen_test::console_log!("device: {}", device.placement);
    assert_eq!(device.is_gpu(), offers_webgpu, "{}", device.placement);
    assert_eq!(small_matmul(&device).await, EXPECTED);
}

/// gemm (the matrix kernels of burn's CPU backend and of our operations) picks its kernels at
/// run time from a switch that only its `wasm-simd128-enable` feature sets: without it, every
/// matrix product in the page's CPU worker ran gemm's scalar kernel, even in a simd128 build.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
fn matrix_products_in_the_browser_use_gemms_simd_kernels() {
    assert!(
        gemm::get_wasm_simd128(),
        "gemm would run its scalar kernels: the engine's wasm build must enable gemm's \
         `wasm-simd128-enable` feature"
    );
}
