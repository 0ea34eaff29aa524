use super::{Area, TimeLabels, colour, plot_error, time_chart};
use plotters::prelude::*;
use tempokd::audio::Features;

/// How many decibels below the loudest cell the colour scale reaches.
const DYNAMIC_RANGE_NATS: f32 = 80.0 / 4.343;

/// A log-mel spectrogram: one cell per frame and mel bin, on the shared time axis.
pub fn plot_spectrogram<DB: DrawingBackend>(
    root: &Area<DB>,
    log_mel: &Features,
    duration_s: f32,
) -> Result<(), String> {
    let bins = log_mel.bins as f32;
    let mut chart = time_chart(
        root,
        duration_s,
        0.0..bins,
        ("mel bin", 5),
        TimeLabels::Shown,
    )?;
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
    Ok(())
}
