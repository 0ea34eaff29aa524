//! Speech Commands v2 as it ships: one folder per word, split by the two list files.

use super::DataError;
use super::keywords::label_of;
use super::manifest::{Example, Split};
use super::read_text;
use std::collections::HashSet;
use std::path::Path;

pub(super) const TESTING_LIST: &str = "testing_list.txt";
pub(super) const VALIDATION_LIST: &str = "validation_list.txt";
pub const BACKGROUND_NOISE: &str = "_background_noise_";

pub(super) fn read(root: &Path) -> Result<Vec<Example>, DataError> {
    let listed = |name: &str| -> Result<HashSet<String>, DataError> {
        Ok(read_text(&root.join(name))?
            .lines()
            .map(|l| l.trim().replace('\\', "/"))
            .filter(|l| !l.is_empty())
            .collect())
    };
    let testing = listed(TESTING_LIST)?;
    let validation = listed(VALIDATION_LIST)?;
    let mut examples = Vec::new();
    for word_dir in sorted_entries(root)? {
        let Some(word) = word_dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(String::from)
        else {
            continue;
        };
        if !word_dir.is_dir() || word == BACKGROUND_NOISE || word.starts_with('.') {
            continue;
        }
        for clip in sorted_entries(&word_dir)? {
            let Some(name) = clip.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".wav") {
                continue;
            }
            let file = format!("{word}/{name}");
            let split = if testing.contains(&file) {
                Split::Test
            } else if validation.contains(&file) {
                Split::Validation
            } else {
                Split::Train
            };
            examples.push(Example {
                row: 0,
                // The speaker is the part of the name before `_nohash_`.
                voice: name
                    .split("_nohash_")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                labels: vec![label_of(&word).to_string()],
                file,
                window: None,
                noise: String::new(),
                snr_db: None,
                split,
                effects: String::new(),
            });
        }
    }
    if examples.is_empty() {
        return Err(DataError::Missing {
            path: root.to_path_buf(),
            what: "any word folder with .wav clips".into(),
        });
    }
    Ok(examples)
}

/// A folder's entries in name order, so every run sees the same list.
pub(super) fn sorted_entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, DataError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| DataError::file(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}
