//! FSD50K as it ships: multi-label sound events; `dev.csv` holds train and val, `eval.csv` the
//! test set, `vocabulary.csv` the 200 classes.

use super::DataError;
use super::manifest::{Example, Split, parse_csv_line};
use super::read_text;
use std::collections::HashSet;
use std::path::Path;

pub(super) const GROUND_TRUTH: &str = "FSD50K.ground_truth";

pub(super) fn read(root: &Path) -> Result<(Vec<String>, Vec<Example>), DataError> {
    let truth = root.join(GROUND_TRUTH);
    let vocabulary_path = truth.join("vocabulary.csv");
    let mut labels = Vec::new();
    for (index, line) in read_text(&vocabulary_path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // index,label,mid — no header.
        match parse_csv_line(line).get(1) {
            Some(label) if !label.is_empty() => labels.push(label.clone()),
            _ => {
                return Err(DataError::Row {
                    path: vocabulary_path,
                    row: index + 1,
                    why: "expected `index,label,mid`".into(),
                });
            }
        }
    }
    let mut examples = read_clips(&truth.join("dev.csv"), "FSD50K.dev_audio", &labels, None)?;
    examples.extend(read_clips(
        &truth.join("eval.csv"),
        "FSD50K.eval_audio",
        &labels,
        Some(Split::Test),
    )?);
    Ok((labels, examples))
}

/// `fname,labels,mids[,split]` with a header; `split` is `train` or `val` in dev.csv.
fn read_clips(
    path: &Path,
    audio_dir: &str,
    vocabulary: &[String],
    fixed_split: Option<Split>,
) -> Result<Vec<Example>, DataError> {
    // Looked up once per label of every clip: a vocabulary of millions read as a list would be
    // searched for hours.
    let vocabulary: HashSet<&str> = vocabulary.iter().map(String::as_str).collect();
    let text = read_text(path)?;
    let mut rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header = rows
        .next()
        .map(|(_, h)| parse_csv_line(h))
        .unwrap_or_default();
    let column = |name: &str| header.iter().position(|c| c.trim() == name);
    let row_error = |row: usize, why: String| DataError::Row {
        path: path.to_path_buf(),
        row,
        why,
    };
    let (Some(fname_at), Some(labels_at)) = (column("fname"), column("labels")) else {
        return Err(row_error(
            1,
            "the header must have `fname` and `labels`".into(),
        ));
    };
    let split_at = column("split");
    let mut examples = Vec::new();
    for (index, line) in rows {
        let row = index + 1;
        let fields = parse_csv_line(line);
        let field = |at: usize| fields.get(at).map(|s| s.trim()).unwrap_or_default();
        let fname = field(fname_at);
        if fname.is_empty() || fname.contains(['/', '\\']) {
            return Err(row_error(row, format!("`{fname}` is not a clip name")));
        }
        let labels: Vec<String> = field(labels_at)
            .split(',')
            .map(|l| l.trim().to_string())
            .collect();
        if let Some(unknown) = labels.iter().find(|l| !vocabulary.contains(l.as_str())) {
            return Err(row_error(
                row,
                format!("label `{unknown}` is not in vocabulary.csv"),
            ));
        }
        let split = match (fixed_split, split_at.map(field)) {
            (Some(split), _) => split,
            (None, Some("train")) => Split::Train,
            (None, Some("val")) => Split::Validation,
            (None, other) => {
                return Err(row_error(
                    row,
                    format!("split {other:?} is not `train` or `val`"),
                ));
            }
        };
        examples.push(Example {
            row,
            file: format!("{audio_dir}/{fname}.wav"),
            labels,
            window: None,
            voice: String::new(),
            noise: String::new(),
            snr_db: None,
            split,
            effects: String::new(),
        });
    }
    Ok(examples)
}
