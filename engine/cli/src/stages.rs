//! Finished training runs kept in the repository (`--stages`), so that a build longer than one
//! sitting (`tempokd defaults`, `tempokd reproduce`) resumes on a machine that has never run it.
//!
//! A store mirrors the work folder: the run in `<work>/students/crnn/words-1s` is kept in
//! `<store>/students/crnn/words-1s`. A kept run stands in for a job only when the job has the
//! very same arguments and its input models (`--init`, `--teacher`) have the fingerprints the
//! kept run recorded when it started, so a retrained teacher or first stage never reuses runs
//! made from the old one.

use crate::jobs::{JOB_RECORD, Job, JobRecord};
use std::path::{Path, PathBuf};
use tempokd::train::TRAINING_RECORD_FILE;

/// A scored run's scores, beside its model in the work folder and kept alone in a store.
pub const RESULT_FILE: &str = "result.json";

/// What of a finished run is kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kept {
    /// Everything but its log: a model that later jobs start from or learn from.
    Model,
    /// Its job record and its scores: a run that nothing reads, whose weights would only weigh
    /// on the repository.
    Scores,
}

/// Files of a run folder that are never kept: its log (the training record has every step).
const NOT_KEPT: [&str; 1] = ["train.log"];

pub struct StageStore {
    root: PathBuf,
    work: PathBuf,
}

impl StageStore {
    /// The store in `root` for the runs of the work folder `work`.
    pub fn new(root: &Path, work: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            work: work.to_path_buf(),
        }
    }

    fn place(&self, job: &Job) -> Result<PathBuf, String> {
        let relative = job.dir.strip_prefix(&self.work).map_err(|_| {
            format!(
                "{} is outside the work folder {}, so it cannot be kept",
                job.dir.display(),
                self.work.display()
            )
        })?;
        Ok(self.root.join(relative))
    }

    /// Where `job`'s run is kept, when one is and it was made by the same arguments from the
    /// same input models.
    pub fn kept(&self, job: &Job) -> Result<Option<PathBuf>, String> {
        let place = self.place(job)?;
        let Some(record) = JobRecord::read(&place) else {
            return Ok(None);
        };
        let same = record.args == job.args
            && job
                .input_fingerprints()
                .is_some_and(|inputs| inputs == record.inputs);
        Ok(same.then_some(place))
    }

    /// Copies the kept model of `job` into its folder, so the job counts as finished; false when
    /// none is kept, or only its scores are.
    pub fn restore(&self, job: &Job) -> Result<bool, String> {
        let Some(place) = self.kept(job)? else {
            return Ok(false);
        };
        if !place.join(TRAINING_RECORD_FILE).is_file() {
            return Ok(false);
        }
        let mut names = file_names(&place)?;
        // The job record first and the training record last: a run whose training record is
        // older than its job record is one that never finished.
        names.sort_by_key(|name| (name != JOB_RECORD, name == TRAINING_RECORD_FILE));
        std::fs::create_dir_all(&job.dir).map_err(|e| format!("{}: {e}", job.dir.display()))?;
        for name in names {
            copy(&place.join(&name), &job.dir.join(&name))?;
        }
        println!("== {} restored from {}", job.dir.display(), place.display());
        Ok(true)
    }

    /// Keeps `job`'s finished run in place of any kept before.
    pub fn keep(&self, job: &Job, kept: Kept) -> Result<(), String> {
        let place = self.place(job)?;
        if place.exists() {
            std::fs::remove_dir_all(&place).map_err(|e| format!("{}: {e}", place.display()))?;
        }
        std::fs::create_dir_all(&place).map_err(|e| format!("{}: {e}", place.display()))?;
        let names = match kept {
            Kept::Model => file_names(&job.dir)?
                .into_iter()
                .filter(|name| !NOT_KEPT.contains(&name.as_str()))
                .collect(),
            Kept::Scores => vec![JOB_RECORD.to_string(), RESULT_FILE.to_string()],
        };
        for name in names {
            copy(&job.dir.join(&name), &place.join(&name))?;
        }
        Ok(())
    }
}

