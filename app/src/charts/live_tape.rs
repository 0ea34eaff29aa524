//! The live tape: the last seconds of the stream's spectrogram, voice activity under it, and one
//! strip per model with its attention over each window it read, placed in time, and its
//! detections marked. Drawn straight onto a 2D canvas (the spectrogram as one image), so a
//! redraw ten times a second stays a few milliseconds.

use super::colour;
use crate::state::live_tape::LiveTape;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

pub const TAPE_WIDTH: u32 = 960;
const LEFT: f64 = 104.0;
const RIGHT: f64 = 12.0;
const SPECTROGRAM_HEIGHT: f64 = 120.0;
const SPEECH_TOP: f64 = SPECTROGRAM_HEIGHT + 3.0;
const SPEECH_HEIGHT: f64 = 6.0;
const STRIPS_TOP: f64 = SPEECH_TOP + SPEECH_HEIGHT + 5.0;
const STRIP_HEIGHT: f64 = 28.0;
const AXIS_HEIGHT: f64 = 18.0;
/// How many decibels below the loudest cell on the tape the colour scale reaches.
const DYNAMIC_RANGE_NATS: f32 = 80.0 / 4.343;

/// The canvas height for `models` strips.
pub fn tape_height(models: usize) -> u32 {
    (STRIPS_TOP + STRIP_HEIGHT * models as f64 + AXIS_HEIGHT) as u32
}

/// Draws `tape` on `canvas`, each model's strip titled with its name (the table above gives
/// each name's full title).
pub fn draw_tape(canvas: &HtmlCanvasElement, tape: &LiveTape) -> Result<(), String> {
    let failed = |what: &str| format!("Drawing the live view failed ({what}).");
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into().ok())
        .ok_or_else(|| failed("no 2D canvas"))?;
    let (width, height) = (canvas.width() as f64, canvas.height() as f64);
    context.clear_rect(0.0, 0.0, width, height);
    let history = tape.settings.history_s as f64;
    let start = tape.heard_s - history;
    let plot = width - LEFT - RIGHT;
    let x = move |t: f64| LEFT + (t - start) / history * plot;

    draw_spectrogram(&context, tape, &x).map_err(|_| failed("spectrogram"))?;
    context.set_fill_style_str("#3aa76d");
    for (from, to) in &tape.speech {
        let (a, b) = (x(*from).max(LEFT), x(*to));
        if b > a {
            context.fill_rect(a, SPEECH_TOP, b - a, SPEECH_HEIGHT);
        }
    }
    context.set_font("12px sans-serif");
    context.set_fill_style_str("#777");
    let _ = context.fill_text("spectrogram", 4.0, SPECTROGRAM_HEIGHT / 2.0);
    let _ = context.fill_text("speech", 4.0, SPEECH_TOP + SPEECH_HEIGHT);
    for (row, model) in tape.models.iter().enumerate() {
        let top = STRIPS_TOP + row as f64 * STRIP_HEIGHT;
        let _ = context.fill_text(&model.model.name, 4.0, top + STRIP_HEIGHT * 0.65);
    }
    draw_strips(&context, tape, plot, &x).map_err(|_| failed("attention strips"))?;
    // Detections: a line through the spectrogram and a label in the model's strip.
    // The log is in the order of the stream: only its end can be on the tape.
    let on_tape =
        (tape.log().iter().rev()).take_while(|logged| logged.detection.decided_s >= start);
    for logged in on_tape {
        let Some(row) = (tape.models.iter()).position(|m| m.model.name == logged.model) else {
            continue;
        };
        let at = x(logged.detection.at_s);
        if at < LEFT {
            continue;
        }
        let top = STRIPS_TOP + row as f64 * STRIP_HEIGHT;
        context.set_stroke_style_str("#ffffff");
        context.begin_path();
        context.move_to(at, 0.0);
        context.line_to(at, SPECTROGRAM_HEIGHT);
        context.move_to(at, top);
        context.line_to(at, top + STRIP_HEIGHT);
        context.stroke();
        let label = format!(
            "{} {:.0}%",
            logged.detection.label,
            100.0 * logged.detection.confidence
        );
        context.set_fill_style_str("#ffffff");
        let _ = context.fill_text(&label, at + 3.0, top + STRIP_HEIGHT * 0.65);
    }
    // Seconds of the stream along the bottom.
    let axis = STRIPS_TOP + STRIP_HEIGHT * tape.models.len() as f64 + 13.0;
    context.set_fill_style_str("#777");
    let first_tick = start.max(0.0).ceil() as i64;
    for second in first_tick..=tape.heard_s.floor() as i64 {
        let at = x(second as f64);
        let _ = context.fill_text(&format!("{second} s"), at - 8.0, axis);
    }
    Ok(())
}

