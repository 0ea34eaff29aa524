use crate::analysis::Analysis;
use crate::browser::wasm_memory_bytes;
use crate::charts::{TAPE_WIDTH, TapePainter, tape_height};
use crate::components::CalibrationPanel;
use crate::export::{Download, save, text_download};
use crate::state::live::Live;
use crate::state::live_tape::{LiveStatus, LiveTape, LoggedDetection};
use crate::state::models::Models;
use crate::worker::{Cadence, Recording};
use leptos::html::Canvas;
use leptos::prelude::*;
use std::sync::Arc;
use tempokd::stream::{DetectorSettings, is_keyword};

/// Detections listed on the page, newest first; the CSV has them all.
const LOG_SHOWN: usize = 30;

/// Live mode: listen to the microphone and watch every model's attention scroll by, with each
/// detected word marked where it was said.
#[component]
pub fn LiveView(
    models: Models,
    /// The clip of the other tab, which can be played as the stream instead of the microphone.
    #[prop(into)]
    clip: Signal<Option<Arc<Analysis>>>,
    /// The visitor's own keyword recordings, which calibration says too.
    #[prop(into)]
    recordings: Signal<Vec<Recording>>,
) -> impl IntoView {
    let live = models.live;
    view! {
        <section class="live" aria-labelledby="live-title">
            <h2 id="live-title">"Listen live"</h2>
            <p class="hint">
                "Speak a keyword (yes, no, up, down, left, right, on, off, stop, go). The students \
                 read the last second every "
                {move || format!("{:.0} ms", 1000.0 * live.settings.get().stream.hop_s)}
                " while there is speech; the teacher reads each stretch of speech once it ends."
            </p>
            <LiveControls models=models clip=clip />
            <LiveModels live=live models=models />
            <LiveTapeCanvas live=live />
            <DetectorControls live=live />
            <DetectionLog live=live models=models />
            <CalibrationPanel models=models recordings=recordings />
        </section>
    }
}

#[component]
fn LiveControls(models: Models, clip: Signal<Option<Arc<Analysis>>>) -> impl IntoView {
    let live = models.live;
    let play = move |_| {
        if let Some(analysis) = clip.get_untracked() {
            live.play(models, analysis.clip.samples().to_vec());
        }
    };
    let play_title = move || match clip.get() {
        Some(analysis) => format!(
            "Play {} ({:.1} s) as the stream, in real time, instead of the microphone",
            analysis.name,
            analysis.clip.duration_s()
        ),
        None => "Choose a clip in the other tab to play it here as a stream".to_string(),
    };
    let status_text = move || match live.status.get() {
        LiveStatus::Idle => "Press Listen and allow the microphone.".to_string(),
        LiveStatus::Starting(what) => what,
        LiveStatus::Listening => live.tape.with(|tape| {
            let heard = tape.as_ref().map_or(0.0, |tape| tape.heard_s);
            format!("Listening: {heard:.1} s heard.")
        }),
        LiveStatus::Paused(None) => "Paused.".into(),
        LiveStatus::Paused(Some(why)) => format!("Paused: {why}."),
        LiveStatus::Stopped => "Stopped. The tape and the log stay until you listen again.".into(),
        LiveStatus::Failed(message) => message,
    };
    let failed = move || matches!(live.status.get(), LiveStatus::Failed(_));
    view! {
        <div class="live-controls">
            <button class="button" id="live-listen"
                disabled=move || live.status.get().is_open()
                on:click=move |_| live.start(models)>"● Listen"</button>
            <button class="button" id="live-play" title=play_title
                disabled=move || live.status.get().is_open() || clip.get().is_none()
                on:click=play>"▶ Play the clip as a stream"</button>
            <button class="button" id="live-pause"
                disabled=move || live.status.get() != LiveStatus::Listening
                on:click=move |_| live.pause(models, None)>"Pause"</button>
            <button class="button" id="live-resume"
                disabled=move || !matches!(live.status.get(), LiveStatus::Paused(_))
                on:click=move |_| live.resume(models)>"Resume"</button>
            <button class="button" id="live-stop"
                disabled=move || !live.status.get().is_open()
                on:click=move |_| live.stop(models)>"■ Stop"</button>
            <label class="inline-setting">
                <input type="checkbox" id="live-teacher-every-hop"
                    disabled=move || live.status.get().is_open()
                    prop:checked=move || live.teacher_every_hop.get()
                    on:change=move |event| live.teacher_every_hop.set(event_target_checked(&event))
                />
                " The teacher reads every hop too (slow on a CPU)"
            </label>
        </div>
        <p class="status" id="live-status" role="status" aria-live="polite" class:failed=failed>
            {status_text}
        </p>
    }
}

