//! plotters drawings on canvases. Every chart of a clip shares one time axis: the same margins
//! and the same seconds-to-pixels mapping, so rows stacked on the page line up.

mod attention;
mod curves;
mod figure;
mod live_tape;
mod matrix;
mod spectrogram;
mod trade_off;
mod waveform;

pub use attention::plot_attention;
pub use curves::{RUN_COLOURS, plot_curves};
pub use figure::{Figure, FigureRow, figure_png, figure_svg};
pub use live_tape::{TAPE_WIDTH, TapePainter, tape_height};
pub use matrix::draw_attention_matrix;
pub use spectrogram::plot_spectrogram;
pub use trade_off::plot_trade_off;
pub use waveform::plot_waveform;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf32;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Pixels left of the plot for the value axis; equal on every row.
pub(crate) const Y_LABEL_AREA: u32 = 56;
/// Pixels right of the plot.
const MARGIN_RIGHT: u32 = 12;
/// Width in pixels of the figure a visitor downloads, and of the charts on a wide screen.
pub const FIGURE_WIDTH: u32 = 960;
/// Width in pixels of the charts on a phone: drawn 960 px wide and scaled down to a phone's
/// width, their text would shrink past reading.
const NARROW_CHART_WIDTH: u32 = 480;

/// Width in pixels to draw a chart on the clip's time axis for the window as it is now. Charts
/// of one clip are made together, so they share it and line up.
pub fn time_chart_width() -> u32 {
    let window_width = web_sys::window()
        .and_then(|window| window.inner_width().ok())
        .and_then(|width| width.as_f64());
    match window_width {
        Some(width) if width < 720.0 => NARROW_CHART_WIDTH,
        _ => FIGURE_WIDTH,
    }
}

/// Where on a `width`-pixel time chart's width (0 to 1) the time `t_s` of a `duration_s` clip
/// is drawn.
pub fn time_to_x(t_s: f32, duration_s: f32, width: u32) -> f32 {
    let plot = (width - Y_LABEL_AREA - MARGIN_RIGHT) as f32;
    (Y_LABEL_AREA as f32 + t_s / duration_s.max(1e-3) * plot) / width as f32
}

/// The time under the point `x` (0 to 1) of a `width`-pixel time chart's width, if it is on
/// the plot.
pub fn x_to_time(x: f32, duration_s: f32, width: u32) -> Option<f32> {
    let plot = (width - Y_LABEL_AREA - MARGIN_RIGHT) as f32;
    let t = (x * width as f32 - Y_LABEL_AREA as f32) / plot * duration_s;
    (0.0..=duration_s).contains(&t).then_some(t)
}

/// Pixels under the plot for the time axis.
pub(crate) const X_LABEL_AREA: u32 = 36;

/// Colours that read on both the light and the dark theme.
pub struct Palette {
    pub axis: RGBColor,
    pub trace: RGBColor,
    pub keyword: RGBColor,
    pub attention: RGBColor,
}

pub const PALETTE: Palette = Palette {
    axis: RGBColor(0x8a, 0x94, 0xa6),
    trace: RGBColor(0x3b, 0x82, 0xf6),
    keyword: RGBColor(0xf5, 0x9e, 0x0b),
    attention: RGBColor(0x22, 0xd3, 0xee),
};

/// Whether a chart draws the time axis under it: the bottom row does, stacked rows above it
/// keep the same width without repeating it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeLabels {
    Shown,
    Hidden,
}

/// A plotters area on a cleared canvas, or why there is none. Clearing matters: the same canvas
/// shows one clip after another, and plotters only paints over what is there.
fn backend(canvas: &HtmlCanvasElement) -> Result<CanvasBackend, String> {
    let context = context_2d(canvas)?;
    context.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| "This browser gives no 2D canvas to draw on.".to_string())
}

fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or_else(|| "This browser gives no 2D canvas to draw on.".to_string())
}

/// A plotters drawing area on any backend: a canvas on the page, an SVG or PNG download.
pub type Area<DB> = DrawingArea<DB, Shift>;

/// Draws with `plot` on a cleared canvas.
pub fn on_canvas(
    canvas: &HtmlCanvasElement,
    plot: impl FnOnce(&Area<CanvasBackend>) -> Result<(), String>,
) -> Result<(), String> {
    let root = backend(canvas)?.into_drawing_area();
    plot(&root)?;
    root.present().map_err(plot_error)
}

/// A canvas outside the page to draw on before the result goes somewhere else.
fn scratch_canvas(width: u32, height: u32) -> Result<HtmlCanvasElement, String> {
    let canvas: HtmlCanvasElement = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.create_element("canvas").ok())
        .and_then(|element| element.dyn_into().ok())
        .ok_or_else(|| "This browser gives no canvas to draw on.".to_string())?;
    canvas.set_width(width);
    canvas.set_height(height);
    Ok(canvas)
}

/// Stops of a perceptually ordered dark-to-bright colour map.
const COLOUR_STOPS: [(u8, u8, u8); 5] = [
    (0x0d, 0x08, 0x29),
    (0x5b, 0x16, 0x7a),
    (0xb5, 0x36, 0x7a),
    (0xf8, 0x76, 0x5c),
    (0xfc, 0xfd, 0xbf),
];

/// Maps `t` in 0..=1 onto the colour map.
pub(crate) fn colour(t: f32) -> RGBColor {
    let x = t.clamp(0.0, 1.0) * (COLOUR_STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(COLOUR_STOPS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (COLOUR_STOPS[i], COLOUR_STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f32 + (q as f32 - p as f32) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// How many even steps of the colour map `shade` keeps.
const SHADES: usize = 256;

/// `colour(t)` as an opaque RGBA pixel, to the nearest of `SHADES` steps: looked up, for images
/// written a pixel at a time many times a second (the live tape), where `colour`'s arithmetic
/// per pixel would add up.
pub(crate) fn shade(t: f32) -> [u8; 4] {
    static STEPS: std::sync::OnceLock<[[u8; 4]; SHADES]> = std::sync::OnceLock::new();
    let steps = STEPS.get_or_init(|| {
        std::array::from_fn(|step| {
            let RGBColor(r, g, b) = colour(step as f32 / (SHADES - 1) as f32);
            [r, g, b, 255]
        })
    });
    steps[(t.clamp(0.0, 1.0) * (SHADES - 1) as f32).round() as usize]
}

fn plot_error<E: std::fmt::Debug>(error: E) -> String {
    format!("Drawing failed: {error:?}")
}

/// A chart with the shared time axis from 0 to `duration_s` seconds; `y_axis` is the value
/// axis's name and how many ticks it gets.
fn time_chart<'a, DB: DrawingBackend>(
    root: &'a Area<DB>,
    duration_s: f32,
    y: std::ops::Range<f32>,
    y_axis: (&str, usize),
    time_labels: TimeLabels,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf32, RangedCoordf32>>, String> {
    let x_label_area = match time_labels {
        TimeLabels::Shown => X_LABEL_AREA,
        TimeLabels::Hidden => 0,
    };
    let mut chart = ChartBuilder::on(root)
        .margin_right(MARGIN_RIGHT)
        .margin_top(6)
        .x_label_area_size(x_label_area)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..duration_s.max(1e-3), y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc(y_axis.0)
        .y_labels(y_axis.1)
        .axis_style(PALETTE.axis)
        .label_style(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .x_label_formatter(&|t| format!("{t:.1}"))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}
