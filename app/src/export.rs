//! What the visitor can take away: the figure on screen as PNG or SVG, its numbers as JSON, and
//! any text (the live detections' CSV).

use crate::analysis::Analysis;
use crate::charts::{Figure, FigureRow, figure_png, figure_svg};
use crate::worker::NamedReading;
use serde_json::json;
use tempokd::device::Placement;
use tempokd::kd::RolloutConfig;
use wasm_bindgen::JsCast;

/// The page's current view of a clip: the clip, each model's reading in the page's order and
/// its title, where the models ran, and the rollout settings the teacher's map uses.
pub struct View<'a> {
    pub analysis: &'a Analysis,
    pub readings: &'a [(String, NamedReading)],
    pub device: Option<&'a Placement>,
    pub rollout: Option<&'a RolloutConfig>,
}

/// A file to download.
pub struct Download {
    pub name: String,
    pub url: String,
}

impl View<'_> {
    fn file_name(&self, extension: &str) -> String {
        let name = &self.analysis.name;
        let stem = name
            .rsplit_once('.')
            .map_or(name.as_str(), |(stem, _)| stem);
        format!("{stem}-tempokd.{extension}")
    }

    fn figure(&self) -> Figure<'_> {
        let rows = self
            .readings
            .iter()
            .map(|(title, reading)| {
                let (top, probability) = reading.top_label();
                FigureRow {
                    title: format!("{title}: hears “{top}” {:.1} %", 100.0 * probability),
                    map: reading.shown_map(self.rollout).0,
                }
            })
            .collect();
        Figure {
            title: format!("{}: where each model listens", self.analysis.name),
            samples: self.analysis.clip.samples(),
            log_mel: &self.analysis.log_mel,
            keyword_window: self.analysis.keyword_window,
            rows,
        }
    }

    pub fn png(&self) -> Result<Download, String> {
        Ok(Download {
            name: self.file_name("png"),
            url: figure_png(&self.figure())?,
        })
    }

    pub fn svg(&self) -> Result<Download, String> {
        Ok(Download {
            name: self.file_name("svg"),
            url: text_url("image/svg+xml", &figure_svg(&self.figure())?),
        })
    }

    /// Every number behind the figure: the clip, each model's probabilities, time and map.
    pub fn numbers(&self) -> serde_json::Value {
        let clip = self.analysis;
        let models: Vec<serde_json::Value> = self
            .readings
            .iter()
            .map(|(title, reading)| {
                let (top, probability) = reading.top_label();
                let (attention, rollout) = reading.shown_map(self.rollout);
                json!({
                    "model": reading.model,
                    "title": title,
                    "top": top,
                    "probability": probability,
                    "labels": reading.labels,
                    "probs": reading.probs,
                    "ms": reading.ms,
                    "attention": attention,
                    "rollout": rollout,
                })
            })
            .collect();
        json!({
            "clip": {
                "name": clip.name,
                "duration_s": clip.clip.duration_s(),
                "sample_rate": clip.clip.sample_rate(),
                "keyword_window": clip.keyword_window,
                "noise": clip.noise.as_ref().map(|noise| json!({
                    "length_s": noise.length_s,
                    "snr_db": noise.snr_db,
                    "noise": noise.noise.name(),
                    "position": noise.position,
                    "seed": noise.seed,
                })),
            },
            "device": self.device.map(ToString::to_string),
            "models": models,
        })
    }

    pub fn json(&self) -> Download {
        let text = serde_json::to_string_pretty(&self.numbers()).unwrap_or_default();
        Download {
            name: self.file_name("json"),
            url: text_url("application/json", &text),
        }
    }
}

/// `text` as a file `name` of type `mime`.
pub fn text_download(name: &str, mime: &str, text: &str) -> Download {
    Download {
        name: name.into(),
        url: text_url(mime, text),
    }
}

fn text_url(mime: &str, text: &str) -> String {
    format!(
        "data:{mime};charset=utf-8,{}",
        js_sys::encode_uri_component(text)
    )
}

/// Hands `download` to the browser as a file, as a link with `download` would.
pub fn save(download: &Download) -> Result<(), String> {
    let failed = || "This browser refused the download.".to_string();
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(failed)?;
    let body = document.body().ok_or_else(failed)?;
    let link = document.create_element("a").map_err(|_| failed())?;
    link.set_attribute("href", &download.url)
        .and_then(|()| link.set_attribute("download", &download.name))
        .map_err(|_| failed())?;
    body.append_child(&link).map_err(|_| failed())?;
    if let Some(link) = link.dyn_ref::<web_sys::HtmlElement>() {
        link.click();
    }
    body.remove_child(&link).map_err(|_| failed())?;
    Ok(())
}