/// Which model reads at which rate, and what it costs.
#[component]
fn LiveModels(live: Live, models: Models) -> impl IntoView {
    // Ten chunks a second change the counts; the table is rebuilt once a second. Read with
    // `get`, not `track`: a memo hears `frame` only once it has been computed.
    let second = Memo::new(move |_| live.frame.get() / 10);
    let rows = move || {
        second.get();
        // And once more when listening pauses or stops, with the last counts.
        live.status.track();
        live.tape.with_untracked(|tape| {
            let Some(tape) = tape else {
                return Vec::new();
            };
            let hop_ms = 1000.0 * tape.settings.hop_s;
            (tape.models.iter())
                .map(|model| {
                    let cadence = match model.model.cadence {
                        Cadence::EveryHop => format!("every {hop_ms:.0} ms with speech"),
                        Cadence::PerSegment => "each stretch of speech".to_string(),
                    };
                    let worker = match model.worker {
                        0 => "model worker".to_string(),
                        helper => format!("helper {helper}"),
                    };
                    view! {
                        <tr>
                            <td>
                                {models.title(&model.model.name)}
                                <span class="muted">{format!(" ({})", model.model.name)}</span>
                            </td>
                            <td>{cadence}</td>
                            <td>{worker}</td>
                            <td class="number">{model.reads}</td>
                            <td class="number">{format!("{:.0}", model.mean_ms())}</td>
                            <td class="number">{format!("{:.2}", model.behind_s.max(0.0))}</td>
                            <td class="number">{model.skipped}</td>
                        </tr>
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    let missing = move || {
        live.tape.with(|tape| {
            tape.as_ref()
                .filter(|tape| !tape.missing.is_empty())
                .map(|tape| format!("Not listening (did not load): {}.", tape.missing.join(", ")))
        })
    };
    // Read once a second, for the line and for its exact value beside it.
    let page_bytes = Memo::new(move |_| {
        second.get();
        wasm_memory_bytes()
    });
    let memory = move || {
        let megabytes = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        live.tape.with(|tape| {
            tape.as_ref().map(|tape| {
                let workers = match tape.workers().len() {
                    1 => "the model worker".to_string(),
                    n => format!("the {n} model workers"),
                };
                format!(
                    "Memory: the page {:.0} MB, {workers} {:.0} MB (wasm; the most each has held \
                     at once).",
                    megabytes(page_bytes.get()),
                    megabytes(tape.worker_memory_bytes())
                )
            })
        })
    };
    view! {
        <table class="results live-models" id="live-models">
            <thead>
                <tr>
                    <th>"Model"</th><th>"Reads"</th>
                    <th title="On the CPU the students are dealt out between the page's model \
                        worker and a helper worker for each further core">"Worker"</th>
                    <th>"Readings"</th><th>"ms each"</th>
                    <th title="How far the stream had moved on when its last reading began">
                        "Behind (s)"
                    </th>
                    <th title="Windows dropped because the worker was too far behind">
                        "Skipped"
                    </th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p class="hint">{missing}</p>
        // The exact bytes, for the end-to-end test that watches them over ten minutes.
        <p class="hint" id="live-memory"
            data-page-bytes=move || page_bytes.get()
            data-worker-bytes=move || {
                second.get();
                live.tape.with_untracked(|tape| {
                    tape.as_ref().map_or(0, LiveTape::worker_memory_bytes)
                })
            }
            data-workers=move || live.tape.with(|tape| tape.as_ref().map_or(0, |t| t.workers().len()))>
            {memory}
        </p>
    }
}

#[component]
fn LiveTapeCanvas(live: Live) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let (error, set_error) = signal(None::<String>);
    let strips = move || {
        live.tape
            .with(|tape| tape.as_ref().map_or(0, |t| t.models.len()))
    };
    let mut painter = TapePainter::default();
    Effect::new(move |_| {
        live.frame.track();
        let Some(canvas) = canvas.get() else {
            return;
        };
        let drawn = live.tape.with(|tape| {
            let Some(tape) = tape else {
                return Ok(());
            };
            let height = tape_height(tape.models.len());
            if canvas.height() != height {
                canvas.set_height(height);
            }
            painter.draw(&canvas, tape)
        });
        set_error.set(drawn.err());
    });
    view! {
        <canvas node_ref=canvas id="live-tape" class="chart live-tape" width=TAPE_WIDTH
            height=move || tape_height(strips()) role="img"
            aria-label="The last seconds heard: spectrogram, voice activity, and each model's \
                        attention with its detections"></canvas>
        <Show when=move || error.get().is_some()>
            <p class="error" role="alert">{move || error.get()}</p>
        </Show>
    }
}

/// The detector's settings: one threshold, one per keyword, and the refractory time.
#[component]
fn DetectorControls(live: Live) -> impl IntoView {
    let detector = move || live.settings.with(|settings| settings.detector.clone());
    let change = move |edit: &dyn Fn(&mut DetectorSettings)| {
        let mut settings = detector();
        edit(&mut settings);
        if settings.check().is_ok() {
            live.set_detector(settings);
        }
    };
    // A memo: rebuilding the sliders would drop one being dragged.
    let keywords = Memo::new(move |_| {
        live.tape.with(|tape| {
            (tape.as_ref())
                .and_then(|tape| tape.models.first())
                .map(|model| {
                    (model.labels.iter())
                        .filter(|label| is_keyword(label))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let keyword_slider = move |keyword: String| {
        let shown = keyword.clone();
        let value = move || {
            let settings = detector();
            *settings
                .thresholds
                .get(&shown)
                .unwrap_or(&settings.threshold)
        };
        let id = format!("live-threshold-{keyword}");
        let shown_value = value.clone();
        view! {
            <label class="threshold">
                <span>{keyword.clone()}</span>
                <input type="range" id=id min="0.05" max="0.99" step="0.01"
                    prop:value=move || shown_value().to_string()
                    on:input=move |event| {
                        let Ok(threshold) = event_target_value(&event).parse::<f32>() else {
                            return;
                        };
                        change(&|settings| {
                            settings.thresholds.insert(keyword.clone(), threshold);
                        });
                    } />
                <output>{move || format!("{:.2}", value())}</output>
            </label>
        }
    };
    view! {
        <div class="detector-settings">
            <label class="threshold">
                <span>"Threshold"</span>
                <input type="range" id="live-threshold" min="0.05" max="0.99" step="0.01"
                    prop:value=move || detector().threshold.to_string()
                    on:input=move |event| {
                        let Ok(threshold) = event_target_value(&event).parse::<f32>() else {
                            return;
                        };
                        change(&|settings| {
                            settings.threshold = threshold;
                            settings.thresholds.clear();
                        });
                    } />
                <output>{move || format!("{:.2}", detector().threshold)}</output>
            </label>
            <label class="threshold">
                <span>"One word per"</span>
                <input type="range" id="live-refractory" min="0.25" max="3" step="0.25"
                    prop:value=move || detector().refractory_s.to_string()
                    on:input=move |event| {
                        let Ok(seconds) = event_target_value(&event).parse::<f32>() else {
                            return;
                        };
                        change(&|settings| settings.refractory_s = seconds);
                    } />
                <output>{move || format!("{:.2} s", detector().refractory_s)}</output>
            </label>
            <details>
                <summary>"A threshold per keyword"</summary>
                {move || keywords.get().into_iter().map(keyword_slider).collect::<Vec<_>>()}
            </details>
        </div>
    }
}

/// The detections, newest first, with their latency; the whole log as CSV.
#[component]
fn DetectionLog(live: Live, models: Models) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    // Changes with the log, not with every chunk and reading the tape takes in (read with
    // `get`, as `second` above).
    let log_changes = Memo::new(move |_| {
        live.tape
            .with(|tape| tape.as_ref().map(LiveTape::log_changes))
    });
    let log_is_empty = move || {
        log_changes.get();
        with_log(live, <[_]>::is_empty)
    };
    let newest = move || {
        log_changes.get();
        with_log(live, |log| {
            (log.iter().rev().take(LOG_SHOWN))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let latency = Memo::new(move |_| {
        log_changes.get();
        let mut latencies: Vec<f64> = with_log(live, |log| {
            (log.iter())
                .filter_map(|l| l.latency.map(|latency| latency.ms))
                .collect()
        });
        if latencies.is_empty() {
            return "Latency: none measured yet.".to_string();
        }
        latencies.sort_by(f64::total_cmp);
        let median = latencies[latencies.len() / 2];
        format!(
            "Latency from the end of speech to the mark: median {median:.0} ms, worst {:.0} ms \
             (n = {}).",
            latencies[latencies.len() - 1],
            latencies.len()
        )
    });
    let row = move |logged: LoggedDetection| {
        let d = &logged.detection;
        let latency = match logged.latency.map(|latency| latency.ms) {
            Some(ms) if ms < 0.0 => "before the word ended".to_string(),
            Some(ms) => format!("{ms:.0} ms"),
            None => "—".to_string(),
        };
        view! {
            <tr>
                <td class="number">{format!("{:.2} s", d.at_s)}</td>
                <td>{d.label.clone()}</td>
                <td>{models.title(&logged.model)}</td>
                <td class="number">{format!("{:.0} %", 100.0 * d.confidence)}</td>
                <td class="number">{latency}</td>
            </tr>
        }
    };
    let export = move |_| {
        let csv = live
            .tape
            .with_untracked(|tape| tape.as_ref().map(|tape| tape.csv()));
        if let Some(csv) = csv {
            let download: Download = text_download("tempokd-detections.csv", "text/csv", &csv);
            set_error.set(save(&download).err());
        }
    };
    view! {
        <div class="detections">
            <h3>"Detections"</h3>
            <p class="hint" id="live-latency">{latency}</p>
            <button class="button" id="live-csv" disabled=log_is_empty
                on:click=export>"Download the log (CSV)"</button>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get()}</p>
            </Show>
            <table id="live-log" class="results">
                <thead>
                    <tr>
                        <th>"Said at"</th><th>"Word"</th><th>"Model"</th><th>"Confidence"</th>
                        <th>"Latency"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || newest().into_iter().map(row).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }
}

/// `read` of the session's log, untracked: its readers follow the log's own changes.
fn with_log<T>(live: Live, read: impl FnOnce(&[LoggedDetection]) -> T) -> T {
    (live.tape).with_untracked(|tape| read(tape.as_ref().map_or(&[], LiveTape::log)))
}
