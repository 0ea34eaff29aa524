use super::{
    AudioInput, ClipView, DeploymentCardView, DeviceBadge, Downloads, ErrorBanner, LiveView,
    ModelLoading, NoiseSettings, OtherModels, Readings, TeacherExplorer, Trainer,
};
use crate::analysis::{Analysis, AudioSource, DecodedClip, decode};
use crate::browser::when_hidden;
use crate::state::catalog::shipped_models;
use crate::state::models::Models;
use crate::state::training_run::Training;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;
use tempokd::data::mix::NoisePlacement;
use tempokd::kd::RolloutConfig;

/// `?device=cpu` in the address keeps the models on the CPU even where WebGPU is offered.
fn cpu_request() -> Option<String> {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .filter(|query| query.contains("device=cpu"))
        .map(|_| "the address asks for the CPU (?device=cpu)".to_string())
}

/// What the page shows: a clip and its readings, or the microphone live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Clip,
    Live,
}

#[component]
pub fn App() -> impl IntoView {
    let mode = RwSignal::new(Mode::Clip);
    let (analysis, set_analysis) = signal(None::<Arc<Analysis>>);
    let (error, set_error) = signal(None::<String>);
    let (busy, set_busy) = signal(None::<String>);
    let decoded = RwSignal::new(None::<Arc<DecodedClip>>);
    let noise = RwSignal::new(None::<NoisePlacement>);
    let rollout = RwSignal::new(None::<RolloutConfig>);
    // The time under the cursor, marked on every chart of the clip.
    let hover = RwSignal::new(None::<f32>);
    let models = Models::new();
    let training = Training::new();
    spawn_local(training.restore());
    spawn_local(models.deployment.fetch());
    spawn_local(async move {
        match shipped_models().await {
            Ok(catalog) => models.start(catalog, cpu_request()),
            Err(message) => {
                set_error.set(Some(message));
                // Models the visitor loads can still run.
                models.start(Vec::new(), cpu_request());
            }
        }
    });

    // A new clip or new noise settings: what the models hear changes, so they hear it again.
    Effect::new(move |_| {
        let Some(source) = decoded.get() else {
            return;
        };
        match source.analyse(noise.get().as_ref()) {
            Ok(result) => {
                set_error.set(None);
                hover.set(None);
                models.analyse(result.clip.samples().to_vec());
                set_analysis.set(Some(Arc::new(result)));
            }
            Err(message) => {
                models.cancel();
                set_analysis.set(None);
                set_error.set(Some(message));
            }
        }
    });
    let on_input = Callback::new(move |source: AudioSource| {
        set_error.set(None);
        set_busy.set(Some(format!("Decoding {}…", source.name)));
        spawn_local(async move {
            match decode(source).await {
                Ok(clip) => decoded.set(Some(Arc::new(clip))),
                Err(message) => set_error.set(Some(message)),
            }
            set_busy.set(None);
        });
    });
    let on_error = Callback::new(move |message: String| set_error.set(Some(message)));
    when_hidden(move || {
        models.live.pause(
            models,
            Some(
                "the tab was hidden, and a hidden tab's timing is unreliable; press Resume".into(),
            ),
        )
    });
    let tab = move |shown: Mode, id: &'static str, title: &'static str| {
        view! {
            <button class="tab" id=id role="tab" aria-selected=move || (mode.get() == shown).to_string()
                class:selected=move || mode.get() == shown
                on:click=move |_| mode.set(shown)>{title}</button>
        }
    };

    view! {
        <header class="top">
            <h1>"TempoKD"</h1>
            <p class="tagline">"See where a keyword model listens."</p>
            <DeviceBadge device=models.device />
        </header>
        <main>
            <ErrorBanner error=error on_dismiss=Callback::new(move |()| set_error.set(None)) />
            <div class="tabs" role="tablist">
                {tab(Mode::Clip, "mode-clip", "A clip")}
                {tab(Mode::Live, "mode-live", "Listen live")}
            </div>
            <ModelLoading models=models />
            <Show when=move || mode.get() == Mode::Live>
                <LiveView models=models clip=analysis recordings=training.recordings />
            </Show>
            <div hidden=move || mode.get() != Mode::Clip>
            <AudioInput on_input=on_input on_error=on_error />
            <NoiseSettings placement=noise />
            <OtherModels models=models />
            <p class="status" role="status" aria-live="polite">
                {move || busy.get().unwrap_or_default()}
            </p>
            {move || analysis.get().map(|analysis| {
                let duration_s = analysis.clip.duration_s();
                let keyword_window = analysis.keyword_window;
                view! {
                    <ClipView analysis=analysis.clone() hover=hover />
                    <Readings models=models duration_s=duration_s keyword_window=keyword_window
                        rollout=rollout hover=hover />
                    <Downloads analysis=analysis models=models rollout=rollout />
                    <TeacherExplorer models=models rollout=rollout />
                }
            })}
            <Trainer models=models training=training clip=decoded />
            <DeploymentCardView models=models training=training />
            </div>
        </main>
    }
}
