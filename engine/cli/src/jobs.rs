//! What the commands that train many models (`reproduce`, `defaults`) share: corpora made once
//! and reused, and each training run as its own `tempokd` process, two at a time.

use crate::data::{SynthArgs, synth};
use crate::device::DeviceArgs;
use crate::stages::StageStore;
use crate::train_and_eval::TEACHER_LR_AFTER;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tempokd::data::augment::Augmentation;
use tempokd::data::noise::Procedural;
use tempokd::data::tts::VoiceChoice;
use tempokd::data::{Dataset, Split};
use tempokd::kd::KdTarget;
use tempokd::parallel;
use tempokd::students::Preset;
use tempokd::teacher::TeacherShape;
use tempokd::train::{RESUME_DIR, TRAINING_RECORD_FILE, bytes_fingerprint, forget_saved_run};

/// burn's CPU backend keeps about one core busy per training run; separate processes also keep
/// each run's random initialisation its own.
pub const TRAINING_PROCESSES: usize = 2;

/// The `tempokd synth` command a corpus folder was made by, so a later run reuses it only when
/// its own settings are the same.
const CORPUS_RECIPE: &str = "synth-command.txt";

/// What a training run folder records of the job that made it, written before the run starts.
pub const JOB_RECORD: &str = "job.json";

/// A Synthetic Noisy Keywords corpus. Corpora with the same seed and voices share the split of
/// voices, so no test voice is ever trained on by any stage.
pub struct Corpus {
    pub lengths: Vec<f32>,
    pub per_class: usize,
    pub voices: VoiceChoice,
    pub seed: u64,
    /// Effects on the training clips.
    pub augment: Augmentation,
    /// The splits written (all, or the test split alone for a large evaluation corpus).
    pub splits: Vec<Split>,
}

impl Corpus {
    /// The corpus in `dir`, synthesized first unless a finished one is there.
    pub fn made_in(&self, dir: PathBuf) -> Result<PathBuf, String> {
        let command = self.command(&dir);
        let recipe = dir.join(CORPUS_RECIPE);
        if dir.join("manifest.csv").is_file() {
            let found = std::fs::read_to_string(&recipe).unwrap_or_default();
            if found.trim() != command {
                return Err(format!(
                    "{} holds a corpus made with other settings ({}) than this run's ({command}); \
                     remove the folder or choose another --work",
                    dir.display(),
                    if found.is_empty() {
                        "not recorded"
                    } else {
                        found.trim()
                    }
                ));
            }
        } else {
            println!("== synthesizing {}", dir.display());
            synth(&SynthArgs {
                out: dir.clone(),
                length: self.lengths.clone(),
                per_class: self.per_class,
                seed: self.seed,
                noise_dir: None,
                snr: (0.0, 20.0),
                voices: self.voices.count,
                synthesizers: self.voices.synthesizers.clone(),
                emphasis: self.voices.emphasis.clone(),
                speech_commands: None,
                augment: self.augment.clone(),
                augment_splits: vec![Split::Train],
                training_backgrounds: Procedural::ALL.to_vec(),
                splits: self.splits.clone(),
            })?;
            std::fs::write(&recipe, format!("{command}\n"))
                .map_err(|e| format!("{}: {e}", recipe.display()))?;
        }
        Ok(dir)
    }

    /// The `tempokd synth` arguments that make this corpus.
    pub fn command(&self, out: &Path) -> String {
        let lengths: Vec<String> = self.lengths.iter().map(f32::to_string).collect();
        let splits = match self.splits.as_slice() {
            [Split::Train, Split::Validation, Split::Test] => String::new(),
            some => {
                let names: Vec<&str> = some.iter().map(|s| s.name()).collect();
                format!(" --splits {}", names.join(","))
            }
        };
        format!(
            "tempokd synth --out {} --length {} --per-class {} --voices {} --synthesizers {}{} \
             --seed {} --augment {}{splits}",
            out.display(),
            lengths.join(","),
            self.per_class,
            self.voices.count,
            self.voices.synthesizer_names(),
            self.voices.emphasis_argument(),
            self.seed,
            self.augment.name()
        )
    }
}

/// Underlying voices per split (train, validation, test) over the corpora in `dirs`.
pub fn underlying_voices(dirs: &[&Path]) -> Result<[usize; 3], String> {
    let mut names: [std::collections::BTreeSet<String>; 3] = Default::default();
    for dir in dirs {
        let dataset = Dataset::open(dir).map_err(|e| e.to_string())?;
        for example in dataset.examples.iter().filter(|e| !e.voice.is_empty()) {
            names[example.split as usize].insert(example.underlying_voice());
        }
    }
    Ok(names.map(|set| set.len()))
}

/// One training run: its output folder and its `tempokd` arguments.
#[derive(Clone)]
pub struct Job {
    pub dir: PathBuf,
    pub args: Vec<String>,
}

