//! What a model is scored by, with its 95 % intervals: accuracy, mean average precision for
//! multi-label data, attention localisation (the share of a temporal map's mass inside the keyword
//! window), and the Wilson, Poisson and bootstrap intervals the reports and calibration use.

use crate::data::Window;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The share of `attention`'s mass inside `window`: each frame's weight counts in proportion to
/// how much of its cell (`start_s + t·frame_s`, `frame_s` long) the window covers.
pub fn attention_in_window(attention: &[f32], start_s: f32, frame_s: f32, window: Window) -> f32 {
    let total: f32 = attention.iter().sum();
    if total <= 0.0 || frame_s <= 0.0 {
        return 0.0;
    }
    let inside: f32 = attention
        .iter()
        .enumerate()
        .map(|(t, weight)| {
            let cell_start = start_s + t as f32 * frame_s;
            let overlap = (cell_start + frame_s).min(window.end_s) - cell_start.max(window.start_s);
            weight * (overlap.max(0.0) / frame_s)
        })
        .sum();
    inside / total
}

/// Average precision of one class: the mean, over its positives, of the precision at their rank.
/// `None` when the class has no positive.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f32> {
    let positives = positive.iter().filter(|p| **p).count();
    if positives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let mut hits = 0;
    let mut sum = 0.0;
    for (rank, index) in order.iter().enumerate() {
        if positive[*index] {
            hits += 1;
            sum += hits as f32 / (rank + 1) as f32;
        }
    }
    Some(sum / positives as f32)
}

/// A 95 % confidence interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f32,
    pub high: f32,
}

/// The Wilson score interval of a proportion, `successes` of `n` (95 %): unlike the normal
/// approximation it stays inside [0, 1] and is honest for small n and proportions near 0 or 1.
pub fn wilson(successes: usize, n: usize) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    const Z: f64 = 1.959_964;
    let (k, n) = (successes.min(n) as f64, n as f64);
    let p = k / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denominator;
    Interval {
        low: (centre - half).max(0.0) as f32,
        high: (centre + half).min(1.0) as f32,
    }
}

/// The exact (Garwood) 95 % interval of the mean of a Poisson count, `count` events seen: how
/// many false accepts an hour a stretch with `count` of them is consistent with.
pub fn poisson(count: usize) -> Interval {
    // P(X <= k) for a mean of `mean`, summed in log space so large counts do not overflow.
    let at_most = |k: usize, mean: f64| -> f64 {
        let mut log_term = -mean;
        let mut sum = log_term.exp();
        for i in 1..=k {
            log_term += mean.ln() - (i as f64).ln();
            sum += log_term.exp();
        }
        sum.min(1.0)
    };
    // The mean where P(X <= k) falls to `level`, by bisection: it falls as the mean grows.
    let solve = |k: usize, level: f64| {
        let (mut low, mut high) = (0.0f64, 10.0 + 4.0 * count as f64);
        for _ in 0..100 {
            let mid = (low + high) / 2.0;
            if at_most(k, mid) > level {
                low = mid;
            } else {
                high = mid;
            }
        }
        (low + high) / 2.0
    };
    let high = solve(count, 0.025);
    // The lower bound is where P(X >= k) rises to 2.5 %.
    let low = match count {
        0 => 0.0,
        _ => solve(count - 1, 0.975),
    };
    Interval {
        low: low as f32,
        high: high as f32,
    }
}

/// Resamples of the bootstrap, and its fixed seed: the same clips give the same interval.
const BOOTSTRAP_RESAMPLES: usize = 1000;
const BOOTSTRAP_SEED: u64 = 95;

/// The percentile bootstrap interval (95 %) of the mean of `values`, resampling clips;
/// `None` for no values.
pub fn bootstrap_mean(values: &[f32]) -> Option<Interval> {
    if values.is_empty() {
        return None;
    }
    let mut rng = Rng::new(BOOTSTRAP_SEED);
    let mut means: Vec<f32> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let sum: f64 = (0..values.len())
                .map(|_| values[rng.below(values.len())] as f64)
                .sum();
            (sum / values.len() as f64) as f32
        })
        .collect();
    means.sort_by(f32::total_cmp);
    let at = |q: f32| means[((q * BOOTSTRAP_RESAMPLES as f32) as usize).min(means.len() - 1)];
    Some(Interval {
        low: at(0.025),
        high: at(0.975),
    })
}

/// Scores of a model over a set of clips.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub n: usize,
    pub accuracy: f32,
    /// Wilson's 95 % interval of the accuracy.
    pub accuracy_interval: Interval,
    pub per_class: BTreeMap<String, f32>,
    /// Mean over clips with a keyword window; `None` when no clip has one.
    pub attention_in_window: Option<f32>,
    /// The bootstrap's 95 % interval of that mean, over clips.
    pub attention_in_window_interval: Option<Interval>,
    /// Multi-label data only: mean over classes with a positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<f32>,
}

/// One scored clip.
pub struct Outcome {
    /// Class probabilities: softmax for single-label models, sigmoid per class for multi-label.
    pub probs: Vec<f32>,
    pub targets: Vec<usize>,
    pub localisation: Option<f32>,
}

