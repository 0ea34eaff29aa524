use crate::charts::draw_attention_matrix;
use crate::state::models::Models;
use crate::worker::TeacherAttention;
use leptos::html::Canvas;
use leptos::prelude::*;
use std::ops::Range;
use tempokd::kd::{self, HeadFusion, RolloutConfig, RolloutRow};

/// Inside the teacher: one layer's self-attention (a head, or the mean of its heads) as a
/// frames × frames heatmap, and the rollout settings, which redraw the teacher's map above at
/// once. `rollout` is the visitor's choice; `None` keeps the teacher's own settings.
#[component]
pub fn TeacherExplorer(models: Models, rollout: RwSignal<Option<RolloutConfig>>) -> impl IntoView {
    // Which clip's teacher is shown: its layers are copied out only when this changes, not on
    // every answer of every model.
    let shown = Memo::new(move |_| {
        let clip = models.clips.get();
        models.readings.with(|readings| {
            let teacher = readings.iter().find(|reading| reading.teacher.is_some())?;
            Some((clip, teacher.model.clone()))
        })
    });
    let attention = move || {
        let (_, name) = shown.get()?;
        models.readings.with_untracked(|readings| {
            let reading = readings.iter().find(|reading| reading.model == name)?;
            Some((reading.teacher.clone()?, reading.map.frame_s))
        })
    };
    view! {
        <section class="explorer" aria-label="Inside the teacher">
            <h2>"Inside the teacher"</h2>
            {move || match attention() {
                Some((attention, frame_s)) => {
                    view! { <Explorer attention=attention rollout=rollout frame_s=frame_s /> }
                        .into_any()
                }
                None => view! {
                    <p class="muted">"The teacher's attention appears here once it has heard a clip."</p>
                }
                    .into_any(),
            }}
        </section>
    }
}

