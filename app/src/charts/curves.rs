use super::{Area, PALETTE, X_LABEL_AREA, Y_LABEL_AREA, plot_error};
use plotters::prelude::*;
use tempokd::kd::PlainAndKd;

/// The colours of the run without KD and the run with it, on every curve and map.
pub const RUN_COLOURS: PlainAndKd<RGBColor> = PlainAndKd {
    plain: RGBColor(0x8a, 0x94, 0xa6),
    kd: RGBColor(0x22, 0xd3, 0xee),
};

/// Learning curves of both runs over steps `0..=steps`: one line per run, values within `y`.
pub fn plot_curves<DB: DrawingBackend>(
    root: &Area<DB>,
    runs: PlainAndKd<&[(f32, f32)]>,
    steps: usize,
    y: std::ops::Range<f32>,
    y_name: &str,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(root)
        .margin_right(12)
        .margin_top(6)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..steps.max(1) as f32, y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("step")
        .y_desc(y_name)
        .y_labels(4)
        .x_labels(6)
        .axis_style(PALETTE.axis)
        .label_style(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .x_label_formatter(&|step| format!("{step:.0}"))
        .draw()
        .map_err(plot_error)?;
    for (points, colour) in runs.into_iter().zip(RUN_COLOURS) {
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(plot_error)?;
        // A lone point (the first scoring) would draw no line.
        if let [only] = points {
            chart
                .draw_series(std::iter::once(Circle::new(*only, 3, colour.filled())))
                .map_err(plot_error)?;
        }
    }
    Ok(())
}
