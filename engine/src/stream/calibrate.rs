//! How often a listener is wrong, and at which threshold: a model's readings of streams whose
//! words are known ([`StreamTruth`]) replayed through the detector at every threshold, giving
//! false rejects (keywords said and not detected) against false accepts per hour (detections of
//! a keyword nobody said there), and per keyword the lowest threshold that keeps a target rate.
//! The model reads each stream once; only the detector runs per threshold.

use super::{
    Cadence, Detection, DetectorSettings, SaidWord, StreamError, StreamTruth, WindowReading,
    detections, is_keyword,
};
use crate::metrics::{Interval, poisson, wilson};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Detections set against what was said in one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub keywords: usize,
    /// Keywords with a detection of their label where they were said.
    pub found: usize,
    /// Detections that found no keyword.
    pub false_accepts: usize,
    /// Where they were placed.
    pub false_accepts_on: FalseAccepts,
    pub hours: f64,
}

/// False accepts by what was said where they were placed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FalseAccepts {
    /// Nothing: background alone.
    pub background: usize,
    /// A word that is not a keyword (`_unknown_`).
    pub unknown_words: usize,
    /// Another keyword than the one detected.
    pub other_keywords: usize,
    /// The keyword detected, found already by an earlier detection.
    pub repeats: usize,
}

impl std::ops::AddAssign for FalseAccepts {
    fn add_assign(&mut self, other: Self) {
        self.background += other.background;
        self.unknown_words += other.unknown_words;
        self.other_keywords += other.other_keywords;
        self.repeats += other.repeats;
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.keywords += other.keywords;
        self.found += other.found;
        self.false_accepts += other.false_accepts;
        self.false_accepts_on += other.false_accepts_on;
        self.hours += other.hours;
    }
}

/// Scores detections against what was said: a keyword is found by a detection of its label
/// placed within `tolerance_s` of the time it was said; every detection finds one keyword at
/// most, and any that finds none is a false accept, placed by the word said within
/// `tolerance_s` of it, if any. Also the false accepts themselves.
pub fn tally<'a>(
    detections: &'a [Detection],
    truth: &StreamTruth,
    tolerance_s: f64,
) -> (Tally, Vec<&'a Detection>) {
    let keywords: Vec<&SaidWord> = truth.keywords().collect();
    let mut found = vec![false; keywords.len()];
    let mut false_accepts = Vec::new();
    let mut false_accepts_on = FalseAccepts::default();
    let near = |word: &SaidWord, at_s: f64| {
        at_s >= word.start_s - tolerance_s && at_s <= word.end_s + tolerance_s
    };
    for detection in detections {
        let hit = (keywords.iter().enumerate()).find(|(index, word)| {
            !found[*index] && word.label == detection.label && near(word, detection.at_s)
        });
        if let Some((index, _)) = hit {
            found[index] = true;
            continue;
        }
        false_accepts.push(detection);
        let said = truth.words.iter().find(|word| near(word, detection.at_s));
        match said {
            None => false_accepts_on.background += 1,
            Some(word) if word.label == detection.label => false_accepts_on.repeats += 1,
            Some(word) if is_keyword(&word.label) => false_accepts_on.other_keywords += 1,
            Some(_) => false_accepts_on.unknown_words += 1,
        }
    }
    let tally = Tally {
        keywords: keywords.len(),
        found: found.iter().filter(|f| **f).count(),
        false_accepts: false_accepts.len(),
        false_accepts_on,
        hours: truth.duration_s / 3600.0,
    };
    (tally, false_accepts)
}

/// A model's readings of one stream, with what was said in it.
pub struct ReadStream<'a> {
    pub readings: &'a [WindowReading],
    pub truth: &'a StreamTruth,
}

/// Errors of a listener at one setting, over every stream, with their 95 % intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// No `#[serde(flatten)]` here or in `TradeOffPoint`: these records cross to the page's worker in
// bincode, which cannot encode a flattened struct.
pub struct Errors {
    pub tally: Tally,
    /// Keywords missed, of those said (Wilson's interval).
    pub false_reject_rate: f32,
    pub false_reject_interval: Interval,
    /// False accepts per hour of stream (Garwood's exact Poisson interval).
    pub false_accepts_per_hour: f64,
    pub false_accepts_per_hour_interval: Interval,
}

