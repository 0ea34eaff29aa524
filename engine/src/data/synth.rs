//! Synthetic Noisy Keywords: each clip is one spoken word at a random offset inside a background
//! of length L, at a random SNR; split by underlying voice so test voices are unseen, and training
//! clips varied by speaker, room and microphone effects. The same builder
//! makes the paper's noisy long-clip Speech Commands when the words come from its folders.

use super::augment::{Augmentation, Drawn, Effect};
use super::keywords::{self, KEYWORDS, SILENCE, UNKNOWN, UNKNOWN_WORDS};
use super::manifest::{Example, Manifest, Split, underlying_voice};
use super::mix::{SILENCE_REFERENCE_RMS, mix, trim_to_speech};
use super::noise::{self, Procedural};
use super::speech_commands::{self, BACKGROUND_NOISE};
use super::tts::{SPLIT_SHARES, Scratch, Voice, VoiceChoice};
use super::{DataError, Dataset};
use crate::audio::{Limits, MAX_FILE_BYTES, MODEL_SAMPLE_RATE, encode_wav, load_clip};
use crate::capped_read::read_capped;
use crate::parallel;
use crate::rng::Rng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where the spoken words come from.
#[derive(Clone, Debug)]
pub enum WordSource {
    /// Synthesizers, with their count of distinct voices.
    Synthesized(VoiceChoice),
    /// The clips of a Speech Commands v2 folder, with its own splits and speakers.
    SpeechCommands(PathBuf),
}

#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub out: PathBuf,
    /// Clip lengths in seconds; a class's clips cycle through them.
    pub lengths: Vec<f32>,
    /// Clips per class over all splits (80 % train, 10 % validation, 10 % test).
    pub per_class: usize,
    pub seed: u64,
    pub snr_db: (f32, f32),
    /// Recordings to cut backgrounds from, besides the procedural ones.
    pub noise_dir: Option<PathBuf>,
    pub words: WordSource,
    /// Effects applied to the clips of the `augmented` splits.
    pub augment: Augmentation,
    /// The splits whose clips get effects: the training split alone, so that corpora that differ
    /// only in `augment` are scored on the same clips; a test split with effects is a test of
    /// unseen voices through rooms and microphones.
    pub augmented: Vec<Split>,
    /// The procedural backgrounds training clips may have (all of them by default); validation
    /// and test clips keep every kind, so corpora that differ only here are scored on the same
    /// clips.
    pub training_backgrounds: Vec<Procedural>,
    /// The splits written. Clips of the others are still drawn, so a corpus of only its test
    /// split holds exactly the test clips of the whole corpus with the same settings.
    pub splits: Vec<Split>,
}

impl SynthConfig {
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |why: String| Err(DataError::Invalid(why));
        if self.lengths.is_empty() || self.lengths.iter().any(|l| !(1.0..=30.0).contains(l)) {
            return bad(format!(
                "clip lengths must be 1 to 30 s; got {:?}",
                self.lengths
            ));
        }
        if self.per_class == 0 || self.per_class > 100_000 {
            return bad(format!(
                "--per-class must be 1 to 100000; got {}",
                self.per_class
            ));
        }
        let (low, high) = self.snr_db;
        if !(low.is_finite()
            && high.is_finite()
            && low <= high
            && (-30.0..=60.0).contains(&low)
            && high <= 60.0)
        {
            return bad(format!(
                "the SNR range must be low:high within -30..60 dB; got {low}:{high}"
            ));
        }
        if self.splits.is_empty() {
            return bad("choose at least one split to write".into());
        }
        if self.training_backgrounds.is_empty() {
            return bad("choose at least one background for training clips".into());
        }
        if let WordSource::Synthesized(voices) = &self.words {
            voices.validate()?;
        }
        Ok(())
    }
}

/// What one run wrote.
#[derive(Clone, Debug)]
pub struct SynthReport {
    pub clips: usize,
    /// Speakers per split (train, validation, test): voice variants, or recorded speakers.
    pub voices: [usize; 3],
    /// Underlying voices per split, which no two splits share.
    pub underlying_voices: [usize; 3],
    pub utterances: usize,
    /// Clips each effect was applied to.
    pub effects: Vec<(&'static str, usize)>,
}

/// Speech that one clip needs: a synthesized word or a recorded clip.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Utterance {
    Spoken { voice: usize, word: String },
    Recorded(PathBuf),
}

#[derive(Clone, Debug)]
enum Background {
    Procedural(Procedural),
    Recording(usize),
}

struct Plan {
    example: Example,
    effects: Drawn,
    utterance: Option<Utterance>,
    background: Background,
    samples: usize,
    /// Where in the free space the word starts, as a fraction.
    placement: f32,
    seed: u64,
}

