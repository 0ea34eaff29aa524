//! Speech from offline synthesizers: five that install from Debian (espeak-ng's formant timbres,
//! and the recorded speakers behind flite, MBROLA (driven by espeak-ng), RHVoice and SVOX Pico),
//! the neural Kokoro-82M from PyPI and the articulatory GnuSpeech from npm; varied by accent,
//! pitch, rate and gain into hundreds of distinct voices.

use super::DataError;
use super::gnuspeech;
use super::kokoro;
use super::mix::trim_to_speech;
use super::underlying_voice;
use crate::audio::{Limits, load_clip};
use crate::rng::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// espeak-ng's English accents.
const ESPEAK_ACCENTS: [&str; 7] = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
];
/// espeak-ng's voice variants (timbre, gender, the Klatt synthesizer): every one Debian's
/// espeak-ng 1.51 ships but `fast`, which only changes the rate.
const ESPEAK_VARIANTS: [&str; 100] = [
    "adam",
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "david",
    "Demonic",
    "Denis",
    "Diogo",
    "ed",
    "edward",
    "edward2",
    "Gene",
    "Gene2",
    "gustave",
    "announcer",
    "Henrique",
    "Hugo",
    "iven",
    "iven2",
    "iven3",
    "iven4",
    "Jacky",
    "john",
    "kaukovalta",
    "Lee",
    "linda",
    "marcelo",
    "Marco",
    "Mario",
    "max",
    "Michael",
    "michel",
    "miguel",
    "Mike",
    "Mr",
    "Nguyen",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "RicishayMax",
    "RicishayMax2",
    "RicishayMax3",
    "rob",
    "robert",
    "robosoft",
    "robosoft2",
    "robosoft3",
    "robosoft4",
    "robosoft5",
    "robosoft6",
    "robosoft7",
    "robosoft8",
    "steph",
    "steph2",
    "steph3",
    "Storm",
    "Tweaky",
    "UniRobot",
    "zac",
    "anika",
    "anikaRobot",
    "AnxiousAndy",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "whisperf",
    "grandpa",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "klatt5",
    "klatt6",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "norbert",
    "sandro",
    "shelby",
    "travis",
    "victor",
    "whisper",
    "croak",
    "grandma",
];
/// One way a recorded speaker is rendered: the synthesizer and its name for the voice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rendition {
    synthesizer: Synthesizer,
    name: &'static str,
}

const fn flite(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::Flite,
        name,
    }
}
const fn mbrola(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::Mbrola,
        name,
    }
}
const fn rhvoice(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::RhVoice,
        name,
    }
}
const fn pico(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::Pico,
        name,
    }
}
const fn kokoro(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::Kokoro,
        name,
    }
}
const fn gnuspeech(name: &'static str) -> Rendition {
    Rendition {
        synthesizer: Synthesizer::GnuSpeech,
        name,
    }
}

/// flite's general-domain speakers, each with the voices that render it: `kal16` is `kal`
/// recorded at 16 kHz, and RHVoice's Alan and Slt are built from the CMU ARCTIC recordings of
/// flite's awb and slt, so each pair is one speaker and always lands in one split.
const FLITE_SPEAKERS: [&[Rendition]; 4] = [
    &[flite("kal"), flite("kal16")],
    &[flite("awb"), rhvoice("alan")],
    &[flite("rms")],
    &[flite("slt"), rhvoice("slt")],
];

/// The other recorded speakers, one voice each: MBROLA's diphone databases as espeak-ng names
/// them (American and British English, and English read through the diphones of speakers of
/// other languages, an accent of each), RHVoice's other English voices and Pico's two.
const OTHER_SPEAKERS: [&[Rendition]; 26] = [
    &[mbrola("mb-us1")],
    &[mbrola("mb-us2")],
    &[mbrola("mb-us3")],
    &[mbrola("mb-en1")],
    &[mbrola("mb-af1-en")],
    &[mbrola("mb-nl2-en")],
    &[mbrola("mb-fr1-en")],
    &[mbrola("mb-fr4-en")],
    &[mbrola("mb-de1-en")],
    &[mbrola("mb-de2-en")],
    &[mbrola("mb-de3-en")],
    &[mbrola("mb-de4-en")],
    &[mbrola("mb-de5-en")],
    &[mbrola("mb-de6-en")],
    &[mbrola("mb-gr2-en")],
    &[mbrola("mb-hu1-en")],
    &[mbrola("mb-pl1-en")],
    &[mbrola("mb-ro1-en")],
    &[mbrola("mb-sw1-en")],
    &[mbrola("mb-sw2-en")],
    &[rhvoice("bdl")],
    &[rhvoice("clb")],
    &[rhvoice("evgeniy-eng")],
    &[rhvoice("lyubov")],
    &[pico("en-US")],
    &[pico("en-GB")],
];

/// Kokoro's speakers, one voice each (apart from the others: adding them changed no earlier draw).
const KOKORO_SPEAKERS: [&[Rendition]; 5] = [
    &[kokoro(kokoro::VOICES[0])],
    &[kokoro(kokoro::VOICES[1])],
    &[kokoro(kokoro::VOICES[2])],
    &[kokoro(kokoro::VOICES[3])],
    &[kokoro(kokoro::VOICES[4])],
];