impl Errors {
    pub fn new(tally: Tally) -> Self {
        let missed = tally.keywords - tally.found;
        let per_hour = |count: f32| (count as f64 / tally.hours.max(f64::MIN_POSITIVE)) as f32;
        let counts = poisson(tally.false_accepts);
        Self {
            false_reject_rate: missed as f32 / tally.keywords.max(1) as f32,
            false_reject_interval: wilson(missed, tally.keywords),
            false_accepts_per_hour: per_hour(tally.false_accepts as f32) as f64,
            false_accepts_per_hour_interval: Interval {
                low: per_hour(counts.low),
                high: per_hour(counts.high),
            },
            tally,
        }
    }
}

/// What the detector set with `settings` gets wrong over the streams: the errors, and the false
/// accepts per keyword detected in error.
pub fn errors(
    labels: &[String],
    streams: &[ReadStream<'_>],
    settings: &DetectorSettings,
    tolerance_s: f64,
) -> Result<(Errors, BTreeMap<String, usize>), StreamError> {
    let mut total = Tally::default();
    let mut by_keyword = BTreeMap::new();
    for stream in streams {
        let found = detections(labels, stream.readings, settings)?;
        let (tally, false_accepts) = tally(&found, stream.truth, tolerance_s);
        total += tally;
        for detection in false_accepts {
            *by_keyword.entry(detection.label.clone()).or_insert(0) += 1;
        }
    }
    Ok((Errors::new(total), by_keyword))
}

/// One point of the detection-error trade-off: a threshold shared by every keyword.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeOffPoint {
    pub threshold: f32,
    pub errors: Errors,
    /// False accepts per keyword detected in error (which words the model imagines).
    pub false_accepts_by_keyword: BTreeMap<String, usize>,
}

/// The trade-off curve: `settings` with each of `thresholds` for every keyword.
pub fn trade_off(
    labels: &[String],
    streams: &[ReadStream<'_>],
    settings: &DetectorSettings,
    thresholds: &[f32],
    tolerance_s: f64,
) -> Result<Vec<TradeOffPoint>, StreamError> {
    thresholds
        .iter()
        .map(|threshold| {
            let settings = DetectorSettings {
                threshold: *threshold,
                thresholds: BTreeMap::new(),
                ..settings.clone()
            };
            let (errors, by_keyword) = errors(labels, streams, &settings, tolerance_s)?;
            Ok(TradeOffPoint {
                threshold: *threshold,
                errors,
                false_accepts_by_keyword: by_keyword,
            })
        })
        .collect()
}

/// Thresholds of each keyword chosen for a rate of false accepts, and what they measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateThresholds {
    pub target_per_hour: f64,
    pub thresholds: BTreeMap<String, f32>,
    /// Keywords whose false accepts exceed their share even at the curve's highest threshold.
    pub unreached: Vec<String>,
    /// The errors with these thresholds, measured on the streams they were chosen on: a fresh
    /// stream tells how well the rate holds.
    pub errors: Errors,
}

/// Per keyword, the lowest threshold of `curve` at which its false accepts stay within an equal
/// share of `per_hour`, so that all keywords together keep that rate.
pub fn thresholds_for_rate(
    labels: &[String],
    streams: &[ReadStream<'_>],
    settings: &DetectorSettings,
    curve: &[TradeOffPoint],
    per_hour: f64,
    tolerance_s: f64,
) -> Result<RateThresholds, StreamError> {
    if !(per_hour.is_finite() && per_hour >= 0.0) {
        return Err(StreamError::Settings(format!(
            "a rate of false accepts is a number of them per hour, not {per_hour}"
        )));
    }
    let keywords: Vec<&String> = labels.iter().filter(|l| is_keyword(l)).collect();
    let hours = curve.first().map_or(0.0, |point| point.errors.tally.hours);
    let allowed = per_hour / keywords.len().max(1) as f64 * hours;
    let mut ascending: Vec<&TradeOffPoint> = curve.iter().collect();
    ascending.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
    let mut thresholds = BTreeMap::new();
    let mut unreached = Vec::new();
    for keyword in keywords {
        let wrong = |point: &TradeOffPoint| {
            point
                .false_accepts_by_keyword
                .get(keyword)
                .copied()
                .unwrap_or(0) as f64
        };
        let chosen = ascending.iter().find(|point| wrong(point) <= allowed);
        let threshold = match (chosen, ascending.last()) {
            (Some(point), _) => point.threshold,
            (None, Some(highest)) => {
                unreached.push(keyword.clone());
                highest.threshold
            }
            (None, None) => settings.threshold,
        };
        thresholds.insert(keyword.clone(), threshold);
    }
    let mut chosen = RateThresholds {
        target_per_hour: per_hour,
        thresholds,
        unreached,
        errors: Errors::new(Tally::default()),
    };
    (chosen.errors, _) = errors(labels, streams, &chosen.settings(settings), tolerance_s)?;
    Ok(chosen)
}

impl RateThresholds {
    /// `base` with these thresholds.
    pub fn settings(&self, base: &DetectorSettings) -> DetectorSettings {
        DetectorSettings {
            thresholds: self.thresholds.clone(),
            ..base.clone()
        }
    }
}

/// What a calibration measures at, and for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSettings {
    /// The thresholds the trade-off is measured at.
    pub thresholds: Vec<f32>,
    /// The rate of false accepts per hour each keyword's threshold is chosen for.
    pub target_per_hour: f64,
    /// Seconds before a keyword starts or after it ends where its detection still counts.
    pub tolerance_s: f64,
}

