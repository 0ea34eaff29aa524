//! GnuSpeech, an articulatory synthesizer: a tube model of the vocal tract driven by English
//! rules and a dictionary, from the npm package `@echogarden/gnuspeech-wasm` (compiled to
//! WebAssembly, run by Node). Its five voice presets (a man, a woman, a large and a small child,
//! a baby) are five speakers with a vocal tract of their own, whose length, pitch and rate the
//! generator varies about the preset's.
//!
//! Each thread keeps one helper process (`gnuspeech.mjs`, run by `node`) for all its words.

use super::DataError;
use super::helper_process::{self, Helper, Outcome};
use std::cell::RefCell;
use std::path::Path;
use std::process::Command;

/// The voice presets the package ships.
pub const VOICES: [&str; 5] = ["male", "female", "large_child", "small_child", "baby"];

/// What to install, as the errors say it. Node finds the package from the working folder
/// (`node_modules/@echogarden/gnuspeech-wasm` there or in a folder above), or where the
/// environment variable TEMPOKD_GNUSPEECH says.
pub const INSTALL: &str = "Node (the Debian package nodejs) and the npm package \
    @echogarden/gnuspeech-wasm@0.3.0 (`npm ci` in the repository installs it; elsewhere \
    TEMPOKD_GNUSPEECH names its folder)";

const HELPER: &str = include_str!("gnuspeech.mjs");

/// One utterance: a preset with its vocal tract length scaled (per cent of the preset's), its
/// pitch moved (semitones) and its rate changed (per cent).
#[derive(Clone, Debug, PartialEq)]
pub struct Articulation {
    pub preset: String,
    pub tract: u32,
    pub pitch: i32,
    pub tempo: u32,
}

/// `word` said as `articulation`, written to `out` as a 44.1 kHz WAV file.
pub fn speak(word: &str, articulation: &Articulation, out: &Path) -> Result<(), DataError> {
    if word.is_empty()
        || word.len() > 100
        || !word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '\'' || c == ' ')
    {
        return Err(DataError::Invalid(format!(
            "`{word}` cannot be given to GnuSpeech: only 1 to 100 lower-case letters, \
             apostrophes and spaces"
        )));
    }
    let out_text = helper_process::path_field(out, "GnuSpeech")?;
    let Articulation {
        preset,
        tract,
        pitch,
        tempo,
    } = articulation;
    let job = format!("{out_text}\t{preset}\t{tract}\t{pitch}\t{tempo}\t{word}\n");
    match helper_process::ask(&HELPERS, || start("node"), &job)? {
        Outcome::Done => Ok(()),
        Outcome::Refused(why) => Err(DataError::Invalid(format!(
            "GnuSpeech could not say `{word}` as {preset} (vocal tract {tract} %, pitch \
             {pitch:+} semitones, rate {tempo} %): {why}"
        ))),
        Outcome::Stopped(why) => Err(DataError::Invalid(format!(
            "GnuSpeech stopped: {why}; install {INSTALL}"
        ))),
    }
}

thread_local! {
    static HELPERS: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// A helper run by `node`, ready once it has loaded the synthesizer.
fn start(node: &str) -> Result<Helper, DataError> {
    let mut command = Command::new(node);
    command.args(["--input-type=module", "-e", HELPER]);
    Helper::start(command, "GnuSpeech", INSTALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment variable naming the package's folder (read by `gnuspeech.mjs`).
    const PACKAGE_VARIABLE: &str = "TEMPOKD_GNUSPEECH";

    /// A Node that is missing, or that cannot find the package, is named with what to install.
    #[test]
    fn a_node_without_gnuspeech_says_what_to_install() {
        let scratch =
            std::env::temp_dir().join(format!("tempokd-no-gnuspeech-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        // Node, looking for the package in an empty folder.
        let lost = scratch.join("node");
        std::fs::write(
            &lost,
            format!(
                "#!/bin/sh\nexport {PACKAGE_VARIABLE}={}\nexec node \"$@\"\n",
                scratch.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&lost, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for (node, said) in [
            (
                scratch.join("missing").display().to_string(),
                "could not run",
            ),
            (lost.display().to_string(), "could not load GnuSpeech"),
        ] {
            let error = start(&node).err().unwrap().to_string();
            assert!(!error.contains("exited without saying why"), "{error}");
            assert!(
                error.contains(said) && error.contains("@echogarden/gnuspeech-wasm@0.3.0"),
                "{error}"
            );
        }
        std::fs::remove_dir_all(&scratch).unwrap();
    }

    #[test]
    fn words_that_are_not_words_are_refused_before_node_runs() {
        let articulation = Articulation {
            preset: "male".into(),
            tract: 100,
            pitch: 0,
            tempo: 100,
        };
        let out = std::env::temp_dir().join("tempokd-never-written.wav");
        for word in ["", "yes\tno", "a\nb", "Yes", "<b>", &"a".repeat(101)] {
            assert!(speak(word, &articulation, &out).is_err(), "{word:?}");
        }
    }
}
