use super::RecordButton;
use crate::analysis::AudioSource;
use crate::browser::audio::check_file_size;
use gloo_net::http::Request;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use web_sys::{DragEvent, HtmlInputElement};

/// A bundled clip, as listed in `clips/clips.json`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct DemoClip {
    pub file: String,
    pub title: String,
    pub start_s: Option<f32>,
    pub end_s: Option<f32>,
}

const DEMO_INDEX: &str = "clips/clips.json";
const FORMATS_HINT: &str = "Drop an audio file: WAV, FLAC, OGG/Vorbis or MP3.";

/// Every way audio gets in: record, pick a file, drop a file, or a demo clip.
#[component]
pub fn AudioInput(
    #[prop(into)] on_input: Callback<AudioSource>,
    #[prop(into)] on_error: Callback<String>,
) -> impl IntoView {
    let (dragging, set_dragging) = signal(false);
    let read = move |file: web_sys::File| {
        let file = gloo_file::File::from(file);
        if let Err(message) = check_file_size(file.size()) {
            on_error.run(message);
            return;
        }
        spawn_local(async move {
            match gloo_file::futures::read_as_bytes(&file).await {
                Ok(bytes) => on_input.run(AudioSource {
                    name: file.name(),
                    bytes,
                    keyword_window: None,
                }),
                Err(e) => on_error.run(format!("The file could not be read ({e}).")),
            }
        });
    };
    let on_pick = move |event: web_sys::Event| {
        let input: HtmlInputElement = event_target(&event);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            read(file);
        }
        // Picking the same file again must fire another change.
        input.set_value("");
    };
    let on_drop = move |event: DragEvent| {
        event.prevent_default();
        set_dragging.set(false);
        match event
            .data_transfer()
            .and_then(|transfer| transfer.files())
            .and_then(|files| files.get(0))
        {
            Some(file) => read(file),
            None => on_error.run(FORMATS_HINT.into()),
        }
    };

    view! {
        <section
            class="input"
            class:dragging=dragging
            aria-label="Audio input"
            on:dragover=move |event: DragEvent| {
                event.prevent_default();
                set_dragging.set(true);
            }
            on:dragleave=move |_| set_dragging.set(false)
            on:drop=on_drop
        >
            <div class="input-row">
                <RecordButton on_input=on_input on_error=on_error />
                <label class="button">
                    "Upload a file"
                    <input
                        type="file"
                        class="visually-hidden"
                        accept="audio/*,.wav,.flac,.ogg,.mp3"
                        on:change=on_pick
                    />
                </label>
                <span class="drop-hint">"or drop an audio file anywhere here"</span>
            </div>
            <DemoClips on_input=on_input on_error=on_error />
        </section>
    }
}

/// Buttons for the bundled clips, loaded from their index.
#[component]
fn DemoClips(
    #[prop(into)] on_input: Callback<AudioSource>,
    #[prop(into)] on_error: Callback<String>,
) -> impl IntoView {
    let clips = LocalResource::new(|| async {
        let response = Request::get(DEMO_INDEX)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        response
            .json::<Vec<DemoClip>>()
            .await
            .map_err(|e| e.to_string())
    });
    let play = move |clip: DemoClip| {
        spawn_local(async move {
            let url = format!("clips/{}", clip.file);
            let bytes = match Request::get(&url).send().await {
                Ok(response) if response.ok() => response.binary().await.map_err(|e| e.to_string()),
                Ok(response) => Err(format!("HTTP {}", response.status())),
                Err(e) => Err(e.to_string()),
            };
            match bytes {
                Ok(bytes) => on_input.run(AudioSource {
                    name: clip.file.clone(),
                    bytes,
                    keyword_window: clip.start_s.zip(clip.end_s),
                }),
                Err(e) => on_error.run(format!(
                    "The demo clip {} could not be loaded ({e}). Reload the page and try again.",
                    clip.file
                )),
            }
        });
    };
    view! {
        <div class="demos">
            <span class="demos-label">"Demo clips:"</span>
            {move || match clips.get() {
                None => view! { <span class="muted">"loading…"</span> }.into_any(),
                Some(Err(e)) => {
                    view! { <span class="muted">{format!("unavailable ({e})")}</span> }.into_any()
                }
                Some(Ok(list)) => {
                    list.into_iter()
                        .map(|clip| {
                            let title = clip.title.clone();
                            view! {
                                <button class="demo" on:click=move |_| play(clip.clone())>
                                    {title}
                                </button>
                            }
                        })
                        .collect_view()
                        .into_any()
                }
            }}
        </div>
    }
}
