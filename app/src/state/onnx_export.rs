//! Students written as ONNX files by the model worker and handed to the visitor as downloads.

use super::models::Models;
use crate::export::{Download, save};
use crate::worker::{ModelSource, Request};
use leptos::prelude::*;

/// What the visitor last asked to export, and how it went.
#[derive(Clone, Copy)]
pub struct OnnxExports {
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
            exporting: RwSignal::new(None),
            outcome: RwSignal::new(None),
            last_file: StoredValue::new_local(None),
        }
    }

    /// Asks the worker for `source`'s ONNX file.
    pub fn request(self, models: Models, source: ModelSource) {
        self.exporting.set(Some(source.name.clone()));
        self.outcome.set(None);
        models.send(Request::ExportOnnx { source });
    }

    /// Takes in the worker's answer: the file is saved, or the reason shown.
    pub fn apply(self, model: String, onnx: Result<Vec<u8>, String>) {
        self.exporting.set(None);
        let outcome = onnx
            .map_err(|why| format!("“{model}” could not be written as ONNX: {why}"))
            .and_then(|bytes| {
                let name = file_name(&model);
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

/// A file name from a model's name: `crnn, trained here with KD` → `crnn-trained-here-with-kd.onnx`.
pub fn file_name(model: &str) -> String {
    let words: Vec<String> = model
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    match words.is_empty() {
        true => "student.onnx".to_string(),
        false => format!("{}.onnx", words.join("-")),
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_keep_only_plain_words() {
        assert_eq!(
            file_name("crnn, trained here with KD, run 2"),
            "crnn-trained-here-with-kd-run-2.onnx"
        );
        assert_eq!(file_name("tc-resnet8-kd"), "tc-resnet8-kd.onnx");
        assert_eq!(file_name("../“”"), "student.onnx");
    }
}
