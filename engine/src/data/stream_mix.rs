//! Laying spoken words out along a long recording: each word at its own SNR over procedural
//! backgrounds that change every few seconds, at random times at least a gap apart, with every
//! word's time written down ([`StreamTruth`]) so that detections can be scored against what was
//! said. `keyword_stream` speaks its words with the corpus's voices (natively); the page lays
//! out the keyword pack's held-out words and the visitor's own recordings the same way
//! ([`calibration_streams`]) to calibrate its listeners.

use super::DataError;
use super::keywords::UNKNOWN;
use super::noise::{self, Procedural, rms};
use crate::audio::MODEL_SAMPLE_RATE;
use crate::rng::Rng;
use crate::stream::{SaidWord, StreamTruth, TRUTH_VERSION, is_keyword};

/// The backgrounds a stream moves through. Babble is left out: its words would be keywords
/// nobody wrote down.
const BACKGROUNDS: [Procedural; 5] = [
    Procedural::White,
    Procedural::Pink,
    Procedural::Brown,
    Procedural::Hum,
    Procedural::Tones,
];

/// The background's level, −40 dBFS: words at up to 30 dB SNR stay below full scale.
const BACKGROUND_RMS: f32 = 0.01;

/// Seconds each background lasts, and the crossfade between two.
const SEGMENT_S: (f32, f32) = (4.0, 12.0);
const CROSSFADE_S: f32 = 0.05;

/// The longest stream made: an hour of 16 kHz audio is 230 MB of samples.
pub const MAX_STREAM_S: f32 = 3600.0;

/// A word already spoken, to be placed in a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct SpokenWord {
    pub word: String,
    /// The class a model should give it (`_unknown_` for a word that is not a keyword).
    pub label: String,
    /// Who said it, in words.
    pub voice: String,
    pub snr_db: f32,
    /// 16 kHz samples of the word alone.
    pub samples: Vec<f32>,
}

/// `seconds` of changing background with `words` said in the order given, each at its SNR,
/// at least `gap_s` apart and apart from the ends, the rest of the time spread at random.
pub fn lay_out(
    words: &[SpokenWord],
    seconds: f32,
    gap_s: f32,
    made_by: &str,
    rng: &Rng,
) -> Result<(Vec<f32>, StreamTruth), DataError> {
    if !(1.0..=MAX_STREAM_S).contains(&seconds) {
        return Err(DataError::Invalid(format!(
            "a stream lasts 1 to {MAX_STREAM_S} s, not {seconds} s"
        )));
    }
    if !(0.0..=60.0).contains(&gap_s) {
        return Err(DataError::Invalid(format!(
            "the gap is 0 to 60 s, not {gap_s} s"
        )));
    }
    if let Some(word) = words.iter().find(|w| w.samples.is_empty()) {
        return Err(DataError::Invalid(format!(
            "`{}` ({}) has no audio to place",
            word.word, word.voice
        )));
    }
    let rate = MODEL_SAMPLE_RATE as f32;
    let length = (seconds * rate).round() as usize;
    let taken: usize = words.iter().map(|w| w.samples.len()).sum();
    let gap = (gap_s * rate) as usize;
    let Some(free) = length.checked_sub(taken + (words.len() + 1) * gap) else {
        return Err(DataError::Invalid(format!(
            "the {} words last {:.1} s, which with their gaps does not fit in {seconds} s: \
             make the stream longer or say fewer words",
            words.len(),
            taken as f32 / rate,
        )));
    };
    let mut samples = background(length, &mut rng.fork("background"));
    let shares = spacing(words.len() + 1, &mut rng.fork("places"));
    let mut said = Vec::with_capacity(words.len());
    let mut at = 0usize;
    for (word, share) in words.iter().zip(&shares) {
        at += gap + (share * free as f32) as usize;
        // Rounding of the shares may not push the last word past the end.
        at = at.min(length - word.samples.len());
        let gain = BACKGROUND_RMS * 10f32.powf(word.snr_db / 20.0) / rms(&word.samples).max(1e-9);
        for (slot, sample) in samples[at..].iter_mut().zip(&word.samples) {
            *slot += gain * sample;
        }
        said.push(SaidWord {
            word: word.word.clone(),
            label: word.label.clone(),
            start_s: at as f64 / rate as f64,
            end_s: (at + word.samples.len()) as f64 / rate as f64,
            voice: word.voice.clone(),
            snr_db: word.snr_db,
        });
        at += word.samples.len();
    }
    let peak = samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > 0.95 {
        samples.iter_mut().for_each(|v| *v *= 0.95 / peak);
    }
    let truth = StreamTruth {
        version: TRUTH_VERSION,
        duration_s: length as f64 / rate as f64,
        words: said,
        made_by: made_by.to_string(),
    };
    Ok((samples, truth))
}

