use super::{PALETTE, backend, colour, context_2d, plot_error, scratch_canvas};
use plotters::prelude::*;
use wasm_bindgen::Clamped;
use web_sys::{HtmlCanvasElement, ImageData};

/// A frames × frames attention matrix (row = the frame attending, column = the frame attended
/// to), both axes in seconds of the clip, first frame top left. Cells are coloured relative to
/// the matrix's peak. Drawn as one image, not one rectangle per cell: an 8 s clip has 160 000.
pub fn draw_attention_matrix(
    canvas: &HtmlCanvasElement,
    matrix: &[f32],
    frames: usize,
    frame_s: f32,
) -> Result<(), String> {
    if frames == 0 || matrix.len() != frames * frames {
        return Err(format!(
            "An attention matrix of {} values cannot be {frames} × {frames} frames.",
            matrix.len()
        ));
    }
    let span_s = frames as f32 * frame_s;
    let root = backend(canvas)?.into_drawing_area();
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..span_s, 0.0..span_s)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("attended to (s)")
        .y_desc("attending (s)")
        .axis_style(PALETTE.axis)
        .label_style(("sans-serif", 12).into_font().color(&PALETTE.axis))
        .x_label_formatter(&|t| format!("{t:.1}"))
        // Time runs down the rows, as in the matrix.
        .y_label_formatter(&|t| format!("{:.1}", span_s - t))
        .draw()
        .map_err(plot_error)?;
    let (columns, rows) = chart.plotting_area().get_pixel_range();
    root.present().map_err(plot_error)?;

    let peak = matrix.iter().copied().fold(0.0f32, f32::max);
    let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
    let pixels: Vec<u8> = matrix
        .iter()
        .flat_map(|&value| {
            let RGBColor(r, g, b) = colour(value * scale);
            [r, g, b, 255]
        })
        .collect();
    let side = frames as u32;
    let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), side, side)
        .map_err(|_| "This browser could not make the attention image.".to_string())?;
    // The matrix is painted at its own size on a scratch canvas, then scaled onto the plot
    // without smoothing, so each cell stays a sharp square.
    let scratch = scratch_canvas(side, side)?;
    context_2d(&scratch)?
        .put_image_data(&image, 0.0, 0.0)
        .map_err(|_| "This browser could not draw the attention image.".to_string())?;
    let context = context_2d(canvas)?;
    context.set_image_smoothing_enabled(false);
    context
        .draw_image_with_html_canvas_element_and_dw_and_dh(
            &scratch,
            columns.start as f64,
            rows.start as f64,
            (columns.end - columns.start) as f64,
            (rows.end - rows.start) as f64,
        )
        .map_err(|_| "This browser could not draw the attention image.".to_string())
}
