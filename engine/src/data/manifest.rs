//! `manifest.csv`: one row per clip,
//! `file,label,start_s,end_s,voice,noise,snr_db,split,effects`. Only `file` and `label` are required, so
//! a folder of the user's own WAVs needs no more than `file,label[,start_s,end_s]`.

use super::DataError;
use std::fmt::Write;
use std::path::Path;

pub const HEADER: &str = "file,label,start_s,end_s,voice,noise,snr_db,split,effects";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Where the keyword is, in seconds from the clip's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start_s: f32,
    pub end_s: f32,
}

/// One clip and what is known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// Where the example was listed (1-based line of its table; 0 when found by walking folders),
    /// so an error about it can point there.
    pub row: usize,
    /// Relative to the dataset's folder.
    pub file: String,
    /// One label, or several for multi-label data (written joined by `;`).
    pub labels: Vec<String>,
    pub window: Option<Window>,
    pub voice: String,
    pub noise: String,
    pub snr_db: Option<f32>,
    pub split: Split,
    /// What changed the voice, room or microphone (`speed=1.05;room=0.42`); empty when nothing.
    pub effects: String,
}

impl Example {
    /// The speaker under this clip's voice variant (see [`underlying_voice`]).
    pub fn underlying_voice(&self) -> String {
        underlying_voice(&self.voice)
    }
}

/// The underlying voice of a `voice` id: espeak-ng's accent and variant
/// (`espeak-ng:en-us+m1:p50:s160:g+0` → `espeak-ng:en-us+m1`), the recorded speaker behind a
/// flite, MBROLA, RHVoice or Pico voice (`flite:kal16` is `flite:kal`; RHVoice's `alan` and
/// `slt` are flite's `awb` and `slt`, the same CMU ARCTIC speakers), the Kokoro voice or
/// GnuSpeech preset (a Kokoro blend is its first voice's; Kokoro's `pf_dora` and `pm_alex` are
/// `ef_dora` and `em_alex`, one speaker each), or the id itself for
/// recorded clips' speakers. Pitch, rate and gain make variants of one underlying voice, which a
/// split by voice must keep together.
pub fn underlying_voice(voice: &str) -> String {
    let mut parts = voice.split(':');
    match (parts.next(), parts.next()) {
        (Some("flite"), Some("kal16")) => "flite:kal".into(),
        (Some("rhvoice"), Some("alan")) => "flite:awb".into(),
        (Some("rhvoice"), Some("slt")) => "flite:slt".into(),
        (Some("kokoro-accented"), Some("pf_dora")) => "kokoro-accented:ef_dora".into(),
        (Some("kokoro-accented"), Some("pm_alex")) => "kokoro-accented:em_alex".into(),
        (
            Some(
                synthesizer @ ("espeak-ng" | "flite" | "mbrola" | "rhvoice" | "pico" | "kokoro"
                | "gnuspeech" | "kokoro-english" | "kokoro-accented"),
            ),
            Some(base),
        ) => {
            format!("{synthesizer}:{base}")
        }
        _ => voice.to_string(),
    }
}

/// The rows of a manifest in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    pub examples: Vec<Example>,
}

