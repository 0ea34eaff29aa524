//! Helpers shared by the integration tests that run both natively and in headless Chromium.

/// One async test body for both targets: blocked on natively, awaited by the browser's runner.
#[macro_export]
macro_rules! async_test {
    ($name:ident, $body:expr) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on($body)
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            $body.await
        }
    };
}