/// Renditions of `names` by one synthesizer, for the voice lists that `kokoro` names.
const fn renditions<const N: usize>(
    synthesizer: Synthesizer,
    names: [&'static str; N],
) -> [Rendition; N] {
    let mut voices = [Rendition {
        synthesizer,
        name: "",
    }; N];
    let mut at = 0;
    while at < N {
        voices[at].name = names[at];
        at += 1;
    }
    voices
}

/// Kokoro's English voices.
static KOKORO_ENGLISH_VOICES: [Rendition; kokoro::ENGLISH_VOICES.len()] =
    renditions(Synthesizer::KokoroEnglish, kokoro::ENGLISH_VOICES);

/// Kokoro's voices made for other languages, a speaker's voices side by side.
static KOKORO_ACCENTED_VOICES: [Rendition; kokoro::ACCENTED_VOICES.len()] =
    renditions(Synthesizer::KokoroAccented, kokoro::ACCENTED_VOICES);

/// Kokoro's English speakers, one voice each (apart from the others, as Kokoro's), as the other
/// speaker lists hold theirs.
fn kokoro_english_speakers() -> Vec<&'static [Rendition]> {
    KOKORO_ENGLISH_VOICES
        .iter()
        .map(std::slice::from_ref)
        .collect()
}

/// Kokoro's speakers made for other languages: neighbouring voices of one underlying voice are
/// one speaker (`pf_dora` is `ef_dora`), so a speaker with voices for two languages always lands
/// in one split.
fn kokoro_accented_speakers() -> Vec<&'static [Rendition]> {
    let speaker = |r: &Rendition| underlying_voice(&format!("{}:{}", r.synthesizer, r.name));
    KOKORO_ACCENTED_VOICES
        .chunk_by(|a, b| speaker(a) == speaker(b))
        .collect()
}

/// GnuSpeech's voice presets, one speaker each (apart from the others, as Kokoro's).
const GNUSPEECH_SPEAKERS: [&[Rendition]; 5] = [
    &[gnuspeech(gnuspeech::VOICES[0])],
    &[gnuspeech(gnuspeech::VOICES[1])],
    &[gnuspeech(gnuspeech::VOICES[2])],
    &[gnuspeech(gnuspeech::VOICES[3])],
    &[gnuspeech(gnuspeech::VOICES[4])],
];

/// The range of a factor on a synthesizer's weight (`--emphasis`): beyond it one synthesizer
/// would crowd the others out of a split, or all but vanish.
const MIN_EMPHASIS: f32 = 0.1;
const MAX_EMPHASIS: f32 = 10.0;

/// A recorded speaker's weight in the draw of a corpus's voices (see [`Synthesizer::weight`]).
const RECORDED_SPEAKER_WEIGHT: f32 = 0.25;

/// Where RHVoice's voices are installed (Debian's package, a build from source).
const RHVOICE_VOICES: [&str; 2] = [
    "/usr/share/RHVoice/voices",
    "/usr/local/share/RHVoice/voices",
];

/// Share of underlying voices (and so of clips) per split: train, validation, test.
pub const SPLIT_SHARES: [f32; 3] = [0.8, 0.1, 0.1];

/// A program that speaks the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Synthesizer {
    EspeakNg,
    Flite,
    Mbrola,
    RhVoice,
    Pico,
    Kokoro,
    GnuSpeech,
    KokoroEnglish,
    KokoroAccented,
}

impl Synthesizer {
    pub const ALL: [Synthesizer; 9] = [
        Synthesizer::EspeakNg,
        Synthesizer::Flite,
        Synthesizer::Mbrola,
        Synthesizer::RhVoice,
        Synthesizer::Pico,
        Synthesizer::Kokoro,
        Synthesizer::GnuSpeech,
        Synthesizer::KokoroEnglish,
        Synthesizer::KokoroAccented,
    ];
    /// The synthesizers that install from Debian.
    pub const DEBIAN: [Synthesizer; 5] = [
        Synthesizer::EspeakNg,
        Synthesizer::Flite,
        Synthesizer::Mbrola,
        Synthesizer::RhVoice,
        Synthesizer::Pico,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Synthesizer::EspeakNg => "espeak-ng",
            Synthesizer::Flite => "flite",
            Synthesizer::Mbrola => "mbrola",
            Synthesizer::RhVoice => "rhvoice",
            Synthesizer::Pico => "pico",
            Synthesizer::Kokoro => "kokoro",
            Synthesizer::GnuSpeech => "gnuspeech",
            Synthesizer::KokoroEnglish => "kokoro-english",
            Synthesizer::KokoroAccented => "kokoro-accented",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// One name, as `--synthesizers` takes it, or an error that lists them.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::from_name(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
            format!("`{name}` is not a synthesizer: {}", names.join(", "))
        })
    }

    /// What installs it: Debian packages (MBROLA's and RHVoice's from `contrib` and
    /// `non-free`, Pico's from `non-free`), Kokoro's from PyPI (its English voices from npm) or
    /// GnuSpeech's from npm.
    pub fn install(self) -> &'static str {
        match self {
            Synthesizer::EspeakNg => "the Debian package espeak-ng",
            Synthesizer::Flite => "the Debian package flite",
            Synthesizer::Mbrola => {
                "the Debian packages espeak-ng, mbrola and mbrola-<voice> for each voice"
            }
            Synthesizer::RhVoice => "the Debian packages rhvoice rhvoice-english",
            Synthesizer::Pico => "the Debian package libttspico-utils",
            Synthesizer::Kokoro => kokoro::INSTALL,
            Synthesizer::GnuSpeech => gnuspeech::INSTALL,
            Synthesizer::KokoroEnglish | Synthesizer::KokoroAccented => kokoro::JS_VOICES_INSTALL,
        }
    }

    /// How much of a split's voices this synthesizer makes, relative to the others chosen,
    /// given `speakers` of its recorded speakers in a split that holds `split_share` of the
    /// corpus. espeak-ng's hundred timbres weigh 4 in every split (they divide in proportion to
    /// the splits, so each timbre weighs 0.04 of the corpus wherever it is) and flite 1, as the
    /// generator has always drawn them; a recorded speaker of MBROLA, RHVoice or Pico, a Kokoro
    /// speaker (Japanese-made, English or made for another language) or a GnuSpeech preset
    /// weighs a quarter of the corpus, as each of flite's four does, wherever the split put it,
    /// so a split with few of them gives each the share it has in training, not their
    /// synthesizer's whole.
    fn weight(self, speakers: usize, split_share: f32) -> f32 {
        match self {
            Synthesizer::EspeakNg => 4.0,
            Synthesizer::Flite => 1.0,
            Synthesizer::Mbrola
            | Synthesizer::RhVoice
            | Synthesizer::Pico
            | Synthesizer::Kokoro
            | Synthesizer::GnuSpeech
            | Synthesizer::KokoroEnglish
            | Synthesizer::KokoroAccented => {
                RECORDED_SPEAKER_WEIGHT * speakers as f32 / split_share
            }
        }
    }
}

