//! What was said in a stream, and when: the record written beside every generated stream, which
//! calibration scores detections against.

use super::{StreamError, is_keyword};
use serde::{Deserialize, Serialize};

/// The version of the truth files this build writes and reads.
pub const TRUTH_VERSION: u32 = 1;

/// What was said in a stream, and when: written beside every generated stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamTruth {
    pub version: u32,
    pub duration_s: f64,
    /// Every word said, keywords and others, in order.
    pub words: Vec<SaidWord>,
    /// How the stream was made, in words (the command, the voices, the backgrounds).
    pub made_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaidWord {
    pub word: String,
    /// The class a model should give it (`_unknown_` for a word that is not a keyword).
    pub label: String,
    pub start_s: f64,
    pub end_s: f64,
    pub voice: String,
    pub snr_db: f32,
}

impl StreamTruth {
    /// Reads a truth file; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, StreamError> {
        let bad = |why: String| StreamError::Settings(format!("{name}: {why}"));
        let truth: Self = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a stream's truth file ({e})")))?;
        if truth.version > TRUTH_VERSION {
            return Err(bad(format!(
                "written by a newer TempoKD (version {}; this one reads up to {TRUTH_VERSION})",
                truth.version
            )));
        }
        if !(truth.duration_s.is_finite() && truth.duration_s > 0.0) {
            return Err(bad(format!(
                "the stream's duration {} s is not a positive number",
                truth.duration_s
            )));
        }
        for word in &truth.words {
            if !(word.start_s.is_finite() && word.end_s.is_finite() && word.start_s <= word.end_s) {
                return Err(bad(format!(
                    "`{}` is said from {} s to {} s, which is not a span of time",
                    word.word, word.start_s, word.end_s
                )));
            }
        }
        Ok(truth)
    }

    /// The keywords said, the words a listener should detect.
    pub fn keywords(&self) -> impl Iterator<Item = &SaidWord> {
        self.words.iter().filter(|word| is_keyword(&word.label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truth_file_that_is_not_one_is_refused_with_its_name() {
        let truth = StreamTruth {
            version: TRUTH_VERSION,
            duration_s: 60.0,
            words: vec![SaidWord {
                word: "yes".into(),
                label: "yes".into(),
                start_s: 2.0,
                end_s: 2.5,
                voice: "v".into(),
                snr_db: 10.0,
            }],
            made_by: "by hand".into(),
        };
        let text = serde_json::to_string(&truth).unwrap();
        assert_eq!(StreamTruth::parse(&text, "t.json").unwrap(), truth);
        for bad in [
            "{}".to_string(),
            text.replace("\"version\":1", "\"version\":99"),
            text.replace("60.0", "-1.0"),
            text.replace("\"start_s\":2.0", "\"start_s\":9.0"),
        ] {
            let error = StreamTruth::parse(&bad, "t.json").unwrap_err().to_string();
            assert!(error.starts_with("t.json: "), "{error}");
        }
    }
}
