//! Components mounted in headless Chromium, asserted on through the DOM.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::sync::Arc;
use tempokd::audio::{Clip, FeatureConfig, FeatureExtractor, Limits};
use tempokd::device::Placement;
use tempokd::kd::{AttentionMaps, RolloutConfig, RolloutRow};
use tempokd_app::analysis::{Analysis, Decoded};
use tempokd_app::charts::{time_to_x, x_to_time};
use tempokd_app::components::{
    ClipView, DeviceBadge, ErrorBanner, ModelLoading, OtherModels, Readings, TeacherExplorer,
    Trainer,
};
use tempokd_app::export::View;
use tempokd_app::state::catalog::CatalogEntry;
use tempokd_app::state::models::{LoadProgress, Models, RunProgress};
use tempokd_app::state::saved_run::SavedRun;
use tempokd_app::state::training_run::{Phase, Training};
use tempokd_app::worker::{
    ModelFiles, ModelKind, ModelSource, Probe, Reading, Recording, Request, Response, RunScore,
    Steer, StepPoint, StudentFiles, TeacherAttention, TimeMap, TrainRequest, TrainSettings,
    TrainingEnd, TrainingEvent,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, Element, HtmlCanvasElement, HtmlElement};

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

#[wasm_bindgen_test]
async fn clip_view_describes_the_clip_and_draws_both_charts() {
    let analysis = Arc::new(two_second_analysis());
    let hover = RwSignal::new(None::<f32>);
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <ClipView analysis=analysis.clone() hover=hover /> },
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
    hover.set(Some(0.6));
    settle().await;
    let readout = text(&root, "#hover-readout").unwrap();
    assert!(readout.starts_with("0.60 s: level "), "{readout}");
    assert!(readout.ends_with(" of 40"), "{readout}");
    assert_eq!(root.query_selector_all(".time-cursor").unwrap().length(), 2);
    drop(handle);
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
        teacher: teacher.then(|| TeacherAttention {
            layers: every_frame_attends_to(6),
            rollout: RolloutConfig::default(),
        }),
        ms: 12.0,
    }
}

#[wasm_bindgen_test]
async fn readings_show_one_row_per_model_of_the_current_run_only() {
    let models = Models::new();
    run_loaded_models(models, 2);
    let (root, handle, rollout, hover) = mount_readings(models, Some((0.25, 0.5)));
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
    // The time under the cursor shows each map's weight there, on every row.
    hover.set(Some(0.3));
    settle().await;
    assert_eq!(
        text(&root, "[data-model=teacher] .at-cursor").as_deref(),
        Some("0.30 s: weight 0.400")
    );
    assert_eq!(root.query_selector_all(".time-cursor").unwrap().length(), 2);
    hover.set(None);
    // New rollout settings redraw the teacher's strip from its layers, and only the teacher's.
    let student: HtmlCanvasElement = root
        .query_selector("[data-model=tc-resnet8-kd] canvas")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let before = (strip.to_data_url().unwrap(), student.to_data_url().unwrap());
    rollout.set(Some(RolloutConfig {
        residual: 0.0,
        ..RolloutConfig::default()
    }));
    settle().await;
    assert_ne!(strip.to_data_url().unwrap(), before.0);
    assert_eq!(student.to_data_url().unwrap(), before.1);
    drop(handle);
}

