use crate::charts::{FIGURE_WIDTH, on_canvas, plot_trade_off};
use crate::export::{Download, save, text_download};
use crate::state::calibration::{CalibrationStatus, StreamsMade};
use crate::state::models::Models;
use crate::worker::{CalibrationStreams, ModelCalibration, Recording};
use leptos::html::Canvas;
use leptos::prelude::*;
use tempokd::metrics::Interval;
use tempokd::stream::calibrate::Errors;

/// Height of the trade-off chart.
const CHART_HEIGHT: u32 = 320;

/// Calibration: how often each model listening live misses a keyword or hears one nobody said,
/// at every threshold, and thresholds for a target rate of false accepts.
#[component]
pub fn CalibrationPanel(
    models: Models,
    /// The visitor's own keyword recordings, said in the keyword stream beside the pack's.
    #[prop(into)]
    recordings: Signal<Vec<Recording>>,
) -> impl IntoView {
    let calibration = models.calibration;
    view! {
        <section class="calibration" aria-labelledby="calibration-title">
            <h3 id="calibration-title">"Calibrate: how often is each model wrong?"</h3>
            <p class="hint">
                "Each model listens, as above, to a stream of keywords at known times (the \
                 keyword pack's held-out words, which no shipped model trained on, and your own \
                 recordings) and to a stream with no keyword (generated noise with other words, \
                 or your surroundings). Every window is read, however long it takes. At each \
                 threshold: the keywords missed, and the false accepts per hour, with 95 % \
                 intervals."
            </p>
            <CalibrationSettingsForm models=models />
            <CalibrationControls models=models recordings=recordings />
            <StreamsSummary made=calibration.made />
            <TradeOffChart models=models />
            <CalibrationTable models=models />
        </section>
    }
}

/// A number input bound to a setting: `apply` takes the value typed, if it is a number.
fn number_input(
    id: &'static str,
    min: &'static str,
    max: &'static str,
    step: &'static str,
    value: impl Fn() -> String + Send + Sync + 'static,
    apply: impl Fn(f64) + 'static,
    disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <input type="number" id=id min=min max=max step=step disabled=disabled
            prop:value=value
            on:change=move |event| {
                if let Ok(value) = event_target_value(&event).parse::<f64>() {
                    apply(value);
                }
            } />
    }
}

