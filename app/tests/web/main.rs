//! Components mounted in headless Chromium, asserted on through the DOM: one module per
//! component, the fixtures they share here.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::sync::Arc;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Limits};
use tempokd::device::Placement;
use tempokd::kd::{AttentionMaps, PlainAndKd, RolloutConfig, RolloutRow};
use tempokd_app::analysis::{Analysis, DecodedClip};
use tempokd_app::charts::{time_to_x, x_to_time};
use tempokd_app::components::{
    ClipView, DeploymentCardView, DeviceBadge, ErrorBanner, ModelLoading, OtherModels, Readings,
    TeacherExplorer, Trainer,
};
use tempokd_app::export::View;
use tempokd_app::state::catalog::CatalogEntry;
use tempokd_app::state::models::{LoadProgress, Models, RunProgress};
use tempokd_app::state::saved_run::SavedRun;
use tempokd_app::state::training_run::{Phase, Training};
use tempokd_app::worker::{
    CheckOutcome, ModelFiles, ModelKind, ModelSource, NamedReading, Probe, Response, RunScore,
    RunSetup, SavedStudent, StepPoint, TeacherAttention, TimeMap, TrainingEnd, TrainingEvent,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, Element, HtmlCanvasElement, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

mod charts;
mod clip_view;
mod deployment_card;
mod device_badge;
mod downloads;
mod error_banner;
mod model_loading;
mod other_models;
mod own_words;
mod readings;
mod teacher_explorer;
mod trainer;
mod worker;

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

fn click(root: &HtmlElement, selector: &str) {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("{selector} is on the page"))
        .unchecked_into::<HtmlElement>()
        .click();
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

/// A 2 s clip named test.wav with its keyword at 0.5–0.75 s.
fn two_second_analysis() -> Analysis {
    let samples: Vec<f32> = (0..32_000)
        .map(|i| 0.3 * (i as f32 * 0.2).sin() * ((i / 4000) % 2) as f32 + 0.001)
        .collect();
    let clip = Clip::from_mono_16k(samples, &Limits::default()).unwrap();
    let log_mel = FeatureExtractor::new(FeatureConfig::default())
        .unwrap()
        .log_mel(clip.samples())
        .unwrap();
    Analysis {
        name: "test.wav".into(),
        source_rate: 16_000,
        source_channels: 1,
        clip,
        log_mel,
        keyword_window: Some((0.5, 0.75)),
        noise: None,
    }
}

/// Two layers of two heads over 8 frames in which every frame attends only to frame `target`.
fn every_frame_attends_to(target: usize) -> AttentionMaps {
    let matrix: Vec<f32> = (0..64)
        .map(|i| if i % 8 == target { 1.0 } else { 0.0 })
        .collect();
    AttentionMaps::new(2, 2, 8, matrix.repeat(4)).unwrap()
}

/// What a form control shows.
fn value(root: &HtmlElement, selector: &str) -> String {
    let control = root.query_selector(selector).unwrap().unwrap();
    js_sys::Reflect::get(&control, &"value".into())
        .unwrap()
        .as_string()
        .unwrap()
}

/// One loaded model, the teacher, has answered run 1 on a clip.
fn teacher_has_answered(models: Models) {
    run_loaded_models(models, 1);
    models.apply(Response::Reading {
        run: 1,
        reading: Box::new(reading("teacher", "stop", 0.9, true)),
    });
}

/// Tells `models` that `count` models have loaded and gives them a 1 s clip: run 1 starts.
fn run_loaded_models(models: Models, count: usize) {
    models.loading.set(LoadProgress {
        expected: count,
        loaded: count,
        ..LoadProgress::default()
    });
    models.analyse(vec![0.0; 16_000]);
}

/// `Readings` of `models` on a 1 s clip, mounted in a fresh container, with the rollout settings
/// and the hovered time it follows.
fn mount_readings(
    models: Models,
    keyword_window: Option<(f32, f32)>,
) -> (
    HtmlElement,
    impl Sized,
    RwSignal<Option<RolloutConfig>>,
    RwSignal<Option<f32>>,
) {
    let rollout = RwSignal::new(None::<RolloutConfig>);
    let hover = RwSignal::new(None::<f32>);
    let root = container();
    let handle = mount_to(root.clone(), move || {
        view! {
            <Readings models=models duration_s=1.0 keyword_window=keyword_window
                rollout=rollout hover=hover />
        }
    });
    (root, handle, rollout, hover)
}

/// Sets a form control's value and fires its change event, as a visitor's pick does.
fn choose(root: &HtmlElement, selector: &str, value: &str) {
    let control = root.query_selector(selector).unwrap().unwrap();
    js_sys::Reflect::set(&control, &"value".into(), &value.into()).unwrap();
    control
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

/// A model's answer that puts `top` first with `probability`, attending to frames 2 and 3 of 8.
fn reading(model: &str, top: &str, probability: f32, teacher: bool) -> NamedReading {
    let labels = vec!["yes".to_string(), "no".into(), "stop".into()];
    let top_index = labels.iter().position(|label| label == top).unwrap();
    let mut probs = vec![(1.0 - probability) / 2.0; 3];
    probs[top_index] = probability;
    let values = vec![0.0, 0.05, 0.4, 0.4, 0.05, 0.05, 0.05, 0.0];
    NamedReading {
        model: model.into(),
        labels,
        probs,
        top: top_index,
        map: TimeMap {
            start_s: 0.0,
            frame_s: 0.125,
            values,
        },
        teacher: teacher.then(|| TeacherAttention {
            layers: every_frame_attends_to(6),
            rollout: RolloutConfig::default(),
        }),
        ms: 12.0,
    }
}

/// The training panel in a fresh container, with `clip` as the clip above.
fn mount_trainer(
    models: Models,
    training: Training,
    clip: RwSignal<Option<Arc<DecodedClip>>>,
) -> (HtmlElement, impl Sized) {
    let root = container();
    let handle = mount_to(root.clone(), move || {
        view! { <Trainer models=models training=training clip=clip /> }
    });
    (root, handle)
}

/// Two students' files whose bytes say which `version` they are.
fn student_files(version: u8) -> PlainAndKd<SavedStudent> {
    PlainAndKd::from_fn(|kd| {
        let run = u8::from(kd);
        SavedStudent {
            config: format!("{{\"run\": {run}, \"version\": {version}}}"),
            weights: vec![version, run, 7, 9],
        }
    })
}
