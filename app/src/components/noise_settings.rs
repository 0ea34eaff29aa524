use leptos::prelude::*;
use tempokd::data::mix::NoisePlacement;
use tempokd::data::noise::Procedural;

/// Noise lengths offered, as in the paper's noisy long clips.
const LENGTHS_S: [f32; 4] = [2.0, 4.0, 6.0, 8.0];

/// Backgrounds the page can make on its own (babble needs a corpus of voices).
const NOISES: [Procedural; 5] = [
    Procedural::Pink,
    Procedural::White,
    Procedural::Brown,
    Procedural::Hum,
    Procedural::Tones,
];

/// The same settings always give the same noise, so a clip can be heard again exactly.
const NOISE_SEED: u64 = 1;

/// Places the clip's spoken part inside 2–8 s of generated noise at a chosen SNR, or leaves it
/// as recorded. Writes the choice into `placement` whenever it changes.
#[component]
pub fn NoiseSettings(placement: RwSignal<Option<NoisePlacement>>) -> impl IntoView {
    let length_s = RwSignal::new(None::<f32>);
    let noise = RwSignal::new(Procedural::Pink);
    let snr_db = RwSignal::new(5.0f32);
    let position = RwSignal::new(0.5f32);
    Effect::new(move |_| {
        let chosen = length_s.get().map(|length_s| NoisePlacement {
            length_s,
            snr_db: snr_db.get(),
            noise: noise.get(),
            position: position.get(),
            seed: NOISE_SEED,
        });
        if placement.get_untracked() != chosen {
            placement.set(chosen);
        }
    });
    let placed = move || length_s.get().is_some();
    view! {
        <fieldset class="noise-settings">
            <legend>"Place in noise"</legend>
            <label>
                "Length "
                <select id="noise-length" on:change=move |event| {
                    length_s.set(event_target_value(&event).parse::<f32>().ok());
                }>
                    <option value="" selected>"as recorded"</option>
                    {LENGTHS_S
                        .iter()
                        .map(|s| view! { <option value=s.to_string()>{format!("{s} s")}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Noise "
                <select id="noise-kind" disabled=move || !placed() on:change=move |event| {
                    let name = event_target_value(&event);
                    if let Some(kind) = NOISES.iter().find(|kind| kind.name() == name) {
                        noise.set(*kind);
                    }
                }>
                    {NOISES
                        .iter()
                        .map(|kind| view! { <option value=kind.name()>{kind.name()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "SNR "
                <input id="noise-snr" type="range" min="-5" max="20" step="1"
                    prop:value=move || snr_db.get().to_string() disabled=move || !placed()
                    on:change=move |event| {
                        if let Ok(value) = event_target_value(&event).parse::<f32>() {
                            snr_db.set(value);
                        }
                    } />
                <output for="noise-snr">{move || format!("{} dB", snr_db.get())}</output>
            </label>
            <label>
                "Word at "
                <input id="noise-position" type="range" min="0" max="100" step="5"
                    prop:value=move || (position.get() * 100.0).round().to_string()
                    disabled=move || !placed()
                    on:change=move |event| {
                        if let Ok(value) = event_target_value(&event).parse::<f32>() {
                            position.set((value / 100.0).clamp(0.0, 1.0));
                        }
                    } />
                <output for="noise-position">
                    {move || format!("{:.0} %", position.get() * 100.0)}
                </output>
            </label>
        </fieldset>
    }
}
