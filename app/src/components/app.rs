use super::{AudioInput, ClipView, DeviceBadge, ErrorBanner};
use crate::analysis::{AudioSource, analyse};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;
use tempokd::device::ComputeDevice;

#[component]
pub fn App() -> impl IntoView {
    let (analysis, set_analysis) = signal(None::<Arc<crate::analysis::Analysis>>);
    let (error, set_error) = signal(None::<String>);
    let (busy, set_busy) = signal(None::<String>);
    // Chosen once per page: wgpu can be initialised only once.
    let device = RwSignal::new(None::<ComputeDevice>);
    spawn_local(async move { device.set(Some(ComputeDevice::gpu_or_cpu().await)) });

    let on_input = Callback::new(move |source: AudioSource| {
        set_error.set(None);
        set_busy.set(Some(format!("Decoding {}…", source.name)));
        spawn_local(async move {
            match analyse(source).await {
                Ok(result) => set_analysis.set(Some(Arc::new(result))),
                Err(message) => set_error.set(Some(message)),
            }
            set_busy.set(None);
        });
    });
    let on_error = Callback::new(move |message: String| set_error.set(Some(message)));

    view! {
        <header class="top">
            <h1>"TempoKD"</h1>
            <p class="tagline">"See where a keyword model listens."</p>
            <DeviceBadge device=device />
        </header>
        <main>
            <ErrorBanner error=error on_dismiss=Callback::new(move |()| set_error.set(None)) />
            <AudioInput on_input=on_input on_error=on_error />
            <p class="status" role="status" aria-live="polite">
                {move || busy.get().unwrap_or_default()}
            </p>
            {move || analysis.get().map(|analysis| view! { <ClipView analysis=analysis /> })}
        </main>
    }
}
