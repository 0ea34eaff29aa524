use crate::analysis::AudioSource;
use crate::browser::audio::Recording;
use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tempokd::audio::Limits;

/// How often the level meter and the elapsed time refresh.
const METER_INTERVAL_MS: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Idle,
    Starting,
    Recording,
    Stopping,
}

/// Record from the microphone, with a level meter, the elapsed time and a stop button. Stops by
/// itself at the clip length limit.
#[component]
pub fn RecordButton(
    #[prop(into)] on_input: Callback<AudioSource>,
    #[prop(into)] on_error: Callback<String>,
) -> impl IntoView {
    let (state, set_state) = signal(State::Idle);
    let (level_dbfs, set_level_dbfs) = signal(-100.0f32);
    let (elapsed_s, set_elapsed_s) = signal(0.0f32);
    let recording = StoredValue::new_local(None::<Recording>);
    let ticker = StoredValue::new_local(None::<Interval>);
    let max_seconds = Limits::default().max_seconds;

    let stop = move || {
        ticker.set_value(None);
        let Some(active) = recording.try_update_value(Option::take).flatten() else {
            return;
        };
        set_state.set(State::Stopping);
        spawn_local(async move {
            match active.stop().await {
                Ok(bytes) => on_input.run(AudioSource {
                    name: "recording".into(),
                    bytes,
                    keyword_window: None,
                }),
                Err(message) => on_error.run(message),
            }
            set_state.set(State::Idle);
        });
    };
    let start = move || {
        set_state.set(State::Starting);
        spawn_local(async move {
            match Recording::start().await {
                Ok(active) => {
                    recording.set_value(Some(active));
                    set_elapsed_s.set(0.0);
                    set_state.set(State::Recording);
                    let tick = Interval::new(METER_INTERVAL_MS, move || {
                        let level = recording
                            .with_value(|r| r.as_ref().map(Recording::level_dbfs))
                            .unwrap_or(-100.0);
                        set_level_dbfs.set(level);
                        let now = elapsed_s.get_untracked() + METER_INTERVAL_MS as f32 / 1000.0;
                        set_elapsed_s.set(now);
                        if now >= max_seconds {
                            // Stopping drops this interval; do it after its callback returns.
                            spawn_local(async move { stop() });
                        }
                    });
                    ticker.set_value(Some(tick));
                }
                Err(message) => {
                    set_state.set(State::Idle);
                    on_error.run(message);
                }
            }
        });
    };

    let meter_width = move || {
        let fraction = ((level_dbfs.get() + 60.0) / 60.0).clamp(0.0, 1.0);
        format!("width: {:.0}%", fraction * 100.0)
    };
    view! {
        <div class="record">
            <button
                class="button record-button"
                class:active=move || state.get() == State::Recording
                disabled=move || matches!(state.get(), State::Starting | State::Stopping)
                on:click=move |_| {
                    if state.get_untracked() == State::Recording { stop() } else { start() }
                }
            >
                {move || match state.get() {
                    State::Idle => "● Record".to_string(),
                    State::Starting => "Opening microphone…".to_string(),
                    State::Recording => format!("■ Stop ({:.1} s)", elapsed_s.get()),
                    State::Stopping => "Finishing…".to_string(),
                }}
            </button>
            <Show when=move || state.get() == State::Recording>
                <div
                    class="meter"
                    role="meter"
                    aria-label="Input level"
                    aria-valuemin="-60"
                    aria-valuemax="0"
                    aria-valuenow=move || format!("{:.0}", level_dbfs.get())
                >
                    <div class="meter-fill" style=meter_width></div>
                </div>
            </Show>
        </div>
    }
}