/// The most a detection may sit from its word and still find it: more would let one detection
/// stand for a neighbouring word.
pub const MAX_TOLERANCE_S: f64 = 2.0;

/// The most thresholds one trade-off is measured at.
pub const MAX_THRESHOLDS: usize = 200;

impl Default for CalibrationSettings {
    fn default() -> Self {
        Self {
            thresholds: vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
            target_per_hour: 1.0,
            tolerance_s: 0.25,
        }
    }
}

impl CalibrationSettings {
    pub fn check(&self) -> Result<(), StreamError> {
        let bad = |why: String| Err(StreamError::Settings(why));
        if self.thresholds.is_empty() || self.thresholds.len() > MAX_THRESHOLDS {
            return bad(format!(
                "a trade-off is measured at 1 to {MAX_THRESHOLDS} thresholds, not {}",
                self.thresholds.len()
            ));
        }
        if let Some(t) = self.thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return bad(format!("a threshold is a probability from 0 to 1, not {t}"));
        }
        if !(self.target_per_hour.is_finite() && self.target_per_hour >= 0.0) {
            return bad(format!(
                "a rate of false accepts is a number of them per hour, not {}",
                self.target_per_hour
            ));
        }
        if !(0.0..=MAX_TOLERANCE_S).contains(&self.tolerance_s) {
            return bad(format!(
                "the tolerance is 0 to {MAX_TOLERANCE_S} s around a word, not {} s",
                self.tolerance_s
            ));
        }
        Ok(())
    }
}

/// What one model gets wrong listening to the streams, at every threshold, and the thresholds
/// chosen for the target rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCalibration {
    pub model: String,
    pub cadence: Cadence,
    pub trade_off: Vec<TradeOffPoint>,
    pub for_target_rate: RateThresholds,
    /// The chosen thresholds on held-out streams, where there were any.
    pub held_out: Option<Errors>,
}

