//! A model's files: fetched from its folder, or as the visitor picked them, each fetch
//! reported to the page.

use super::MAX_MODEL_FILE_BYTES;
use super::fetch::fetch_bytes;
use super::protocol::{ModelFiles, ModelKind, ModelSource, Response};
use tempokd::capped_read::MAX_CONFIG_BYTES;

/// A model's config, weights and (for a teacher, when there is one) preprocessor config:
/// fetched from its folder, or as the visitor picked them.
pub async fn model_files(
    source: ModelSource,
    reply: &impl Fn(Response),
) -> Result<(String, Vec<u8>, Option<String>), String> {
    match source.files {
        ModelFiles::Folder(folder) => fetch_folder(&source.name, &folder, source.kind, reply).await,
        ModelFiles::Picked {
            config,
            weights,
            preprocessor,
        } => {
            reply(Response::Fetched {
                model: source.name.clone(),
                file: "model.safetensors".to_string(),
                bytes: weights.len() as u64,
            });
            Ok((config, weights, preprocessor))
        }
    }
}

/// A model folder's config, weights and (for a teacher, when there is one) preprocessor config.
async fn fetch_folder(
    name: &str,
    folder: &str,
    kind: ModelKind,
    reply: &impl Fn(Response),
) -> Result<(String, Vec<u8>, Option<String>), String> {
    let fetch = |file: &'static str, cap: u64| async move {
        let bytes = fetch_bytes(&format!("{folder}{file}"), cap).await?;
        reply(Response::Fetched {
            model: name.to_string(),
            file: file.to_string(),
            bytes: bytes.len() as u64,
        });
        Ok::<_, String>(bytes)
    };
    let (config, weights) = futures::join!(
        fetch("config.json", MAX_CONFIG_BYTES),
        fetch("model.safetensors", MAX_MODEL_FILE_BYTES)
    );
    let config = String::from_utf8(config?)
        .map_err(|_| "its config.json is not text (UTF-8)".to_string())?;
    // Optional, as in Hugging Face folders: the defaults apply without it.
    let preprocessor = match kind {
        ModelKind::Teacher => fetch("preprocessor_config.json", MAX_CONFIG_BYTES)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        ModelKind::Student => None,
    };
    Ok((config, weights?, preprocessor))
}