#[wasm_bindgen_test]
async fn teacher_explorer_draws_a_layer_and_changes_the_rollout_settings() {
    let models = Models::new();
    let rollout = RwSignal::new(None::<RolloutConfig>);
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <TeacherExplorer models=models rollout=rollout /> },
    );
    settle().await;
    assert!(root.query_selector("#attention-matrix").unwrap().is_none());
    teacher_has_answered(models);
    settle().await;
    let matrix: HtmlCanvasElement = root
        .query_selector("#attention-matrix")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(painted_pixels(&matrix) > 0);
    assert_eq!(
        root.query_selector_all("#explore-layer option")
            .unwrap()
            .length(),
        2
    );
    // Three choices: mean of heads, head 1, head 2.
    assert_eq!(
        root.query_selector_all("#explore-head option")
            .unwrap()
            .length(),
        3
    );
    // Each control shows the settings in force: the last layer, every layer rolled out, the
    // teacher's own row.
    for (control, shown) in [
        ("#explore-layer", "1"),
        ("#explore-head", "mean"),
        ("#rollout-from", "0"),
        ("#rollout-to", "1"),
        ("#rollout-fusion", "mean"),
        ("#rollout-row", "mean_of_rows"),
    ] {
        assert_eq!(value(&root, control), shown, "{control}");
    }
    choose(&root, "#rollout-row", "first_frame");
    choose(&root, "#rollout-residual", "0.25");
    choose(&root, "#rollout-from", "1");
    settle().await;
    assert_eq!(
        rollout.get_untracked(),
        Some(RolloutConfig {
            layers: Some(1..2),
            residual: 0.25,
            row: RolloutRow::FirstFrame,
            ..RolloutConfig::default()
        })
    );
    // A range that ends before it starts is refused with a message, not a panic.
    choose(&root, "#rollout-to", "0");
    settle().await;
    assert!(text(&root, ".rollout-settings [role=alert]").is_some());
    choose(&root, "#rollout-to", "1");
    root.query_selector("#rollout-reset")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    assert_eq!(rollout.get_untracked(), None);
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
    // Sizes come from the catalog; bytes of a model it does not size are not counted.
    models.catalog.set(
        ["teacher", "crnn"]
            .map(|name| CatalogEntry {
                name: name.into(),
                kind: ModelKind::Student,
                title: name.into(),
                bytes: 1_500_000,
            })
            .to_vec(),
    );
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

#[wasm_bindgen_test]
fn downloads_hold_every_model_with_the_maps_on_screen() {
    let analysis = two_second_analysis();
    let readings = vec![
        ("Teacher".to_string(), reading("teacher", "stop", 0.9, true)),
        (
            "TC-ResNet8".to_string(),
            reading("tc-resnet8", "yes", 0.5, false),
        ),
    ];
    let rollout = RolloutConfig {
        residual: 0.0,
        ..RolloutConfig::default()
    };
    let view = View {
        analysis: &analysis,
        readings: &readings,
        device: None,
        rollout: Some(&rollout),
    };
    let numbers = view.numbers();
    assert_eq!(numbers["clip"]["name"], "test.wav");
    assert_eq!(numbers["models"][0]["top"], "stop");
    assert_eq!(numbers["models"][1]["probs"][0], 0.5);
    assert_eq!(numbers["models"][0]["rollout"]["residual"], 0.0);
    assert!(numbers["models"][1]["rollout"].is_null());
    // The teacher's map is the one on screen: rolled out with the visitor's settings, where every
    // frame attends to frame 6, not the map the worker sent.
    let teacher_map: Vec<f64> = numbers["models"][0]["attention"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(teacher_map[6] > 0.99, "{teacher_map:?}");
    assert_eq!(view.json().name, "test-tempokd.json");

    let svg = view.svg().unwrap();
    assert_eq!(svg.name, "test-tempokd.svg");
    let prefix = "data:image/svg+xml;charset=utf-8,";
    assert!(svg.url.starts_with(prefix));
    let text: String = js_sys::decode_uri_component(&svg.url[prefix.len()..])
        .unwrap()
        .into();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("Teacher: hears “stop” 90.0 %"));
    assert!(text.contains("TC-ResNet8: hears “yes” 50.0 %"));
    let png = view.png().unwrap();
    assert!(png.url.starts_with("data:image/png;base64,"));
}