impl Job {
    /// `tempokd <subcommand> --flag value …` writing into `dir`.
    pub fn new(subcommand: &str, dir: &Path, flags: Vec<(&str, String)>) -> Self {
        let mut args = vec![subcommand.to_string()];
        for (flag, value) in flags {
            args.extend([flag.to_string(), value]);
        }
        Self {
            dir: dir.to_path_buf(),
            args,
        }
    }

    pub fn command(&self) -> String {
        format!("tempokd {}", self.args.join(" "))
    }

    /// Whether this job's run finished with these very arguments (its training.json is there
    /// and its job.json names the same command) after every model it starts from or learns
    /// from was made, so a resumed build can skip it; a retrained teacher or earlier stage
    /// makes the runs that read it stale, as in `make`.
    pub fn finished(&self) -> bool {
        let Some(done) = modified(&self.dir.join(TRAINING_RECORD_FILE)) else {
            return false;
        };
        // A run interrupted after job.json was written keeps an older run's training.json.
        let started = modified(&self.dir.join(JOB_RECORD));
        started.is_some_and(|started| started <= done)
            && self.record().is_some_and(|record| record.args == self.args)
            && self
                .inputs()
                .all(|input| modified(&input.join(MODEL_FILE)).is_some_and(|made| made <= done))
    }

    /// The fingerprint of each model this job reads, by its folder as the arguments name it, and
    /// of its corpus's manifest (every clip's voice, background, SNR and effects), so a run
    /// kept from a corpus made otherwise in a folder of the same name is not taken for this
    /// job's; `None` while one of them is not made yet.
    pub fn input_fingerprints(&self) -> Option<BTreeMap<String, String>> {
        let models = self.inputs().map(|input| (input, input.join(MODEL_FILE)));
        let corpora = self
            .flag_values(&[DATA_FLAG])
            .map(|data| (data, data.join(MANIFEST_FILE)));
        models
            .chain(corpora)
            .map(|(folder, file)| {
                let bytes = std::fs::read(file).ok()?;
                Some((folder.display().to_string(), bytes_fingerprint(&bytes)))
            })
            .collect()
    }

    /// The model folders this job reads (`--init`, `--teacher`).
    fn inputs(&self) -> impl Iterator<Item = &Path> {
        self.flag_values(&INPUT_FLAGS)
    }

    /// The values of `flags` in the arguments, as paths.
    fn flag_values<'a>(&'a self, flags: &'a [&str]) -> impl Iterator<Item = &'a Path> {
        self.args
            .windows(2)
            .filter(|pair| flags.contains(&pair[0].as_str()))
            .map(|pair| Path::new(&pair[1]))
    }

    /// The machine the job ran on, as its job.json recorded it.
    pub fn machine(&self) -> Option<String> {
        self.record().map(|record| record.machine)
    }

    /// The job.json of this job's folder, if one is there and reads.
    fn record(&self) -> Option<JobRecord> {
        JobRecord::read(&self.dir)
    }
}

/// The flags whose value is a model folder a job reads.
const INPUT_FLAGS: [&str; 2] = ["--init", "--teacher"];

/// The flag whose value is the corpus a job trains on, and the corpus's table of clips.
const DATA_FLAG: &str = "--data";
const MANIFEST_FILE: &str = "manifest.csv";

/// The weights file of every model folder, teacher or student.
pub const MODEL_FILE: &str = "model.safetensors";

pub fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A job's own record beside its run.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    pub args: Vec<String>,
    /// Cores, architecture and system of the machine the job ran on.
    pub machine: String,
    /// The fingerprint of each model and corpus manifest the job read when it started (see
    /// [`Job::input_fingerprints`]); empty in records from before they were kept.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

