use crate::charts::{time_chart_width, time_to_x, x_to_time};
use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::{KeyboardEvent, MouseEvent};

/// A chart on the clip's shared time axis. Pointing at it (or the arrow keys once it has focus)
/// sets `hover`, the time every chart of the clip marks with a cursor line.
#[component]
pub fn TimeCanvas(
    canvas: NodeRef<Canvas>,
    #[prop(into)] id: String,
    #[prop(into)] class: String,
    height: u32,
    #[prop(into)] label: String,
    duration_s: f32,
    hover: RwSignal<Option<f32>>,
) -> impl IntoView {
    let width = time_chart_width();
    let on_move = move |event: MouseEvent| {
        let Some(canvas) = canvas.get_untracked() else {
            return;
        };
        let shown_width = canvas.client_width().max(1) as f32;
        hover.set(x_to_time(
            event.offset_x() as f32 / shown_width,
            duration_s,
            width,
        ));
    };
    let on_key = move |event: KeyboardEvent| {
        let step = duration_s / 100.0;
        let now = hover.get_untracked();
        let next = match event.key().as_str() {
            "ArrowLeft" => now.unwrap_or(duration_s) - step,
            "ArrowRight" => now.map_or(0.0, |t| t + step),
            "Escape" => {
                hover.set(None);
                return;
            }
            _ => return,
        };
        event.prevent_default();
        hover.set(Some(next.clamp(0.0, duration_s)));
    };
    let cursor = move || {
        hover.get().map(|t| {
            view! {
                <div class="time-cursor" aria-hidden="true"
                    style:left=format!("{:.3}%", 100.0 * time_to_x(t, duration_s, width))></div>
            }
        })
    };
    view! {
        <div class="time-chart">
            <canvas node_ref=canvas id=id class=format!("chart {class}") width=width
                height=height tabindex="0" role="img" aria-label=label on:mousemove=on_move
                on:mouseleave=move |_| hover.set(None) on:keydown=on_key
                on:blur=move |_| hover.set(None)></canvas>
            {cursor}
        </div>
    }
}
