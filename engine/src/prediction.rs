//! What every model says about a clip's class, on the host.

use serde_json::json;

/// Logits, their softmax and the most probable class.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
    /// Index of the most probable class.
    pub top: usize,
}

impl Prediction {
    pub fn from_logits(logits: Vec<f32>) -> Self {
        let probs = softmax(&logits);
        let top = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(index, _)| index);
        Self { logits, probs, top }
    }

    /// The top class's name (empty if `labels` is too short) and its probability.
    pub fn top_label<'a>(&self, labels: &'a [String]) -> (&'a str, f32) {
        (
            labels.get(self.top).map_or("", String::as_str),
            self.probs.get(self.top).copied().unwrap_or_default(),
        )
    }

    /// `{"labels", "logits", "probs", "top"}` with the top class by name.
    pub fn to_json(&self, labels: &[String]) -> serde_json::Value {
        json!({
            "labels": labels,
            "logits": self.logits,
            "probs": self.probs,
            "top": self.top_label(labels).0,
        })
    }
}

/// A numerically safe softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}