/// The tape's spectrogram as one image, stretched onto its place on the time axis.
fn draw_spectrogram(
    context: &CanvasRenderingContext2d,
    tape: &LiveTape,
    x: &impl Fn(f64) -> f64,
) -> Result<(), wasm_bindgen::JsValue> {
    let bins = tape.bins;
    let columns = tape.frames.len() / bins.max(1);
    if columns == 0 {
        return Ok(());
    }
    let loudest = tape.frames.iter().copied().fold(f32::MIN, f32::max);
    let floor = loudest - DYNAMIC_RANGE_NATS;
    let mut pixels = vec![0u8; columns * bins * 4];
    for (index, value) in tape.frames.iter().enumerate() {
        let (column, bin) = (index / bins, index % bins);
        // Low frequencies at the bottom.
        let at = ((bins - 1 - bin) * columns + column) * 4;
        let shade = colour((value - floor) / DYNAMIC_RANGE_NATS);
        pixels[at..at + 4].copy_from_slice(&[shade.0, shade.1, shade.2, 255]);
    }
    let scratch = scratch_canvas(&pixels, columns as u32, bins as u32)?;
    let from = x(tape.first_frame_s);
    let to = x(tape.first_frame_s + columns as f64 * tape.frame_s);
    context.set_image_smoothing_enabled(false);
    context.draw_image_with_html_canvas_element_and_dw_and_dh(
        &scratch,
        from,
        0.0,
        to - from,
        SPECTROGRAM_HEIGHT,
    )?;
    // The spectrogram may start left of the plot; the model titles' margin stays clear.
    context.clear_rect(0.0, 0.0, LEFT, SPECTROGRAM_HEIGHT);
    Ok(())
}

/// Each model's attention over the windows it read, as one pixel row per model (the newest
/// reading on top where windows overlap), each row stretched to its strip.
fn draw_strips(
    context: &CanvasRenderingContext2d,
    tape: &LiveTape,
    plot: f64,
    x: &impl Fn(f64) -> f64,
) -> Result<(), wasm_bindgen::JsValue> {
    let (width, rows) = (plot.max(1.0) as usize, tape.models.len());
    if rows == 0 {
        return Ok(());
    }
    let mut pixels = vec![0u8; width * rows * 4];
    for (row, model) in tape.models.iter().enumerate() {
        let line = &mut pixels[row * width * 4..(row + 1) * width * 4];
        for (_, map) in &model.readings {
            let most = map.values.iter().copied().fold(0.0f32, f32::max);
            if most <= 0.0 {
                continue;
            }
            for (i, value) in map.values.iter().enumerate() {
                let t0 = map.start_s as f64 + i as f64 * map.frame_s as f64;
                let column = |t: f64| ((x(t) - LEFT).round().max(0.0) as usize).min(width);
                let (a, b) = (column(t0), column(t0 + map.frame_s as f64));
                let shade = colour(value / most);
                for pixel in line[a * 4..b * 4].chunks_exact_mut(4) {
                    pixel.copy_from_slice(&[shade.0, shade.1, shade.2, 255]);
                }
            }
        }
    }
    let scratch = scratch_canvas(&pixels, width as u32, rows as u32)?;
    context.set_image_smoothing_enabled(false);
    for row in 0..rows {
        let top = STRIPS_TOP + row as f64 * STRIP_HEIGHT;
        context.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &scratch,
            0.0,
            row as f64,
            width as f64,
            1.0,
            LEFT,
            top + 2.0,
            width as f64,
            STRIP_HEIGHT - 4.0,
        )?;
    }
    Ok(())
}

thread_local! {
    /// One off-screen canvas the tape's images pass through, made once.
    static SCRATCH: std::cell::RefCell<Option<HtmlCanvasElement>> = const { std::cell::RefCell::new(None) };
}

/// The off-screen canvas holding `pixels` (RGBA, `width` × `height`); valid until the next call.
fn scratch_canvas(
    pixels: &[u8],
    width: u32,
    height: u32,
) -> Result<HtmlCanvasElement, wasm_bindgen::JsValue> {
    let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), width, height)?;
    let canvas = match SCRATCH.with_borrow(Clone::clone) {
        Some(canvas) => canvas,
        None => {
            let document = web_sys::window()
                .and_then(|window| window.document())
                .ok_or("no document")?;
            let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
            SCRATCH.set(Some(canvas.clone()));
            canvas
        }
    };
    canvas.set_width(width);
    canvas.set_height(height);
    let scratch_context: CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or("no 2D canvas")?
        .dyn_into()?;
    scratch_context.put_image_data(&image, 0.0, 0.0)?;
    Ok(canvas)
}
