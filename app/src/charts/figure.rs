use super::{
    Area, FIGURE_WIDTH, TimeLabels, X_LABEL_AREA, Y_LABEL_AREA, backend, plot_attention,
    plot_error, plot_spectrogram, plot_waveform, scratch_canvas,
};
use crate::worker::TimeMap;
use plotters::prelude::*;
use tempokd::audio::{Features, MODEL_SAMPLE_RATE};

const TITLE_HEIGHT: u32 = 34;
const WAVEFORM_HEIGHT: u32 = 150;
const SPECTROGRAM_HEIGHT: u32 = 220;
const ROW_LABEL_HEIGHT: u32 = 22;
const ROW_HEIGHT: u32 = 56;
const INK: RGBColor = RGBColor(0x0f, 0x17, 0x2a);

/// One clip as the page shows it, as a single picture for download: the waveform and the
/// log-mel spectrogram, then each model's temporal attention on the same time axis.
pub struct Figure<'a> {
    pub title: String,
    pub samples: &'a [f32],
    pub log_mel: &'a Features,
    pub keyword_window: Option<(f32, f32)>,
    pub rows: Vec<FigureRow>,
}

/// A model's row: what it heard, and where it listened.
pub struct FigureRow {
    pub title: String,
    pub map: TimeMap,
}

impl Figure<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.rows.len() as u32 * (ROW_LABEL_HEIGHT + ROW_HEIGHT);
        (
            FIGURE_WIDTH,
            TITLE_HEIGHT + WAVEFORM_HEIGHT + SPECTROGRAM_HEIGHT + rows + X_LABEL_AREA,
        )
    }

    fn plot<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        root.fill(&WHITE).map_err(plot_error)?;
        let duration_s = self.samples.len() as f32 / MODEL_SAMPLE_RATE as f32;
        let text = |size: u32| ("sans-serif", size).into_font().color(&INK);
        let (title, rest) = root.split_vertically(TITLE_HEIGHT);
        title
            .draw_text(&self.title, &text(16), (Y_LABEL_AREA as i32, 10))
            .map_err(plot_error)?;
        let (waveform, rest) = rest.split_vertically(WAVEFORM_HEIGHT);
        plot_waveform(
            &waveform,
            self.samples,
            MODEL_SAMPLE_RATE,
            self.keyword_window,
        )?;
        let (spectrogram, mut rest) = rest.split_vertically(SPECTROGRAM_HEIGHT);
        plot_spectrogram(&spectrogram, self.log_mel, duration_s)?;
        for (at, row) in self.rows.iter().enumerate() {
            let last = at + 1 == self.rows.len();
            let (labels, height) = match last {
                true => (TimeLabels::Shown, ROW_HEIGHT + X_LABEL_AREA),
                false => (TimeLabels::Hidden, ROW_HEIGHT),
            };
            let (label, below) = rest.split_vertically(ROW_LABEL_HEIGHT);
            let (strip, below) = below.split_vertically(height);
            label
                .draw_text(&row.title, &text(13), (Y_LABEL_AREA as i32, 5))
                .map_err(plot_error)?;
            plot_attention(&strip, &row.map, duration_s, self.keyword_window, labels)?;
            rest = below;
        }
        Ok(())
    }
}

/// The figure as an SVG document.
pub fn figure_svg(figure: &Figure<'_>) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        figure.plot(&root)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The figure as a PNG, in a `data:` URL.
pub fn figure_png(figure: &Figure<'_>) -> Result<String, String> {
    let (width, height) = figure.size();
    let canvas = scratch_canvas(width, height)?;
    let root = backend(&canvas)?.into_drawing_area();
    figure.plot(&root)?;
    root.present().map_err(plot_error)?;
    canvas
        .to_data_url()
        .map_err(|_| "This browser could not turn the figure into a PNG.".to_string())
}