#[component]
fn CalibrationSettingsForm(models: Models) -> impl IntoView {
    let calibration = models.calibration;
    let running = Signal::derive(move || calibration.status.get().is_running());
    let streams = calibration.streams;
    let edit = move |change: &dyn Fn(&mut CalibrationStreams)| {
        let mut edited = streams.get_untracked();
        change(&mut edited);
        // Out-of-range values are refused here; the inputs show the setting as it stays.
        if edited.validate().is_ok() {
            streams.set(edited);
        } else {
            streams.notify();
        }
    };
    let model_box = move |name: String| {
        let checked_name = name.clone();
        let title = models.title(&name);
        view! {
            <label class="inline-setting">
                <input type="checkbox" class="calibration-model" value=name.clone()
                    disabled=running
                    prop:checked=move || {
                        calibration.left_out.with(|left| !left.contains(&checked_name))
                    }
                    on:change=move |event| {
                        let wanted = event_target_checked(&event);
                        calibration.left_out.update(|left| {
                            match wanted {
                                true => left.remove(&name),
                                false => left.insert(name.clone()),
                            };
                        });
                    } />
                {format!(" {title}")}
            </label>
        }
    };
    let names = move || {
        models
            .catalog
            .with(|catalog| catalog.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
    };
    view! {
        <div class="calibration-settings">
            <label>
                "Each keyword recording said "
                {number_input("calibration-copies", "1", "8", "1",
                    move || streams.get().keyword_copies.to_string(),
                    move |copies| edit(&|s| s.keyword_copies = copies as usize), running)}
                " times, at "
                {number_input("calibration-snr", "-10", "30", "1",
                    move || streams.get().snr_db.0.to_string(),
                    move |snr| edit(&|s| s.snr_db = (snr as f32, snr as f32)), running)}
                " dB SNR"
            </label>
            <label>
                "Stream without keywords: "
                {number_input("calibration-background-s", "10", "600", "10",
                    move || streams.get().background_s.to_string(),
                    move |seconds| edit(&|s| s.background_s = seconds as f32), running)}
                " s of "
                <select id="calibration-background" disabled=running
                    on:change=move |event| {
                        calibration.record_background.set(event_target_value(&event) == "room");
                    }>
                    <option value="generated" selected=move || !calibration.record_background.get()>
                        "generated noise with other words"
                    </option>
                    <option value="room" selected=move || calibration.record_background.get()>
                        "my surroundings (recorded first; say no keyword)"
                    </option>
                </select>
            </label>
            <label>
                "Choose thresholds for at most "
                {number_input("calibration-target", "0", "1000", "0.5",
                    move || calibration.measured_at.get().target_per_hour.to_string(),
                    move |rate| {
                        if rate.is_finite() && rate >= 0.0 {
                            calibration.measured_at.update(|m| m.target_per_hour = rate);
                        }
                    }, running)}
                " false accepts per hour"
            </label>
            <fieldset class="calibration-models">
                <legend>"Models"</legend>
                {move || names().into_iter().map(model_box).collect::<Vec<_>>()}
            </fieldset>
        </div>
    }
}

#[component]
fn CalibrationControls(models: Models, recordings: Signal<Vec<Recording>>) -> impl IntoView {
    let calibration = models.calibration;
    let live = models.live;
    let start = move |_| {
        // Both would share the worker; the calibration reads every window, so it goes alone.
        if live.status.get_untracked().is_open() {
            live.stop(models);
        }
        calibration.start(
            models,
            live.listening_models(models),
            recordings.get_untracked(),
        );
    };
    let status_text = move || match calibration.status.get() {
        CalibrationStatus::Idle => "Not calibrated yet.".to_string(),
        CalibrationStatus::Recording { heard_s, total_s } => {
            format!("Recording your surroundings: {heard_s:.0} of {total_s:.0} s. Say no keyword.")
        }
        CalibrationStatus::Preparing { done, total } => {
            format!("Getting the keyword pack's words: {done} of {total}.")
        }
        CalibrationStatus::Reading(progress) => format!(
            "{} ({} of {}) is listening: {:.0} of {:.0} s.",
            models.title(&progress.model),
            progress.index + 1,
            progress.models,
            progress.heard_s,
            progress.total_s
        ),
        CalibrationStatus::Done => "Calibrated.".into(),
        CalibrationStatus::Stopped => "Stopped; the models measured so far are shown.".into(),
        CalibrationStatus::Failed(message) => message,
    };
    let failed = move || matches!(calibration.status.get(), CalibrationStatus::Failed(_));
    let missing = move || {
        let missing = calibration.missing.get();
        (!missing.is_empty()).then(|| format!("Left out (did not load): {}.", missing.join(", ")))
    };
    view! {
        <div class="live-controls">
            <button class="button" id="calibrate-start"
                disabled=move || calibration.status.get().is_running()
                on:click=start>"Calibrate"</button>
            <button class="button" id="calibrate-stop"
                disabled=move || !calibration.status.get().is_running()
                on:click=move |_| calibration.stop(models)>"■ Stop"</button>
            <progress id="calibration-progress" max="1"
                value=move || calibration.status.get().fraction().to_string()></progress>
        </div>
        <p class="status" id="calibration-status" role="status" aria-live="polite"
            class:failed=failed>{status_text}</p>
        <p class="hint">{missing}</p>
    }
}

#[component]
fn StreamsSummary(made: RwSignal<Option<StreamsMade>>) -> impl IntoView {
    let text = move || {
        made.get().map(|made| {
            let background = match made.recorded {
                true => "your surroundings".to_string(),
                false => format!("generated noise with {} other words", made.other_words),
            };
            format!(
                "Keyword stream: {} keywords in {:.0} s. Stream without keywords: {:.0} s of {}. \
                 Thresholds are chosen on these streams and measured on the same ones; a \
                 fresh stream tells how well a rate holds (tempokd calibrate --held-out).",
                made.keywords, made.keyword_stream_s, made.background_s, background
            )
        })
    };
    view! { <p class="hint" id="calibration-streams">{text}</p> }
}

#[component]
fn TradeOffChart(models: Models) -> impl IntoView {
    let calibration = models.calibration;
    let canvas = NodeRef::<Canvas>::new();
    let (error, set_error) = signal(None::<String>);
    let shown = move || calibration.results.with(|results| !results.is_empty());
    Effect::new(move |_| {
        let Some(canvas) = canvas.get() else {
            return;
        };
        let drawn = calibration.results.with(|results| {
            on_canvas(&canvas, |root| {
                plot_trade_off(root, results, |name| models.title(name))
            })
        });
        set_error.set(drawn.err());
    });
    view! {
        <canvas node_ref=canvas id="calibration-chart" class="chart" hidden=move || !shown()
            width=FIGURE_WIDTH height=CHART_HEIGHT role="img"
            aria-label="Keywords missed against false accepts per hour, one curve per model"
        ></canvas>
        <Show when=move || error.get().is_some()>
            <p class="error" role="alert">{move || error.get()}</p>
        </Show>
    }
}

/// A share with its interval, in per cent.
fn percent(rate: f32, interval: Interval) -> String {
    format!(
        "{:.0} % ({:.0}–{:.0})",
        100.0 * rate,
        100.0 * interval.low,
        100.0 * interval.high
    )
}

/// False accepts per hour with their interval.
fn per_hour(errors: &Errors) -> String {
    let interval = errors.false_accepts_per_hour_interval;
    format!(
        "{:.1} ({:.1}–{:.1})",
        errors.false_accepts_per_hour, interval.low, interval.high
    )
}

#[component]
fn CalibrationTable(models: Models) -> impl IntoView {
    let calibration = models.calibration;
    let live = models.live;
    let (error, set_error) = signal(None::<String>);
    let base = move || live.settings.with(|s| s.detector.threshold);
    let row = move |result: ModelCalibration| {
        let at_base = (result.trade_off.iter())
            .min_by(|a, b| {
                (a.threshold - base())
                    .abs()
                    .total_cmp(&(b.threshold - base()).abs())
            })
            .cloned();
        let chosen = &result.for_target_rate;
        let thresholds: Vec<f32> = chosen.thresholds.values().copied().collect();
        let low = thresholds.iter().copied().fold(1.0, f32::min);
        let high = thresholds.iter().copied().fold(0.0, f32::max);
        let each_keyword: Vec<String> = (chosen.thresholds.iter())
            .map(|(keyword, threshold)| format!("{keyword} {threshold}"))
            .collect();
        let each_keyword = each_keyword.join(", ");
        let unreached = match chosen.unreached.is_empty() {
            true => String::new(),
            false => format!(" Not reached by {}.", chosen.unreached.join(", ")),
        };
        view! {
            <tr>
                <td>{models.title(&result.model)}</td>
                <td class="number">{at_base.as_ref().map(|p| format!("{:.2}", p.threshold))}</td>
                <td class="number">{at_base.as_ref().map(|p| percent(
                    p.errors.false_reject_rate, p.errors.false_reject_interval))}</td>
                <td class="number">{at_base.as_ref().map(|p| per_hour(&p.errors))}</td>
                <td class="number" title=each_keyword>
                    {format!("{low}–{high}")}
                </td>
                <td class="number">{percent(
                    chosen.errors.false_reject_rate, chosen.errors.false_reject_interval)}</td>
                <td class="number">{per_hour(&chosen.errors)}{unreached}</td>
            </tr>
        }
    };
    let in_use = move || live.calibrated.with(|c| !c.is_empty());
    let toggle = move |_| match in_use() {
        true => live.set_calibrated(Default::default()),
        false => live.set_calibrated(calibration.chosen_thresholds()),
    };
    let export = move |_| {
        let json = calibration
            .results
            .with_untracked(serde_json::to_string_pretty);
        let saved = match json {
            Ok(json) => {
                let download: Download =
                    text_download("tempokd-calibration.json", "application/json", &json);
                save(&download)
            }
            Err(e) => Err(format!("The results could not be written: {e}.")),
        };
        set_error.set(saved.err());
    };
    let target = move || calibration.measured_at.with(|m| m.target_per_hour);
    let results = move || calibration.results.get();
    view! {
        <Show when=move || !results().is_empty()>
            <table class="results" id="calibration-table">
                <thead>
                    <tr>
                        <th>"Model"</th>
                        <th>"Threshold"</th><th>"Missed"</th><th>"False accepts / h"</th>
                        <th title="Per keyword, the lowest threshold keeping its share of the target">
                            {move || format!("Thresholds for ≤ {} / h", target())}
                        </th>
                        <th>"Missed"</th><th>"False accepts / h"</th>
                    </tr>
                </thead>
                <tbody>{move || results().into_iter().map(row).collect::<Vec<_>>()}</tbody>
            </table>
            <div class="live-controls">
                <button class="button" id="calibration-use" on:click=toggle>
                    {move || match in_use() {
                        true => "Detect with the sliders' thresholds again",
                        false => "Detect live with these thresholds",
                    }}
                </button>
                <button class="button" id="calibration-json" on:click=export>
                    "Download the measurements (JSON)"
                </button>
            </div>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get()}</p>
            </Show>
        </Show>
    }
}