impl std::fmt::Display for Synthesizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which synthesizers speak a corpus, and how many distinct voices they make: with the seed,
/// all it takes to draw the corpus's voices and their split.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceChoice {
    pub count: usize,
    pub synthesizers: Vec<Synthesizer>,
    /// Factors on some chosen synthesizers' weights in the draw (see [`Synthesizer::weight`]);
    /// the others keep theirs. Which speakers a split has does not change, only how many of its
    /// voices (and so of its clips) each synthesizer makes.
    pub emphasis: Vec<(Synthesizer, f32)>,
}

impl VoiceChoice {
    pub fn new(count: usize, synthesizers: &[Synthesizer]) -> Self {
        let mut synthesizers = synthesizers.to_vec();
        synthesizers.sort();
        synthesizers.dedup();
        Self {
            count,
            synthesizers,
            emphasis: Vec::new(),
        }
    }

    /// The same choice with `emphasis` on the synthesizers it names.
    pub fn with_emphasis(mut self, emphasis: &[(Synthesizer, f32)]) -> Self {
        self.emphasis = emphasis.to_vec();
        self
    }

    /// ` --emphasis kokoro=3,…` as `synth` takes it, or nothing without emphasis.
    pub fn emphasis_argument(&self) -> String {
        if self.emphasis.is_empty() {
            return String::new();
        }
        let factors: Vec<String> = (self.emphasis.iter())
            .map(|(synthesizer, factor)| format!("{synthesizer}={factor}"))
            .collect();
        format!(" --emphasis {}", factors.join(","))
    }

    /// The factor on `synthesizer`'s weight: 1 unless the emphasis names it.
    fn factor(&self, synthesizer: Synthesizer) -> f32 {
        (self.emphasis.iter())
            .find(|(named, _)| *named == synthesizer)
            .map_or(1.0, |(_, factor)| *factor)
    }

    /// `espeak-ng,flite,…`, as `--synthesizers` takes it.
    pub fn synthesizer_names(&self) -> String {
        let names: Vec<&str> = self.synthesizers.iter().map(|s| s.name()).collect();
        names.join(",")
    }

    pub fn validate(&self) -> Result<(), DataError> {
        if !(3..=2000).contains(&self.count) {
            return Err(DataError::Invalid(format!(
                "--voices must be 3 to 2000 (one per split at least); got {}",
                self.count
            )));
        }
        if self.synthesizers.is_empty() {
            return Err(DataError::Invalid(
                "choose at least one synthesizer (--synthesizers)".into(),
            ));
        }
        for (at, (synthesizer, factor)) in self.emphasis.iter().enumerate() {
            if !self.synthesizers.contains(synthesizer) {
                return Err(DataError::Invalid(format!(
                    "--emphasis names {synthesizer}, which --synthesizers does not choose"
                )));
            }
            if self.emphasis[..at].iter().any(|(s, _)| s == synthesizer) {
                return Err(DataError::Invalid(format!(
                    "--emphasis names {synthesizer} twice"
                )));
            }
            if !(MIN_EMPHASIS..=MAX_EMPHASIS).contains(factor) {
                return Err(DataError::Invalid(format!(
                    "--emphasis {synthesizer}={factor}: a factor must be {MIN_EMPHASIS} to \
                     {MAX_EMPHASIS}"
                )));
            }
        }
        Ok(())
    }
}

/// How one voice is made.
#[derive(Clone, Debug, PartialEq)]
pub enum Settings {
    /// `accent+variant`, pitch 0–99, words per minute.
    Espeak {
        voice: String,
        pitch: u32,
        rate: u32,
    },
    /// voice name, mean F0 in Hz, duration stretch (1 = normal speed).
    Flite {
        voice: String,
        f0: u32,
        stretch: f32,
    },
    /// espeak-ng's name of the MBROLA voice, pitch 0–99, words per minute.
    Mbrola {
        voice: String,
        pitch: u32,
        rate: u32,
    },
    /// RHVoice profile, pitch and rate in per cent of the voice's own.
    RhVoice {
        voice: String,
        pitch: u32,
        rate: u32,
    },
    /// Pico language, pitch and speed in per cent of the voice's own.
    Pico {
        language: String,
        pitch: u32,
        speed: u32,
    },
    /// Kokoro voice, blended with a share (per cent) of another voice of its split, and its
    /// speed in per cent of the voice's own.
    Kokoro {
        voice: String,
        blend: Option<(String, u32)>,
        speed: u32,
    },
    /// GnuSpeech preset, its vocal tract length and rate in per cent of the preset's, and its
    /// pitch moved by semitones.
    GnuSpeech(gnuspeech::Articulation),
}

/// One distinct speaker.
#[derive(Clone, Debug, PartialEq)]
pub struct Voice {
    pub settings: Settings,
    pub gain_db: f32,
}

