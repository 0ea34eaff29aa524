use crate::charts::{TimeLabels, draw_attention};
use crate::models::{Models, RunProgress};
use crate::worker::Reading;
use leptos::html::Canvas;
use leptos::prelude::*;

/// One row per model on the clip's time axis, teacher first: its attention over time and what
/// it heard. Rows appear as the worker answers.
#[component]
pub fn Readings(
    models: Models,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
) -> impl IntoView {
    let titles = move |name: &str| {
        models.catalog.with(|catalog| {
            catalog
                .iter()
                .find(|entry| entry.name == name)
                .map_or_else(|| name.to_string(), |entry| entry.title.clone())
        })
    };
    let rows = move || models.readings.get();
    let failures = move || models.failures.get();
    view! {
        <section class="readings" aria-label="Where each model listens">
            <RunStatus models=models />
            <For each=rows key=|reading| reading.model.clone() let(reading)>
                <ReadingRow title=titles(&reading.model) reading=reading duration_s=duration_s
                    keyword_window=keyword_window />
            </For>
            <For each=failures key=|(model, _)| model.clone() let((model, message))>
                <p class="error" role="alert">
                    {format!("“{model}” could not run on this clip: {message}")}
                </p>
            </For>
        </section>
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
            <p class="muted" id="run-status" role="status" aria-live="polite">{text}</p>
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
    reading: Reading,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
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
    let map = reading.map.clone();
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get() {
            let drawn = draw_attention(
                &canvas,
                &map,
                duration_s,
                keyword_window,
                TimeLabels::Hidden,
            );
            set_draw_error.set(drawn.err());
        }
    });
    let kind = if reading.layers.is_some() {
        "teacher"
    } else {
        "student"
    };
    view! {
        <div class=format!("reading {kind}") data-model=reading.model.clone() data-top=top.clone()
            data-probs=probs>
            <p class="reading-label">
                <span class="model-title">{title}</span>
                <span class="prediction">
                    "hears "<strong>{format!("“{top}”")}</strong>
                    {format!(" {:.1} %", 100.0 * probability)}
                </span>
                <span class="timing muted">{timing}</span>
            </p>
            <canvas node_ref=canvas class="chart attention" width="960" height="56"
                aria-label=format!("Temporal attention of {}", reading.model)></canvas>
            <Show when=move || draw_error.get().is_some()>
                <p class="error" role="alert">{move || draw_error.get()}</p>
            </Show>
        </div>
    }
}
