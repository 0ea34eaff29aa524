//! The live tape: the last seconds of the stream's spectrogram, voice activity under it, and one
//! strip per model with its attention over each window it read, placed in time, and its
//! detections marked. Drawn straight onto a 2D canvas ten times a second while listening: the
//! spectrogram's columns are coloured once each, into a ring kept between redraws, and each
//! redraw stretches the ring onto the time axis.

use super::{context_2d, shade};
use crate::state::live_tape::LiveTape;
use std::ops::Range;
use wasm_bindgen::{Clamped, JsCast, JsValue};
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
/// The step in which the top of the colour scale follows the loudest cell (1 dB): the columns
/// already coloured are coloured again only when the loudest cell crosses a step.
const SCALE_STEP_NATS: f32 = 1.0 / 4.343;

/// The canvas height for `models` strips.
pub fn tape_height(models: usize) -> u32 {
    (STRIPS_TOP + STRIP_HEIGHT * models as f64 + AXIS_HEIGHT) as u32
}

/// What the tape's canvas keeps between redraws: the spectrogram's coloured columns and the
/// off-screen canvas the strips pass through. One per canvas.
#[derive(Default)]
pub struct TapePainter {
    spectrogram: Option<SpectrogramRing>,
    strips: Option<Scratch>,
}

impl TapePainter {
    /// Draws `tape` on `canvas`, each model's strip titled with its name (the table above gives
    /// each name's full title).
    pub fn draw(&mut self, canvas: &HtmlCanvasElement, tape: &LiveTape) -> Result<(), String> {
        let failed = |what: &str| format!("Drawing the live view failed ({what}).");
        let context = &context_2d(canvas).map_err(|_| failed("no 2D canvas"))?;
        let (width, height) = (canvas.width() as f64, canvas.height() as f64);
        context.clear_rect(0.0, 0.0, width, height);
        let history = tape.settings.history_s as f64;
        let start = tape.heard_s - history;
        let plot = width - LEFT - RIGHT;
        let x = move |t: f64| LEFT + (t - start) / history * plot;

        draw_spectrogram(&mut self.spectrogram, context, tape, &x)
            .map_err(|_| failed("spectrogram"))?;
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
        draw_strips(&mut self.strips, context, tape, plot, &x)
            .map_err(|_| failed("attention strips"))?;
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
}

/// The spectrogram's columns coloured so far, each in the slot of a ring canvas given by its
/// place in the stream (column `i` in slot `i % capacity`), so a redraw colours only the columns
/// that came since the last; all of them again only for a new session, a colour scale that
/// moved a step, or a tape longer than the ring.
struct SpectrogramRing {
    scratch: Scratch,
    session: u64,
    bins: usize,
    capacity: u64,
    floor: f32,
    /// The stream's columns the ring holds.
    painted: Range<u64>,
}

/// The tape's spectrogram: the columns not yet in the ring coloured into it, the ring stretched
/// onto its place on the time axis.
fn draw_spectrogram(
    ring: &mut Option<SpectrogramRing>,
    context: &CanvasRenderingContext2d,
    tape: &LiveTape,
    x: &impl Fn(f64) -> f64,
) -> Result<(), JsValue> {
    let bins = tape.bins;
    let columns = (tape.frames.len() / bins.max(1)) as u64;
    if columns == 0 {
        return Ok(());
    }
    let first = tape.first_frame_index();
    let on_tape = first..first + columns;
    let loudest = tape.frames.iter().copied().fold(f32::MIN, f32::max);
    let floor = colour_floor(loudest);
    // Room for the tape at its longest (its history and the frames it keeps past it).
    let capacity = (f64::from(tape.settings.history_s) / tape.frame_s).ceil() as u64 + 4;
    let fits = |ring: &SpectrogramRing| {
        ring.session == tape.session && ring.bins == bins && ring.capacity >= columns
    };
    if !ring.as_ref().is_some_and(fits) {
        let capacity = capacity.max(columns);
        let mut scratch = Scratch::new()?;
        scratch.resize(capacity as u32, bins as u32);
        *ring = Some(SpectrogramRing {
            scratch,
            session: tape.session,
            bins,
            capacity,
            floor,
            painted: 0..0,
        });
    }
    let ring = ring.as_mut().ok_or("no ring")?;
    let same_scale = ring.floor == floor;
    let colour = columns_to_colour(&ring.painted, &on_tape, same_scale);
    ring.floor = floor;
    for (slot, from, count) in ring_runs(colour, ring.capacity) {
        let mut pixels = vec![0u8; count as usize * bins * 4];
        for column in 0..count as usize {
            let at = ((from - first) as usize + column) * bins;
            for bin in 0..bins {
                let value = tape.frames[at + bin];
                // Low frequencies at the bottom.
                let pixel = ((bins - 1 - bin) * count as usize + column) * 4;
                pixels[pixel..pixel + 4]
                    .copy_from_slice(&shade((value - floor) / DYNAMIC_RANGE_NATS));
            }
        }
        ring.scratch
            .put(&pixels, count as u32, bins as u32, slot as f64, 0.0)?;
    }
    ring.painted = on_tape.clone();
    context.set_image_smoothing_enabled(false);
    for (slot, from, count) in ring_runs(on_tape, ring.capacity) {
        let start_s = (from - first) as f64 * tape.frame_s + tape.first_frame_s;
        let (left, right) = (x(start_s), x(start_s + count as f64 * tape.frame_s));
        context.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &ring.scratch.canvas,
            slot as f64,
            0.0,
            count as f64,
            bins as f64,
            left,
            0.0,
            right - left,
            SPECTROGRAM_HEIGHT,
        )?;
    }
    // The spectrogram may start left of the plot; the model titles' margin stays clear.
    context.clear_rect(0.0, 0.0, LEFT, SPECTROGRAM_HEIGHT);
    Ok(())
}

