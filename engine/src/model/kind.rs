//! What a model folder holds, told from its `config.json` alone, so the page can say what it is
//! offered before downloading any weights.

/// The two kinds of model TempoKD loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// wav2vec 2.0: `config.json`, `preprocessor_config.json` (optional), `model.safetensors`.
    Teacher,
    /// One of the five students: `config.json`, `model.safetensors`.
    Student,
}

impl ModelKind {
    /// The kind in words, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Teacher => "teacher",
            Self::Student => "student",
        }
    }

    /// Which kind a `config.json` describes: a student's config names its `arch`; any other
    /// JSON object is read as a Hugging Face wav2vec 2.0 config.
    pub fn of_config(config: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(config).map_err(|e| format!("config.json is not JSON ({e})"))?;
        match value.as_object() {
            Some(fields) if fields.contains_key("arch") => Ok(Self::Student),
            Some(_) => Ok(Self::Teacher),
            None => Err("config.json is not a JSON object of settings".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_its_kind_of_model() {
        assert_eq!(
            ModelKind::of_config(r#"{"arch": "tc-resnet8", "labels": []}"#),
            Ok(ModelKind::Student)
        );
        assert_eq!(
            ModelKind::of_config(r#"{"model_type": "wav2vec2"}"#),
            Ok(ModelKind::Teacher)
        );
        for bad in ["[1, 2]", "not json", ""] {
            assert!(ModelKind::of_config(bad).is_err(), "{bad}");
        }
    }
}
