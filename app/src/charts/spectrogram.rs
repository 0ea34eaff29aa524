use super::{backend, plot_error, time_chart};
use plotters::prelude::*;
use tempokd::audio::Features;
use web_sys::HtmlCanvasElement;

/// Stops of a perceptually ordered dark-to-bright colour map.
const COLOUR_STOPS: [(u8, u8, u8); 5] = [
    (0x0d, 0x08, 0x29),
    (0x5b, 0x16, 0x7a),
    (0xb5, 0x36, 0x7a),
    (0xf8, 0x76, 0x5c),
    (0xfc, 0xfd, 0xbf),
];

/// How many decibels below the loudest cell the colour scale reaches.
const DYNAMIC_RANGE_NATS: f32 = 80.0 / 4.343;

/// Maps `t` in 0..=1 onto the colour map.
fn colour(t: f32) -> RGBColor {
    let x = t.clamp(0.0, 1.0) * (COLOUR_STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(COLOUR_STOPS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (COLOUR_STOPS[i], COLOUR_STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f32 + (q as f32 - p as f32) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A log-mel spectrogram: one cell per frame and mel bin, on the shared time axis.
pub fn draw_spectrogram(
    canvas: &HtmlCanvasElement,
    log_mel: &Features,
    duration_s: f32,
) -> Result<(), String> {
    let root = backend(canvas)?.into_drawing_area();
    let bins = log_mel.bins as f32;
    let mut chart = time_chart(&root, duration_s, 0.0..bins, "mel bin")?;
    let (_, loudest) = log_mel.range();
    let floor = loudest - DYNAMIC_RANGE_NATS;
    let cells = (0..log_mel.frames).flat_map(|frame| {
        let (t0, t1) = log_mel.frame_span_s(frame);
        log_mel
            .frame(frame)
            .iter()
            .enumerate()
            .map(move |(bin, &v)| {
                let shade = colour((v - floor) / DYNAMIC_RANGE_NATS);
                Rectangle::new([(t0, bin as f32), (t1, bin as f32 + 1.0)], shade.filled())
            })
    });
    chart.draw_series(cells).map_err(plot_error)?;
    root.present().map_err(plot_error)
}
