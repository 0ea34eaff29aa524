//! A teacher started from a pretrained wav2vec 2.0 encoder, as the usual fine-tuning recipe
//! starts: the feature encoder, feature projection and transformer of a Hugging Face checkpoint
//! of any wav2vec 2.0 class (`Wav2Vec2Model`, whose keys have no `wav2vec2.` prefix,
//! `Wav2Vec2ForPreTraining`, `Wav2Vec2ForCTC`, `Wav2Vec2ForSequenceClassification`), under a new
//! classification head for the dataset's labels. The checkpoint's own heads (the pretraining
//! quantizer and projections, a CTC head, a classifier) are left out; a key of the encoder that
//! the config does not account for is an error, as in any load.

use super::config::{CLASSIFIER_ARCHITECTURE, ClassifierPooling, PreprocessorConfig};
use super::load::{self, UNUSED_KEYS};
use super::{Teacher, TeacherError, TeacherFiles, Wav2Vec2Config};
use crate::checkpoint::{Checkpoint, CheckpointError, Init, ParamSource, RandomInit};
use burn::tensor::Device;

/// The prefix of the encoder's keys inside a task model (our keys always carry it).
const ENCODER_PREFIX: &str = "wav2vec2.";

/// The top-level parts of a bare `Wav2Vec2Model`'s keys.
const BARE_ENCODER_PARTS: [&str; 3] = ["feature_extractor.", "feature_projection.", "encoder."];

/// The encoder's keys from a pretrained checkpoint, the head's drawn afresh.
struct PretrainedEncoder<'c, 'a> {
    checkpoint: &'c mut Checkpoint<'a>,
    /// The checkpoint is a bare `Wav2Vec2Model`: its keys lack the `wav2vec2.` prefix.
    bare: bool,
    fresh: RandomInit,
}

impl PretrainedEncoder<'_, '_> {
    /// The checkpoint's key for one of ours, or `None` for a key of the new head.
    fn checkpoint_key(&self, key: &str) -> Option<String> {
        let inner = key.strip_prefix(ENCODER_PREFIX)?;
        Some(match self.bare {
            true => inner.to_owned(),
            false => key.to_owned(),
        })
    }
}

impl ParamSource for PretrainedEncoder<'_, '_> {
    fn contains(&self, key: &str) -> bool {
        self.checkpoint_key(key)
            .is_some_and(|key| self.checkpoint.contains(&key))
    }

    fn take(
        &mut self,
        key: &str,
        shape: &[usize],
        init: Init,
    ) -> Result<Vec<f32>, CheckpointError> {
        match self.checkpoint_key(key) {
            Some(key) => self.checkpoint.take(&key, shape, init),
            None => self.fresh.take(key, shape, init),
        }
    }
}

/// Whether a checkpoint key belongs to the encoder (and so must be used).
fn is_encoder_key(key: &str, bare: bool) -> bool {
    let inner = match bare {
        true => key,
        false => match key.strip_prefix(ENCODER_PREFIX) {
            Some(inner) => inner,
            None => return false,
        },
    };
    BARE_ENCODER_PARTS
        .iter()
        .any(|part| inner.starts_with(part))
}

impl Teacher {
    /// A teacher for `labels` whose encoder is the pretrained checkpoint in `files` and whose
    /// head (`pooling`: the paper's first frame or Hugging Face's mean) is new, drawn from
    /// `seed`. The checkpoint's config gives the encoder's shape; its labels are replaced.
    pub fn from_pretrained_encoder(
        files: TeacherFiles<'_>,
        labels: &[&str],
        pooling: ClassifierPooling,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TeacherError> {
        // Validated once the labels are in: a pretrained model's config may have none.
        let mut config: Wav2Vec2Config =
            serde_json::from_str(files.config).map_err(|e| TeacherError::Config(e.to_string()))?;
        let preprocessor = match files.preprocessor {
            Some(text) => PreprocessorConfig::from_json(text)?,
            None => PreprocessorConfig::default(),
        };
        config.id2label = (labels.iter().enumerate())
            .map(|(index, label)| (index.to_string(), label.to_string()))
            .collect();
        config.classifier_pooling = pooling;
        config.architectures = Some(vec![CLASSIFIER_ARCHITECTURE.to_string()]);
        config.validate()?;
        let mut checkpoint = Checkpoint::new(files.weights)?.ignoring(UNUSED_KEYS);
        let bare = !checkpoint.contains(&format!(
            "{ENCODER_PREFIX}feature_projection.projection.weight"
        ));
        let model = load::build(
            &config,
            &mut PretrainedEncoder {
                checkpoint: &mut checkpoint,
                bare,
                fresh: RandomInit::new(seed),
            },
            device,
        )?;
        match checkpoint.finish() {
            Err(CheckpointError::Unexpected(keys)) => {
                let encoder: Vec<String> = (keys.into_iter())
                    .filter(|key| is_encoder_key(key, bare))
                    .collect();
                if !encoder.is_empty() {
                    return Err(CheckpointError::Unexpected(encoder).into());
                }
            }
            other => other?,
        }
        Self::assemble(model, config, preprocessor, device)
    }

    /// [`Teacher::from_pretrained_encoder`] from a Hugging Face model folder on disk.
    #[cfg(not(target_family = "wasm"))]
    pub fn from_pretrained_encoder_dir(
        dir: &std::path::Path,
        labels: &[&str],
        pooling: ClassifierPooling,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TeacherError> {
        let files = super::DirFiles::read(dir)?;
        Self::from_pretrained_encoder(files.as_files(), labels, pooling, seed, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_keys_are_told_from_heads_in_both_spellings() {
        assert!(is_encoder_key(
            "wav2vec2.encoder.layers.0.attention.k_proj.weight",
            false
        ));
        assert!(is_encoder_key(
            "wav2vec2.feature_extractor.conv_layers.0.conv.weight",
            false
        ));
        assert!(!is_encoder_key("quantizer.codevectors", false));
        assert!(!is_encoder_key("project_hid.weight", false));
        assert!(!is_encoder_key("lm_head.weight", false));
        assert!(is_encoder_key("feature_projection.projection.bias", true));
        assert!(!is_encoder_key("masked_spec_embed", true));
    }
}
