//! Data: the Synthetic Noisy Keywords corpus (`synth`), its manifest, the real datasets read as
//! they ship (Speech Commands v2, FSD50K), and the mixing of a word into noise that the browser
//! reuses for its training pack.

pub mod augment;
mod dataset;
mod fsd50k;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod gnuspeech;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod helper_process;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub mod keyword_stream;
pub mod keywords;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
mod kokoro;
mod manifest;
pub mod mix;
pub mod noise;
pub mod pack;
mod speech_commands;
pub mod stream_mix;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub mod synth;
#[cfg(all(feature = "decoders", not(target_family = "wasm")))]
pub mod tts;

pub use dataset::{Dataset, Layout};
pub use manifest::{Example, Manifest, Split, Window, underlying_voice};

use std::path::{Path, PathBuf};
use thiserror::Error;

/// What can be wrong with a dataset on disk; every message names the file and, for a table, the
/// row, so the fix is one edit away.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path}: {what} is missing")]
    Missing { path: PathBuf, what: String },
    #[error("{path}, row {row}: {why}")]
    Row {
        path: PathBuf,
        row: usize,
        why: String,
    },
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub(crate) fn file(path: impl Into<PathBuf>, why: impl ToString) -> Self {
        Self::File {
            path: path.into(),
            why: why.to_string(),
        }
    }
}

/// The most lines a dataset's text file may have: each becomes a clip of a few hundred bytes in
/// memory (its name, labels, voice and effects), so a list of short lines within
/// [`MAX_LIST_BYTES`](crate::capped_read::MAX_LIST_BYTES) would otherwise take tens of
/// gigabytes. The largest real lists (Speech Commands, FSD50K) have about 100,000.
pub const MAX_LIST_LINES: usize = 1 << 22;

/// A text file of a dataset, a missing one said as such, one of more than [`MAX_LIST_LINES`]
/// refused.
fn read_text(path: &Path) -> Result<String, DataError> {
    use crate::capped_read::{MAX_LIST_BYTES, read_capped_text};
    if !path.exists() {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
            what: "this file".into(),
        });
    }
    let text =
        read_capped_text(path, MAX_LIST_BYTES, "a list of clips").map_err(DataError::Invalid)?;
    let lines = text.bytes().filter(|&b| b == b'\n').count();
    if lines > MAX_LIST_LINES {
        return Err(DataError::file(
            path,
            format!("it has {lines} lines; a list of at most {MAX_LIST_LINES} is read"),
        ));
    }
    Ok(text)
}