impl Voice {
    /// A stable name that says how the voice is made (the manifest's `voice` column).
    pub fn id(&self) -> String {
        let gain = self.gain_db;
        match &self.settings {
            Settings::Espeak { voice, pitch, rate } => {
                format!("espeak-ng:{voice}:p{pitch}:s{rate}:g{gain:+.0}")
            }
            Settings::Flite { voice, f0, stretch } => {
                format!("flite:{voice}:f0={f0}:x{stretch:.2}:g{gain:+.0}")
            }
            Settings::Mbrola { voice, pitch, rate } => {
                format!("mbrola:{voice}:p{pitch}:s{rate}:g{gain:+.0}")
            }
            Settings::RhVoice { voice, pitch, rate } => {
                format!("rhvoice:{voice}:t{pitch}:r{rate}:g{gain:+.0}")
            }
            Settings::Pico {
                language,
                pitch,
                speed,
            } => format!("pico:{language}:t{pitch}:r{speed}:g{gain:+.0}"),
            Settings::Kokoro {
                voice,
                blend,
                speed,
            } => {
                let blend = blend
                    .as_ref()
                    .map(|(other, share)| format!("b={other}@{share}:"))
                    .unwrap_or_default();
                let synthesizer = if kokoro::ENGLISH_VOICES.contains(&voice.as_str()) {
                    Synthesizer::KokoroEnglish
                } else if kokoro::ACCENTED_VOICES.contains(&voice.as_str()) {
                    Synthesizer::KokoroAccented
                } else {
                    Synthesizer::Kokoro
                };
                format!("{synthesizer}:{voice}:{blend}r{speed}:g{gain:+.0}")
            }
            Settings::GnuSpeech(gnuspeech::Articulation {
                preset,
                tract,
                pitch,
                tempo,
            }) => format!("gnuspeech:{preset}:l{tract}:t{pitch:+}:r{tempo}:g{gain:+.0}"),
        }
    }

    /// About `choice.count` distinct voices drawn from the seed, per split (train, validation,
    /// test), from the chosen synthesizers in proportion to their weights. Splits never share an
    /// underlying voice: espeak-ng's variants (timbres) and the recorded speakers are divided
    /// 80/10/10 % first, whichever synthesizers are chosen, so no underlying voice of a test clip,
    /// nor an espeak-ng timbre under another accent, is ever trained on, and a corpus of fewer
    /// synthesizers has its splits inside those of a corpus of more. With espeak-ng and flite
    /// alone the draw is the generator's from before the other three.
    pub fn catalogue(choice: &VoiceChoice, rng: &mut Rng) -> [Vec<Voice>; 3] {
        let mut variants = ESPEAK_VARIANTS.to_vec();
        rng.shuffle(&mut variants);
        let mut flite_speakers = FLITE_SPEAKERS.to_vec();
        rng.shuffle(&mut flite_speakers);
        // From a stream of their own, so adding them changed no earlier draw.
        let mut other_speakers = OTHER_SPEAKERS.to_vec();
        rng.fork("other speakers").shuffle(&mut other_speakers);
        let mut kokoro_speakers = KOKORO_SPEAKERS.to_vec();
        rng.fork("kokoro speakers").shuffle(&mut kokoro_speakers);
        let mut gnuspeech_speakers = GNUSPEECH_SPEAKERS.to_vec();
        rng.fork("gnuspeech speakers")
            .shuffle(&mut gnuspeech_speakers);
        let mut kokoro_english = kokoro_english_speakers();
        rng.fork("kokoro english speakers")
            .shuffle(&mut kokoro_english);
        let mut kokoro_accented = kokoro_accented_speakers();
        rng.fork("kokoro accented speakers")
            .shuffle(&mut kokoro_accented);
        let variants = divide(&variants);
        let (flite_split, other_split) = (divide(&flite_speakers), divide(&other_speakers));
        let (kokoro_split, gnuspeech_split) =
            (divide(&kokoro_speakers), divide(&gnuspeech_speakers));
        let (kokoro_english_split, kokoro_accented_split) =
            (divide(&kokoro_english), divide(&kokoro_accented));
        let chosen = |synthesizer: &Synthesizer| choice.synthesizers.contains(synthesizer);
        [0, 1, 2].map(|split| {
            // Each speaker's renditions by the chosen synthesizers; a speaker none of them renders
            // is left out.
            let speakers: Vec<Vec<Rendition>> = flite_split[split]
                .iter()
                .chain(other_split[split])
                .chain(kokoro_split[split])
                .chain(gnuspeech_split[split])
                .chain(kokoro_english_split[split])
                .chain(kokoro_accented_split[split])
                .map(|renditions| {
                    renditions
                        .iter()
                        .filter(|r| chosen(&r.synthesizer))
                        .copied()
                        .collect::<Vec<_>>()
                })
                .filter(|renditions| !renditions.is_empty())
                .collect();
            let rendered_by = |synthesizer: Synthesizer| -> Vec<Vec<&'static str>> {
                speakers
                    .iter()
                    .map(|renditions| {
                        renditions
                            .iter()
                            .filter(|r| r.synthesizer == synthesizer)
                            .map(|r| r.name)
                            .collect::<Vec<_>>()
                    })
                    .filter(|names| !names.is_empty())
                    .collect()
            };
            let sources: Vec<(Synthesizer, Vec<Vec<&'static str>>)> = choice
                .synthesizers
                .iter()
                .filter_map(|&synthesizer| match synthesizer {
                    Synthesizer::EspeakNg => {
                        (!variants[split].is_empty()).then(|| (synthesizer, Vec::new()))
                    }
                    _ => {
                        let speakers = rendered_by(synthesizer);
                        (!speakers.is_empty()).then_some((synthesizer, speakers))
                    }
                })
                .collect();
            let weight = |(synthesizer, speakers): &(Synthesizer, Vec<Vec<&str>>)| {
                synthesizer.weight(speakers.len(), SPLIT_SHARES[split])
                    * choice.factor(*synthesizer)
            };
            let total: f32 = sources.iter().map(weight).sum();
            let wanted = ((choice.count as f32 * SPLIT_SHARES[split]).round() as usize).max(1);
            let mut voices: Vec<Voice> = Vec::with_capacity(wanted);
            let mut attempts = 0;
            while voices.len() < wanted && attempts < wanted * 20 && !sources.is_empty() {
                attempts += 1;
                let draw = rng.unit();
                let mut reached = 0.0;
                let (synthesizer, speakers) = sources
                    .iter()
                    .find(|source| {
                        reached += weight(source) / total;
                        draw < reached
                    })
                    .unwrap_or(&sources[sources.len() - 1]);
                let name = match synthesizer {
                    Synthesizer::EspeakNg => {
                        let accent = rng.pick(&ESPEAK_ACCENTS).copied().unwrap_or("en-us");
                        let variant = rng.pick(variants[split]).copied().unwrap_or("m1");
                        format!("{accent}+{variant}")
                    }
                    _ => {
                        // `sources` holds only synthesizers with a speaker here, and a speaker
                        // only with a voice of the synthesizer.
                        let names = &speakers[rng.below(speakers.len())];
                        names[rng.below(names.len())].to_string()
                    }
                };
                let peers: Vec<&str> = speakers.iter().flatten().copied().collect();
                let settings = draw_settings(*synthesizer, name, &peers, rng);
                let voice = Voice {
                    settings,
                    gain_db: -12.0 + 2.0 * rng.below(7) as f32,
                };
                if !voices.iter().any(|v| v.id() == voice.id()) {
                    voices.push(voice);
                }
            }
            voices
        })
    }

