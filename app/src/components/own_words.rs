use crate::analysis::{AudioSource, DecodedClip, decode};
use crate::browser::audio::Recording as MicRecording;
use crate::state::training_run::Training;
use crate::worker::Recording;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::data::keywords::{KEYWORDS, UNKNOWN};
use tempokd::data::pack::KeywordPack;

/// How long one take from the microphone lasts: a word and a little silence either side.
const TAKE_MS: u32 = 1_500;

/// Where a click on a word takes its audio from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Microphone,
    ClipAbove,
}

/// The visitor's own words for the training pack: one click on a word records a take of it (or
/// labels the clip above with it); every take joins the pack's training words in the next run.
#[component]
pub fn OwnWords(training: Training, clip: RwSignal<Option<Arc<DecodedClip>>>) -> impl IntoView {
    let (source, set_source) = signal(Source::Microphone);
    let (taking, set_taking) = signal(None::<String>);
    let (note, set_note) = signal(None::<Result<String, String>>);
    let busy = move || training.busy() || taking.with(Option::is_some);

    let add = move |label: String, word: &[f32]| {
        let max_s = training.settings.with_untracked(|s| s.length_s);
        // The worker adds it the same way; checking here tells the visitor at once.
        let checked = KeywordPack::default().add_recording(&label, word, max_s);
        set_note.set(Some(match checked {
            Ok(()) => {
                let seconds = word.len() as f32 / MODEL_SAMPLE_RATE as f32;
                training.recordings.update(|all| {
                    all.push(Recording {
                        label: label.clone(),
                        samples: word.to_vec(),
                    })
                });
                Ok(format!("Added a take of “{label}” ({seconds:.2} s)."))
            }
            Err(why) => Err(format!("That take of “{label}” was not added: {why}.")),
        }));
    };
    let take = move |label: String| match source.get_untracked() {
        Source::ClipAbove => match clip.get_untracked() {
            Some(decoded) => add(label, decoded.word()),
            None => set_note.set(Some(Err(
                "There is no clip above yet: record, drop or pick one first.".into(),
            ))),
        },
        Source::Microphone => {
            set_taking.set(Some(label.clone()));
            set_note.set(None);
            spawn_local(async move {
                match record_take().await {
                    Ok(decoded) => add(label, decoded.word()),
                    Err(why) => set_note.set(Some(Err(why))),
                }
                set_taking.set(None);
            });
        }
    };

    let words = KEYWORDS
        .iter()
        .map(|word| (word.to_string(), word.to_string()))
        .chain([(UNKNOWN.to_string(), "another word".to_string())]);
    let counts = move || {
        training.recordings.with(|all| {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for recording in all {
                match counts
                    .iter_mut()
                    .find(|(label, _)| *label == recording.label)
                {
                    Some((_, count)) => *count += 1,
                    None => counts.push((recording.label.clone(), 1)),
                }
            }
            counts
                .iter()
                .map(|(label, count)| format!("{label} × {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    view! {
        <fieldset class="own-words">
            <legend>"Your own words (optional)"</legend>
            <p class="muted">
                "Click a word to add a take of it to the training words, for example five “yes” "
                "and five “no”. Each take is cut to its spoken part and mixed into noise like the "
                "pack's words."
            </p>
            <div class="own-words-source" role="radiogroup" aria-label="Where a take comes from">
                <label><input type="radio" name="take-source" id="take-microphone"
                    prop:checked=move || source.get() == Source::Microphone
                    on:change=move |_| set_source.set(Source::Microphone) />
                    {format!(" record {:.1} s from the microphone", TAKE_MS as f32 / 1000.0)}</label>
                <label><input type="radio" name="take-source" id="take-clip"
                    prop:checked=move || source.get() == Source::ClipAbove
                    on:change=move |_| set_source.set(Source::ClipAbove) />
                    " use the clip above"</label>
            </div>
            <div class="own-words-buttons">
                {words.map(|(label, title)| {
                    let shown = label.clone();
                    view! {
                        <button type="button" class="take" data-label=label.clone()
                            prop:disabled=busy on:click=move |_| take(label.clone())>
                            {move || if taking.get().as_deref() == Some(shown.as_str()) {
                                "● recording…".to_string()
                            } else {
                                title.clone()
                            }}
                        </button>
                    }
                }).collect_view()}
            </div>
            {move || note.get().map(|note| match note {
                Ok(text) => view! { <p class="muted" id="own-words-note">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" id="own-words-note">{text}</p> }
                    .into_any(),
            })}
            <Show when=move || training.recordings.with(|all| !all.is_empty())>
                <div class="own-words-taken">
                    <span id="own-words-count">{move || format!("In the next run: {}.", counts())}</span>
                    <button type="button" id="own-words-undo" prop:disabled=busy
                        on:click=move |_| training.recordings.update(|all| { all.pop(); })>
                        "Remove the last take"
                    </button>
                    <button type="button" id="own-words-clear" prop:disabled=busy
                        on:click=move |_| training.recordings.set(Vec::new())>
                        "Remove all"
                    </button>
                </div>
            </Show>
        </fieldset>
    }
}

/// One take from the microphone, decoded at the models' rate.
async fn record_take() -> Result<DecodedClip, String> {
    let recording = MicRecording::start().await?;
    TimeoutFuture::new(TAKE_MS).await;
    let bytes = recording.stop().await?;
    decode(AudioSource {
        name: "take".into(),
        bytes,
        keyword_window: None,
    })
    .await
}