/// Builds the corpus into `config.out` (clips under `train/`, `validation/`, `test/` and
/// `manifest.csv`). `progress(done, total, stage)` is called as work completes.
pub fn synthesize(
    config: &SynthConfig,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<SynthReport, DataError> {
    config.validate()?;
    let rng = Rng::new(config.seed);
    let scratch = Scratch::new("synth")?;
    let (voices, speakers) = speakers(config)?;
    let recordings = load_recordings(config)?;
    let names: Vec<&str> = recordings.iter().map(|(name, _)| name.as_str()).collect();
    let mut plans = plan(config, &speakers, &names, &mut rng.fork("plan"));
    plans.retain(|p| config.splits.contains(&p.example.split));
    let babble_speech = babble_pool(&speakers, &mut rng.fork("babble"));

    let mut needed: Vec<Utterance> = plans
        .iter()
        .filter_map(|p| p.utterance.clone())
        .chain(babble_speech.iter().flatten().cloned())
        .collect();
    needed.sort_by_key(|u| format!("{u:?}"));
    needed.dedup();
    let spoken = Mutex::new(HashMap::new());
    let done = std::sync::atomic::AtomicUsize::new(0);
    parallel::for_each(&needed, parallel::cores(), |utterance| {
        let samples = render(utterance, &voices, &scratch)?;
        if let Ok(mut map) = spoken.lock() {
            map.insert(utterance.clone(), samples);
        }
        let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(finished, needed.len(), "speaking");
        Ok(())
    })?;
    let spoken = spoken
        .into_inner()
        .map_err(|_| DataError::Invalid("a worker failed".into()))?;
    let babble: Vec<Vec<Vec<f32>>> = babble_speech
        .iter()
        .map(|pool| pool.iter().filter_map(|u| spoken.get(u).cloned()).collect())
        .collect();

    for split in Split::ALL {
        let dir = config.out.join(split.name());
        std::fs::create_dir_all(&dir).map_err(|e| DataError::file(&dir, e))?;
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let windows = Mutex::new(vec![None; plans.len()]);
    let indexed: Vec<(usize, &Plan)> = plans.iter().enumerate().collect();
    parallel::for_each(&indexed, parallel::cores(), |(index, plan)| {
        let dry = match &plan.utterance {
            Some(u) => spoken.get(u).map(Vec::as_slice).unwrap_or_default(),
            None => &[],
        };
        let voiced = plan.effects.voice(dry);
        let word = &voiced.samples[..voiced.samples.len().min(plan.samples)];
        let mut rng = Rng::new(plan.seed);
        let speech = babble
            .get(plan.example.split as usize)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let background = match plan.background {
            Background::Procedural(kind) => noise::generate(kind, plan.samples, speech, &mut rng),
            Background::Recording(i) => noise::excerpt(
                recordings.get(i).map_or(&[][..], |r| &r.1),
                plan.samples,
                &mut rng,
            ),
        };
        let free = plan.samples - word.len();
        let offset = (plan.placement * free as f32) as usize;
        let snr = plan.example.snr_db.unwrap_or(0.0);
        let mut mixed = mix(word, background, offset, snr, SILENCE_REFERENCE_RMS);
        plan.effects.record(&mut mixed.samples);
        if let Some(window) = mixed.window.as_mut() {
            // A room's tail rings on after the word; the window holds the word itself.
            let spoken_s = voiced.spoken.min(word.len()) as f32 / MODEL_SAMPLE_RATE as f32;
            window.end_s = window.end_s.min(window.start_s + spoken_s);
        }
        let path = config.out.join(&plan.example.file);
        std::fs::write(&path, encode_wav(&mixed.samples, MODEL_SAMPLE_RATE))
            .map_err(|e| DataError::file(&path, e))?;
        if let Ok(mut w) = windows.lock()
            && let Some(slot) = w.get_mut(*index)
        {
            *slot = mixed.window;
        }
        let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(finished, plans.len(), "mixing");
        Ok(())
    })?;
    let windows = windows
        .into_inner()
        .map_err(|_| DataError::Invalid("a worker failed".into()))?;
    let effects = Effect::ALL
        .iter()
        .map(|effect| {
            let count = plans.iter().filter(|p| p.effects.applies(*effect)).count();
            (effect.name(), count)
        })
        .collect();
    let examples: Vec<Example> = plans
        .into_iter()
        .zip(windows)
        .enumerate()
        .map(|(i, (plan, window))| Example {
            row: i + 2,
            window,
            ..plan.example
        })
        .collect();
    let manifest_path = config.out.join("manifest.csv");
    let report = SynthReport {
        clips: examples.len(),
        voices: speakers.each_ref().map(Vec::len),
        underlying_voices: speakers.each_ref().map(|pool| {
            let mut names: Vec<String> = pool.iter().map(|s| underlying_voice(&s.id)).collect();
            names.sort();
            names.dedup();
            names.len()
        }),
        utterances: needed.len(),
        effects,
    };
    std::fs::write(&manifest_path, Manifest { examples }.to_csv())
        .map_err(|e| DataError::file(&manifest_path, e))?;
    Ok(report)
}

/// Per split, the speakers: each a voice id and, per label, the utterances that speaker can give.
type Speakers = [Vec<Speaker>; 3];

struct Speaker {
    id: String,
    /// For recorded data: the speaker's clips by label. Synthesized voices can say any word.
    recorded: Option<HashMap<String, Vec<PathBuf>>>,
    voice: usize,
}

/// The voices of each split (train, validation, test) of a corpus synthesized with `voices`
/// from `seed`: the same draw whatever else the corpus holds, so a stream can be spoken by
/// exactly a corpus's unseen test voices.
pub fn split_voices(voices: &VoiceChoice, seed: u64) -> [Vec<Voice>; 3] {
    Voice::catalogue(voices, &mut Rng::new(seed).fork("voices"))
}

fn speakers(config: &SynthConfig) -> Result<(Vec<Voice>, Speakers), DataError> {
    let mut splits: Speakers = Default::default();
    match &config.words {
        WordSource::Synthesized(voices) => {
            let mut catalogue = Vec::new();
            for (split, voices) in split_voices(voices, config.seed).into_iter().enumerate() {
                for voice in voices {
                    splits[split].push(Speaker {
                        id: voice.id(),
                        recorded: None,
                        voice: catalogue.len(),
                    });
                    catalogue.push(voice);
                }
            }
            // Few recorded speakers cannot fill every split (Pico's two never do): a split asked
            // for with no voice is refused rather than written empty.
            if let Some(empty) = config
                .splits
                .iter()
                .find(|split| splits[**split as usize].is_empty())
            {
                return Err(DataError::Invalid(format!(
                    "the {} split has no speaker of {} with seed {}: the seed put their speakers \
                     in other splits; add synthesizers or leave that split out of --splits",
                    empty.name(),
                    voices.synthesizer_names(),
                    config.seed
                )));
            }
            Ok((catalogue, splits))
        }
        WordSource::SpeechCommands(root) => {
            let dataset = Dataset::open(root)?;
            let mut by_speaker: HashMap<(Split, String), HashMap<String, Vec<PathBuf>>> =
                HashMap::new();
            for example in &dataset.examples {
                let label = example.labels.first().cloned().unwrap_or_default();
                by_speaker
                    .entry((example.split, example.voice.clone()))
                    .or_default()
                    .entry(label)
                    .or_default()
                    .push(dataset.path(example));
            }
            let mut keys: Vec<_> = by_speaker.keys().cloned().collect();
            keys.sort();
            for key in keys {
                let clips = by_speaker.remove(&key);
                splits[key.0 as usize].push(Speaker {
                    id: key.1,
                    recorded: clips,
                    voice: 0,
                });
            }
            Ok((Vec::new(), splits))
        }
    }
}

/// Every clip's recipe, drawn in one sequential pass so the corpus depends on the seed alone.
fn plan(
    config: &SynthConfig,
    speakers: &Speakers,
    recordings: &[&str],
    rng: &mut Rng,
) -> Vec<Plan> {
    let labels = keywords::labels();
    let mut plans = Vec::new();
    for split in Split::ALL {
        let pool = &speakers[split as usize];
        let share = SPLIT_SHARES[split as usize];
        let count = ((config.per_class as f32 * share).round() as usize).max(1);
        for label in &labels {
            let able: Vec<&Speaker> = pool
                .iter()
                .filter(|s| {
                    label == SILENCE || s.recorded.as_ref().is_none_or(|r| r.contains_key(label))
                })
                .collect();
            if able.is_empty() {
                continue;
            }
            for k in 0..count {
                let length = config.lengths[k % config.lengths.len()];
                let samples = (length * MODEL_SAMPLE_RATE as f32).round() as usize;
                let speaker = able[rng.below(able.len())];
                let utterance = (label != SILENCE).then(|| match &speaker.recorded {
                    None => Utterance::Spoken {
                        voice: speaker.voice,
                        word: match label.as_str() {
                            UNKNOWN => UNKNOWN_WORDS[rng.below(UNKNOWN_WORDS.len())].to_string(),
                            word => word.to_string(),
                        },
                    },
                    Some(clips) => {
                        let files = clips.get(label).map(Vec::as_slice).unwrap_or_default();
                        Utterance::Recorded(
                            files
                                .get(rng.below(files.len()))
                                .cloned()
                                .unwrap_or_default(),
                        )
                    }
                });
                let kinds = Procedural::ALL.len() + recordings.len();
                let pick = rng.below(kinds);
                let snr = rng.uniform(config.snr_db.0, config.snr_db.1);
                let index = plans.len();
                let seed = rng.next_u64();
                let background = match Procedural::ALL.get(pick) {
                    // Drawn again from the clip's own stream, so that leaving kinds out of
                    // training changes no other draw of the corpus.
                    Some(kind)
                        if split == Split::Train && !config.training_backgrounds.contains(kind) =>
                    {
                        let kinds = &config.training_backgrounds;
                        let mut own = Rng::new(seed).fork("background");
                        Background::Procedural(kinds[own.below(kinds.len())])
                    }
                    Some(kind) => Background::Procedural(*kind),
                    None => Background::Recording(pick - Procedural::ALL.len()),
                };
                let noise_name = match &background {
                    Background::Procedural(kind) => kind.name().to_string(),
                    Background::Recording(i) => {
                        format!("file:{}", recordings.get(*i).copied().unwrap_or_default())
                    }
                };
                // From a stream of the clip's own, so the effects chosen change no other draw.
                let effects = if config.augmented.contains(&split) {
                    config.augment.draw(&mut Rng::new(seed).fork("effects"))
                } else {
                    Drawn::default()
                };
                let effects = if utterance.is_some() {
                    effects
                } else {
                    effects.without_speaker()
                };
                plans.push(Plan {
                    example: Example {
                        row: 0,
                        file: format!(
                            "{}/{}_{index:06}.wav",
                            split.name(),
                            label.trim_matches('_')
                        ),
                        labels: vec![label.clone()],
                        window: None,
                        voice: if label == SILENCE {
                            String::new()
                        } else {
                            speaker.id.clone()
                        },
                        noise: noise_name,
                        snr_db: Some((snr * 10.0).round() / 10.0),
                        split,
                        effects: effects.describe(),
                    },
                    effects,
                    utterance,
                    background,
                    samples,
                    placement: rng.unit(),
                    seed,
                });
            }
        }
    }
    plans
}

/// Per split, the utterances babble is made of: words of that split's speakers only, so no test
/// voice is heard in training even in the background.
fn babble_pool(speakers: &Speakers, rng: &mut Rng) -> Vec<Vec<Utterance>> {
    const POOL: usize = 24;
    let words: Vec<&str> = KEYWORDS.iter().chain(&UNKNOWN_WORDS).copied().collect();
    speakers
        .iter()
        .map(|pool| {
            (0..POOL)
                .filter_map(|_| {
                    let speaker = rng.pick(pool)?;
                    Some(match &speaker.recorded {
                        None => Utterance::Spoken {
                            voice: speaker.voice,
                            word: rng.pick(&words)?.to_string(),
                        },
                        Some(clips) => {
                            let all: Vec<&PathBuf> = clips.values().flatten().collect();
                            Utterance::Recorded(rng.pick(&all)?.to_path_buf())
                        }
                    })
                })
                .collect()
        })
        .collect()
}

fn render(
    utterance: &Utterance,
    voices: &[Voice],
    scratch: &Scratch,
) -> Result<Vec<f32>, DataError> {
    match utterance {
        Utterance::Spoken { voice, word } => voices
            .get(*voice)
            .ok_or_else(|| DataError::Invalid(format!("voice {voice} does not exist")))?
            .speak(word, scratch),
        Utterance::Recorded(path) => {
            let bytes = read_capped(path, MAX_FILE_BYTES, "a clip").map_err(DataError::Invalid)?;
            let clip =
                load_clip(bytes, &Limits::default()).map_err(|e| DataError::file(path, e))?;
            Ok(trim_to_speech(clip.samples()).to_vec())
        }
    }
}

/// Background recordings: the noise folder's audio files, and Speech Commands' own
/// `_background_noise_` when the words come from there.
fn load_recordings(config: &SynthConfig) -> Result<Vec<(String, Vec<f32>)>, DataError> {
    let mut dirs: Vec<PathBuf> = config.noise_dir.iter().cloned().collect();
    if let WordSource::SpeechCommands(root) = &config.words
        && root.join(BACKGROUND_NOISE).is_dir()
    {
        dirs.push(root.join(BACKGROUND_NOISE));
    }
    let limits = Limits {
        max_seconds: 600.0,
        ..Limits::default()
    };
    let mut recordings = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(DataError::Missing {
                path: dir,
                what: "the noise folder".into(),
            });
        }
        for path in speech_commands::sorted_entries(&dir)? {
            let audio = matches!(
                path.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_lowercase)
                    .as_deref(),
                Some("wav" | "flac" | "ogg" | "mp3")
            );
            if !audio {
                continue;
            }
            let bytes = read_capped(&path, MAX_FILE_BYTES, "a background recording")
                .map_err(DataError::Invalid)?;
            let clip = load_clip(bytes, &limits).map_err(|e| DataError::file(&path, e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            recordings.push((name, clip.into_samples()));
        }
    }
    Ok(recordings)
}