    /// The word spoken by this voice, as 16 kHz mono trimmed to the spoken part. `scratch` is a
    /// folder for the synthesizer's output file (all of them write WAV files with proper headers).
    pub fn speak(&self, word: &str, scratch: &Scratch) -> Result<Vec<f32>, DataError> {
        let file = scratch.file(&format!(
            "{}-{word}.wav",
            self.id().replace([':', '+', '='], "_")
        ));
        let out = file.display().to_string();
        let espeak = |voice: &str, pitch: &u32, rate: &u32| -> Vec<String> {
            vec![
                "-v".into(),
                voice.into(),
                "-p".into(),
                pitch.to_string(),
                "-s".into(),
                rate.to_string(),
                "-w".into(),
                out.clone(),
                word.into(),
            ]
        };
        let (synthesizer, program, args, input) = match &self.settings {
            Settings::Espeak { voice, pitch, rate } => (
                Synthesizer::EspeakNg,
                "espeak-ng",
                espeak(voice, pitch, rate),
                None,
            ),
            Settings::Mbrola { voice, pitch, rate } => (
                Synthesizer::Mbrola,
                "espeak-ng",
                espeak(voice, pitch, rate),
                None,
            ),
            Settings::Flite { voice, f0, stretch } => (
                Synthesizer::Flite,
                "flite",
                vec![
                    "-voice".into(),
                    voice.clone(),
                    "--setf".into(),
                    format!("int_f0_target_mean={f0}"),
                    "--setf".into(),
                    format!("duration_stretch={stretch}"),
                    "-t".into(),
                    word.into(),
                    "-o".into(),
                    out.clone(),
                ],
                None,
            ),
            // RHVoice reads its text from standard input.
            Settings::RhVoice { voice, pitch, rate } => (
                Synthesizer::RhVoice,
                "RHVoice-test",
                vec![
                    "-p".into(),
                    voice.clone(),
                    "-t".into(),
                    pitch.to_string(),
                    "-r".into(),
                    rate.to_string(),
                    "-o".into(),
                    out.clone(),
                ],
                Some(word),
            ),
            // Pico has no options for pitch and speed; its text markup sets them.
            Settings::Pico {
                language,
                pitch,
                speed,
            } => (
                Synthesizer::Pico,
                "pico2wave",
                vec![
                    "-l".into(),
                    language.clone(),
                    "-w".into(),
                    out.clone(),
                    format!(
                        "<pitch level='{pitch}'><speed level='{speed}'>{}</speed></pitch>",
                        word.replace(['<', '>', '&', '\''], " ")
                    ),
                ],
                None,
            ),
            // Kokoro runs in a helper process kept for the thread's later words.
            Settings::Kokoro {
                voice,
                blend,
                speed,
            } => {
                let style = kokoro::Style {
                    voice,
                    blend: blend
                        .as_ref()
                        .map(|(other, share)| (other.as_str(), *share as f32 / 100.0)),
                    speed: *speed as f32 / 100.0,
                };
                kokoro::speak(word, &style, &file)?;
                return self.spoken(&file);
            }
            // So does GnuSpeech.
            Settings::GnuSpeech(articulation) => {
                gnuspeech::speak(word, articulation, &file)?;
                return self.spoken(&file);
            }
        };
        if let Settings::RhVoice { voice, .. } = &self.settings
            && !RHVOICE_VOICES
                .iter()
                .any(|dir| Path::new(dir).join(voice).is_dir())
        {
            // RHVoice speaks with its default voice when asked for one it lacks: say so rather
            // than label another speaker's clips with this voice.
            return Err(DataError::Invalid(format!(
                "RHVoice's voice `{voice}` is not installed (in none of {}): install {}",
                RHVOICE_VOICES.join(", "),
                Synthesizer::RhVoice.install()
            )));
        }
        run(synthesizer, program, &args, input).map_err(|why| {
            DataError::Invalid(format!(
                "{program} failed for voice {} and word `{word}`: {why}",
                self.id()
            ))
        })?;
        self.spoken(&file)
    }

