//! Components mounted in headless Chromium, asserted on through the DOM.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::sync::Arc;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Limits};
use tempokd::device::Placement;
use tempokd::kd::AttentionMaps;
use tempokd_app::analysis::Analysis;
use tempokd_app::components::{ClipView, DeviceBadge, ErrorBanner, ModelLoading, Readings};
use tempokd_app::models::{LoadProgress, Models};
use tempokd_app::worker::{Reading, Response, TimeMap};
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
    let device = RwSignal::new(None::<Placement>);
    let handle = mount_to(
        root.clone(),
        move || view! { <DeviceBadge device=device /> },
    );
    settle().await;
    assert_eq!(
        text(&root, "#device").as_deref(),
        Some("Looking for WebGPU…")
    );
    device.set(Some(Placement::Cpu {
        reason: "test".into(),
    }));
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

/// A model's answer that puts `top` first with `probability`, attending to frames 2 and 3 of 8.
fn reading(model: &str, top: &str, probability: f32, teacher: bool) -> Reading {
    let labels = vec!["yes".to_string(), "no".into(), "stop".into()];
    let top_index = labels.iter().position(|label| label == top).unwrap();
    let mut probs = vec![(1.0 - probability) / 2.0; 3];
    probs[top_index] = probability;
    let values = vec![0.0, 0.05, 0.4, 0.4, 0.05, 0.05, 0.05, 0.0];
    Reading {
        model: model.into(),
        labels,
        probs,
        top: top_index,
        map: TimeMap {
            start_s: 0.0,
            frame_s: 0.125,
            values,
        },
        layers: teacher.then(|| AttentionMaps::new(1, 1, 2, vec![0.5, 0.5, 0.5, 0.5]).unwrap()),
        ms: 12.0,
    }
}

#[wasm_bindgen_test]
async fn readings_show_one_row_per_model_of_the_current_run_only() {
    let models = Models::new();
    models.loading.set(LoadProgress {
        expected: 2,
        loaded: 2,
        ..LoadProgress::default()
    });
    models.analyse(vec![0.0; 16_000]);
    let root = container();
    let handle = mount_to(root.clone(), move || {
        view! { <Readings models=models duration_s=1.0 keyword_window=Some((0.25, 0.5)) /> }
    });
    settle().await;
    assert_eq!(
        text(&root, "#run-status").as_deref(),
        Some("Running the models: 0 of 2 answered…")
    );
    models.apply(Response::Reading {
        run: 1,
        reading: Box::new(reading("teacher", "stop", 0.9, true)),
    });
    // An answer about an earlier clip must not show up beside this one.
    models.apply(Response::Reading {
        run: 0,
        reading: Box::new(reading("stale", "no", 0.8, false)),
    });
    models.apply(Response::Reading {
        run: 1,
        reading: Box::new(reading("tc-resnet8-kd", "yes", 0.5, false)),
    });
    models.apply(Response::Finished { run: 1, ms: 1234.0 });
    settle().await;
    let rows = root.query_selector_all(".reading").unwrap();
    assert_eq!(rows.length(), 2);
    let teacher = root
        .query_selector("[data-model=teacher]")
        .unwrap()
        .unwrap();
    assert_eq!(teacher.get_attribute("data-top").as_deref(), Some("stop"));
    assert!(teacher.class_name().contains("teacher"));
    assert_eq!(
        text(&root, "[data-model=teacher] .prediction").as_deref(),
        Some("hears “stop” 90.0 %")
    );
    assert_eq!(
        text(&root, "[data-model=tc-resnet8-kd] .prediction").as_deref(),
        Some("hears “yes” 50.0 %")
    );
    assert!(root.query_selector("[data-model=stale]").unwrap().is_none());
    assert_eq!(
        text(&root, "#run-status").as_deref(),
        Some("2 models answered in 1.23 s")
    );
    let strip: HtmlCanvasElement = root
        .query_selector("[data-model=teacher] canvas")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let painted = painted_pixels(&strip);
    let total = (strip.width() * strip.height()) as usize;
    assert!(painted > total / 2, "{painted} of {total} pixels drawn");
    drop(handle);
}

#[wasm_bindgen_test]
async fn model_loading_shows_progress_then_the_time_and_each_failure() {
    let models = Models::new();
    models.loading.set(LoadProgress {
        total_bytes: 3_000_000,
        expected: 2,
        started_ms: js_sys::Date::now(),
        ..LoadProgress::default()
    });
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <ModelLoading models=models /> },
    );
    models.apply(Response::Fetched {
        model: "teacher".into(),
        file: "model.safetensors".into(),
        bytes: 1_500_000,
    });
    settle().await;
    assert_eq!(
        text(&root, "#model-status").as_deref(),
        Some("Loading 2 models: 1.5 of 3.0 MB")
    );
    assert!(root.query_selector("#model-progress").unwrap().is_some());
    models.apply(Response::Loaded {
        model: "teacher".into(),
    });
    models.apply(Response::LoadFailed {
        model: "crnn".into(),
        message: "models/crnn/model.safetensors could not be fetched (HTTP 404 Not Found)".into(),
    });
    settle().await;
    let status = text(&root, "#model-status").unwrap();
    assert!(
        status.starts_with("1 of 2 models loaded (3.0 MB) in "),
        "{status}"
    );
    assert!(root.query_selector("#model-progress").unwrap().is_none());
    assert_eq!(
        text(&root, "[role=alert]").as_deref(),
        Some(
            "The model “crnn” could not be loaded: models/crnn/model.safetensors could not be \
             fetched (HTTP 404 Not Found)"
        )
    );
    drop(handle);
}
