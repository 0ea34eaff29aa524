//! Components mounted in headless Chromium, asserted on through the DOM.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::sync::Arc;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Limits};
use tempokd::device::ComputeDevice;
use tempokd_app::analysis::Analysis;
use tempokd_app::components::{ClipView, DeviceBadge, ErrorBanner};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh container in the document for one test's component.
fn container() -> HtmlElement {
    let document = document();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

/// Lets effects and async tasks run.
async fn settle() {
    for _ in 0..5 {
        leptos::task::tick().await;
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
}

fn text(root: &HtmlElement, selector: &str) -> Option<String> {
    root.query_selector(selector)
        .unwrap()
        .and_then(|e| e.text_content())
}

/// How many pixels of the canvas something was drawn on.
fn painted_pixels(canvas: &HtmlCanvasElement) -> usize {
    let context: CanvasRenderingContext2d =
        canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    let pixels = context
        .get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64)
        .unwrap()
        .data();
    pixels.chunks_exact(4).filter(|rgba| rgba[3] != 0).count()
}

#[wasm_bindgen_test]
async fn error_banner_shows_and_dismisses_the_message() {
    let root = container();
    let (error, set_error) = signal(Some("The file is empty.".to_string()));
    let handle = mount_to(root.clone(), move || {
        view! { <ErrorBanner error=error on_dismiss=Callback::new(move |()| set_error.set(None)) /> }
    });
    settle().await;
    assert_eq!(
        text(&root, "[role=alert] .error-text").as_deref(),
        Some("The file is empty.")
    );
    let dismiss: HtmlElement = root
        .query_selector("button.dismiss")
        .unwrap()
        .unwrap()
        .unchecked_into();
    dismiss.click();
    settle().await;
    assert!(root.query_selector("[role=alert]").unwrap().is_none());
    drop(handle);
}

#[wasm_bindgen_test]
async fn device_badge_names_the_cpu_fallback_and_its_reason() {
    let root = container();
    let device = RwSignal::new(None::<ComputeDevice>);
    let handle = mount_to(
        root.clone(),
        move || view! { <DeviceBadge device=device /> },
    );
    settle().await;
    assert_eq!(
        text(&root, "#device").as_deref(),
        Some("Looking for WebGPU…")
    );
    device.set(Some(ComputeDevice::cpu("test")));
    settle().await;
    assert_eq!(
        text(&root, "#device").as_deref(),
        Some("CPU (no WebGPU: test)")
    );
    drop(handle);
}

#[wasm_bindgen_test]
async fn clip_view_describes_the_clip_and_draws_both_charts() {
    let samples: Vec<f32> = (0..32_000)
        .map(|i| 0.3 * (i as f32 * 0.2).sin() * ((i / 4000) % 2) as f32 + 0.001)
        .collect();
    let clip = Clip::from_mono_16k(samples, &Limits::default()).unwrap();
    let log_mel = FeatureExtractor::new(FeatureConfig::default())
        .unwrap()
        .log_mel(clip.samples())
        .unwrap();
    let analysis = Arc::new(Analysis {
        name: "test.wav".into(),
        source_rate: 16_000,
        source_channels: 1,
        clip,
        log_mel,
        keyword_window: Some((0.5, 0.75)),
    });
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <ClipView analysis=analysis.clone() /> },
    );
    settle().await;
    let summary = text(&root, ".clip-summary").unwrap();
    assert!(
        summary.starts_with("test.wav: 2.00 s, 1 channel,"),
        "{summary}"
    );
    assert!(summary.contains("99 frames of 40 mel bins"), "{summary}");
    for id in ["#waveform", "#spectrogram"] {
        let canvas: HtmlCanvasElement = root.query_selector(id).unwrap().unwrap().unchecked_into();
        let painted = painted_pixels(&canvas);
        let total = (canvas.width() * canvas.height()) as usize;
        assert!(
            painted > total / 20,
            "{id}: only {painted} of {total} pixels drawn"
        );
    }
    assert!(root.query_selector("[role=alert]").unwrap().is_none());
    drop(handle);
}