#[wasm_bindgen_test]
async fn another_model_from_a_url_that_has_none_is_a_message_not_a_load() {
    let models = Models::new();
    models.device.set(Some(Placement::Cpu {
        reason: "a test".into(),
    }));
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <OtherModels models=models /> },
    );
    settle().await;
    root.query_selector("details")
        .unwrap()
        .unwrap()
        .set_attribute("open", "")
        .unwrap();
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    let folder = format!("{origin}/no-such-model");
    let input = root.query_selector("#model-url").unwrap().unwrap();
    js_sys::Reflect::set(&input, &"value".into(), &folder.as_str().into()).unwrap();
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    root.query_selector(".model-url button[type=submit]")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    for _ in 0..50 {
        if text(&root, "[role=alert]").is_some() {
            break;
        }
        settle().await;
    }
    let message = text(&root, "[role=alert]").unwrap_or_else(|| root.inner_html());
    assert!(
        message.starts_with(&format!(
            "{folder}/config.json could not be read (HTTP 404)"
        )),
        "{message}"
    );
    assert!(root.query_selector("#model-offer").unwrap().is_none());
    assert_eq!(models.loading.get_untracked().expected, 0);
    drop(handle);
}

#[wasm_bindgen_test]
fn a_time_on_the_axis_and_its_place_on_a_chart_agree() {
    // The plot spans pixels 56 to 948 of 960, and 56 to 468 of a phone's 480.
    assert_eq!(x_to_time(56.0 / 960.0, 4.0, 960), Some(0.0));
    assert!((x_to_time(948.0 / 960.0, 4.0, 960).unwrap() - 4.0).abs() < 1e-5);
    assert_eq!(x_to_time(10.0 / 960.0, 4.0, 960), None);
    assert_eq!(x_to_time(955.0 / 960.0, 4.0, 960), None);
    assert!((x_to_time(0.6, 4.0, 960).unwrap() - 2.3318).abs() < 1e-3);
    assert!((x_to_time(468.0 / 480.0, 4.0, 480).unwrap() - 4.0).abs() < 1e-5);
    for width in [960, 480] {
        for t in [0.0, 0.37, 2.0, 3.99] {
            let back = x_to_time(time_to_x(t, 4.0, width), 4.0, width).unwrap();
            assert!(
                (back - t).abs() < 1e-5,
                "{t} came back as {back} at {width} px"
            );
        }
    }
}

#[wasm_bindgen_test]
async fn readings_stand_in_the_catalogs_order_whatever_order_they_arrive_in() {
    let models = Models::new();
    let entry = |name: &str, kind| CatalogEntry {
        name: name.into(),
        kind,
        title: name.into(),
        bytes: 4,
    };
    models.catalog.set(vec![
        entry("teacher", ModelKind::Teacher),
        entry("lstm-p", ModelKind::Student),
        entry("tc-resnet8-kd", ModelKind::Student),
    ]);
    run_loaded_models(models, 3);
    let (root, handle, _, _) = mount_readings(models, None);
    // The worker answers models as they finish loading: here the smallest first.
    for (model, teacher) in [
        ("tc-resnet8-kd", false),
        ("not-in-catalog", false),
        ("teacher", true),
        ("lstm-p", false),
    ] {
        models.apply(Response::Reading {
            run: 1,
            reading: Box::new(reading(model, "yes", 0.5, teacher)),
        });
    }
    settle().await;
    let rows = root.query_selector_all(".reading").unwrap();
    let shown: Vec<String> = (0..rows.length())
        .filter_map(|i| rows.item(i))
        .filter_map(|row| row.unchecked_into::<Element>().get_attribute("data-model"))
        .collect();
    assert_eq!(
        shown,
        ["teacher", "lstm-p", "tc-resnet8-kd", "not-in-catalog"]
    );
    drop(handle);
}