#[component]
fn Explorer(
    attention: TeacherAttention,
    rollout: RwSignal<Option<RolloutConfig>>,
    frame_s: f32,
) -> impl IntoView {
    let layers = attention.layers.layers();
    let heads = attention.layers.heads();
    let frames = attention.layers.frames();
    let layer = RwSignal::new(layers.saturating_sub(1));
    // `None`: the mean of the layer's heads.
    let head = RwSignal::new(None::<usize>);
    let maps = StoredValue::new(attention.layers);
    let defaults = attention.rollout;
    let settings = Memo::new(move |_| rollout.get().unwrap_or_else(|| defaults.clone()));
    let change = move |edit: &dyn Fn(&mut RolloutConfig)| {
        let mut changed = settings.get_untracked();
        edit(&mut changed);
        rollout.set(Some(changed));
    };
    let span = move || settings.get().layers.unwrap_or(0..layers);
    let rollout_error = move || {
        maps.with_value(|maps| {
            kd::rollout(maps, &settings.get())
                .err()
                .map(|e| e.to_string())
        })
    };

    let canvas = NodeRef::<Canvas>::new();
    let (draw_error, set_draw_error) = signal(None::<String>);
    Effect::new(move |_| {
        let Some(canvas) = canvas.get() else {
            return;
        };
        let (layer, head) = (layer.get(), head.get());
        let drawn = maps.with_value(|maps| {
            let matrix = match head {
                Some(head) => maps.map(layer, head).map(<[f32]>::to_vec),
                None => mean_of_heads(maps, layer),
            };
            match matrix {
                Some(matrix) => draw_attention_matrix(&canvas, &matrix, frames, frame_s),
                None => Err(format!(
                    "The teacher has no layer {} head {head:?}.",
                    layer + 1
                )),
            }
        });
        set_draw_error.set(drawn.err());
    });

    // Options carry the choice: a select's value set before its options exist is lost.
    let layer_options = move |chosen: Signal<usize>| {
        (0..layers)
            .map(|l| {
                view! {
                    <option value=l.to_string() prop:selected=move || chosen.get() == l>
                        {format!("layer {}", l + 1)}
                    </option>
                }
            })
            .collect_view()
    };
    let on_layers = move |start: Option<usize>, end: Option<usize>| {
        let current = span();
        let wanted = start.unwrap_or(current.start)..end.unwrap_or(current.end);
        change(&|config| config.layers = whole_or(wanted.clone(), layers));
    };
    let on_from =
        move |event: web_sys::Event| on_layers(event_target_value(&event).parse().ok(), None);
    let on_to = move |event: web_sys::Event| {
        let last = event_target_value(&event).parse::<usize>().ok();
        on_layers(None, last.map(|l| l + 1))
    };
    let on_fusion = move |event: web_sys::Event| {
        let fusion = match event_target_value(&event).as_str() {
            "max" => HeadFusion::Max,
            _ => HeadFusion::Mean,
        };
        change(&|config| config.head_fusion = fusion);
    };
    let on_residual = move |event: web_sys::Event| {
        if let Ok(residual) = event_target_value(&event).parse::<f32>() {
            change(&|config| config.residual = residual.clamp(0.0, 1.0));
        }
    };
    let on_row = move |event: web_sys::Event| {
        let row = match event_target_value(&event).as_str() {
            "first_frame" => RolloutRow::FirstFrame,
            _ => RolloutRow::MeanOfRows,
        };
        change(&|config| config.row = row);
    };
    let fusion = move || match settings.get().head_fusion {
        HeadFusion::Mean => "mean",
        HeadFusion::Max => "max",
    };
    let residual = move || settings.get().residual;
    let row = move || match settings.get().row {
        RolloutRow::FirstFrame => "first_frame",
        RolloutRow::MeanOfRows => "mean_of_rows",
    };

    view! {
        <div class="explorer-body">
            <div class="matrix">
                <div class="controls">
                    <label>
                        "Layer "
                        <select id="explore-layer" on:change=move |event| {
                                if let Ok(l) = event_target_value(&event).parse() {
                                    layer.set(l);
                                }
                            }>
                            {layer_options(layer.into())}
                        </select>
                    </label>
                    <label>
                        "Head "
                        <select id="explore-head" on:change=move |event| {
                            head.set(event_target_value(&event).parse().ok());
                        }>
                            <option value="mean" selected>"mean of heads"</option>
                            {(0..heads)
                                .map(|h| view! { <option value=h.to_string()>{format!("head {}", h + 1)}</option> })
                                .collect_view()}
                        </select>
                    </label>
                </div>
                <canvas node_ref=canvas id="attention-matrix" class="chart square" width="420"
                    height="420" aria-label="Self-attention of the chosen layer and head"></canvas>
                <Show when=move || draw_error.get().is_some()>
                    <p class="error" role="alert">{move || draw_error.get()}</p>
                </Show>
            </div>
            <fieldset class="rollout-settings">
                <legend>"Rollout settings of the teacher's map"</legend>
                <label>
                    "From "
                    <select id="rollout-from" on:change=on_from>
                        {layer_options(Signal::derive(move || span().start))}
                    </select>
                </label>
                <label>
                    "to "
                    <select id="rollout-to" on:change=on_to>
                        {layer_options(Signal::derive(move || span().end.saturating_sub(1)))}
                    </select>
                </label>
                <label>
                    "Heads fused by "
                    <select id="rollout-fusion" on:change=on_fusion>
                        <option value="mean" prop:selected=move || fusion() == "mean">"mean"</option>
                        <option value="max" prop:selected=move || fusion() == "max">"max"</option>
                    </select>
                </label>
                <label>
                    "Residual weight "
                    <input id="rollout-residual" type="range" min="0" max="1" step="0.05"
                        prop:value=move || residual().to_string() on:change=on_residual />
                    <output for="rollout-residual">{move || format!("{:.2}", residual())}</output>
                </label>
                <label>
                    "Row "
                    <select id="rollout-row" on:change=on_row>
                        <option value="first_frame" prop:selected=move || row() == "first_frame">
                            "first frame (what the classifier reads)"
                        </option>
                        <option value="mean_of_rows" prop:selected=move || row() == "mean_of_rows">
                            "mean of all frames"
                        </option>
                    </select>
                </label>
                <button type="button" id="rollout-reset" on:click=move |_| rollout.set(None)>
                    "Teacher's own settings"
                </button>
                <Show when=move || rollout_error().is_some()>
                    <p class="error" role="alert">{rollout_error}</p>
                </Show>
            </fieldset>
        </div>
    }
}

/// `wanted`, or `None` (every layer) when it covers all of them.
fn whole_or(wanted: Range<usize>, layers: usize) -> Option<Range<usize>> {
    (wanted != (0..layers)).then_some(wanted)
}

/// The mean over heads of one layer's maps, or `None` past the last layer.
fn mean_of_heads(maps: &kd::AttentionMaps, layer: usize) -> Option<Vec<f32>> {
    let heads = maps.heads();
    let mut mean = vec![0.0f32; maps.frames() * maps.frames()];
    for head in 0..heads {
        for (out, value) in mean.iter_mut().zip(maps.map(layer, head)?) {
            *out += value / heads as f32;
        }
    }
    Some(mean)
}
