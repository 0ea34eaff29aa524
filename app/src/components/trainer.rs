use crate::analysis::DecodedClip;
use crate::charts::{
    RUN_COLOURS, TimeLabels, on_canvas, plot_attention, plot_curves, time_chart_width,
};
use crate::components::{OnnxStatus, OwnWords};
use crate::export::{Download, save};
use crate::state::models::Models;
use crate::state::training_run::{Phase, RUNS, Training};
use crate::worker::{ModelKind, Steer, TimeMap, TrainSettings, TrainingEnd};
use leptos::html::Canvas;
use leptos::prelude::*;
use std::sync::Arc;
use tempokd::kd::PlainAndKd;

/// Knowledge distillation run in the page: pick a student and settings, train it twice side by
/// side (without and with KD) on the keyword pack, and watch the curves and the KD student's
/// map on a probe clip; then compare, use and download the trained students. `clip` is the clip
/// above, which the visitor may add to the training words.
#[component]
pub fn Trainer(
    models: Models,
    training: Training,
    clip: RwSignal<Option<Arc<DecodedClip>>>,
) -> impl IntoView {
    let students = move || {
        models.catalog.with(|catalog| {
            catalog
                .iter()
                .filter(|entry| entry.kind == ModelKind::Student && !entry.name.ends_with("-kd"))
                .map(|entry| (entry.name.clone(), entry.title.clone()))
                .collect::<Vec<_>>()
        })
    };
    let busy = move || training.busy();
    let ready = move || models.loading.with(|loading| loading.expected > 0);
    view! {
        <section class="trainer" aria-labelledby="trainer-title">
            <h2 id="trainer-title">"Train a student with KD"</h2>
            <p class="muted">
                "Two copies of the student start from its shipped weights and learn from the same "
                "noisy keyword clips in the same order: one from the labels alone (λ = 0), one also "
                "from the teacher's temporal map. Watch where the KD copy listens."
            </p>
            <div class="trainer-settings">
                <label>"Student "
                    <select id="train-student" prop:disabled=busy
                        on:change=move |event| training.student.set(event_target_value(&event))>
                        <For each=students key=|(name, _)| name.clone() let((name, title))>
                            <option value=name.clone()
                                selected=move || training.student.with(|s| *s == name)>
                                {title}
                            </option>
                        </For>
                    </select>
                </label>
                <NumberSetting id="train-lambda" label="λ" min="0.05" max="10" step="0.05" training
                    get=|s| s.lambda as f64 set=|s, v| s.lambda = v as f32 />
                <NumberSetting id="train-lr" label="learning rate" min="0.00001" max="9.99"
                    step="0.0001" training get=|s| s.learning_rate set=|s, v| s.learning_rate = v />
                <NumberSetting id="train-steps" label="steps" min="1" max="100000" step="10" training
                    get=|s| s.steps as f64 set=|s, v| s.steps = v as usize />
                <NumberSetting id="train-batch" label="batch" min="1" max="256" step="1" training
                    get=|s| s.batch_size as f64 set=|s, v| s.batch_size = v as usize />
                <NumberSetting id="train-length" label="L (s)" min="1" max="8" step="1" training
                    get=|s| s.length_s as f64 set=|s, v| s.length_s = v as f32 />
                <NumberSetting id="train-snr-low" label="SNR from (dB)" min="-20" max="40" step="1"
                    training get=|s| s.snr_db.0 as f64 set=|s, v| s.snr_db.0 = v as f32 />
                <NumberSetting id="train-snr-high" label="to (dB)" min="-20" max="40" step="1"
                    training get=|s| s.snr_db.1 as f64 set=|s, v| s.snr_db.1 = v as f32 />
            </div>
            <OwnWords training=training clip=clip />
            <div class="trainer-buttons">
                <button type="button" id="train-start" prop:disabled=move || busy() || !ready()
                    on:click=move |_| training.start(models, None)>"Train"</button>
                <Show when=busy>
                    <Show when=move || matches!(training.phase.get(), Phase::Running { paused: true })
                        fallback=move || view! {
                            <button type="button" id="train-pause"
                                on:click=move |_| training.steer(Steer::Pause)>"Pause"</button>
                        }>
                        <button type="button" id="train-resume"
                            on:click=move |_| training.steer(Steer::Resume)>"Resume"</button>
                    </Show>
                    <button type="button" id="train-stop"
                        on:click=move |_| training.steer(Steer::Stop)>"Stop"</button>
                </Show>
                <button type="button" id="train-reset" prop:disabled=busy
                    on:click=move |_| training.reset()>"Reset to the shipped weights"</button>
            </div>
            <TrainingStatus training=training />
            <Curves training=training />
            <ProbeMaps training=training />
            <Results models=models training=training />
        </section>
    }
}

