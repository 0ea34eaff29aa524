//! What the commands that train many models (`reproduce`, `defaults`) share: corpora made once
//! and reused, and each training run as its own `tempokd` process, two at a time.

use crate::data::{SynthArgs, synth};
use std::path::{Path, PathBuf};
use tempokd::parallel;
use tempokd::students::Preset;
use tempokd::teacher::TeacherShape;

/// burn's CPU backend keeps about one core busy per training run; separate processes also keep
/// each run's random initialisation its own.
pub const TRAINING_PROCESSES: usize = 2;

/// A Synthetic Noisy Keywords corpus. Corpora with the same seed and voices share the split of
/// voices, so no test voice is ever trained on by any stage.
pub struct Corpus {
    pub lengths: Vec<f32>,
    pub per_class: usize,
    pub voices: usize,
    pub seed: u64,
}

impl Corpus {
    /// The corpus in `dir`, synthesized first unless a finished one is there.
    pub fn made_in(&self, dir: PathBuf) -> Result<PathBuf, String> {
        if !dir.join("manifest.csv").is_file() {
            println!("== synthesizing {}", dir.display());
            synth(&SynthArgs {
                out: dir.clone(),
                length: self.lengths.clone(),
                per_class: self.per_class,
                seed: self.seed,
                noise_dir: None,
                snr: (0.0, 20.0),
                voices: self.voices,
                speech_commands: None,
            })?;
        }
        Ok(dir)
    }

    /// The `tempokd synth` arguments that make this corpus.
    pub fn command(&self, out: &Path) -> String {
        let lengths: Vec<String> = self.lengths.iter().map(f32::to_string).collect();
        format!(
            "tempokd synth --out {} --length {} --per-class {} --voices {} --seed {}",
            out.display(),
            lengths.join(","),
            self.per_class,
            self.voices,
            self.seed
        )
    }
}

/// One training run: its output folder and its `tempokd` arguments.
#[derive(Clone)]
pub struct Job {
    pub dir: PathBuf,
    pub args: Vec<String>,
}

impl Job {
    /// `tempokd <subcommand> --flag value …` writing into `dir`.
    fn new(subcommand: &str, dir: &Path, flags: Vec<(&str, String)>) -> Self {
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
}

/// A stage of teacher training (`tempokd train-teacher`).
pub struct TeacherStage<'a> {
    pub data: &'a Path,
    pub out: &'a Path,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
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
            ("--data", self.data.display().to_string()),
            ("--out", self.out.display().to_string()),
            ("--steps", self.steps.to_string()),
            ("--batch", self.batch.to_string()),
            ("--lr", self.lr.to_string()),
            ("--warmup", self.warmup.to_string()),
            ("--eval-every", self.eval_every.to_string()),
            ("--seed", self.seed.to_string()),
        ];
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
    pub steps: usize,
    pub batch: usize,
    pub eval_every: usize,
    pub seed: u64,
}

impl StudentRun<'_> {
    pub fn job(&self) -> Job {
        let mut flags = vec![
            ("--arch", self.preset.name().to_string()),
            ("--data", self.data.display().to_string()),
            ("--lambda", self.lambda.to_string()),
            ("--out", self.out.display().to_string()),
            ("--steps", self.steps.to_string()),
            ("--batch", self.batch.to_string()),
            ("--eval-every", self.eval_every.to_string()),
            ("--seed", self.seed.to_string()),
        ];
        if self.lambda > 0.0 {
            flags.push(("--teacher", self.teacher.display().to_string()));
        }
        Job::new("train-student", self.out, flags)
    }
}

/// Runs every job in its own `tempokd` process, its output in `train.log` beside its model.
pub fn run_jobs(jobs: &[Job]) -> Result<(), String> {
    let program =
        std::env::current_exe().map_err(|e| format!("cannot find tempokd itself: {e}"))?;
    let bar = crate::progress::bar(jobs.len(), "models");
    bar.tick();
    parallel::for_each(jobs, TRAINING_PROCESSES, |job| {
        let dir = &job.dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log_path = dir.join("train.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let status = std::process::Command::new(&program)
            .args(&job.args)
            .stdout(log)
            .stderr(log_err)
            .status()
            .map_err(|e| format!("could not start {}: {e}", program.display()))?;
        if !status.success() {
            return Err(format!(
                "`{}` failed; see {}",
                job.command(),
                log_path.display()
            ));
        }
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
