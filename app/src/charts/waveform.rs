use super::{Area, PALETTE, TimeLabels, plot_error, time_chart};
use plotters::prelude::*;

/// The waveform as a min–max envelope per pixel column, so an 8 s clip at 16 kHz costs a few
/// hundred line segments rather than 128 000. The keyword window, when known, is shaded.
pub fn plot_waveform<DB: DrawingBackend>(
    root: &Area<DB>,
    samples: &[f32],
    sample_rate: u32,
    keyword_window: Option<(f32, f32)>,
) -> Result<(), String> {
    let duration_s = samples.len() as f32 / sample_rate as f32;
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-3);
    let mut chart = time_chart(
        root,
        duration_s,
        -peak..peak,
        ("amplitude", 5),
        TimeLabels::Shown,
    )?;
    if let Some((start, end)) = keyword_window {
        let shade = Rectangle::new(
            [(start, -peak), (end, peak)],
            PALETTE.keyword.mix(0.25).filled(),
        );
        chart
            .draw_series(std::iter::once(shade))
            .map_err(plot_error)?;
    }
    let columns = root.dim_in_pixel().0.max(1) as usize;
    let per_column = samples.len().div_ceil(columns).max(1);
    let seconds_per_sample = 1.0 / sample_rate as f32;
    let envelope = samples.chunks(per_column).enumerate().map(|(i, chunk)| {
        let (lo, hi) = chunk
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let t = (i * per_column) as f32 * seconds_per_sample;
        PathElement::new(vec![(t, lo), (t, hi)], PALETTE.trace)
    });
    chart.draw_series(envelope).map_err(plot_error)?;
    Ok(())
}