/// `parts` random shares of 1 (the spaces between words), drawn so every arrangement is as likely.
fn spacing(parts: usize, rng: &mut Rng) -> Vec<f32> {
    let draws: Vec<f32> = (0..parts).map(|_| -(1.0 - rng.unit()).ln()).collect();
    let sum: f32 = draws.iter().sum();
    draws
        .iter()
        .map(|d| d / sum.max(f32::MIN_POSITIVE))
        .collect()
}

/// `length` samples of backgrounds of random kinds and lengths at [`BACKGROUND_RMS`], each
/// faded into the next so the joins make no click.
fn background(length: usize, rng: &mut Rng) -> Vec<f32> {
    let rate = MODEL_SAMPLE_RATE as f32;
    let fade = (CROSSFADE_S * rate) as usize;
    let mut samples = Vec::with_capacity(length + fade);
    while samples.len() < length {
        let kind = BACKGROUNDS[rng.below(BACKGROUNDS.len())];
        let seconds = rng.uniform(SEGMENT_S.0, SEGMENT_S.1);
        let segment = noise::generate(kind, (seconds * rate) as usize + fade, &[], rng);
        let overlap = fade.min(samples.len());
        let start = samples.len() - overlap;
        for (i, value) in segment.iter().enumerate() {
            let value = value * BACKGROUND_RMS;
            match samples.get_mut(start + i) {
                Some(slot) if i < overlap => {
                    let rise = i as f32 / overlap as f32;
                    *slot = *slot * (1.0 - rise) + value * rise;
                }
                _ => samples.push(value),
            }
        }
    }
    samples.truncate(length);
    samples
}

/// How the page's two calibration streams are made from words already spoken.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CalibrationStreams {
    /// Times each keyword recording is said in the keyword stream (each time at its own SNR
    /// and place, over its own background).
    pub keyword_copies: usize,
    /// Length of the stream without keywords, for false accepts.
    pub background_s: f32,
    /// On average one word that is not a keyword every this many seconds of that stream
    /// (speech the listeners must not take for a keyword).
    pub other_word_every_s: f32,
    pub snr_db: (f32, f32),
    /// The least silence between two words, more than a detector's refractory time.
    pub gap_s: f32,
    pub seed: u64,
}

impl Default for CalibrationStreams {
    fn default() -> Self {
        Self {
            keyword_copies: 2,
            background_s: 120.0,
            other_word_every_s: 10.0,
            snr_db: (10.0, 10.0),
            gap_s: 2.0,
            seed: 0,
        }
    }
}

/// The longest background stream the page makes: ten minutes of 16 kHz samples are 38 MB.
pub const MAX_BACKGROUND_S: f32 = 600.0;

