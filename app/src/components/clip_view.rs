use super::TimeCanvas;
use crate::analysis::Analysis;
use crate::charts::{on_canvas, plot_spectrogram, plot_waveform};
use leptos::html::Canvas;
use leptos::prelude::*;
use std::sync::Arc;

/// The clip on one time axis: its waveform above its log-mel spectrogram, and what the clip
/// holds at the time under the cursor.
#[component]
pub fn ClipView(analysis: Arc<Analysis>, hover: RwSignal<Option<f32>>) -> impl IntoView {
    let waveform = NodeRef::<Canvas>::new();
    let spectrogram = NodeRef::<Canvas>::new();
    let (draw_error, set_draw_error) = signal(None::<String>);
    let placed = analysis.noise.as_ref().map_or(String::new(), |noise| {
        format!(
            ", its word placed in {} s of {} noise at {} dB SNR",
            noise.length_s,
            noise.noise.name(),
            noise.snr_db
        )
    });
    let summary = format!(
        "{}: {:.2} s{placed}, {} channel{}, decoded at {} Hz and resampled to {} Hz; {} frames of \
         {} mel bins",
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
    let duration_s = analysis.clip.duration_s();
    let at_cursor = {
        let analysis = analysis.clone();
        move || {
            hover
                .get()
                .map(|t| at_time(&analysis, t))
                .unwrap_or_default()
        }
    };
    let drawn = analysis.clone();
    Effect::new(move |_| {
        let (Some(wave_canvas), Some(spec_canvas)) = (waveform.get(), spectrogram.get()) else {
            return;
        };
        let clip = &drawn.clip;
        let result = on_canvas(&wave_canvas, |root| {
            plot_waveform(
                root,
                clip.samples(),
                clip.sample_rate(),
                drawn.keyword_window,
            )
        })
        .and_then(|()| {
            on_canvas(&spec_canvas, |root| {
                plot_spectrogram(root, &drawn.log_mel, clip.duration_s())
            })
        });
        set_draw_error.set(result.err());
    });
    view! {
        <section class="clip" aria-label="Clip">
            <p class="clip-summary">{summary}</p>
            <TimeCanvas canvas=waveform id="waveform" class="" height=150 label="Waveform"
                duration_s=duration_s hover=hover />
            <TimeCanvas canvas=spectrogram id="spectrogram" class="" height=220
                label="Log-mel spectrogram" duration_s=duration_s hover=hover />
            <p class="hover-readout" id="hover-readout">{at_cursor}</p>
            <Show when=move || draw_error.get().is_some()>
                <p class="error" role="alert">{move || draw_error.get()}</p>
            </Show>
        </section>
    }
}

/// The clip at `t_s`: its level over the 20 ms around it and the loudest mel bin of its frame.
fn at_time(analysis: &Analysis, t_s: f32) -> String {
    let samples = analysis.clip.samples();
    let rate = analysis.clip.sample_rate() as f32;
    let centre = (t_s * rate) as usize;
    let half = (0.01 * rate) as usize;
    let around = samples
        .get(centre.saturating_sub(half)..(centre + half).min(samples.len()))
        .unwrap_or_default();
    let power = around.iter().map(|s| s * s).sum::<f32>() / around.len().max(1) as f32;
    let level_db = 10.0 * power.max(1e-10).log10();
    let features = &analysis.log_mel;
    let frame = ((t_s - features.start_s) / features.frame_s).max(0.0) as usize;
    let loudest = features
        .frame(frame.min(features.frames.saturating_sub(1)))
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(bin, _)| bin);
    let bin = loudest.map_or(String::new(), |bin| {
        format!(", loudest mel bin {} of {}", bin + 1, features.bins)
    });
    format!("{t_s:.2} s: level {level_db:.0} dBFS{bin}")
}
