//! The detection-error trade-off of calibration: per model, keywords missed against false
//! accepts per hour as the threshold moves, a student with KD drawn solid and without it dashed
//! in the same colour, so each pair reads at a glance.

use super::{Area, PALETTE, X_LABEL_AREA, Y_LABEL_AREA, plot_error};
use plotters::prelude::*;
use tempokd::stream::calibrate::ModelCalibration;

/// One colour per architecture, its KD and plain students sharing it.
const COLOURS: [RGBColor; 6] = [
    RGBColor(0xf5, 0x9e, 0x0b),
    RGBColor(0x22, 0xd3, 0xee),
    RGBColor(0xa7, 0x8b, 0xfa),
    RGBColor(0x34, 0xd3, 0x99),
    RGBColor(0xf4, 0x72, 0xb6),
    RGBColor(0x60, 0xa5, 0xfa),
];

/// The name of a model's pair: a student with KD is its plain student's name and `-kd`.
fn architecture(model: &str) -> &str {
    model.strip_suffix("-kd").unwrap_or(model)
}

/// False accepts per hour on the chart's axis: log-like, with room for none at all.
fn axis(per_hour: f64) -> f32 {
    (1.0 + per_hour).log10() as f32
}

/// The trade-off curve of every model in `results`, with `titles` for their legend.
pub fn plot_trade_off<DB: DrawingBackend>(
    root: &Area<DB>,
    results: &[ModelCalibration],
    title: impl Fn(&str) -> String,
) -> Result<(), String> {
    let most = (results.iter())
        .flat_map(|r| &r.trade_off)
        .map(|point| point.errors.false_accepts_per_hour)
        .fold(10.0, f64::max);
    let mut chart = ChartBuilder::on(root)
        .margin_right(12)
        .margin_top(6)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..axis(most) * 1.02, 0.0f32..100.0)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("false accepts per hour")
        .y_desc("keywords missed (%)")
        .x_labels(8)
        .y_labels(5)
        .axis_style(PALETTE.axis)
        .label_style(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .x_label_formatter(&|x| format!("{:.0}", 10f32.powf(*x) - 1.0))
        .draw()
        .map_err(plot_error)?;
    let mut architectures: Vec<&str> = Vec::new();
    for result in results {
        let name = architecture(&result.model);
        let index = match architectures.iter().position(|a| *a == name) {
            Some(index) => index,
            None => {
                architectures.push(name);
                architectures.len() - 1
            }
        };
        let colour = COLOURS[index % COLOURS.len()];
        let points: Vec<(f32, f32)> = (result.trade_off.iter())
            .map(|point| {
                let errors = &point.errors;
                (
                    axis(errors.false_accepts_per_hour),
                    100.0 * errors.false_reject_rate,
                )
            })
            .collect();
        let style = colour.stroke_width(2);
        // A plain student drawn beside its KD student is dashed.
        let kd_name = format!("{}-kd", result.model);
        let series = match results.iter().any(|r| r.model == kd_name) {
            true => chart
                .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
                .map_err(plot_error)?,
            false => chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(plot_error)?,
        };
        series
            .label(title(&result.model))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart
            .draw_series((points.into_iter()).map(|p| Circle::new(p, 2, colour.filled())))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(RGBColor(0x11, 0x18, 0x27).mix(0.8))
        .border_style(PALETTE.axis)
        .label_font(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .draw()
        .map_err(plot_error)?;
    Ok(())
}