    /// A synthesizer's output file read back (and removed) as 16 kHz mono, trimmed to the spoken
    /// part, at this voice's gain.
    fn spoken(&self, file: &Path) -> Result<Vec<f32>, DataError> {
        let bytes = std::fs::read(file).map_err(|e| DataError::file(file, e))?;
        let _ = std::fs::remove_file(file);
        let clip = load_clip(bytes, &Limits::default()).map_err(|e| DataError::file(file, e))?;
        let gain = 10f32.powf(self.gain_db / 20.0);
        Ok(trim_to_speech(clip.samples())
            .iter()
            .map(|v| v * gain)
            .collect())
    }
}

/// The voice `voice` of `synthesizer`, with its pitch and rate drawn about the voice's own, as
/// far as each synthesizer still sounds like speech. A Kokoro voice is blended, two times in
/// three, with 10–40 % of one of `peers`, the other voices of its split, so its split's speakers
/// make voices between them that none of the other splits' speakers is part of (a split with one
/// speaker has no blends; a blend's underlying voice is its first voice's).
fn draw_settings(
    synthesizer: Synthesizer,
    voice: String,
    peers: &[&str],
    rng: &mut Rng,
) -> Settings {
    // espeak-ng's pitch scale (0–99) and words per minute, for its timbres and MBROLA's voices.
    let espeak = |rng: &mut Rng| (20 + rng.below(61) as u32, 120 + 10 * rng.below(9) as u32);
    // Pitch and rate in per cent of the voice's own.
    let percent = |rng: &mut Rng| (75 + 5 * rng.below(13) as u32, 75 + 5 * rng.below(13) as u32);
    match synthesizer {
        Synthesizer::EspeakNg => {
            let (pitch, rate) = espeak(rng);
            Settings::Espeak { voice, pitch, rate }
        }
        Synthesizer::Flite => Settings::Flite {
            voice,
            f0: 80 + 5 * rng.below(29) as u32,
            stretch: 0.8 + 0.05 * rng.below(10) as f32,
        },
        Synthesizer::Mbrola => {
            let (pitch, rate) = espeak(rng);
            Settings::Mbrola { voice, pitch, rate }
        }
        Synthesizer::RhVoice => {
            let (pitch, rate) = percent(rng);
            Settings::RhVoice { voice, pitch, rate }
        }
        Synthesizer::Pico => {
            let (pitch, speed) = percent(rng);
            Settings::Pico {
                language: voice,
                pitch,
                speed,
            }
        }
        Synthesizer::Kokoro | Synthesizer::KokoroEnglish | Synthesizer::KokoroAccented => {
            // A speaker with a voice for two languages is not blended with itself.
            let speaker = |name: &str| underlying_voice(&format!("{synthesizer}:{name}"));
            let others: Vec<&str> = peers
                .iter()
                .copied()
                .filter(|peer| speaker(peer) != speaker(&voice))
                .collect();
            let blend = (!others.is_empty() && rng.below(3) > 0).then(|| {
                let other = others[rng.below(others.len())].to_string();
                (other, 10 + 5 * rng.below(7) as u32)
            });
            Settings::Kokoro {
                voice,
                blend,
                speed: 80 + 5 * rng.below(10) as u32,
            }
        }
        // A vocal tract 10 % shorter or longer than the preset's is still the same kind of
        // speaker (the presets themselves are 10 to 30 % apart).
        Synthesizer::GnuSpeech => Settings::GnuSpeech(gnuspeech::Articulation {
            preset: voice,
            tract: 90 + 5 * rng.below(5) as u32,
            pitch: -4 + 2 * rng.below(5) as i32,
            tempo: 80 + 5 * rng.below(10) as u32,
        }),
    }
}

/// Runs one synthesizer, feeding `input` to it when given; the error says what to install when
/// the program is missing.
fn run(
    synthesizer: Synthesizer,
    program: &str,
    args: &[String],
    input: Option<&str>,
) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "could not run it ({e}): install {} (see README, Data and training)",
                synthesizer.install()
            )
        })?;
    // The text goes in before the wait, and the stdin handle is dropped so the program sees
    // its end; a failed write is reported with what the program said, after it has exited.
    let written = match (input, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => stdin.write_all(text.as_bytes()),
        _ => Ok(()),
    };
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match written {
        Err(e) => Err(format!("could not give it the text ({e}): {said}")),
        Ok(()) if output.status.success() => Ok(()),
        Ok(()) => Err(said),
    }
}

/// `items` cut into train, validation and test parts by `SPLIT_SHARES`, each part holding one at
/// least when there are three or more.
fn divide<T>(items: &[T]) -> [&[T]; 3] {
    let count = items.len();
    if count < 3 {
        return [items, &[], &[]];
    }
    let validation_at = ((count as f32 * SPLIT_SHARES[0]) as usize).clamp(1, count - 2);
    let test_at = (validation_at + (count as f32 * SPLIT_SHARES[1]) as usize)
        .clamp(validation_at + 1, count - 1);
    [
        &items[..validation_at],
        &items[validation_at..test_at],
        &items[test_at..],
    ]
}

