//! The models the page offers: `models/index.json`, written by `tempokd defaults` beside the
//! shipped models.

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
    let failure = |why: String| format!("The list of models ({INDEX}) {why}; reload the page.");
    let response = gloo_net::http::Request::get(INDEX)
        .send()
        .await
        .map_err(|e| failure(format!("could not be fetched ({e})")))?;
    if !response.ok() {
        return Err(failure(format!(
            "could not be fetched (HTTP {})",
            response.status()
        )));
    }
    let index: Index = response
        .json()
        .await
        .map_err(|e| failure(format!("is not readable ({e})")))?;
    Ok(index.models)
}
