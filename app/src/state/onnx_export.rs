//! Students written as ONNX files by the model worker and handed to the visitor as downloads.

use super::models::Models;
use crate::export::{Download, save};
use crate::worker::{ModelSource, Precision, Request};
use leptos::prelude::*;

/// What the visitor last asked to export, and how it went.
#[derive(Clone, Copy)]
pub struct OnnxExports {
    /// How the next file stores its matrices and kernels.
    pub precision: RwSignal<Precision>,
    /// The student being written, until the worker answers.
    pub exporting: RwSignal<Option<String>>,
    /// The last export: the file saved and its size, or why it failed.
    pub outcome: RwSignal<Option<Result<(String, usize), String>>>,
    /// The last file, kept until the next so the browser can finish reading it.
    last_file: StoredValue<Option<gloo_file::ObjectUrl>, LocalStorage>,
}

impl OnnxExports {
    pub fn new() -> Self {
        Self {
            precision: RwSignal::new(Precision::F32),
            exporting: RwSignal::new(None),
            outcome: RwSignal::new(None),
            last_file: StoredValue::new_local(None),
        }
    }

    /// Asks the worker for `source`'s ONNX file.
    pub fn request(self, models: Models, source: ModelSource) {
        self.exporting.set(Some(source.name.clone()));
        self.outcome.set(None);
        models.send(Request::ExportOnnx {
            source,
            precision: self.precision.get_untracked(),
        });
    }

    /// Takes in the worker's answer: the file is saved, or the reason shown.
    pub fn apply(self, model: String, onnx: Result<Vec<u8>, String>) {
        self.exporting.set(None);
        let precision = self.precision.get_untracked();
        let outcome = onnx
            .map_err(|why| format!("“{model}” could not be written as ONNX: {why}"))
            .and_then(|bytes| {
                let name = file_name(&model, precision);
                let url = gloo_file::ObjectUrl::from(gloo_file::Blob::new_with_options(
                    bytes.as_slice(),
                    Some("application/octet-stream"),
                ));
                let saved = save(&Download {
                    name: name.clone(),
                    url: url.to_string(),
                });
                self.last_file.set_value(Some(url));
                saved.map(|()| (name, bytes.len()))
            });
        self.outcome.set(Some(outcome));
    }

    /// A new worker will not answer the old one's request.
    pub fn abandon(self) {
        if let Some(model) = self.exporting.get_untracked() {
            self.exporting.set(None);
            self.outcome.set(Some(Err(format!(
                "The model worker was started again before “{model}” was written; ask again."
            ))));
        }
    }
}

impl Default for OnnxExports {
    fn default() -> Self {
        Self::new()
    }
}

/// A file name from a model's name and the weights' precision: `crnn, trained here with KD` at
/// int8 → `crnn-trained-here-with-kd-int8.onnx` (fp32 has no suffix).
pub fn file_name(model: &str, precision: Precision) -> String {
    let words: Vec<String> = model
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let stem = match words.is_empty() {
        true => "student".to_string(),
        false => words.join("-"),
    };
    match precision {
        Precision::F32 => format!("{stem}.onnx"),
        other => format!("{stem}-{}.onnx", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;
    use crate::worker::Precision;

    #[test]
    fn file_names_keep_only_plain_words() {
        assert_eq!(
            file_name("crnn, trained here with KD, run 2", Precision::F32),
            "crnn-trained-here-with-kd-run-2.onnx"
        );
        assert_eq!(
            file_name("tc-resnet8-kd", Precision::Int8),
            "tc-resnet8-kd-int8.onnx"
        );
        assert_eq!(file_name("../“”", Precision::F16), "student-fp16.onnx");
    }
}