#[wasm_bindgen_test]
fn a_model_added_after_a_run_answers_alone_beside_the_others() {
    let models = Models::new();
    teacher_has_answered(models);
    models.apply(Response::Finished { run: 1, ms: 10.0 });
    let entry = CatalogEntry {
        name: "your-student-1".into(),
        kind: ModelKind::Student,
        title: "your student".into(),
        bytes: 4,
    };
    let source = ModelSource {
        name: "your-student-1".into(),
        kind: ModelKind::Student,
        files: ModelFiles::Picked {
            config: "{}".into(),
            weights: vec![0; 4],
            preprocessor: None,
        },
    };
    models.add(entry, source);
    assert_eq!(
        models.run.get_untracked(),
        RunProgress::Running {
            run: 2,
            answered: 0,
            total: 1
        }
    );
    assert_eq!(models.readings.with_untracked(Vec::len), 1);
    // Picked weights are counted when the worker has them.
    models.apply(Response::Fetched {
        model: "your-student-1".into(),
        file: "model.safetensors".into(),
        bytes: 4,
    });
    let loading = models.loading.get_untracked();
    assert_eq!(
        (loading.expected, loading.fetched_bytes, loading.total_bytes),
        (2, 4, 4)
    );
    models.apply(Response::Reading {
        run: 2,
        reading: Box::new(reading("your-student-1", "yes", 0.5, false)),
    });
    assert_eq!(models.readings.with_untracked(Vec::len), 2);
}

#[wasm_bindgen_test]
async fn a_worker_panic_reaches_the_page_that_listens_and_no_other() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use tempokd_app::worker::alarm::{Panic, PanicAlarm, ring, ring_on};
    let heard = Rc::new(RefCell::new(Vec::new()));
    let listener = heard.clone();
    let alarm = PanicAlarm::listen(move |panic| listener.borrow_mut().push(panic)).unwrap();
    let other_tab = PanicAlarm::listen(|panic| panic!("another page heard {panic:?}")).unwrap();
    assert_ne!(alarm.name(), other_tab.name());
    ring_on(alarm.name(), 3);
    ring("wgpu error: out of memory");
    for _ in 0..50 {
        if !heard.borrow().is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert_eq!(
        *heard.borrow(),
        vec![Panic {
            worker: 3,
            message: "wgpu error: out of memory".into()
        }]
    );
}

fn training_event(event: TrainingEvent) -> Response {
    Response::Training(Box::new(event))
}

/// The training panel in a fresh container, with `clip` as the clip above.
fn mount_trainer(
    models: Models,
    training: Training,
    clip: RwSignal<Option<Arc<Decoded>>>,
) -> (HtmlElement, impl Sized) {
    let root = container();
    let handle = mount_to(root.clone(), move || {
        view! { <Trainer models=models training=training clip=clip /> }
    });
    (root, handle)
}

