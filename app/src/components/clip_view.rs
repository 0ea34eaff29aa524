use crate::analysis::Analysis;
use crate::charts::{draw_spectrogram, draw_waveform};
use leptos::html::Canvas;
use leptos::prelude::*;
use std::sync::Arc;

/// The clip on one time axis: its waveform above its log-mel spectrogram.
#[component]
pub fn ClipView(analysis: Arc<Analysis>) -> impl IntoView {
    let waveform = NodeRef::<Canvas>::new();
    let spectrogram = NodeRef::<Canvas>::new();
    let (draw_error, set_draw_error) = signal(None::<String>);
    let summary = format!(
        "{}: {:.2} s, {} channel{}, decoded at {} Hz and resampled to {} Hz; {} frames of {} mel bins",
        analysis.name,
        analysis.clip.duration_s(),
        analysis.source_channels,
        if analysis.source_channels == 1 {
            ""
        } else {
            "s"
        },
        analysis.source_rate,
        analysis.clip.sample_rate(),
        analysis.log_mel.frames,
        analysis.log_mel.bins,
    );
    let drawn = analysis.clone();
    Effect::new(move |_| {
        let (Some(wave_canvas), Some(spec_canvas)) = (waveform.get(), spectrogram.get()) else {
            return;
        };
        let clip = &drawn.clip;
        let result = draw_waveform(
            &wave_canvas,
            clip.samples(),
            clip.sample_rate(),
            drawn.keyword_window,
        )
        .and_then(|()| draw_spectrogram(&spec_canvas, &drawn.log_mel, clip.duration_s()));
        set_draw_error.set(result.err());
    });
    view! {
        <section class="clip" aria-label="Clip">
            <p class="clip-summary">{summary}</p>
            <canvas node_ref=waveform class="chart" id="waveform" width="960" height="150"
                aria-label="Waveform"></canvas>
            <canvas node_ref=spectrogram class="chart" id="spectrogram" width="960" height="220"
                aria-label="Log-mel spectrogram"></canvas>
            <Show when=move || draw_error.get().is_some()>
                <p class="error" role="alert">{move || draw_error.get()}</p>
            </Show>
        </section>
    }
}