/// One numeric setting, bound to a field of the training settings.
#[component]
fn NumberSetting(
    id: &'static str,
    label: &'static str,
    min: &'static str,
    max: &'static str,
    step: &'static str,
    training: Training,
    get: fn(&TrainSettings) -> f64,
    set: fn(&mut TrainSettings, f64),
) -> impl IntoView {
    let on_change = move |event| {
        if let Ok(value) = event_target_value(&event).parse::<f64>()
            && value.is_finite()
        {
            training.settings.update(|settings| set(settings, value));
        }
    };
    view! {
        <label>{label} " "
            <input type="number" id=id min=min max=max step=step
                prop:value=move || training.settings.with(get).to_string()
                prop:disabled=move || training.busy() on:change=on_change />
        </label>
    }
}

/// What the run is doing, with a progress bar, the pace and the time left, or how it ended.
#[component]
fn TrainingStatus(training: Training) -> impl IntoView {
    let text = move || match training.phase.get() {
        Phase::Idle => String::new(),
        Phase::Preparing { stage, done, total } => {
            format!("Preparing the {stage}: {done} of {total}…")
        }
        Phase::Running { paused } => {
            let done = training.points.with(|runs| runs.kd.len());
            let steps = training.settings.with(|s| s.steps);
            let pace = training.pace().map_or(String::new(), |(per_second, left)| {
                format!(" · {per_second:.1} steps/s · about {left:.0} s left")
            });
            let paused = if paused { " · paused" } else { "" };
            format!("Step {done} of {steps}{pace}{paused}")
        }
        Phase::Ended(end) => {
            let seconds = training.elapsed_ms.get() / 1000.0;
            let done = training.points.with(|runs| runs.kd.len());
            match end {
                TrainingEnd::Finished => format!("Trained {done} steps in {seconds:.1} s."),
                TrainingEnd::Stopped => format!("Stopped after {done} steps ({seconds:.1} s)."),
                TrainingEnd::Diverged(why) => why,
            }
        }
        Phase::Failed(message) => message,
        Phase::Restored { step, end } => {
            let steps = training.settings.with(|s| s.steps);
            let how = match end {
                None => format!("was at step {step} of {steps} when the page closed"),
                Some(TrainingEnd::Finished) => format!("trained all {step} steps"),
                Some(TrainingEnd::Stopped) => format!("was stopped after {step} steps"),
                Some(TrainingEnd::Diverged(_)) => format!("diverged after {step} good steps"),
            };
            format!(
                "Restored from this browser: the last run {how}. Its curves and students are \
                 below; Train starts a new run, Reset forgets it."
            )
        }
    };
    let fraction = move || match training.phase.get() {
        Phase::Preparing { done, total, .. } if total > 0 => done as f64 / total as f64,
        Phase::Running { .. } => {
            let done = training.points.with(|runs| runs.kd.len());
            done as f64 / training.settings.with(|s| s.steps.max(1)) as f64
        }
        _ => 0.0,
    };
    let alarming = move || {
        matches!(
            training.phase.get(),
            Phase::Failed(_) | Phase::Ended(TrainingEnd::Diverged(_))
        )
    };
    let info = move || {
        training.info.get().map(|info| {
            format!(
                "{} training clips, {} validation clips, on {}{}",
                info.train_clips,
                info.validation_clips,
                info.device,
                if info.cached_maps {
                    "; the teacher's maps came from this browser's cache"
                } else {
                    ""
                }
            )
        })
    };
    view! {
        <div class="training-status">
            <p id="training-status" role="status" aria-live="polite"
                class=move || if alarming() { "error" } else { "muted" }>{text}</p>
            <Show when=move || training.busy()>
                <progress id="training-progress" max="1" value=fraction
                    aria-label="Training progress"></progress>
            </Show>
            <p class="muted" id="training-info">{info}</p>
        </div>
    }
}