#[wasm_bindgen_test]
async fn trainer_shows_progress_curves_probe_maps_and_the_comparison() {
    let (models, training) = (Models::new(), Training::new());
    models.catalog.set(vec![CatalogEntry {
        name: "tc-resnet8".into(),
        kind: ModelKind::Student,
        title: "TC-ResNet8".into(),
        bytes: 1,
    }]);
    let (root, _mount) = mount_trainer(models, training, RwSignal::new(None));
    settle().await;
    // Nothing has run: no curves, no table, no error.
    assert!(root.query_selector("#curve-loss").unwrap().is_none());
    assert!(root.query_selector(".error").unwrap().is_none());
    training.apply(training_event(TrainingEvent::Preparing {
        stage: "teacher maps".into(),
        done: 60,
        total: 240,
    }));
    settle().await;
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("Preparing the teacher maps: 60 of 240…")
    );
    assert!(root.query_selector("#training-progress").unwrap().is_some());
    let map = |values: Vec<f32>| TimeMap {
        start_s: 0.0,
        frame_s: 0.5,
        values,
    };
    training.apply(training_event(TrainingEvent::Started {
        device: Placement::Cpu {
            reason: "tests".into(),
        },
        train_clips: 240,
        validation_clips: 48,
        cached_maps: true,
        probe: Probe {
            label: "yes".into(),
            duration_s: 2.0,
            window: Some((0.5, 1.0)),
            teacher: map(vec![0.1, 0.7, 0.1, 0.1]),
            target: "as it is".into(),
        },
    }));
    for step in 1..=10 {
        let point = |loss: f32| StepPoint {
            step,
            loss,
            task: loss,
            kd: 0.0,
            accuracy: 0.5,
        };
        training.apply(training_event(TrainingEvent::Stepped {
            points: [point(2.0 / step as f32), point(1.5 / step as f32)],
            elapsed_ms: 500.0 * step as f64,
        }));
    }
    let score = |step: usize, accuracy: f32, localisation: f32| RunScore {
        step,
        accuracy,
        localisation,
    };
    training.apply(training_event(TrainingEvent::Validated {
        scores: [score(10, 0.6, 0.3), score(10, 0.7, 0.55)],
        probe: [map(vec![0.25; 4]), map(vec![0.1, 0.7, 0.1, 0.1])],
        students: Some(Box::new(student_files(1))),
    }));
    settle().await;
    // 10 of 300 steps in 5 s: 2 steps/s, 145 s left.
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("Step 10 of 300 · 2.0 steps/s · about 145 s left")
    );
    assert!(text(&root, "#training-info").is_some_and(|t| t.contains("cache")));
    // The teacher's row says which map the KD copy learns.
    assert_eq!(
        text(&root, ".probe .row-title").as_deref(),
        Some("Teacher: the KD target, its rollout as it is")
    );
    for id in [
        "#curve-loss",
        "#curve-accuracy",
        "#probe-teacher",
        "#probe-kd",
    ] {
        let canvas: HtmlCanvasElement = root.query_selector(id).unwrap().unwrap().unchecked_into();
        assert!(painted_pixels(&canvas) > 0, "{id} is drawn");
    }
    // A divergence at step 11 undoes step 10's update: the worker scores the weights it kept,
    // and the table shows those, not step 10's.
    training.apply(training_event(TrainingEvent::Validated {
        scores: [score(9, 0.58, 0.3), score(9, 0.66, 0.5)],
        probe: [map(vec![0.25; 4]), map(vec![0.1, 0.6, 0.2, 0.1])],
        students: Some(Box::new(student_files(2))),
    }));
    training.apply(training_event(TrainingEvent::Ended {
        end: TrainingEnd::Diverged(
            "training diverged at step 11; the weights after step 9 are kept".into(),
        ),
        students: Box::new(student_files(2)),
        elapsed_ms: 5_500.0,
    }));
    settle().await;
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("training diverged at step 11; the weights after step 9 are kept")
    );
    let rows = root
        .query_selector_all("#training-results tbody tr")
        .unwrap();
    assert_eq!(rows.length(), 2);
    assert_eq!(
        text(&root, "#training-results tbody tr:last-child .localisation").as_deref(),
        Some("0.500")
    );
    assert_eq!(
        text(&root, "#training-results caption").as_deref(),
        Some("On the validation clips, with the weights of step 9")
    );
    assert_eq!(training.scores.with_untracked(|runs| runs[1].len()), 1);
}

/// Two students' files whose bytes say which `version` they are.
fn student_files(version: u8) -> [StudentFiles; 2] {
    [0, 1].map(|run| StudentFiles {
        config: format!("{{\"run\": {run}, \"version\": {version}}}"),
        weights: vec![version, run, 7, 9],
    })
}