/// The visible files directly in `dir`.
fn file_names(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_file()) && !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::MODEL_FILE;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("scratch folder");
        std::fs::write(path, text).expect("scratch file");
    }

    /// A finished run of `job` in its folder, recorded with the fingerprints its inputs have now.
    fn finish(job: &Job, weights: &str) {
        let record = JobRecord {
            args: job.args.clone(),
            machine: "test".into(),
            inputs: job.input_fingerprints().expect("inputs made"),
        };
        let text = serde_json::to_string(&record).expect("record");
        write(&job.dir.join(JOB_RECORD), &text);
        write(&job.dir.join(MODEL_FILE), weights);
        write(&job.dir.join("train.log"), "every line of the log");
        write(&job.dir.join(TRAINING_RECORD_FILE), "{}");
    }

    fn student_job(dir: &Path, flags: &[(&str, &str)]) -> Job {
        let flags = flags.iter().map(|(f, v)| (*f, v.to_string())).collect();
        Job::new("train-student", dir, flags)
    }

    #[test]
    fn a_kept_run_stands_in_only_for_the_same_job_from_the_same_inputs() {
        let root = std::env::temp_dir().join(format!("tempokd-stages-{}", std::process::id()));
        let (work, store_root) = (root.join("work"), root.join("store"));
        let store = StageStore::new(&store_root, &work);
        let first = student_job(&work.join("students/crnn/words-1s"), &[]);
        let init = first.dir.display().to_string();
        let second = student_job(&work.join("L4/crnn/lambda-0"), &[("--init", &init)]);

        finish(&first, "first weights");
        store.keep(&first, Kept::Model).expect("keep");
        finish(&second, "second weights");
        store.keep(&second, Kept::Model).expect("keep");
        assert!(!store_root.join("students/crnn/words-1s/train.log").exists());

        // A machine that has never run either: both come back, in order, and count as finished.
        std::fs::remove_dir_all(&work).expect("a fresh work folder");
        assert!(!first.finished() && !second.finished());
        assert!(
            !store.restore(&second).expect("restore"),
            "its input is not made yet"
        );
        assert!(store.restore(&first).expect("restore"));
        assert!(store.restore(&second).expect("restore"));
        assert!(first.finished() && second.finished());
        let kept = std::fs::read_to_string(second.dir.join(MODEL_FILE)).expect("weights");
        assert_eq!(kept, "second weights");

        // A retrained first stage: the second stage kept from the old one is not reused.
        std::fs::remove_dir_all(&second.dir).expect("remove the second stage");
        write(&first.dir.join(MODEL_FILE), "retrained weights");
        assert!(!store.restore(&second).expect("restore"));
        // Nor is a job with other arguments.
        let other = student_job(&second.dir, &[("--init", &init), ("--lambda", "0.5")]);
        assert!(store.kept(&other).expect("kept").is_none());

        // Scores alone: found by `kept`, never restored as a finished model.
        let scored = student_job(&work.join("L8/crnn/lambda-0"), &[]);
        finish(&scored, "weights not kept");
        write(&scored.dir.join(RESULT_FILE), "{\"accuracy\": 1}");
        store.keep(&scored, Kept::Scores).expect("keep");
        let place = store.kept(&scored).expect("kept").expect("a kept run");
        let mut kept_files = file_names(&place).expect("files");
        kept_files.sort();
        assert_eq!(kept_files, [JOB_RECORD, RESULT_FILE]);
        std::fs::remove_dir_all(&scored.dir).expect("remove the run");
        assert!(!store.restore(&scored).expect("restore"));

        // A run kept from a corpus made otherwise in a folder of the same name is not reused.
        let data = work.join("data/words-1s");
        write(&data.join("manifest.csv"), "file,label\nyes.wav,yes\n");
        let on_data = student_job(
            &work.join("students/lstm-p/words-1s"),
            &[("--data", &data.display().to_string())],
        );
        finish(&on_data, "weights from the first corpus");
        store.keep(&on_data, Kept::Model).expect("keep");
        std::fs::remove_dir_all(&on_data.dir).expect("a fresh run folder");
        write(&data.join("manifest.csv"), "file,label\nno.wav,no\n");
        assert!(!store.restore(&on_data).expect("restore"));
        write(&data.join("manifest.csv"), "file,label\nyes.wav,yes\n");
        assert!(store.restore(&on_data).expect("restore"));

        let outside = student_job(&root.join("elsewhere"), &[]);
        assert!(store.keep(&outside, Kept::Model).is_err());
        std::fs::remove_dir_all(&root).expect("clean up");
    }
}
