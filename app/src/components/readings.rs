use super::TimeCanvas;
use crate::charts::{TimeLabels, on_canvas, plot_attention};
use crate::state::models::{Models, RunProgress};
use crate::worker::{NamedReading, Precision, TimeMap};
use leptos::html::Canvas;
use leptos::prelude::*;
use tempokd::kd::{KdTarget, RolloutConfig};
use web_sys::HtmlCanvasElement;

/// One row per model on the clip's time axis, teacher first: its attention over time and what
/// it heard. Rows appear as the worker answers. The teacher's map is rolled out again with
/// `rollout` when the visitor has chosen settings.
#[component]
pub fn Readings(
    models: Models,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
    #[prop(into)] rollout: Signal<Option<RolloutConfig>>,
    hover: RwSignal<Option<f32>>,
) -> impl IntoView {
    let rows = move || models.readings.get();
    let failures = move || models.failures.get();
    view! {
        <section class="readings" aria-label="Where each model listens">
            <RunStatus models=models />
            <OnnxStatus models=models />
            <For each=rows key=|reading| reading.model.clone() let(reading)>
                <ReadingRow models=models title=models.title(&reading.model) reading=reading
                    duration_s=duration_s keyword_window=keyword_window rollout=rollout
                    hover=hover />
            </For>
            <For each=failures key=|(model, _)| model.clone() let((model, message))>
                <p class="error" role="alert">
                    {format!("“{model}” could not run on this clip: {message}")}
                </p>
            </For>
        </section>
    }
}

/// How the ONNX buttons store the weights; a student being written as ONNX, the file saved, or
/// why it could not be.
#[component]
pub fn OnnxStatus(models: Models) -> impl IntoView {
    let onnx = models.onnx;
    let text = move || match (onnx.exporting.get(), onnx.outcome.get()) {
        (Some(model), _) => Some(Ok(format!("Writing “{model}” as an ONNX model…"))),
        (None, Some(Ok((file, bytes)))) => Some(Ok(format!(
            "Saved {file} ({:.0} kB): features in, logits and temporal attention out, opset {}; \
             the front end that makes its features is described in its metadata \
             (tempokd.front_end).",
            bytes as f64 / 1000.0,
            tempokd::export::OPSET
        ))),
        (None, Some(Err(why))) => Some(Err(why)),
        (None, None) => None,
    };
    let choose = move |event: leptos::ev::Event| {
        if let Some(precision) = Precision::from_name(&event_target_value(&event)) {
            onnx.precision.set(precision);
        }
    };
    view! {
        <div class="onnx-export">
            <label>"ONNX weights "
                <select class="onnx-precision" on:change=choose
                    prop:value=move || onnx.precision.get().name()>
                    {Precision::ALL.map(|p| view! { <option value=p.name()>{p.name()}</option> })}
                </select>
            </label>
            {move || text().map(|text| match text {
                Ok(text) => view! { <p class="muted onnx-status" role="status">{text}</p> }.into_any(),
                Err(why) => view! { <p class="error onnx-status" role="alert">{why}</p> }.into_any(),
            })}
        </div>
    }
}

/// How far the run is, with a way to stop it.
#[component]
fn RunStatus(models: Models) -> impl IntoView {
    let run = models.run;
    let text = move || match run.get() {
        RunProgress::Idle => String::new(),
        RunProgress::Running {
            answered, total, ..
        } => format!("Running the models: {answered} of {total} answered…"),
        RunProgress::Finished { ms, .. } => models
            .readings
            .with(|readings| format!("{} models answered in {:.2} s", readings.len(), ms / 1000.0)),
        RunProgress::Cancelled { .. } => "Stopped; run the clip again to see every model.".into(),
    };
    let running = move || matches!(run.get(), RunProgress::Running { .. });
    let fraction = move || match run.get() {
        RunProgress::Running {
            answered, total, ..
        } if total > 0 => answered as f64 / total as f64,
        _ => 0.0,
    };
    view! {
        <div class="run-status">
            // Which clip the status is about, so a test can tell the last clip's rows from the new one's.
            <p class="muted" id="run-status" role="status" aria-live="polite"
                data-clip=move || models.clips.get()>{text}</p>
            <Show when=running>
                <progress max="1" value=fraction aria-label="Models answered"></progress>
                <button type="button" class="cancel" on:click=move |_| models.cancel()>
                    "Stop"
                </button>
            </Show>
        </div>
    }
}