/// A private scratch folder for synthesizer output, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Result<Self, DataError> {
        // Unique per call, so concurrent runs in one process never share (or delete) a folder.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tempokd-scratch-{tag}-{}-{call}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| DataError::file(&dir, e))?;
        Ok(Self(dir))
    }

    /// A path in the folder named after `name` that no other call gives: the same voice may say
    /// the same word on two threads at once, and neither may read the other's half-written file.
    pub fn file(&self, name: &str) -> PathBuf {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let file = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.join(format!("{file}-{name}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::underlying_voice;
    use std::collections::HashSet;

    /// Each split's underlying voices, and espeak-ng's timbres apart from their accents.
    fn speakers(splits: &[Vec<Voice>; 3]) -> [HashSet<String>; 3] {
        splits.each_ref().map(|voices| {
            voices
                .iter()
                .flat_map(|voice| {
                    let underlying = underlying_voice(&voice.id());
                    let timbre = underlying
                        .strip_prefix("espeak-ng:")
                        .and_then(|base| base.split_once('+'))
                        .map(|(_, variant)| format!("timbre {variant}"));
                    // A Kokoro voice's blend partner is a speaker of its split too.
                    let id = voice.id();
                    let synthesizer = id.split(':').next().unwrap_or_default();
                    let partner = id.split(':').find_map(|part| {
                        let (name, _) = part.strip_prefix("b=")?.split_once('@')?;
                        Some(underlying_voice(&format!("{synthesizer}:{name}")))
                    });
                    [Some(underlying), timbre, partner]
                })
                .flatten()
                .collect()
        })
    }

    #[test]
    fn a_recorded_speaker_is_one_underlying_voice_whatever_renders_it() {
        let mut rng = Rng::new(1);
        let mut seen = HashSet::new();
        for renditions in FLITE_SPEAKERS
            .iter()
            .chain(&OTHER_SPEAKERS)
            .chain(&KOKORO_SPEAKERS)
            .chain(&GNUSPEECH_SPEAKERS)
            .chain(&kokoro_english_speakers())
            .chain(&kokoro_accented_speakers())
        {
            let names: HashSet<String> = renditions
                .iter()
                .map(|r| {
                    let settings = draw_settings(r.synthesizer, r.name.to_string(), &[], &mut rng);
                    underlying_voice(
                        &Voice {
                            settings,
                            gain_db: 0.0,
                        }
                        .id(),
                    )
                })
                .collect();
            assert_eq!(
                names.len(),
                1,
                "{renditions:?} are several voices: {names:?}"
            );
            assert!(seen.insert(names.into_iter().next().unwrap()));
        }
    }

    /// The voice ids name the synthesizer from `kokoro`'s lists, the draw from the speaker lists:
    /// the two must hold the same voices.
    #[test]
    fn kokoro_speaker_lists_hold_the_voices_kokoro_names() {
        let names = |speakers: &[&[Rendition]]| -> Vec<&str> {
            let mut names: Vec<&str> = speakers
                .iter()
                .flat_map(|s| s.iter().map(|r| r.name))
                .collect();
            names.sort_unstable();
            names
        };
        let sorted = |voices: &[&'static str]| -> Vec<&'static str> {
            let mut voices = voices.to_vec();
            voices.sort_unstable();
            voices
        };
        assert_eq!(names(&KOKORO_SPEAKERS), sorted(&kokoro::VOICES));
        assert_eq!(
            names(&kokoro_english_speakers()),
            sorted(&kokoro::ENGLISH_VOICES)
        );
        assert_eq!(
            names(&kokoro_accented_speakers()),
            sorted(&kokoro::ACCENTED_VOICES)
        );
    }

    /// A speaker with a voice for two languages is never blended with itself, so a split that
    /// holds only that speaker has no blend.
    #[test]
    fn a_kokoro_voice_blends_only_with_another_speaker() {
        let peers = ["ef_dora", "pf_dora"];
        for seed in 0..20 {
            let settings = draw_settings(
                Synthesizer::KokoroAccented,
                "pf_dora".into(),
                &peers,
                &mut Rng::new(seed),
            );
            assert!(
                matches!(settings, Settings::Kokoro { blend: None, .. }),
                "seed {seed}: {settings:?}"
            );
        }
    }

    #[test]
    fn splits_share_no_speaker_and_fewer_synthesizers_split_inside_more() {
        for seed in 0..4 {
            let every = speakers(&Voice::catalogue(
                &VoiceChoice::new(600, &Synthesizer::ALL),
                &mut Rng::new(seed),
            ));
            for (a, b) in [(0, 1), (0, 2), (1, 2)] {
                assert!(every[a].is_disjoint(&every[b]), "seed {seed}");
            }
            for synthesizers in [
                &[Synthesizer::EspeakNg, Synthesizer::Flite][..],
                &[Synthesizer::Mbrola, Synthesizer::RhVoice],
                &[Synthesizer::Flite, Synthesizer::RhVoice, Synthesizer::Pico],
            ] {
                let fewer = speakers(&Voice::catalogue(
                    &VoiceChoice::new(300, synthesizers),
                    &mut Rng::new(seed),
                ));
                for (split, voices) in fewer.iter().enumerate() {
                    for other in (0..3).filter(|&other| other != split) {
                        assert!(
                            voices.is_disjoint(&every[other]),
                            "seed {seed}, {synthesizers:?}: split {split} has voices of split \
                             {other} of the corpus of every synthesizer"
                        );
                    }
                }
            }
        }
    }

    /// Kokoro's training voices blend its training speakers; its validation and test splits
    /// have one speaker each, so theirs are never blended.
    #[test]
    fn kokoro_blends_only_where_its_split_has_two_speakers() {
        for seed in 0..4 {
            let splits = Voice::catalogue(
                &VoiceChoice::new(600, &[Synthesizer::Kokoro]),
                &mut Rng::new(seed),
            );
            let blended = |voices: &Vec<Voice>| {
                voices
                    .iter()
                    .filter(|v| matches!(&v.settings, Settings::Kokoro { blend: Some(_), .. }))
                    .count()
            };
            assert!(blended(&splits[0]) > splits[0].len() / 2, "seed {seed}");
            assert_eq!(blended(&splits[1]) + blended(&splits[2]), 0, "seed {seed}");
        }
    }

    /// A recorded speaker of MBROLA, RHVoice or Pico weighs a quarter of the corpus in any split,
    /// as an espeak-ng timbre weighs 0.04 in any split, however few speakers the split holds.
    #[test]
    fn a_recorded_speaker_weighs_the_same_in_every_split() {
        for share in SPLIT_SHARES {
            let timbres = ESPEAK_VARIANTS.len() as f32 * share;
            let per_timbre = Synthesizer::EspeakNg.weight(0, share) / timbres * share;
            assert!((per_timbre - 0.04).abs() < 1e-6, "{per_timbre}");
            for synthesizer in [
                Synthesizer::Mbrola,
                Synthesizer::RhVoice,
                Synthesizer::Pico,
                Synthesizer::Kokoro,
                Synthesizer::GnuSpeech,
                Synthesizer::KokoroEnglish,
                Synthesizer::KokoroAccented,
            ] {
                for speakers in 1..5 {
                    let per_speaker = synthesizer.weight(speakers, share) / speakers as f32 * share;
                    assert!(
                        (per_speaker - 0.25).abs() < 1e-6,
                        "{synthesizer}: {per_speaker}"
                    );
                }
            }
        }
    }

    /// The draw follows the weights: each synthesizer's share of every split's voices.
    #[test]
    fn every_synthesizer_takes_its_weights_share_of_every_split() {
        let emphases: [&[(Synthesizer, f32)]; 2] = [
            &[],
            &[(Synthesizer::Kokoro, 3.0), (Synthesizer::EspeakNg, 0.5)],
        ];
        for (seed, emphasis) in (5..8).flat_map(|seed| emphases.map(|e| (seed, e))) {
            let choice = VoiceChoice::new(1000, &Synthesizer::ALL).with_emphasis(emphasis);
            let splits = Voice::catalogue(&choice, &mut Rng::new(seed));
            for (split, voices) in splits.iter().enumerate() {
                let of = |synthesizer: Synthesizer| -> Vec<String> {
                    let prefix = format!("{}:", synthesizer.name());
                    voices
                        .iter()
                        .map(Voice::id)
                        .filter(|id| id.starts_with(&prefix))
                        .collect()
                };
                let speakers = |synthesizer: Synthesizer| -> usize {
                    let ids = of(synthesizer);
                    let names: HashSet<String> =
                        ids.iter().map(|id| underlying_voice(id)).collect();
                    names.len()
                };
                let present: Vec<Synthesizer> = Synthesizer::ALL
                    .into_iter()
                    .filter(|s| speakers(*s) > 0)
                    .collect();
                let weight =
                    |s: Synthesizer| s.weight(speakers(s), SPLIT_SHARES[split]) * choice.factor(s);
                let total: f32 = present.iter().map(|s| weight(*s)).sum();
                for synthesizer in present {
                    let share = of(synthesizer).len() as f32 / voices.len() as f32;
                    let expected = weight(synthesizer) / total;
                    // Four binomial standard deviations.
                    let spread = 4.0 * (expected * (1.0 - expected) / voices.len() as f32).sqrt();
                    assert!(
                        (share - expected).abs() < spread,
                        "seed {seed}, {emphasis:?}, split {split}, {synthesizer}: {share:.3} of {} \
                         voices, not about {expected:.3}",
                        voices.len()
                    );
                }
            }
        }
    }

    /// Emphasis moves how many voices each synthesizer makes, never which speakers a split has;
    /// a factor out of range, twice on one synthesizer or on one not chosen is refused.
    #[test]
    fn emphasis_changes_shares_not_speakers_and_bad_factors_are_refused() {
        let plain = VoiceChoice::new(600, &Synthesizer::ALL);
        let heavy = plain.clone().with_emphasis(&[(Synthesizer::Kokoro, 4.0)]);
        assert!(heavy.validate().is_ok());
        for seed in 0..3 {
            let [before, after] = [&plain, &heavy]
                .map(|choice| speakers(&Voice::catalogue(choice, &mut Rng::new(seed))));
            for (split, speakers) in after.iter().enumerate() {
                for speaker in speakers {
                    for other in (0..3).filter(|&other| other != split) {
                        assert!(!before[other].contains(speaker), "seed {seed}: {speaker}");
                    }
                }
            }
            let count = |choice: &VoiceChoice| {
                Voice::catalogue(choice, &mut Rng::new(seed))[0]
                    .iter()
                    .filter(|v| v.id().starts_with("kokoro:"))
                    .count()
            };
            assert!(count(&heavy) > 2 * count(&plain), "seed {seed}");
        }
        let one = [Synthesizer::EspeakNg, Synthesizer::Flite];
        for (emphasis, said) in [
            (vec![(Synthesizer::Kokoro, 2.0)], "does not choose"),
            (
                vec![(Synthesizer::Flite, 2.0), (Synthesizer::Flite, 3.0)],
                "twice",
            ),
            (vec![(Synthesizer::Flite, 0.0)], "0.1 to 10"),
            (vec![(Synthesizer::Flite, 11.0)], "0.1 to 10"),
            (vec![(Synthesizer::Flite, f32::NAN)], "0.1 to 10"),
        ] {
            let error = VoiceChoice::new(60, &one)
                .with_emphasis(&emphasis)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains(said), "{emphasis:?}: {error}");
        }
    }

    #[test]
    fn synthesizer_names_parse_back_and_others_are_refused_with_the_list() {
        for synthesizer in Synthesizer::ALL {
            assert_eq!(Synthesizer::parse(synthesizer.name()), Ok(synthesizer));
        }
        let error = Synthesizer::parse("festival").unwrap_err();
        assert!(
            error.contains(
                "espeak-ng, flite, mbrola, rhvoice, pico, kokoro, gnuspeech, kokoro-english, \
                 kokoro-accented"
            ),
            "{error}"
        );
        assert!(VoiceChoice::new(60, &[]).validate().is_err());
        assert!(VoiceChoice::new(2, &Synthesizer::ALL).validate().is_err());
    }
}
