use leptos::prelude::*;

/// The one place failures are shown: what happened and what to do, dismissable.
#[component]
pub fn ErrorBanner(
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] on_dismiss: Callback<()>,
) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div class="error" role="alert">
                <span class="error-text">{move || error.get().unwrap_or_default()}</span>
                <button class="dismiss" aria-label="Dismiss" on:click=move |_| on_dismiss.run(())>
                    "×"
                </button>
            </div>
        </Show>
    }
}