/// The bottom of the colour scale for a tape whose loudest cell is `loudest`: the scale's top
/// is the loudest cell rounded up to a whole step.
fn colour_floor(loudest: f32) -> f32 {
    (loudest / SCALE_STEP_NATS).ceil() * SCALE_STEP_NATS - DYNAMIC_RANGE_NATS
}

/// The columns a redraw colours: those of `on_tape` past what the ring holds, when the ring's
/// columns are of the same colour scale and reach the tape's first; otherwise all of them.
fn columns_to_colour(painted: &Range<u64>, on_tape: &Range<u64>, same_scale: bool) -> Range<u64> {
    let continues = painted.start <= on_tape.start
        && on_tape.start <= painted.end
        && painted.end <= on_tape.end;
    if same_scale && continues {
        painted.end..on_tape.end
    } else {
        on_tape.clone()
    }
}

/// Where the stream's `columns` lie in a ring of `capacity` slots: one run, or two where they
/// wrap past its end, each as (first slot, first column, how many).
fn ring_runs(columns: Range<u64>, capacity: u64) -> impl Iterator<Item = (u64, u64, u64)> {
    let mut next = columns.start;
    std::iter::from_fn(move || {
        if next >= columns.end || capacity == 0 {
            return None;
        }
        let slot = next % capacity;
        let count = (capacity - slot).min(columns.end - next);
        let run = (slot, next, count);
        next += count;
        Some(run)
    })
}

/// Each model's attention over the windows it read, as one pixel row per model (the newest
/// reading on top where windows overlap), each row stretched to its strip.
fn draw_strips(
    scratch: &mut Option<Scratch>,
    context: &CanvasRenderingContext2d,
    tape: &LiveTape,
    plot: f64,
    x: &impl Fn(f64) -> f64,
) -> Result<(), JsValue> {
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
                let pixel = shade(value / most);
                for at in line[a * 4..b * 4].chunks_exact_mut(4) {
                    at.copy_from_slice(&pixel);
                }
            }
        }
    }
    if scratch.is_none() {
        *scratch = Some(Scratch::new()?);
    }
    let scratch = scratch.as_mut().ok_or("no scratch canvas")?;
    scratch.resize(width as u32, rows as u32);
    scratch.put(&pixels, width as u32, rows as u32, 0.0, 0.0)?;
    context.set_image_smoothing_enabled(false);
    for row in 0..rows {
        let top = STRIPS_TOP + row as f64 * STRIP_HEIGHT;
        context.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &scratch.canvas,
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

/// An off-screen canvas images pass through on their way onto the tape.
struct Scratch {
    canvas: HtmlCanvasElement,
    context: CanvasRenderingContext2d,
}

impl Scratch {
    fn new() -> Result<Self, JsValue> {
        let document = web_sys::window()
            .and_then(|window| window.document())
            .ok_or("no document")?;
        let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        let context = context_2d(&canvas).map_err(|why| JsValue::from_str(&why))?;
        Ok(Self { canvas, context })
    }

    /// Makes the canvas `width` × `height`, clearing it if that changes its size.
    fn resize(&mut self, width: u32, height: u32) {
        if self.canvas.width() != width || self.canvas.height() != height {
            self.canvas.set_width(width);
            self.canvas.set_height(height);
        }
    }

    /// Writes `pixels` (RGBA, `width` × `height`) with their top left corner at (`x`, `y`).
    fn put(&self, pixels: &[u8], width: u32, height: u32, x: f64, y: f64) -> Result<(), JsValue> {
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), width, height)?;
        self.context.put_image_data(&image, x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_redraw_colours_only_the_columns_that_came() {
        assert_eq!(columns_to_colour(&(100..600), &(103..610), true), 600..610);
        // Nothing new.
        assert_eq!(columns_to_colour(&(100..600), &(100..600), true), 600..600);
        // Another colour scale, or a gap, or a tape from before what the ring holds.
        assert_eq!(columns_to_colour(&(100..600), &(103..610), false), 103..610);
        assert_eq!(
            columns_to_colour(&(100..600), &(700..1200), true),
            700..1200
        );
        assert_eq!(columns_to_colour(&(100..600), &(0..40), true), 0..40);
        assert_eq!(columns_to_colour(&(0..0), &(0..5), true), 0..5);
    }

    #[wasm_bindgen_test]
    fn columns_wrap_round_the_ring() {
        let runs = |columns, capacity| ring_runs(columns, capacity).collect::<Vec<_>>();
        assert_eq!(runs(0..10, 504), vec![(0, 0, 10)]);
        assert_eq!(runs(500..510, 504), vec![(500, 500, 4), (0, 504, 6)]);
        assert_eq!(runs(1008..1512, 504), vec![(0, 1008, 504)]);
        assert_eq!(runs(1010..1514, 504), vec![(2, 1010, 502), (0, 1512, 2)]);
        assert_eq!(runs(7..7, 504), vec![]);
        assert_eq!(runs(0..10, 0), vec![]);
    }

    #[wasm_bindgen_test]
    fn the_colour_scale_moves_in_whole_steps() {
        let floor = colour_floor(3.01);
        assert_eq!(colour_floor(3.0 + SCALE_STEP_NATS * 0.3), floor);
        assert!(floor + DYNAMIC_RANGE_NATS >= 3.01);
        assert!(floor + DYNAMIC_RANGE_NATS < 3.01 + SCALE_STEP_NATS);
        assert!(colour_floor(3.01 + SCALE_STEP_NATS) > floor);
    }
}