impl JobRecord {
    /// The job.json in `dir`, if one is there and reads.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(JOB_RECORD)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// This machine as a card names it: no host name, only what sets the pace.
pub fn this_machine() -> String {
    format!(
        "{} CPU cores ({}, {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// The jobs that have not finished with their current arguments, after restoring from
/// `stages` those it kept.
pub fn unfinished<'a>(
    jobs: impl Iterator<Item = &'a Job>,
    stages: Option<&StageStore>,
) -> Result<Vec<Job>, String> {
    let mut left = Vec::new();
    for job in jobs.filter(|job| !job.finished()) {
        let restored = match stages {
            Some(stages) => stages.restore(job)?,
            None => false,
        };
        if !restored {
            left.push(job.clone());
        }
    }
    Ok(left)
}

/// A stage of teacher training (`tempokd train-teacher`).
pub struct TeacherStage<'a> {
    pub data: &'a Path,
    pub out: &'a Path,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub lr_after: f64,
    pub warmup: usize,
    pub eval_every: usize,
    pub seed: u64,
    /// Continue from this teacher; otherwise start from random weights of `shape`.
    pub init: Option<&'a Path>,
    pub shape: TeacherShape,
}

impl TeacherStage<'_> {
    pub fn job(&self) -> Job {
        let mut flags = vec![
            (DATA_FLAG, self.data.display().to_string()),
            ("--out", self.out.display().to_string()),
            ("--steps", self.steps.to_string()),
            ("--batch", self.batch.to_string()),
            ("--lr", self.lr.to_string()),
            ("--warmup", self.warmup.to_string()),
            ("--eval-every", self.eval_every.to_string()),
            ("--seed", self.seed.to_string()),
        ];
        // Left out at train-teacher's default, as the runs kept before the flag was given
        // recorded their arguments.
        if self.lr_after != TEACHER_LR_AFTER {
            flags.push(("--lr-after", self.lr_after.to_string()));
        }
        match self.init {
            Some(init) => flags.push(("--init", init.display().to_string())),
            None => flags.extend([
                ("--hidden", self.shape.hidden.to_string()),
                ("--layers", self.shape.layers.to_string()),
                ("--heads", self.shape.heads.to_string()),
                ("--conv-channels", self.shape.conv_channels.to_string()),
            ]),
        }
        Job::new("train-teacher", self.out, flags)
    }
}

/// One student's training (`tempokd train-student`); with a teacher when λ > 0.
pub struct StudentRun<'a> {
    pub preset: Preset,
    pub data: &'a Path,
    pub out: &'a Path,
    pub lambda: f32,
    pub teacher: &'a Path,
    /// How the teacher's map becomes the KD target (when λ > 0).
    pub target: KdTarget,
    pub budget: StudentBudget,
    pub seed: u64,
    /// Continue from this student (a curriculum's earlier stage); otherwise random weights.
    pub init: Option<&'a Path>,
}

/// Steps, batch size and learning rates of one student training run.
#[derive(Clone, Copy, Debug)]
pub struct StudentBudget {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// The rate for the last quarter of the steps.
    pub lr_after: f64,
    pub eval_every: usize,
}

impl StudentRun<'_> {
    pub fn job(&self) -> Job {
        let mut flags = vec![
            ("--arch", self.preset.name().to_string()),
            (DATA_FLAG, self.data.display().to_string()),
            ("--lambda", self.lambda.to_string()),
            ("--out", self.out.display().to_string()),
            ("--steps", self.budget.steps.to_string()),
            ("--batch", self.budget.batch.to_string()),
            ("--lr", self.budget.lr.to_string()),
            ("--lr-after", self.budget.lr_after.to_string()),
            ("--eval-every", self.budget.eval_every.to_string()),
            ("--seed", self.seed.to_string()),
        ];
        if let Some(init) = self.init {
            flags.push(("--init", init.display().to_string()));
        }
        let with_kd = self.lambda > 0.0;
        if with_kd {
            flags.push(("--teacher", self.teacher.display().to_string()));
        }
        if with_kd {
            flags.push(("--target-temperature", self.target.temperature.to_string()));
        }
        let mut job = Job::new("train-student", self.out, flags);
        if with_kd {
            // Bare means true: the arguments finished runs recorded with it stay theirs.
            job.args.push("--target-without-query-frame".into());
            if !self.target.without_query_frame {
                job.args.push("false".into());
            }
        }
        job
    }
}

/// What is done with a job's run as soon as it finishes (kept, scored), beside the runs still
/// training.
pub type WhenFinished<'a> = dyn Fn(&Job) -> Result<(), String> + Sync + 'a;

