//! Figure-2-style pictures: on one clip's time axis, the teacher's map and each student's,
//! with the keyword window shaded.

use plotters::prelude::*;
use std::path::Path;
use tempokd::data::Window;

/// One row of the figure: a temporal map over frames that start at `start_s`, `frame_s` apart.
pub struct MapRow {
    pub name: String,
    pub map: Vec<f32>,
    pub start_s: f32,
    pub frame_s: f32,
}

pub fn attention_figure(
    path: &Path,
    title: &str,
    duration_s: f32,
    window: Option<Window>,
    rows: &[MapRow],
) -> Result<(), String> {
    let height = 40 + 90 * rows.len() as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let root = root
        .titled(title, ("sans-serif", 18))
        .map_err(|e| failed(&e))?;
    let areas = root.split_evenly((rows.len().max(1), 1));
    for (area, row) in areas.iter().zip(rows) {
        let peak = row.map.iter().fold(0f32, |m, v| m.max(*v)).max(1e-12);
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .y_label_area_size(150)
            .x_label_area_size(22)
            .build_cartesian_2d(0f32..duration_s, 0f32..1.05f32)
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .y_desc(row.name.as_str())
            .axis_desc_style(("sans-serif", 13))
            .x_desc("s")
            .draw()
            .map_err(|e| failed(&e))?;
        if let Some(w) = window {
            chart
                .draw_series([Rectangle::new(
                    [(w.start_s, 0.0), (w.end_s, 1.05)],
                    RGBColor(255, 200, 80).mix(0.35).filled(),
                )])
                .map_err(|e| failed(&e))?;
        }
        let points = row
            .map
            .iter()
            .enumerate()
            .map(|(t, v)| (row.start_s + (t as f32 + 0.5) * row.frame_s, v / peak));
        chart
            .draw_series(
                AreaSeries::new(points, 0.0, RGBColor(40, 90, 200).mix(0.5))
                    .border_style(RGBColor(20, 60, 160)),
            )
            .map_err(|e| failed(&e))?;
    }
    root.present().map_err(|e| failed(&e))
}