impl Manifest {
    /// Parses a manifest; `path` only names the file in errors. Columns are found by the header,
    /// so any order works; a missing `split` column makes every row a test row.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DataError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let row_error = |row: usize, why: String| DataError::Row {
            path: path.to_path_buf(),
            row,
            why,
        };
        let (_, header) = lines.next().ok_or_else(|| DataError::Missing {
            path: path.to_path_buf(),
            what: "the header row (file,label,…)".into(),
        })?;
        let columns = parse_csv_line(header);
        let column = |name: &str| columns.iter().position(|c| c.trim() == name);
        let (Some(file_at), Some(label_at)) = (column("file"), column("label")) else {
            return Err(row_error(
                1,
                format!(
                    "the header must name at least `file` and `label` columns; it is `{header}`"
                ),
            ));
        };
        let [
            start_at,
            end_at,
            voice_at,
            noise_at,
            snr_at,
            split_at,
            effects_at,
        ] = [
            "start_s", "end_s", "voice", "noise", "snr_db", "split", "effects",
        ]
        .map(column);
        let mut examples = Vec::new();
        for (index, line) in lines {
            let row = index + 1;
            let fields = parse_csv_line(line);
            let field = |at: Option<usize>| {
                at.and_then(|i| fields.get(i))
                    .map(|s| s.trim())
                    .unwrap_or_default()
            };
            let number = |at: Option<usize>, name: &str| -> Result<Option<f32>, DataError> {
                match field(at) {
                    "" => Ok(None),
                    text => match text.parse::<f32>() {
                        Ok(v) if v.is_finite() => Ok(Some(v)),
                        _ => Err(row_error(row, format!("{name} `{text}` is not a number"))),
                    },
                }
            };
            let file = field(Some(file_at));
            if file.is_empty() {
                return Err(row_error(row, "the file column is empty".into()));
            }
            if Path::new(file).is_absolute() || file.split(['/', '\\']).any(|p| p == "..") {
                return Err(row_error(
                    row,
                    format!("`{file}` must be a path inside the dataset's folder"),
                ));
            }
            let labels: Vec<String> = field(Some(label_at))
                .split(';')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            if labels.is_empty() {
                return Err(row_error(row, format!("`{file}` has no label")));
            }
            let window = match (number(start_at, "start_s")?, number(end_at, "end_s")?) {
                (Some(start_s), Some(end_s)) if start_s >= 0.0 && end_s > start_s => {
                    Some(Window { start_s, end_s })
                }
                (None, None) => None,
                (start, end) => {
                    return Err(row_error(
                        row,
                        format!(
                            "the keyword window {start:?}..{end:?} must have 0 ≤ start_s < end_s, or both empty"
                        ),
                    ));
                }
            };
            let split = match field(split_at) {
                "" => Split::Test,
                name => Split::from_name(name).ok_or_else(|| {
                    row_error(
                        row,
                        format!("split `{name}` is not one of train, validation, test"),
                    )
                })?,
            };
            examples.push(Example {
                row,
                file: file.to_string(),
                labels,
                window,
                voice: field(voice_at).to_string(),
                noise: field(noise_at).to_string(),
                snr_db: number(snr_at, "snr_db")?,
                split,
                effects: field(effects_at).to_string(),
            });
        }
        Ok(Self { examples })
    }

    pub fn to_csv(&self) -> String {
        let mut out = format!("{HEADER}\n");
        for e in &self.examples {
            let (start, end) = e.window.map_or((String::new(), String::new()), |w| {
                (format!("{:.3}", w.start_s), format!("{:.3}", w.end_s))
            });
            let snr = e.snr_db.map_or(String::new(), |s| format!("{s:.1}"));
            let _ = writeln!(
                out,
                "{},{},{start},{end},{},{},{snr},{},{}",
                quote(&e.file),
                quote(&e.labels.join(";")),
                quote(&e.voice),
                quote(&e.noise),
                e.split.name(),
                quote(&e.effects)
            );
        }
        out
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One CSV line into fields, with RFC 4180 quoting (`"a,b"`, `""` for a quote).
pub fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(text, Path::new("manifest.csv")).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trips_through_csv() {
        let manifest = Manifest {
            examples: vec![
                Example {
                    row: 2,
                    file: "test/yes_1.wav".into(),
                    labels: vec!["yes".into()],
                    window: Some(Window {
                        start_s: 1.25,
                        end_s: 1.75,
                    }),
                    voice: "espeak-ng:en-us+f3:p50:s160:a100".into(),
                    noise: "pink".into(),
                    snr_db: Some(5.5),
                    split: Split::Test,
                    effects: String::new(),
                },
                Example {
                    row: 3,
                    file: "train/s.wav".into(),
                    labels: vec!["_silence_".into()],
                    window: None,
                    voice: String::new(),
                    noise: "babble, 4 talkers".into(),
                    snr_db: None,
                    split: Split::Train,
                    effects: "speed=1.050;mic=phone".into(),
                },
            ],
        };
        assert_eq!(parse(&manifest.to_csv()), Ok(manifest));
    }

    #[test]
    fn underlying_voices_drop_pitch_rate_and_gain() {
        assert_eq!(
            underlying_voice("espeak-ng:en-gb+Alex:p45:s150:g-4"),
            "espeak-ng:en-gb+Alex"
        );
        assert_eq!(
            underlying_voice("flite:kal16:f0=110:x0.90:g+0"),
            "flite:kal"
        );
        assert_eq!(underlying_voice("flite:slt:f0=180:x1.00:g-2"), "flite:slt");
        assert_eq!(underlying_voice("rhvoice:slt:t90:r110:g+0"), "flite:slt");
        assert_eq!(
            underlying_voice("mbrola:mb-de1-en:p40:s150:g-2"),
            "mbrola:mb-de1-en"
        );
        assert_eq!(underlying_voice("pico:en-GB:t80:r100:g+0"), "pico:en-GB");
        // A Kokoro voice blended with another of its split is the first voice's.
        assert_eq!(
            underlying_voice("kokoro:jm_kumo:b=jf_alpha@20:r95:g-2"),
            "kokoro:jm_kumo"
        );
        assert_eq!(
            underlying_voice("gnuspeech:large_child:l95:t-2:r110:g-4"),
            "gnuspeech:large_child"
        );
        assert_eq!(
            underlying_voice("kokoro-english:bm_george:b=bm_lewis@25:r95:g-4"),
            "kokoro-english:bm_george"
        );
        assert_eq!(
            underlying_voice("kokoro-accented:pf_dora:b=zf_xiaoni@15:r90:g+2"),
            "kokoro-accented:ef_dora"
        );
        assert_eq!(
            underlying_voice("kokoro-accented:zm_yunxi:r100:g+0"),
            "kokoro-accented:zm_yunxi"
        );
        // Recorded speakers are their own underlying voice.
        assert_eq!(underlying_voice("0a7c2a8d"), "0a7c2a8d");
    }

    #[test]
    fn the_short_form_reads_as_test_rows() {
        let parsed = parse("file,label,start_s,end_s\na.wav,yes,0.5,1.0\nb.wav,no,,\n");
        let examples = parsed.map(|m| m.examples).unwrap_or_default();
        assert_eq!(examples.len(), 2);
        assert!(examples.iter().all(|e| e.split == Split::Test));
        assert_eq!(examples[1].window, None);
    }

    #[test]
    fn bad_rows_are_named() {
        for (text, expected) in [
            ("file,label\na.wav,\n", "row 2: `a.wav` has no label"),
            (
                "file,label,start_s,end_s\na.wav,yes,x,1\n",
                "row 2: start_s `x` is not a number",
            ),
            (
                "file,label,start_s,end_s\na.wav,yes,1,0.5\n",
                "row 2: the keyword window",
            ),
            (
                "file,label,split\na.wav,yes,train\nb.wav,no,dev\n",
                "row 3: split `dev`",
            ),
            ("file,label\n../a.wav,yes\n", "must be a path inside"),
            ("name,class\na.wav,yes\n", "row 1: the header must name"),
            ("", "the header row"),
        ] {
            let error = parse(text).err().unwrap_or_default();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn quoted_fields_keep_their_commas() {
        assert_eq!(
            parse_csv_line(r#"a,"b,c","say ""hi""",d"#),
            ["a", "b,c", "say \"hi\"", "d"]
        );
    }
}
