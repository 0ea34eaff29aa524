//! The models the page offers: `models/index.json`, written by `tempokd defaults` beside the
//! shipped models.

use crate::browser::json::fetch_json;
use crate::worker::{ModelFiles, ModelKind, ModelSource};
use serde::Deserialize;

const INDEX: &str = "models/index.json";

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CatalogEntry {
    pub name: String,
    pub kind: ModelKind,
    pub title: String,
    /// Size of `model.safetensors`, known before anything is downloaded.
    pub bytes: u64,
}

impl CatalogEntry {
    pub fn source(&self) -> ModelSource {
        ModelSource {
            name: self.name.clone(),
            kind: self.kind,
            files: ModelFiles::Folder(format!("models/{}/", self.name)),
        }
    }
}

#[derive(Deserialize)]
struct Index {
    models: Vec<CatalogEntry>,
}

/// The shipped models, or a sentence saying why they cannot be listed.
pub async fn shipped_models() -> Result<Vec<CatalogEntry>, String> {
    let index: Index = fetch_json(INDEX, "The list of models").await?;
    Ok(index.models)
}