/// Training loss per step, and validation accuracy and localisation per scoring, both runs.
#[component]
fn Curves(training: Training) -> impl IntoView {
    let loss: NodeRef<Canvas> = NodeRef::new();
    let accuracy: NodeRef<Canvas> = NodeRef::new();
    let localisation: NodeRef<Canvas> = NodeRef::new();
    let (error, set_error) = signal(None::<String>);
    let draw = move |canvas: NodeRef<Canvas>, runs: PlainAndKd<Vec<(f32, f32)>>, top: f32, name| {
        let Some(canvas) = canvas.get() else {
            return;
        };
        let steps = training.settings.with(|s| s.steps);
        let drawn = on_canvas(&canvas, |root| {
            plot_curves(
                root,
                runs.as_ref().map(Vec::as_slice),
                steps,
                0.0..top,
                name,
            )
        });
        set_error.set(drawn.err());
    };
    // The loss moves every step; the scores only at each scoring, so they redraw only then.
    Effect::new(move |_| {
        let losses = training
            .points
            .with(|runs| curves_of(runs, |p| p.step, |p| p.task));
        let highest = losses
            .iter()
            .flatten()
            .map(|(_, loss)| *loss)
            .filter(|loss| loss.is_finite())
            .fold(0.5f32, f32::max);
        draw(loss, losses, highest * 1.05, "task loss");
    });
    Effect::new(move |_| {
        let scores = training.scores.get();
        let accuracies = curves_of(&scores, |s| s.step, |s| s.accuracy);
        draw(accuracy, accuracies, 1.0, "val. accuracy");
        let localisations = curves_of(&scores, |s| s.step, |s| s.localisation);
        draw(localisation, localisations, 1.0, "localisation");
    });
    view! {
        <Show when=move || training.phase.with(|p| *p != Phase::Idle)>
            <p class="legend">
                <span class="run-plain">"━ without KD"</span>
                <span class="run-kd">"━ with KD"</span>
            </p>
            <div class="curves">
                <canvas node_ref=loss id="curve-loss" class="chart" width="420" height="180"
                    role="img" aria-label="Training loss (the task term) of both runs"></canvas>
                <canvas node_ref=accuracy id="curve-accuracy" class="chart" width="420" height="180"
                    role="img" aria-label="Validation accuracy of both runs"></canvas>
                <canvas node_ref=localisation id="curve-localisation" class="chart" width="420"
                    height="180" role="img"
                    aria-label="Attention inside the keyword window on the validation clips"></canvas>
            </div>
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// Each run's points as (step, value) pairs for a curve.
fn curves_of<T>(
    runs: &PlainAndKd<Vec<T>>,
    step: fn(&T) -> usize,
    value: fn(&T) -> f32,
) -> PlainAndKd<Vec<(f32, f32)>> {
    runs.as_ref()
        .map(|run| run.iter().map(|p| (step(p) as f32, value(p))).collect())
}

/// The probe clip: the teacher's map and each student's, redrawn after every scoring.
#[component]
fn ProbeMaps(training: Training) -> impl IntoView {
    let rows: [(NodeRef<Canvas>, &str); 3] = [
        (NodeRef::new(), "probe-teacher"),
        (NodeRef::new(), "probe-plain"),
        (NodeRef::new(), "probe-kd"),
    ];
    let (error, set_error) = signal(None::<String>);
    Effect::new(move |_| {
        let (Some(probe), maps) = (training.probe.get(), training.probe_maps.get()) else {
            return;
        };
        let (plain, kd) = maps.map_or((None, None), |maps| (Some(maps.plain), Some(maps.kd)));
        let shown: [Option<TimeMap>; 3] = [Some(probe.teacher.clone()), plain, kd];
        for (index, ((canvas, _), map)) in rows.iter().zip(shown).enumerate() {
            let (Some(canvas), Some(map)) = (canvas.get(), map) else {
                continue;
            };
            let labels = if index == 2 {
                TimeLabels::Shown
            } else {
                TimeLabels::Hidden
            };
            let drawn = on_canvas(&canvas, |root| {
                plot_attention(root, &map, probe.duration_s, probe.window, labels)
            });
            set_error.set(drawn.err());
        }
    });
    let titles = move || {
        let teacher = training.probe.with(|p| {
            p.as_ref().map_or_else(String::new, |p| {
                format!("Teacher: the KD target, its rollout {}", p.target)
            })
        });
        [
            teacher,
            "Student without KD".into(),
            "Student with KD".into(),
        ]
    };
    view! {
        <Show when=move || training.probe.with(Option::is_some)>
            <h3>{move || training.probe.with(|p| p.as_ref().map(|p| {
                format!("Where they listen on a validation clip of “{}”", p.label)
            }))}</h3>
        </Show>
        <Show when=move || training.probe.with(Option::is_some)>
            <div class="probe">
                {rows.into_iter().zip(titles()).enumerate().map(|(index, ((canvas, id), title))| {
                    let height = if index == 2 { 96 } else { 60 };
                    view! {
                        <p class="row-title">{title.clone()}</p>
                        <canvas node_ref=canvas id=id class="chart attention"
                            width=time_chart_width() height=height role="img"
                            aria-label=title></canvas>
                    }
                }).collect_view()}
            </div>
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// After a run: each run's last scores and time, and its student to use above or download.
#[component]
fn Results(models: Models, training: Training) -> impl IntoView {
    // The last download's file, kept until the next so the browser can finish reading it.
    let last_file = StoredValue::new_local(None::<gloo_file::ObjectUrl>);
    let (error, set_error) = signal(None::<String>);
    let download = move |kd: bool, file: &'static str| {
        let Some(trained) = training.trained.get_untracked() else {
            return;
        };
        let files = trained.students.get(kd);
        let (bytes, mime) = match file {
            "config.json" => (files.config.as_bytes().to_vec(), "application/json"),
            _ => (files.weights.clone(), "application/octet-stream"),
        };
        let url = gloo_file::ObjectUrl::from(gloo_file::Blob::new_with_options(
            bytes.as_slice(),
            Some(mime),
        ));
        let suffix = if kd { "-kd" } else { "" };
        let name = format!("{}{suffix}-trained-{file}", trained.student);
        set_error.set(
            save(&Download {
                name,
                url: url.to_string(),
            })
            .err(),
        );
        last_file.set_value(Some(url));
    };
    let rows = move || {
        let scores = training.scores.get();
        training.trained.get().map(|trained| {
            [false, true].into_iter().map(|kd| {
                // The page's tests find each run's buttons by its index: 0 without KD, 1 with.
                let run = usize::from(kd);
                let last = scores.get(kd).last().copied().unwrap_or_default();
                let colour = RUN_COLOURS.get(kd);
                view! {
                    <tr>
                        <th scope="row" style:color=format!("rgb({},{},{})",
                            colour.0, colour.1, colour.2)>
                            {*RUNS.get(kd)}
                        </th>
                        <td class="accuracy">{format!("{:.1} %", 100.0 * last.accuracy)}</td>
                        <td class="localisation">{format!("{:.3}", last.localisation)}</td>
                        <td>{format!("{:.1} s", trained.elapsed_ms / 1000.0)}</td>
                        <td class="actions">
                            <button type="button" class=format!("use-{run}")
                                on:click=move |_| training.show_in_page(models, kd)>
                                "Show above"
                            </button>
                            <button type="button" class=format!("download-config-{run}")
                                on:click=move |_| download(kd, "config.json")>
                                "config.json"
                            </button>
                            <button type="button" class=format!("download-weights-{run}")
                                on:click=move |_| download(kd, "model.safetensors")>
                                "model.safetensors"
                            </button>
                            <button type="button" class=format!("download-onnx-{run}")
                                disabled=move || models.onnx.exporting.with(Option::is_some)
                                title="The student as an ONNX model, for runtimes outside this page"
                                on:click=move |_| training.export_onnx(models, kd)>
                                "ONNX"
                            </button>
                        </td>
                    </tr>
                }
            }).collect_view()
        })
    };
    view! {
        <Show when=move || training.trained.with(Option::is_some)>
            <table class="results" id="training-results">
                <caption>{move || {
                    let step = training.scores.with(|runs| runs.kd.last().map_or(0, |s| s.step));
                    format!("On the validation clips, with the weights of step {step}")
                }}</caption>
                <thead><tr>
                    <th scope="col">"run"</th><th scope="col">"accuracy"</th>
                    <th scope="col">"localisation"</th><th scope="col">"time (both)"</th>
                    <th scope="col">"student"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <OnnxStatus models=models />
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}