/// A model's attention strip with its name, its top label and confidence, and its time.
#[component]
fn ReadingRow(
    title: String,
    reading: NamedReading,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
    rollout: Signal<Option<RolloutConfig>>,
    hover: RwSignal<Option<f32>>,
    models: Models,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let (draw_error, set_draw_error) = signal(None::<String>);
    let (top, probability) = reading.top_label();
    let top = top.to_string();
    let probs = reading
        .probs
        .iter()
        .map(f32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let timing = format!("{:.0} ms", reading.ms);
    let kind = if reading.teacher.is_some() {
        "teacher"
    } else {
        "student"
    };
    let model = reading.model.clone();
    let exported = model.clone();
    let sent_map = reading.map.clone();
    let own_rollout = reading
        .teacher
        .as_ref()
        .map(|teacher| teacher.rollout.clone());
    // Rolled out once per change of settings, not once per use: the cursor reads it often.
    let rolled_out = Memo::new(move |_| reading.map_with(rollout.get().as_ref()));
    let map = Memo::new(move |_| rolled_out.get().unwrap_or_else(|_| sent_map.clone()));
    let refused = move || {
        rolled_out.get().err().map(|why| {
            format!("These rollout settings do not fit this teacher ({why}); its own map is shown.")
        })
    };
    // The teacher's map as a student distilled from it learns it, made from the rollout shown
    // above it.
    let kd_target = Memo::new(move |_| {
        let own = own_rollout.clone()?;
        let settings = match (rolled_out.with(Result::is_ok), rollout.get()) {
            (true, Some(settings)) => settings,
            _ => own.clone(),
        };
        let target = KdTarget::default_for(settings.row);
        let shown = map.get();
        Some(ShownTarget {
            target,
            map: TimeMap {
                values: target.apply(&shown.values),
                ..shown
            },
            own_settings: settings == own,
        })
    });
    let at_cursor = move || weight_at(&map.get(), hover.get()?);
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get() {
            set_draw_error.set(draw_map(&canvas, &map.get(), duration_s, keyword_window).err());
        }
    });
    view! {
        <div class=format!("reading {kind}") data-model=model.clone() data-top=top.clone()
            data-probs=probs>
            <p class="reading-label">
                <span class="model-title">{title}</span>
                <span class="prediction">
                    "hears "<strong>{format!("“{top}”")}</strong>
                    {format!(" {:.1} %", 100.0 * probability)}
                </span>
                <span class="at-cursor muted">{at_cursor}</span>
                <span class="timing muted">{timing}</span>
                <Show when=move || kind == "student">
                    <ExportButton models=models model=exported.clone() />
                </Show>
            </p>
            <TimeCanvas canvas=canvas id=format!("attention-{model}") class="attention" height=56
                label=format!("Temporal attention of {model}") duration_s=duration_s hover=hover />
            <Show when=move || draw_error.get().is_some()>
                <p class="error" role="alert">{move || draw_error.get()}</p>
            </Show>
            <Show when=move || refused().is_some()>
                <p class="error" role="alert">{refused}</p>
            </Show>
        </div>
        <Show when=move || kd_target.with(Option::is_some)>
            <KdTargetStrip model=model.clone() target=kd_target duration_s=duration_s
                keyword_window=keyword_window hover=hover />
        </Show>
    }
}

/// A teacher's map made into the KD target (`KdTarget::default_for` its rollout), and whether
/// the rollout is the teacher's own settings, which training uses.
#[derive(Clone, PartialEq)]
struct ShownTarget {
    target: KdTarget,
    map: TimeMap,
    own_settings: bool,
}

/// Under a teacher's row, its map as a student distilled from it is trained to copy it (the
/// target of the page's training and of the command line's): for a first-frame rollout without
/// the query frame's own mass, then sharpened. Kept apart from the teacher's own map, which is
/// what the teacher attends to.
#[component]
fn KdTargetStrip(
    model: String,
    target: Memo<Option<ShownTarget>>,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
    hover: RwSignal<Option<f32>>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let (draw_error, set_draw_error) = signal(None::<String>);
    let map = move || target.with(|shown| shown.as_ref().map(|shown| shown.map.clone()));
    let described = move || {
        target.with(|shown| match shown {
            Some(shown) if shown.own_settings => format!(
                "its rollout {}: the map a student distilled from it learns to copy",
                shown.target
            ),
            Some(shown) => format!(
                "these rollout settings' map {}: the target they would make (training uses the \
                 teacher's own settings)",
                shown.target
            ),
            None => String::new(),
        })
    };
    let at_cursor = move || weight_at(&map()?, hover.get()?);
    Effect::new(move |_| {
        if let (Some(canvas), Some(map)) = (canvas.get(), map()) {
            set_draw_error.set(draw_map(&canvas, &map, duration_s, keyword_window).err());
        }
    });
    view! {
        <div class="kd-target">
            <p class="reading-label">
                <span class="model-title">"Teacher, as the KD target"</span>
                <span class="target-how muted">{described}</span>
                <span class="at-cursor muted">{at_cursor}</span>
            </p>
            <TimeCanvas canvas=canvas id=format!("attention-kd-target-{model}") class="attention" height=56
                label="The teacher's map as the KD target" duration_s=duration_s hover=hover />
            <Show when=move || draw_error.get().is_some()>
                <p class="error" role="alert">{move || draw_error.get()}</p>
            </Show>
        </div>
    }
}

/// A map's weight at `t` seconds, as the cursor line reads it.
fn weight_at(map: &TimeMap, t: f32) -> Option<String> {
    let frame = ((t - map.start_s) / map.frame_s).floor();
    let weight = (frame >= 0.0)
        .then(|| map.values.get(frame as usize))
        .flatten()?;
    Some(format!("{t:.2} s: weight {weight:.3}"))
}

/// One attention strip on the clip's time axis, its keyword window marked.
fn draw_map(
    canvas: &HtmlCanvasElement,
    map: &TimeMap,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
) -> Result<(), String> {
    on_canvas(canvas, |root| {
        plot_attention(root, map, duration_s, keyword_window, TimeLabels::Hidden)
    })
}

/// Downloads a loaded student as an ONNX model.
#[component]
fn ExportButton(models: Models, model: String) -> impl IntoView {
    let busy = move || models.onnx.exporting.with(Option::is_some);
    let export = move |_| {
        if let Some(source) = models.source(&model) {
            models.onnx.request(models, source);
        }
    };
    view! {
        <button type="button" class="export-onnx" disabled=busy on:click=export
            title="Download this student as an ONNX model, for runtimes outside this page">
            "ONNX"
        </button>
    }
}
