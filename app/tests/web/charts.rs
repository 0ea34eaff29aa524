//! The time axis every chart shares, and the live tape redrawn as the stream comes.

use super::*;
use tempokd::stream::{DetectorSettings, StreamSettings};
use tempokd_app::charts::{TAPE_WIDTH, TapePainter, tape_height};
use tempokd_app::state::live_tape::LiveTape;

#[wasm_bindgen_test]
fn a_time_on_the_axis_and_its_place_on_a_chart_agree() {
    // The plot spans pixels 56 to 948 of 960, and 56 to 468 of a phone's 480.
    assert_eq!(x_to_time(56.0 / 960.0, 4.0, 960), Some(0.0));
    assert!((x_to_time(948.0 / 960.0, 4.0, 960).unwrap() - 4.0).abs() < 1e-5);
    assert_eq!(x_to_time(10.0 / 960.0, 4.0, 960), None);
    assert_eq!(x_to_time(955.0 / 960.0, 4.0, 960), None);
    assert!((x_to_time(0.6, 4.0, 960).unwrap() - 2.3318).abs() < 1e-3);
    assert!((x_to_time(468.0 / 480.0, 4.0, 480).unwrap() - 4.0).abs() < 1e-5);
    for width in [960, 480] {
        for t in [0.0, 0.37, 2.0, 3.99] {
            let back = x_to_time(time_to_x(t, 4.0, width), 4.0, width).unwrap();
            assert!(
                (back - t).abs() < 1e-5,
                "{t} came back as {back} at {width} px"
            );
        }
    }
}

/// Every pixel of `canvas`, RGBA.
fn pixels(canvas: &HtmlCanvasElement) -> Vec<u8> {
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let (width, height) = (canvas.width() as f64, canvas.height() as f64);
    context
        .get_image_data(0.0, 0.0, width, height)
        .unwrap()
        .data()
        .0
}

fn tape_canvas() -> HtmlCanvasElement {
    let canvas: HtmlCanvasElement = (web_sys::window().unwrap().document().unwrap())
        .create_element("canvas")
        .unwrap()
        .dyn_into()
        .unwrap();
    canvas.set_width(TAPE_WIDTH);
    canvas.set_height(tape_height(0));
    canvas
}

/// The tape is redrawn with each chunk, colouring only the spectrogram's new columns: what it
/// shows must be what a tape drawn afresh shows, while the tape scrolls, its ring wraps, and its
/// colour scale rises with a louder tone and falls once that tone has scrolled off.
#[wasm_bindgen_test]
fn the_live_tape_drawn_chunk_by_chunk_equals_it_drawn_afresh() {
    let mut tape = LiveTape::new(
        StreamSettings::default(),
        DetectorSettings::default(),
        Vec::new(),
    )
    .unwrap();
    let (as_they_came, afresh) = (tape_canvas(), tape_canvas());
    let mut painter = TapePainter::default();
    let rate = tempokd::audio::MODEL_SAMPLE_RATE as f32;
    let mut compared = 0;
    for tenth in 0..150u32 {
        let t0 = tenth as f32 / 10.0;
        // Louder from 2 to 4 s, quiet after; the pitch glides so columns differ.
        let loudness = if (2.0..4.0).contains(&t0) {
            0.5
        } else {
            0.02 + 0.01 * t0
        };
        let chunk: Vec<f32> = (0..1_600)
            .map(|i| {
                let t = t0 + i as f32 / rate;
                loudness * (std::f32::consts::TAU * (300.0 + 150.0 * t) * t).sin()
            })
            .collect();
        tape.heard(&chunk, f64::from(tenth) * 100.0);
        painter.draw(&as_they_came, &tape).unwrap();
        if tenth % 10 == 9 {
            TapePainter::default().draw(&afresh, &tape).unwrap();
            let (kept, fresh) = (pixels(&as_they_came), pixels(&afresh));
            let differing = (kept.chunks_exact(4).zip(fresh.chunks_exact(4)))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(differing, 0, "{differing} pixels differ after {t0:.1} s");
            // Once the tape is full its spectrogram alone covers 70 % of the canvas.
            let painted = fresh.chunks_exact(4).filter(|p| p[3] != 0).count();
            assert!(
                t0 < 10.0 || painted > fresh.len() / 4 / 2,
                "{painted} pixels painted"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 15);
}
