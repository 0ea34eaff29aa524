use crate::state::models::{LoadProgress, Models};
use leptos::prelude::*;

/// Loading progress of the shipped models: a bar over the bytes of all weights (sizes known
/// before download), then how long loading took, and any model that failed with why.
#[component]
pub fn ModelLoading(models: Models) -> impl IntoView {
    let loading = models.loading;
    let megabytes = |bytes: u64| bytes as f64 / 1e6;
    let summary = move || {
        loading.with(|l: &LoadProgress| match l.finished_ms {
            _ if l.expected == 0 => "Listing the models…".to_string(),
            None => format!(
                "Loading {} models: {:.1} of {:.1} MB",
                l.expected,
                megabytes(l.fetched_bytes),
                megabytes(l.total_bytes)
            ),
            Some(finished) => format!(
                "{} of {} models loaded ({:.1} MB) in {:.1} s",
                l.loaded,
                l.expected,
                megabytes(l.total_bytes),
                (finished - l.started_ms) / 1000.0
            ),
        })
    };
    let failed = move || loading.with(|l| l.failed.clone());
    let notice = models.notice;
    view! {
        <section class="model-loading" aria-label="Models">
            <Show when=move || notice.with(Option::is_some)>
                <p class="notice" id="device-notice" role="alert">
                    {move || notice.get().unwrap_or_default()}
                </p>
            </Show>
            <p class="muted" id="model-status">{summary}</p>
            <Show when=move || loading.with(|l| !l.done())>
                <progress id="model-progress" max="1"
                    value=move || loading.with(LoadProgress::fraction)
                    aria-label="Loading the models"></progress>
            </Show>
            <For each=failed key=|(model, _)| model.clone() let((model, message))>
                <p class="error" role="alert">
                    {format!("The model “{model}” could not be loaded: {message}")}
                </p>
            </For>
        </section>
    }
}