impl CalibrationStreams {
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |why: String| Err(DataError::Invalid(why));
        if !(1..=8).contains(&self.keyword_copies) {
            return bad(format!(
                "each keyword recording is said 1 to 8 times, not {}",
                self.keyword_copies
            ));
        }
        if !(10.0..=MAX_BACKGROUND_S).contains(&self.background_s) {
            return bad(format!(
                "the stream without keywords lasts 10 to {MAX_BACKGROUND_S} s, not {} s",
                self.background_s
            ));
        }
        if !(self.other_word_every_s >= 4.0 && self.other_word_every_s.is_finite()) {
            return bad(format!(
                "other words come at most one every 4 s, not every {} s",
                self.other_word_every_s
            ));
        }
        let (low, high) = self.snr_db;
        if !(low.is_finite() && high.is_finite() && low <= high && low >= -30.0 && high <= 30.0) {
            return bad(format!(
                "the SNR range must be low..high within -30..30 dB; got {low}..{high}"
            ));
        }
        if !(0.5..=10.0).contains(&self.gap_s) {
            return bad(format!("the gap is 0.5 to 10 s, not {} s", self.gap_s));
        }
        Ok(())
    }
}

/// The two streams of a calibration from `words` (SNRs are drawn here, theirs ignored): every
/// keyword said `keyword_copies` times at known places, for false rejects, and `background_s`
/// of background with the words that are not keywords said now and then, for false accepts.
pub fn calibration_streams(
    words: &[SpokenWord],
    config: &CalibrationStreams,
) -> Result<[(Vec<f32>, StreamTruth); 2], DataError> {
    config.validate()?;
    let root = Rng::new(config.seed).fork("calibration");
    let with_snr = |word: &SpokenWord, rng: &mut Rng| SpokenWord {
        snr_db: rng.uniform(config.snr_db.0, config.snr_db.1),
        ..word.clone()
    };
    let keywords: Vec<&SpokenWord> = words.iter().filter(|w| is_keyword(&w.label)).collect();
    let others: Vec<&SpokenWord> = words.iter().filter(|w| w.label == UNKNOWN).collect();
    if keywords.is_empty() {
        return Err(DataError::Invalid(
            "no keyword recording to calibrate with: the pack's held-out words did not load".into(),
        ));
    }
    let mut rng = root.fork("keywords");
    let mut said: Vec<SpokenWord> = (0..config.keyword_copies)
        .flat_map(|_| keywords.iter())
        .map(|word| with_snr(word, &mut rng))
        .collect();
    rng.shuffle(&mut said);
    let rate = MODEL_SAMPLE_RATE as f32;
    let taken: f32 = said.iter().map(|w| w.samples.len() as f32 / rate).sum();
    // Half as much silence again as the gaps, spread at random.
    let seconds = (taken + (said.len() + 1) as f32 * config.gap_s * 1.5).ceil();
    if seconds > MAX_STREAM_S {
        return Err(DataError::Invalid(format!(
            "{} keyword recordings said {} times each last {seconds} s, more than the \
             {MAX_STREAM_S} s a stream may: say each fewer times",
            keywords.len(),
            config.keyword_copies
        )));
    }
    let made_by = |what: &str| {
        format!(
            "{what}: recordings placed over procedural backgrounds at {}..{} dB SNR, seed {}",
            config.snr_db.0, config.snr_db.1, config.seed
        )
    };
    let keyword_stream = lay_out(
        &said,
        seconds,
        config.gap_s,
        &made_by(&format!(
            "each keyword said {} times",
            config.keyword_copies
        )),
        &rng,
    )?;
    let mut rng = root.fork("background");
    let count = match others.is_empty() {
        true => 0,
        false => (config.background_s / config.other_word_every_s) as usize,
    };
    let other_words: Vec<SpokenWord> = (0..count)
        .filter_map(|_| rng.pick(&others).map(|word| with_snr(word, &mut rng)))
        .collect();
    let background_stream = lay_out(
        &other_words,
        config.background_s,
        config.gap_s,
        &made_by(&format!(
            "no keyword, {} words that are not keywords",
            other_words.len()
        )),
        &rng,
    )?;
    Ok([keyword_stream, background_stream])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(word: &str, label: &str, seconds: f32) -> SpokenWord {
        let mut rng = Rng::new(5);
        SpokenWord {
            word: word.into(),
            label: label.into(),
            voice: "v".into(),
            snr_db: 10.0,
            samples: (0..(seconds * 16_000.0) as usize)
                .map(|_| rng.uniform(-0.5, 0.5))
                .collect(),
        }
    }

    #[test]
    fn backgrounds_join_at_one_level_without_gaps() {
        let samples = background(16_000 * 30, &mut Rng::new(3));
        assert_eq!(samples.len(), 16_000 * 30);
        // Every second is near the background's level: no silent or doubled stretch at a join.
        for second in samples.chunks(16_000) {
            let level = rms(second) / BACKGROUND_RMS;
            assert!((0.5..1.5).contains(&level), "{level}");
        }
    }

    #[test]
    fn each_word_lies_where_its_truth_says_at_its_snr_and_a_gap_apart() {
        let words = [
            word("yes", "yes", 0.5),
            word("dog", UNKNOWN, 0.4),
            word("no", "no", 0.6),
        ];
        let (samples, truth) = lay_out(&words, 20.0, 2.0, "test", &Rng::new(1)).unwrap();
        assert_eq!(samples.len(), 320_000);
        assert_eq!(truth.duration_s, 20.0);
        let mut end = 0.0;
        for (said, word) in truth.words.iter().zip(&words) {
            assert_eq!(
                (said.word.as_str(), said.label.as_str()),
                (&*word.word, &*word.label)
            );
            assert!(said.start_s >= end + 2.0 - 1e-3, "{said:?} after {end}");
            assert!((said.end_s - said.start_s - word.samples.len() as f64 / 16e3).abs() < 1e-9);
            let (start, stop) = ((said.start_s * 16e3) as usize, (said.end_s * 16e3) as usize);
            let snr = 20.0 * (rms(&samples[start..stop]) / BACKGROUND_RMS).log10();
            assert!((snr - 10.0).abs() < 1.0, "{snr} dB");
            end = said.end_s;
        }
        assert!(truth.duration_s - end >= 2.0 - 1e-3);
        let too_many = vec![word("yes", "yes", 0.5); 10];
        let error = lay_out(&too_many, 20.0, 2.0, "test", &Rng::new(1)).unwrap_err();
        assert!(
            error.to_string().contains("does not fit in 20 s"),
            "{error}"
        );
    }

    #[test]
    fn calibration_says_every_keyword_its_copies_and_keeps_keywords_out_of_the_background() {
        let words = [
            word("yes", "yes", 0.5),
            word("stop", "stop", 0.5),
            word("(another word)", UNKNOWN, 0.5),
            word("silence", "_silence_", 0.5),
        ];
        let config = CalibrationStreams {
            keyword_copies: 3,
            background_s: 60.0,
            ..CalibrationStreams::default()
        };
        let [
            (keyword_samples, keywords),
            (background_samples, background),
        ] = calibration_streams(&words, &config).unwrap();
        let said = |truth: &StreamTruth, label: &str| {
            truth.words.iter().filter(|w| w.label == label).count()
        };
        assert_eq!((said(&keywords, "yes"), said(&keywords, "stop")), (3, 3));
        assert_eq!(keywords.words.len(), 6);
        assert_eq!(keyword_samples.len() as f64, keywords.duration_s * 16e3);
        assert_eq!(background.keywords().count(), 0);
        assert_eq!(said(&background, UNKNOWN), 6);
        assert_eq!(background_samples.len(), 60 * 16_000);
        let again = calibration_streams(&words, &config).unwrap();
        assert_eq!(again[0].1, keywords, "seeded");
        let none = calibration_streams(&words[2..], &config).unwrap_err();
        assert!(none.to_string().contains("no keyword"), "{none}");
        for bad in [
            CalibrationStreams {
                keyword_copies: 0,
                ..config.clone()
            },
            CalibrationStreams {
                background_s: 1e9,
                ..config.clone()
            },
            CalibrationStreams {
                snr_db: (f32::NAN, 0.0),
                ..config.clone()
            },
        ] {
            assert!(calibration_streams(&words, &bad).is_err());
        }
    }
}
