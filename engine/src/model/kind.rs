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
        crate::capped_read::check_config_size(config, "config.json")?;
        match serde_json::from_str::<TopLevelKeys>(config) {
            Ok(TopLevelKeys { arch: true }) => Ok(Self::Student),
            Ok(TopLevelKeys { arch: false }) => Ok(Self::Teacher),
            Err(e) if e.is_data() => Err("config.json is not a JSON object of settings".into()),
            Err(e) => Err(format!("config.json is not JSON ({e})")),
        }
    }
}

/// What [`ModelKind::of_config`] needs of a config: whether it names an `arch`. The values are
/// skipped, not built, so a config's size costs no memory beyond its text.
struct TopLevelKeys {
    arch: bool,
}

impl<'de> serde::Deserialize<'de> for TopLevelKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = TopLevelKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of settings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevelKeys, A::Error> {
                let mut arch = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    arch |= key == "arch";
                }
                Ok(TopLevelKeys { arch })
            }
        }
        deserializer.deserialize_map(Keys)
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
        // A nested "arch" is not the student's.
        assert_eq!(
            ModelKind::of_config(r#"{"inner": {"arch": "crnn"}, "model_type": "wav2vec2"}"#),
            Ok(ModelKind::Teacher)
        );
        // Over the allowance, refused from its length before it is parsed.
        let huge = format!("{{\"arch\": \"crnn\", \"x\": [{}0]}}", "0,".repeat(9 << 20));
        assert_eq!(
            ModelKind::of_config(&huge),
            Err(format!(
                "config.json is {} bytes; a config of at most 16777216 bytes is read",
                huge.len()
            ))
        );
    }
}