impl ModelCalibration {
    /// Measures model `model`, whose labels are `labels`, from its readings of the streams at
    /// `cadence`, with the detector set with `detector` but for its thresholds.
    pub fn measure(
        model: &str,
        cadence: Cadence,
        labels: &[String],
        streams: &[ReadStream<'_>],
        detector: &DetectorSettings,
        settings: &CalibrationSettings,
    ) -> Result<Self, StreamError> {
        settings.check()?;
        let curve = trade_off(
            labels,
            streams,
            detector,
            &settings.thresholds,
            settings.tolerance_s,
        )?;
        let chosen = thresholds_for_rate(
            labels,
            streams,
            detector,
            &curve,
            settings.target_per_hour,
            settings.tolerance_s,
        )?;
        Ok(Self {
            model: model.to_string(),
            cadence,
            trade_off: curve,
            for_target_rate: chosen,
            held_out: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::TRUTH_VERSION;

    fn labels() -> Vec<String> {
        ["yes", "no", "_unknown_", "_silence_"]
            .map(String::from)
            .to_vec()
    }

    fn said(word: &str, start_s: f64) -> SaidWord {
        SaidWord {
            word: word.into(),
            label: if word == "dog" {
                "_unknown_".into()
            } else {
                word.into()
            },
            start_s,
            end_s: start_s + 0.5,
            voice: "v".into(),
            snr_db: 10.0,
        }
    }

    fn truth() -> StreamTruth {
        StreamTruth {
            version: TRUTH_VERSION,
            duration_s: 360.0,
            words: vec![said("yes", 2.0), said("dog", 5.0), said("no", 8.0)],
            made_by: "by hand".into(),
        }
    }

    fn detection(label: &str, at_s: f64) -> Detection {
        Detection {
            label: label.into(),
            confidence: 0.9,
            at_s,
            decided_s: at_s + 0.5,
        }
    }

    #[test]
    fn a_keyword_is_found_once_by_its_own_label_near_where_it_was_said() {
        let found = [
            detection("yes", 2.3),  // finds "yes"
            detection("yes", 2.6),  // the same word again: a false accept
            detection("no", 5.2),   // on "dog", an unknown word: a false accept
            detection("yes", 8.2),  // on "no", the wrong keyword: a false accept
            detection("no", 8.65),  // within the tolerance after "no" ends: finds it
            detection("yes", 15.0), // where nothing was said: a false accept
        ];
        let (tally, wrong) = tally(&found, &truth(), 0.25);
        assert_eq!(
            tally,
            Tally {
                keywords: 2,
                found: 2,
                false_accepts: 4,
                false_accepts_on: FalseAccepts {
                    background: 1,
                    unknown_words: 1,
                    other_keywords: 1,
                    repeats: 1,
                },
                hours: 0.1,
            }
        );
        assert_eq!(
            wrong.iter().map(|d| d.at_s).collect::<Vec<_>>(),
            [2.6, 5.2, 8.2, 15.0]
        );
        let errors = Errors::new(tally);
        assert_eq!(errors.false_reject_rate, 0.0);
        assert!((errors.false_accepts_per_hour - 40.0).abs() < 1e-9);
        let interval = errors.false_accepts_per_hour_interval;
        assert!(interval.low < 40.0 && interval.high > 40.0, "{interval:?}");
    }

    /// Readings of the stream of [`truth`] by a model that hears "yes" at 0.9, thinks "dog" is
    /// "no" at 0.6, and hears "no" at 0.7.
    fn readings() -> Vec<WindowReading> {
        let reading = |start_s: f64, probs: [f32; 4]| {
            let job = crate::stream::Job::window(0, start_s, vec![0.0; 16_000]);
            WindowReading::new(&job, probs.to_vec(), None)
        };
        vec![
            reading(1.75, [0.9, 0.05, 0.03, 0.02]),
            reading(4.75, [0.1, 0.6, 0.2, 0.1]),
            reading(7.75, [0.2, 0.7, 0.05, 0.05]),
        ]
    }

    #[test]
    fn the_trade_off_replays_one_reading_at_every_threshold() {
        let (readings, truth) = (readings(), truth());
        let streams = [ReadStream {
            readings: &readings,
            truth: &truth,
        }];
        let curve = trade_off(
            &labels(),
            &streams,
            &DetectorSettings::default(),
            &[0.5, 0.65, 0.8],
            0.25,
        )
        .unwrap();
        let summary: Vec<(usize, usize)> = (curve.iter())
            .map(|p| (p.errors.tally.found, p.errors.tally.false_accepts))
            .collect();
        assert_eq!(summary, [(2, 1), (2, 0), (1, 0)]);
        assert_eq!(
            curve[0].false_accepts_by_keyword,
            BTreeMap::from([("no".into(), 1)])
        );
        // One false accept in 0.1 h: "no" needs 0.65 for a rate of 1 an hour; "yes" makes none.
        let chosen = thresholds_for_rate(
            &labels(),
            &streams,
            &DetectorSettings::default(),
            &curve,
            1.0,
            0.25,
        )
        .unwrap();
        assert_eq!(
            chosen.thresholds,
            BTreeMap::from([("no".into(), 0.65), ("yes".into(), 0.5)])
        );
        assert!(chosen.unreached.is_empty());
        assert_eq!(chosen.errors.tally.found, 2);
        assert_eq!(chosen.errors.tally.false_accepts, 0);
    }
}
