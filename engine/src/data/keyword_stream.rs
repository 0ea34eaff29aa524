//! A long recording for listening tests: keywords and other words said by the voices of one
//! split, laid out along procedural backgrounds by `stream_mix`, with every word's time written
//! down ([`StreamTruth`]) so that detections can be scored against what was said.

use super::DataError;
use super::keywords::{KEYWORDS, UNKNOWN_WORDS, label_of};
use super::manifest::Split;
use super::stream_mix::{MAX_STREAM_S, SpokenWord, lay_out};
use super::synth::split_voices;
use super::tts::{Scratch, Voice, VoiceChoice};
use crate::parallel;
use crate::rng::Rng;
use crate::stream::StreamTruth;

#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub seconds: f32,
    /// Words said, keywords and others.
    pub words: usize,
    /// The share of the words that are keywords; the rest are other words (`_unknown_`).
    pub keyword_share: f32,
    pub snr_db: (f32, f32),
    /// The least silence, in seconds, between two words, so that each is a word of its own to a
    /// listener (more than its refractory time).
    pub gap_s: f32,
    /// The voices and seed of the corpus whose split to speak with (`synth --voices
    /// --synthesizers --seed`).
    pub voices: VoiceChoice,
    pub seed: u64,
    pub split: Split,
    /// The stream's own draws (words, voices among the split's, times, backgrounds), so that
    /// several streams can be spoken by the same split.
    pub stream_seed: u64,
}

impl StreamConfig {
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |why: String| Err(DataError::Invalid(why));
        if !(1.0..=MAX_STREAM_S).contains(&self.seconds) {
            return bad(format!(
                "a stream lasts 1 to {MAX_STREAM_S} s, not {} s",
                self.seconds
            ));
        }
        if !(0.0..=1.0).contains(&self.keyword_share) {
            return bad(format!(
                "the share of keywords is 0 to 1, not {}",
                self.keyword_share
            ));
        }
        let (low, high) = self.snr_db;
        if !(low.is_finite() && high.is_finite() && low <= high && low >= -30.0 && high <= 30.0) {
            return bad(format!(
                "the SNR range must be low:high within -30..30 dB; got {low}:{high}"
            ));
        }
        if !(0.0..=60.0).contains(&self.gap_s) {
            return bad(format!("the gap is 0 to 60 s, not {} s", self.gap_s));
        }
        // Every word takes its gap and at least a fifth of a second.
        let most = (self.seconds / (self.gap_s + 0.2)) as usize;
        if self.words > most {
            return bad(format!(
                "{} words with {} s between them do not fit in {} s: at most {most}",
                self.words, self.gap_s, self.seconds
            ));
        }
        self.voices.validate()
    }
}

/// Makes the stream: its samples at 16 kHz and what was said in it. `progress(done, total)`
/// counts the words spoken.
pub fn synthesize_stream(
    config: &StreamConfig,
    made_by: &str,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Vec<f32>, StreamTruth), DataError> {
    config.validate()?;
    let rng = Rng::new(config.stream_seed).fork("stream");
    let voices = split_voices(&config.voices, config.seed)
        .into_iter()
        .nth(config.split as usize)
        .unwrap_or_default();
    if voices.is_empty() {
        return Err(DataError::Invalid(format!(
            "the {} split of {} voices of {} has no voice",
            config.split.name(),
            config.voices.count,
            config.voices.synthesizer_names()
        )));
    }
    let said = choose_words(config, &voices, &mut rng.fork("words"));
    let spoken = speak(&said, &voices, progress)?;
    let spoken: Vec<SpokenWord> = (said.into_iter().zip(spoken))
        .map(|(plan, samples)| SpokenWord {
            label: label_of(&plan.word).to_string(),
            word: plan.word,
            voice: voices[plan.voice].id(),
            snr_db: plan.snr_db,
            samples,
        })
        .collect();
    lay_out(&spoken, config.seconds, config.gap_s, made_by, &rng)
}

struct PlannedWord {
    word: String,
    voice: usize,
    snr_db: f32,
}

/// The words in the order said: `keyword_share` of them keywords, each with a voice and an SNR.
fn choose_words(config: &StreamConfig, voices: &[Voice], rng: &mut Rng) -> Vec<PlannedWord> {
    let keywords = (config.words as f32 * config.keyword_share).round() as usize;
    let mut words: Vec<&str> = (0..config.words)
        .map(|i| {
            let pool: &[&str] = if i < keywords {
                &KEYWORDS
            } else {
                &UNKNOWN_WORDS
            };
            pool[rng.below(pool.len())]
        })
        .collect();
    rng.shuffle(&mut words);
    words
        .into_iter()
        .map(|word| PlannedWord {
            word: word.to_string(),
            voice: rng.below(voices.len()),
            snr_db: rng.uniform(config.snr_db.0, config.snr_db.1),
        })
        .collect()
}

fn speak(
    said: &[PlannedWord],
    voices: &[Voice],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Vec<f32>>, DataError> {
    let scratch = Scratch::new("stream")?;
    let spoken = std::sync::Mutex::new(vec![Vec::new(); said.len()]);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let indexed: Vec<(usize, &PlannedWord)> = said.iter().enumerate().collect();
    parallel::for_each(&indexed, parallel::cores(), |(index, plan)| {
        let samples = voices[plan.voice].speak(&plan.word, &scratch)?;
        if samples.is_empty() {
            return Err(DataError::Invalid(format!(
                "voice {} said nothing for `{}`",
                voices[plan.voice].id(),
                plan.word
            )));
        }
        if let Ok(mut slots) = spoken.lock() {
            slots[*index] = samples;
        }
        progress(
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            said.len(),
        );
        Ok(())
    })?;
    spoken
        .into_inner()
        .map_err(|_| DataError::Invalid("a worker failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tts::Synthesizer;

    #[test]
    fn words_that_cannot_fit_are_refused_before_anything_is_spoken() {
        let config = StreamConfig {
            seconds: 10.0,
            words: 20,
            keyword_share: 1.0,
            snr_db: (10.0, 10.0),
            gap_s: 2.0,
            voices: VoiceChoice::new(60, &Synthesizer::ALL),
            seed: 1,
            split: Split::Test,
            stream_seed: 0,
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("do not fit in 10 s: at most 4"), "{error}");
        for bad in [
            StreamConfig {
                seconds: 0.5,
                ..config.clone()
            },
            StreamConfig {
                keyword_share: 1.5,
                ..config.clone()
            },
            StreamConfig {
                snr_db: (20.0, 10.0),
                ..config.clone()
            },
            StreamConfig {
                voices: VoiceChoice::new(60, &[]),
                ..config.clone()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }
}