/// Runs every job in its own `tempokd` process on `device`, its output in `train.log` beside
/// its model, and hands each finished run to `when_finished`.
pub fn run_jobs(
    jobs: &[Job],
    device: &DeviceArgs,
    when_finished: &WhenFinished<'_>,
) -> Result<(), String> {
    let program =
        std::env::current_exe().map_err(|e| format!("cannot find tempokd itself: {e}"))?;
    let bar = crate::progress::bar(jobs.len(), "models");
    bar.tick();
    crate::stop::flag()?;
    parallel::for_each(jobs, TRAINING_PROCESSES, |job| {
        if crate::stop::asked() {
            return Err(STOPPED.to_string());
        }
        let dir = &job.dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let record = JobRecord {
            args: job.args.clone(),
            machine: this_machine(),
            inputs: job.input_fingerprints().ok_or_else(|| {
                format!("`{}` reads a model or corpus not made yet", job.command())
            })?,
        };
        // A run stopped part way goes on from its saved state, unless the job has changed since
        // (other arguments, or a model it reads made anew).
        let resume = JobRecord::read(dir)
            .is_some_and(|earlier| earlier.args == record.args && earlier.inputs == record.inputs);
        if !resume {
            forget_saved_run(&dir.join(RESUME_DIR));
        }
        let record_path = dir.join(JOB_RECORD);
        let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
        std::fs::write(&record_path, text)
            .map_err(|e| format!("{}: {e}", record_path.display()))?;
        let log_path = dir.join("train.log");
        // A resumed run's log goes on after its earlier sittings'.
        let log = std::fs::File::options()
            .create(true)
            .write(true)
            .append(resume)
            .truncate(!resume)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new(&program)
            .args(&job.args)
            .args(resume.then_some("--resume"))
            .args(device.flag())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", program.display()))?;
        let status =
            wait_passing_on_stop(&mut child).map_err(|e| format!("`{}`: {e}", job.command()))?;
        if crate::stop::asked() && !status.success() {
            return Err(STOPPED.to_string());
        }
        if !status.success() {
            return Err(format!(
                "`{}` failed; see {}",
                job.command(),
                log_path.display()
            ));
        }
        when_finished(job)?;
        bar.inc(1);
        bar.set_message(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        Ok(())
    })?;
    bar.finish();
    Ok(())
}

/// Why a build of many runs ended early on a stop signal.
const STOPPED: &str = "stopped: each run was saved where it stood; run the same command again \
                       to go on from there";

/// Waits for `child`, asking it to save and stop when this process is asked to (a signal sent
/// to this process alone, by `kill` or a scheduler, would not reach it).
fn wait_passing_on_stop(
    child: &mut std::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    let mut passed_on = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if crate::stop::asked() && !passed_on {
            crate::stop::pass_on(child);
            passed_on = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn touch(path: &Path, at: SystemTime) {
        let file = std::fs::File::create(path).expect("scratch file");
        file.set_modified(at).expect("set its time");
    }

    #[test]
    fn a_run_is_stale_once_a_model_it_reads_is_remade() {
        let root = std::env::temp_dir().join(format!("tempokd-jobs-{}", std::process::id()));
        let (teacher, student) = (root.join("teacher"), root.join("student"));
        for dir in [&teacher, &student] {
            std::fs::create_dir_all(dir).expect("scratch folder");
        }
        let job = Job::new(
            "train-student",
            &student,
            vec![("--teacher", teacher.display().to_string())],
        );
        let then = SystemTime::now() - Duration::from_secs(3600);
        touch(&teacher.join(MODEL_FILE), then);
        assert!(!job.finished(), "no training.json yet");

        let record = JobRecord {
            args: job.args.clone(),
            machine: this_machine(),
            inputs: BTreeMap::new(),
        };
        let text = serde_json::to_string(&record).expect("record");
        std::fs::write(student.join(JOB_RECORD), text).expect("job.json");
        touch(
            &student.join("training.json"),
            then + Duration::from_secs(60),
        );
        assert!(
            !job.finished(),
            "job.json is newer: a run that never finished"
        );
        std::fs::File::options()
            .write(true)
            .open(student.join(JOB_RECORD))
            .and_then(|file| file.set_modified(then + Duration::from_secs(30)))
            .expect("date job.json");
        assert!(job.finished());

        let other = Job::new("train-student", &student, vec![("--lambda", "0.5".into())]);
        assert!(!other.finished(), "other arguments");

        touch(&teacher.join(MODEL_FILE), then + Duration::from_secs(120));
        assert!(!job.finished(), "the teacher was retrained after the run");
        std::fs::remove_dir_all(&root).expect("clean up");
    }

    #[test]
    fn a_student_learns_its_kd_target_only_with_kd() {
        let run = |lambda, target| {
            StudentRun {
                preset: Preset::Crnn,
                data: Path::new("data"),
                out: Path::new("out"),
                lambda,
                teacher: Path::new("teacher"),
                target,
                budget: StudentBudget {
                    steps: 10,
                    batch: 2,
                    lr: 1e-3,
                    lr_after: 1e-4,
                    eval_every: 5,
                },
                seed: 1,
                init: None,
            }
            .job()
            .command()
        };
        let best = KdTarget {
            without_query_frame: true,
            temperature: 0.5,
        };
        let with_kd = run(0.25, best);
        assert!(with_kd.contains("--teacher teacher"), "{with_kd}");
        assert!(with_kd.contains("--target-temperature 0.5"), "{with_kd}");
        assert!(
            with_kd.ends_with(" --target-without-query-frame"),
            "{with_kd}"
        );
        // The rollout as it is, spelt out: the CLI's own defaults change it.
        let as_it_is = run(0.25, KdTarget::ROLLOUT);
        assert!(as_it_is.contains("--target-temperature 1 "), "{as_it_is}");
        assert!(
            as_it_is.ends_with(" --target-without-query-frame false"),
            "{as_it_is}"
        );
        let without = run(0.0, best);
        assert!(
            !without.contains("--target") && !without.contains("--teacher"),
            "{without}"
        );
    }
}