impl Evaluation {
    /// Accuracy counts a clip right when its top class is one of its targets.
    pub fn from_outcomes(outcomes: &[Outcome], labels: &[String], multi_label: bool) -> Self {
        let mut right = vec![0usize; labels.len()];
        let mut seen = vec![0usize; labels.len()];
        let mut correct = 0;
        for outcome in outcomes {
            let top = outcome
                .probs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(usize::MAX, |(i, _)| i);
            let hit = outcome.targets.contains(&top);
            correct += hit as usize;
            for target in &outcome.targets {
                if let (Some(s), Some(r)) = (seen.get_mut(*target), right.get_mut(*target)) {
                    *s += 1;
                    *r += hit as usize;
                }
            }
        }
        let per_class = labels
            .iter()
            .zip(seen.iter().zip(&right))
            .filter(|(_, (s, _))| **s > 0)
            .map(|(label, (s, r))| (label.clone(), *r as f32 / *s as f32))
            .collect();
        let localised: Vec<f32> = outcomes.iter().filter_map(|o| o.localisation).collect();
        let map = multi_label.then(|| {
            let precisions: Vec<f32> = (0..labels.len())
                .filter_map(|class| {
                    let scores: Vec<f32> = outcomes
                        .iter()
                        .map(|o| o.probs.get(class).copied().unwrap_or(0.0))
                        .collect();
                    let positive: Vec<bool> = outcomes
                        .iter()
                        .map(|o| o.targets.contains(&class))
                        .collect();
                    average_precision(&scores, &positive)
                })
                .collect();
            mean(&precisions).unwrap_or(0.0)
        });
        Self {
            n: outcomes.len(),
            accuracy: if outcomes.is_empty() {
                0.0
            } else {
                correct as f32 / outcomes.len() as f32
            },
            accuracy_interval: wilson(correct, outcomes.len()),
            per_class,
            attention_in_window: mean(&localised),
            attention_in_window_interval: bootstrap_mean(&localised),
            map,
        }
    }
}

fn mean(values: &[f32]) -> Option<f32> {
    (!values.is_empty()).then(|| values.iter().sum::<f32>() / values.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localisation_counts_covered_fractions_of_cells() {
        // Four 0.5 s cells from 0 s; the window covers cell 1 fully and half of cell 2.
        let window = Window {
            start_s: 0.5,
            end_s: 1.25,
        };
        let share = attention_in_window(&[0.1, 0.4, 0.4, 0.1], 0.0, 0.5, window);
        assert!((share - (0.4 + 0.2)).abs() < 1e-6, "{share}");
        // A window outside the clip holds nothing; an all-zero map holds nothing.
        let outside = Window {
            start_s: 5.0,
            end_s: 6.0,
        };
        assert_eq!(attention_in_window(&[0.5, 0.5], 0.0, 0.5, outside), 0.0);
        assert_eq!(attention_in_window(&[0.0, 0.0], 0.0, 0.5, window), 0.0);
    }

    #[test]
    fn poisson_intervals_match_published_values() {
        // Garwood's exact limits: 0 → (0, 3.689), 1 → (0.0253, 5.572), 10 → (4.795, 18.39).
        for (count, low, high) in [(0, 0.0, 3.689), (1, 0.0253, 5.572), (10, 4.795, 18.39)] {
            let interval = poisson(count);
            assert!((interval.low - low).abs() < 2e-3, "{count}: {interval:?}");
            assert!((interval.high - high).abs() < 2e-2, "{count}: {interval:?}");
        }
    }

    #[test]
    fn wilson_intervals_match_published_values() {
        // 5 of 10: 0.2366–0.7634; 0 of 10: 0–0.2775 (Newcombe 1998, method 3).
        let half = wilson(5, 10);
        assert!((half.low - 0.2366).abs() < 1e-4 && (half.high - 0.7634).abs() < 1e-4);
        let none = wilson(0, 10);
        assert!(
            none.low == 0.0 && (none.high - 0.2775).abs() < 1e-4,
            "{none:?}"
        );
        // About ±3 points at 1,000 clips near 85 %, the size the test split is made for.
        let large = wilson(850, 1000);
        assert!(large.high - large.low < 0.045 && large.low < 0.85 && large.high > 0.85);
        assert_eq!(
            wilson(0, 0),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn the_bootstrap_interval_holds_the_mean_and_narrows_with_more_clips() {
        let constant = bootstrap_mean(&[0.4; 20]).unwrap();
        assert!((constant.low - 0.4).abs() < 1e-6 && (constant.high - 0.4).abs() < 1e-6);
        let spread = |n: usize| {
            let values: Vec<f32> = (0..n).map(|i| (i % 10) as f32 / 9.0).collect();
            let interval = bootstrap_mean(&values).unwrap();
            assert!(interval.low < 0.5 && interval.high > 0.5, "{interval:?}");
            interval.high - interval.low
        };
        assert!(spread(1000) < 0.5 * spread(50));
        assert_eq!(bootstrap_mean(&[]), None);
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: pos, neg, pos → (1/1 + 2/3) / 2.
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, false]);
        assert!((ap.unwrap_or(0.0) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-6);
        assert_eq!(average_precision(&[0.5], &[false]), None);
    }

    #[test]
    fn evaluation_counts_per_class_and_skips_clips_without_windows() {
        let labels: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let outcome = |probs: [f32; 2], target: usize, localisation| Outcome {
            probs: probs.to_vec(),
            targets: vec![target],
            localisation,
        };
        let outcomes = [
            outcome([0.9, 0.1], 0, Some(0.5)),
            outcome([0.2, 0.8], 0, None),
            outcome([0.3, 0.7], 1, Some(1.0)),
        ];
        let evaluation = Evaluation::from_outcomes(&outcomes, &labels, false);
        assert_eq!(evaluation.n, 3);
        assert!((evaluation.accuracy - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(evaluation.per_class.get("a"), Some(&0.5));
        assert_eq!(evaluation.per_class.get("b"), Some(&1.0));
        assert_eq!(evaluation.attention_in_window, Some(0.75));
        assert_eq!(evaluation.map, None);
    }
}
