//! A dataset folder in any of the layouts we read, as one list of examples with splits.

use super::keywords;
use super::manifest::{Example, Manifest, Split};
use super::{DataError, fsd50k, read_text, speech_commands};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How a folder is organised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `manifest.csv` beside the clips (what `tempokd synth` writes, or the user's own folder).
    Manifest,
    /// Speech Commands v2 as it ships: a folder per word, `validation_list.txt`,
    /// `testing_list.txt`, `_background_noise_`.
    SpeechCommands,
    /// FSD50K as it ships: `FSD50K.ground_truth/{dev,eval,vocabulary}.csv` and the audio folders.
    Fsd50k,
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub layout: Layout,
    /// The class list, in the order a model's outputs follow.
    pub labels: Vec<String>,
    /// Several labels per clip (FSD50K): trained with binary cross-entropy, scored by mAP.
    pub multi_label: bool,
    pub examples: Vec<Example>,
}

impl Dataset {
    /// Reads a folder, recognising its layout.
    pub fn open(root: &Path) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::Missing {
                path: root.to_path_buf(),
                what: "the dataset folder".into(),
            });
        }
        let manifest = root.join("manifest.csv");
        if manifest.is_file() {
            let text = read_text(&manifest)?;
            let examples = Manifest::parse(&text, &manifest)?.examples;
            let labels = label_list(&examples);
            let multi_label = examples.iter().any(|e| e.labels.len() > 1);
            return Ok(Self {
                root: root.to_path_buf(),
                layout: Layout::Manifest,
                labels,
                multi_label,
                examples,
            });
        }
        if root.join(fsd50k::GROUND_TRUTH).is_dir() {
            let (labels, examples) = fsd50k::read(root)?;
            return Ok(Self {
                root: root.to_path_buf(),
                layout: Layout::Fsd50k,
                labels,
                multi_label: true,
                examples,
            });
        }
        if root.join(speech_commands::TESTING_LIST).is_file() {
            return Ok(Self {
                root: root.to_path_buf(),
                layout: Layout::SpeechCommands,
                labels: keywords::labels(),
                multi_label: false,
                examples: speech_commands::read(root)?,
            });
        }
        Err(DataError::Missing {
            path: root.to_path_buf(),
            what: "manifest.csv (or Speech Commands' testing_list.txt, or FSD50K.ground_truth/)"
                .into(),
        })
    }

    pub fn split(&self, split: Split) -> impl Iterator<Item = &Example> {
        self.examples.iter().filter(move |e| e.split == split)
    }

    pub fn path(&self, example: &Example) -> PathBuf {
        self.root.join(&example.file)
    }

    /// Where an example was listed, for error messages.
    pub fn origin(&self, example: &Example) -> PathBuf {
        match self.layout {
            Layout::Manifest => self.root.join("manifest.csv"),
            _ => self.path(example),
        }
    }

    /// Refuses labels a model cannot output, naming the first row that has one.
    pub fn check_labels(&self, model_labels: &[String]) -> Result<(), DataError> {
        for example in &self.examples {
            if let Some(unknown) = example.labels.iter().find(|l| !model_labels.contains(l)) {
                return Err(DataError::Row {
                    path: self.origin(example),
                    row: example.row,
                    why: format!(
                        "label `{unknown}` is not one the model knows ({})",
                        model_labels.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// The clip as 16 kHz mono samples.
    #[cfg(feature = "decoders")]
    pub fn audio(&self, example: &Example) -> Result<Vec<f32>, DataError> {
        let path = self.path(example);
        let bytes = crate::capped_read::read_capped(&path, crate::audio::MAX_FILE_BYTES, "a clip")
            .map_err(DataError::Invalid)?;
        crate::audio::load_clip(bytes, &crate::audio::Limits::default())
            .map(|clip| clip.into_samples())
            .map_err(|e| DataError::file(&path, e))
    }

    /// Keeps only the clips of `split` that last `length` seconds (to the nearest 10 ms), each
    /// decoded to learn its length; every other clip is dropped.
    #[cfg(feature = "decoders")]
    pub fn keep_length(&mut self, split: Split, length: f32) -> Result<(), DataError> {
        let rate = crate::audio::MODEL_SAMPLE_RATE as f32;
        let mut keep = Vec::with_capacity(self.examples.len());
        for example in &self.examples {
            keep.push(
                example.split == split
                    && (self.audio(example)?.len() as f32 / rate - length).abs() < 0.01,
            );
        }
        let mut flags = keep.into_iter();
        self.examples.retain(|_| flags.next().unwrap_or(false));
        Ok(())
    }
}

/// The 12 Speech Commands labels when the data uses no others (so models trained on any subset
/// share one output order), else every label sorted.
fn label_list(examples: &[Example]) -> Vec<String> {
    let used: BTreeSet<&str> = examples
        .iter()
        .flat_map(|e| e.labels.iter().map(String::as_str))
        .collect();
    let standard = keywords::labels();
    if used.iter().all(|l| standard.iter().any(|s| s == l)) {
        standard
    } else {
        used.into_iter().map(String::from).collect()
    }
}
