//! plotters drawings on canvases. Every chart of a clip shares one time axis: the same margins
//! and the same seconds-to-pixels mapping, so rows stacked on the page line up.

mod spectrogram;
mod waveform;

pub use spectrogram::draw_spectrogram;
pub use waveform::draw_waveform;

use plotters::coord::types::RangedCoordf32;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Pixels left of the plot for the value axis; equal on every row.
const Y_LABEL_AREA: u32 = 56;
/// Pixels under the plot for the time axis.
const X_LABEL_AREA: u32 = 36;

/// Colours that read on both the light and the dark theme.
pub struct Palette {
    pub axis: RGBColor,
    pub trace: RGBColor,
    pub keyword: RGBColor,
}

pub const PALETTE: Palette = Palette {
    axis: RGBColor(0x8a, 0x94, 0xa6),
    trace: RGBColor(0x3b, 0x82, 0xf6),
    keyword: RGBColor(0xf5, 0x9e, 0x0b),
};

/// A plotters area on a cleared canvas, or why there is none. Clearing matters: the same canvas
/// shows one clip after another, and plotters only paints over what is there.
fn backend(canvas: &HtmlCanvasElement) -> Result<CanvasBackend, String> {
    let context = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or_else(|| "This browser gives no 2D canvas to draw on.".to_string())?;
    context.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| "This browser gives no 2D canvas to draw on.".to_string())
}

fn plot_error<E: std::fmt::Debug>(error: E) -> String {
    format!("Drawing failed: {error:?}")
}

/// A chart with the shared time axis from 0 to `duration_s` seconds.
fn time_chart<'a>(
    root: &'a DrawingArea<CanvasBackend, plotters::coord::Shift>,
    duration_s: f32,
    y: std::ops::Range<f32>,
    y_label: &str,
) -> Result<ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf32, RangedCoordf32>>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin_right(12)
        .margin_top(6)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..duration_s.max(1e-3), y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc(y_label)
        .axis_style(PALETTE.axis)
        .label_style(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .x_label_formatter(&|t| format!("{t:.1}"))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}
