use crate::analysis::Analysis;
use crate::export::{Download, View, save};
use crate::state::models::Models;
use leptos::prelude::*;
use std::sync::Arc;
use tempokd::kd::RolloutConfig;

/// Buttons that download what is on screen: the figure as PNG or SVG, the numbers as JSON.
#[component]
pub fn Downloads(
    analysis: Arc<Analysis>,
    models: Models,
    #[prop(into)] rollout: Signal<Option<RolloutConfig>>,
) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    let analysis = StoredValue::new(analysis);
    let export = move |make: fn(&View<'_>) -> Result<Download, String>| {
        let readings: Vec<_> = models.readings.with_untracked(|readings| {
            readings
                .iter()
                .map(|reading| (models.title(&reading.model), reading.clone()))
                .collect()
        });
        let device = models.device.get_untracked();
        let rollout = rollout.get_untracked();
        let made = analysis.with_value(|analysis| {
            make(&View {
                analysis,
                readings: &readings,
                device: device.as_ref(),
                rollout: rollout.as_ref(),
            })
        });
        set_error.set(made.and_then(|download| save(&download)).err());
    };
    let nothing_yet = move || models.readings.with(Vec::is_empty);
    view! {
        <div class="downloads">
            <span class="muted">"Download:"</span>
            <button type="button" id="download-png" disabled=nothing_yet
                on:click=move |_| export(|view| view.png())>"figure (PNG)"</button>
            <button type="button" id="download-svg" disabled=nothing_yet
                on:click=move |_| export(|view| view.svg())>"figure (SVG)"</button>
            <button type="button" id="download-json" disabled=nothing_yet
                on:click=move |_| export(|view| Ok(view.json()))>"numbers (JSON)"</button>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get()}</p>
            </Show>
        </div>
    }
}