#[wasm_bindgen_test]
async fn a_run_kept_by_the_browser_is_restored_on_the_next_visit_until_reset() {
    let (models, training) = (Models::new(), Training::new());
    let (_root, _mount) = mount_trainer(models, training, RwSignal::new(None));
    training.apply(training_event(TrainingEvent::Started {
        device: Placement::Cpu {
            reason: "tests".into(),
        },
        train_clips: 4,
        validation_clips: 2,
        cached_maps: false,
        probe: Probe {
            label: "no".into(),
            duration_s: 1.0,
            window: None,
            teacher: TimeMap {
                start_s: 0.0,
                frame_s: 0.5,
                values: vec![0.5, 0.5],
            },
            target: "as it is".into(),
        },
    }));
    for step in 1..=3 {
        let point = StepPoint {
            step,
            ..StepPoint::default()
        };
        training.apply(training_event(TrainingEvent::Stepped {
            points: [point; 2],
            elapsed_ms: 100.0 * step as f64,
        }));
    }
    training.apply(training_event(TrainingEvent::Validated {
        scores: [RunScore::default(); 2],
        probe: std::array::from_fn(|_| TimeMap {
            start_s: 0.0,
            frame_s: 0.5,
            values: vec![0.9, 0.1],
        }),
        students: Some(Box::new(student_files(3))),
    }));
    // The page was closed here, mid-run: the next visit finds step 3's students.
    let mut kept = None;
    for _ in 0..100 {
        kept = SavedRun::load().await.filter(|run| run.step() == 3);
        if kept.is_some() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let kept = kept.expect("the run is kept after its scoring");
    assert_eq!(kept.students, student_files(3));
    assert_eq!(kept.end, None);

    let next_visit = Training::new();
    let (root, _again) = mount_trainer(models, next_visit, RwSignal::new(None));
    next_visit.restore().await;
    settle().await;
    assert_eq!(
        next_visit.phase.get_untracked(),
        Phase::Restored { step: 3, end: None }
    );
    assert!(
        text(&root, "#training-status").is_some_and(|t| t.contains("was at step 3 of 300")),
        "{:?}",
        text(&root, "#training-status")
    );
    assert_eq!(
        root.query_selector_all("#training-results tbody tr")
            .unwrap()
            .length(),
        2
    );
    let canvas: HtmlCanvasElement = root
        .query_selector("#probe-kd")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(painted_pixels(&canvas) > 0, "the probe map is drawn again");

    next_visit.reset();
    for _ in 0..100 {
        if SavedRun::load().await.is_none() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    assert_eq!(SavedRun::load().await, None, "reset forgets the kept run");
}

#[wasm_bindgen_test]
fn a_saved_run_reads_back_whole_and_damaged_bytes_are_refused() {
    let run = SavedRun {
        student: "lstm-p".into(),
        settings: TrainSettings::default(),
        end: Some(TrainingEnd::Stopped),
        points: [vec![StepPoint::default()], Vec::new()],
        scores: [Vec::new(), vec![RunScore::default()]],
        probe: None,
        probe_maps: None,
        elapsed_ms: 12.5,
        students: student_files(4),
    };
    let bytes = run.encode().unwrap();
    assert_eq!(SavedRun::decode(&bytes), Ok(run));
    for cut in [0, 5, 12, bytes.len() - 1] {
        assert!(SavedRun::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(SavedRun::decode(&longer).is_err());
}

#[wasm_bindgen_test]
fn training_messages_cross_the_worker_boundary_unchanged() {
    use gloo_worker::{Bincode, Codec};
    fn round_trip<T>(message: T)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
    {
        let back: T = Bincode::decode(Bincode::encode(message.clone()));
        assert_eq!(back, message);
    }
    let source = |name: &str| ModelSource {
        name: name.into(),
        kind: ModelKind::Student,
        files: ModelFiles::Folder(format!("models/{name}/")),
    };
    round_trip(Request::Train(Box::new(TrainRequest {
        teacher: source("teacher"),
        student: source("tc-resnet8"),
        pack: "data/pack/".into(),
        recordings: vec![Recording {
            label: "yes".into(),
            samples: vec![0.25, -0.5],
        }],
        settings: TrainSettings::default(),
        cpu_reason: Some("asked".into()),
    })));
    for steer in [Steer::Pause, Steer::Resume, Steer::Stop] {
        round_trip(Request::SteerTraining(steer));
    }
    let map = TimeMap {
        start_s: 0.01,
        frame_s: 0.02,
        values: vec![0.5, 0.5],
    };
    let events = [
        TrainingEvent::Preparing {
            stage: "keyword pack".into(),
            done: 1,
            total: 144,
        },
        TrainingEvent::Started {
            device: Placement::Cpu {
                reason: "asked".into(),
            },
            train_clips: 240,
            validation_clips: 48,
            cached_maps: true,
            probe: Probe {
                label: "yes".into(),
                duration_s: 2.0,
                window: Some((0.5, 1.0)),
                teacher: map.clone(),
                target: "as it is".into(),
            },
        },
        TrainingEvent::Stepped {
            points: [StepPoint::default(); 2],
            elapsed_ms: 1.5,
        },
        TrainingEvent::Validated {
            scores: [RunScore::default(); 2],
            probe: [map.clone(), map],
            students: Some(Box::new(student_files(5))),
        },
        TrainingEvent::Paused,
        TrainingEvent::Resumed,
        TrainingEvent::Ended {
            end: TrainingEnd::Diverged("at step 2".into()),
            students: Box::new(student_files(6)),
            elapsed_ms: 2.0,
        },
        TrainingEvent::Failed {
            message: "no pack".into(),
        },
    ];
    for event in events {
        round_trip(Response::Training(Box::new(event)));
    }
}

#[wasm_bindgen_test]
async fn own_words_are_added_with_one_click_and_a_take_too_long_is_refused() {
    let (models, training) = (Models::new(), Training::new());
    let decoded = |samples: Vec<f32>| Decoded {
        name: "take.wav".into(),
        source_rate: 16_000,
        source_channels: 1,
        clip: Clip::from_mono_16k(samples, &Limits::default()).unwrap(),
        keyword_window: None,
    };
    // Half a second of tone between silences.
    let word: Vec<f32> = (0..24_000)
        .map(|i| {
            let on = (8_000..16_000).contains(&i);
            if on {
                0.3 * (i as f32 * 0.2).sin()
            } else {
                0.0
            }
        })
        .collect();
    let clip = RwSignal::new(Some(Arc::new(decoded(word))));
    let (root, _mount) = mount_trainer(models, training, clip);
    settle().await;
    click(&root, "#take-clip");
    settle().await;
    for label in ["yes", "yes", "no"] {
        click(&root, &format!("button.take[data-label='{label}']"));
        settle().await;
    }
    assert_eq!(
        text(&root, "#own-words-count").as_deref(),
        Some("In the next run: yes × 2, no × 1.")
    );
    let recordings = training.recordings.get_untracked();
    assert!(
        recordings.iter().all(|r| r.samples.len() < 12_000),
        "cut to the word"
    );
    assert!(root.query_selector(".error").unwrap().is_none());

    // 2.5 s of speech cannot fit the 2 s clips it would be placed in.
    let long: Vec<f32> = (0..40_000).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect();
    clip.set(Some(Arc::new(decoded(long))));
    click(&root, "button.take[data-label='up']");
    settle().await;
    assert!(
        text(&root, "#own-words-note.error").is_some_and(|t| t.contains("2.50 s")),
        "a take longer than L is refused with a message: {:?}",
        text(&root, "#own-words-note")
    );
    assert_eq!(training.recordings.with_untracked(Vec::len), 3);
    click(&root, "#own-words-undo");
    settle().await;
    assert_eq!(
        text(&root, "#own-words-count").as_deref(),
        Some("In the next run: yes × 2.")
    );
    click(&root, "#own-words-clear");
    settle().await;
    assert!(root.query_selector("#own-words-count").unwrap().is_none());
}

/// A response whose body streams `chunks` chunks of 1,000 bytes, with no length said.
fn streamed_response(chunks: u32) -> web_sys::Response {
    js_sys::Function::new_with_args(
        "chunks",
        "return new Response(new ReadableStream({ start(controller) { \
           for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(1000)); \
           controller.close(); } }));",
    )
    .call1(&wasm_bindgen::JsValue::NULL, &chunks.into())
    .unwrap()
    .dyn_into()
    .unwrap()
}

#[wasm_bindgen_test]
async fn a_model_files_body_is_read_whole_within_the_cap_and_stopped_just_past_it() {
    use tempokd_app::worker::fetch::{BodyFailure, read_body};
    let whole = read_body(&streamed_response(5), 5_000).await.unwrap();
    assert_eq!(whole.len(), 5_000);
    // A hundred chunks against a cap of 5,500 bytes: reading stops at the sixth.
    assert_eq!(
        read_body(&streamed_response(100), 5_500).await,
        Err(BodyFailure::TooBig(6_000))
    );
}
