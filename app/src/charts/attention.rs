use super::{Area, PALETTE, TimeLabels, colour, plot_error, time_chart};
use crate::worker::TimeMap;
use plotters::prelude::*;

/// A temporal attention map as a heat strip on the shared time axis: each frame's cell is
/// coloured by its weight relative to the map's peak, with the weight itself drawn as a line so
/// equal colours can still be told apart. The keyword window, when known, is outlined.
pub fn plot_attention<DB: DrawingBackend>(
    root: &Area<DB>,
    map: &TimeMap,
    duration_s: f32,
    keyword_window: Option<(f32, f32)>,
    time_labels: TimeLabels,
) -> Result<(), String> {
    let mut chart = time_chart(root, duration_s, 0.0..1.05, ("weight", 2), time_labels)?;
    let peak = map.values.iter().copied().fold(0.0f32, f32::max);
    let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
    let span = |frame: usize| {
        let start = map.start_s + frame as f32 * map.frame_s;
        (start.max(0.0), (start + map.frame_s).min(duration_s))
    };
    let cells = map.values.iter().enumerate().map(|(frame, &weight)| {
        let (t0, t1) = span(frame);
        Rectangle::new([(t0, 0.0), (t1, 1.05)], colour(weight * scale).filled())
    });
    chart.draw_series(cells).map_err(plot_error)?;
    let line = map.values.iter().enumerate().map(|(frame, &weight)| {
        let (t0, t1) = span(frame);
        ((t0 + t1) / 2.0, weight * scale)
    });
    chart
        .draw_series(LineSeries::new(line, PALETTE.attention.stroke_width(2)))
        .map_err(plot_error)?;
    if let Some((start, end)) = keyword_window {
        let outline = Rectangle::new([(start, 0.0), (end, 1.05)], PALETTE.keyword.stroke_width(2));
        chart
            .draw_series(std::iter::once(outline))
            .map_err(plot_error)?;
    }
    Ok(())
}
