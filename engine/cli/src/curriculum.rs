//! The curriculum both model-building commands follow (`defaults`, which ships the models, and
//! `reproduce`, which scores the paper's grid): three corpora from one seed and one split of
//! voices, the teacher's stages, and each student's first stage on 1 s clips. Both commands
//! then train each student's second stage from that first stage, once per λ (`defaults` on the
//! mixed lengths, `reproduce` once per clip length), so `reproduce` run in `defaults`' folder with
//! its seed reuses its corpora, its teacher and its students' first stages.

use crate::device::DeviceArgs;
use crate::jobs::{
    Corpus, Job, StudentBudget, StudentRun, TeacherStage, WhenFinished, run_jobs, unfinished,
};
use crate::stages::{Kept, StageStore};
use std::path::{Path, PathBuf};
use tempokd::data::Split;
use tempokd::data::augment::Augmentation;
use tempokd::data::tts::{Synthesizer, VoiceChoice};
use tempokd::kd::KdTarget;
use tempokd::students::Preset;
use tempokd::teacher::TeacherShape;

/// The seed of the shipped models' corpora and runs: one split of voices for every build.
pub const SEED: u64 = 6;

/// The synthesizers of the shipped models' corpora, and `synth`'s default: the five from Debian
/// (Kokoro is chosen by name; `docs/voices/kokoro.md` measures what it adds).
pub const SYNTHESIZERS: [Synthesizer; 5] = Synthesizer::DEBIAN;

/// Synthesizers as a card or report says them: "espeak-ng and flite".
pub fn synthesizers_text(synthesizers: &[Synthesizer]) -> String {
    let names: Vec<&str> = synthesizers.iter().map(|s| s.name()).collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Clip lengths of the mixed-length and test corpora.
pub const LENGTHS: [f32; 5] = [1.0, 2.0, 4.0, 6.0, 8.0];

/// Steps, batch size, warm-up and learning rates of one teacher stage.
#[derive(Clone, Copy)]
pub struct TeacherStageBudget {
    pub steps: usize,
    pub batch: usize,
    pub warmup: usize,
    pub lr: f64,
    /// The rate for the last fifth of the steps.
    pub lr_after: f64,
}

/// How big a build is: its corpora and every stage's budget.
pub struct Sizes {
    /// Voices in every corpus; their split (80/10/10 % by underlying voice) follows from the
    /// seed.
    pub voices: usize,
    /// Clips per class of the 1 s corpus (cheap to make; the first stages see many).
    pub words_per_class: usize,
    /// Clips per class of the mixed-length corpus, over all its lengths.
    pub mixed_per_class: usize,
    /// Clips per class over all the test corpus's lengths and all splits, of which it writes the
    /// test split alone (a tenth of the voices).
    pub test_per_class: usize,
    /// Clips per class of each single-length corpus of `reproduce` (the paper trains a student
    /// per clip length).
    pub length_per_class: usize,
    pub teacher_shape: TeacherShape,
    /// The teacher's stages: the 1 s corpus, the same again from those weights with the rate
    /// raised (a warm restart), then the mixed lengths at a fifth of that rate (at the first
    /// stages' rate it lost on validation and on 1 s test clips what the warm restart had
    /// gained: `docs/last-stage-rate/results.md`).
    pub teacher: [TeacherStageBudget; 3],
    pub teacher_eval_every: usize,
    /// TC-ResNet's two stages: its steps are cheap, so it gets more of them.
    pub convolutional: [StudentBudget; 2],
    /// The recurrent students' two stages (LSTM-P, CRNN, Att-RNN, MHAtt-RNN).
    pub recurrent: [StudentBudget; 2],
}

/// A student's first stage learns the words on 1 s clips without KD; the second starts from a
/// trained student, so its rates are half the first's.
const fn budgets(
    words: (usize, usize, usize),
    second: (usize, usize, usize),
) -> [StudentBudget; 2] {
    [
        StudentBudget {
            steps: words.0,
            batch: words.1,
            lr: 1e-3,
            lr_after: 1e-4,
            eval_every: words.2,
        },
        StudentBudget {
            steps: second.0,
            batch: second.1,
            lr: 5e-4,
            lr_after: 5e-5,
            eval_every: second.2,
        },
    ]
}

/// The teacher's three stages from the steps, batch size and warm-up of each: the 1 s stages at
/// 5e-4, the mixed lengths at 1e-4, each falling tenfold for its last fifth.
const fn teacher_stages(
    first: (usize, usize, usize),
    restart: (usize, usize, usize),
    mixed: (usize, usize, usize),
) -> [TeacherStageBudget; 3] {
    const fn stage(shape: (usize, usize, usize), lr: f64, lr_after: f64) -> TeacherStageBudget {
        TeacherStageBudget {
            steps: shape.0,
            batch: shape.1,
            warmup: shape.2,
            lr,
            lr_after,
        }
    }
    [
        stage(first, 5e-4, 5e-5),
        stage(restart, 5e-4, 5e-5),
        stage(mixed, 1e-4, 1e-5),
    ]
}

impl Sizes {
    /// The shipped models'. The first stages are long because shorter ones were still
    /// improving at their last step (TC-ResNet8's validation accuracy on the shipped corpora:
    /// 69.8 % at step 4,000 of 20,000, 79.0 % at its best, step 18,000); the teacher is several times the largest student and still
    /// classifies a 4 s clip in the browser's CPU fallback.
    pub const FULL: Sizes = Sizes {
        voices: 600,
        words_per_class: 2000,
        mixed_per_class: 800,
        // About 1,000 clips per length: a 95 % interval of about ±3 points.
        test_per_class: 840 * LENGTHS.len(),
        length_per_class: 600,
        teacher_shape: TeacherShape {
            hidden: 192,
            layers: 4,
            heads: 4,
            conv_channels: 64,
        },
        teacher: teacher_stages((4000, 16, 200), (6000, 16, 100), (2000, 8, 50)),
        teacher_eval_every: 250,
        convolutional: budgets((20000, 32, 1000), (3000, 32, 100)),
        recurrent: budgets((10000, 32, 1000), (1000, 16, 100)),
    };

    /// `reproduce --quick`: small enough to run end to end in minutes, too small to mean much.
    pub const QUICK: Sizes = Sizes {
        voices: 300,
        words_per_class: 600,
        mixed_per_class: 200,
        // About 240 clips per length.
        test_per_class: 200 * LENGTHS.len(),
        length_per_class: 200,
        teacher_shape: TeacherShape {
            hidden: 96,
            layers: 3,
            heads: 4,
            conv_channels: 32,
        },
        teacher: teacher_stages((1000, 16, 50), (500, 16, 25), (400, 8, 20)),
        teacher_eval_every: 200,
        convolutional: budgets((2000, 32, 250), (1000, 32, 50)),
        recurrent: budgets((1000, 32, 250), (200, 16, 50)),
    };

    pub fn student(&self, preset: Preset) -> [StudentBudget; 2] {
        match preset {
            Preset::TcResNet8 | Preset::TcResNet14 => self.convolutional,
            _ => self.recurrent,
        }
    }
}

/// A build's corpora and stages, all inside one work folder.
pub struct Curriculum {
    pub sizes: &'static Sizes,
    pub seed: u64,
    /// The synthesizers of every corpus.
    pub synthesizers: Vec<Synthesizer>,
    pub work: PathBuf,
    /// 1 s clips: where the word fills most of the clip.
    pub words: Corpus,
    pub words_dir: PathBuf,
    /// Clips of every length in `LENGTHS`.
    pub mixed: Corpus,
    pub mixed_dir: PathBuf,
    /// The test split alone, of the same voices: underlying voices no stage trains on.
    pub test: Corpus,
    pub test_dir: PathBuf,
    /// The teacher's stages, in order; the last one's folder is the teacher unless one is given.
    pub teacher_stages: [Job; 3],
    /// A trained teacher the students learn from instead of the teacher's stages.
    pub given_teacher: Option<PathBuf>,
    /// Where finished runs are restored from and kept, between machines.
    pub stages: Option<StageStore>,
    /// Where every run trains; not part of a run's identity, so a run finished on one device
    /// is not repeated on another.
    pub device: DeviceArgs,
}

/// The teacher's three stages in `work`: the first two on the 1 s corpus in `words_dir`, the
/// last on the mixed one in `mixed_dir`.
fn teacher_stage_jobs(
    sizes: &Sizes,
    seed: u64,
    work: &Path,
    words_dir: &Path,
    mixed_dir: &Path,
) -> [Job; 3] {
    let stage_dirs = TEACHER_STAGES.map(|name| work.join(name));
    let stage_data = [words_dir, words_dir, mixed_dir];
    std::array::from_fn(|at| {
        let budget = sizes.teacher[at];
        TeacherStage {
            data: stage_data[at],
            out: &stage_dirs[at],
            steps: budget.steps,
            batch: budget.batch,
            lr: budget.lr,
            lr_after: budget.lr_after,
            warmup: budget.warmup,
            eval_every: sizes.teacher_eval_every,
            // The restart draws other batches than the first pass over the same clips.
            seed: if at == 1 { seed + 1 } else { seed },
            init: at.checked_sub(1).map(|before| stage_dirs[before].as_path()),
            shape: sizes.teacher_shape,
        }
        .job()
    })
}

/// The folders of the teacher's stages in a work folder, in order.
const TEACHER_STAGES: [&str; 3] = ["teacher-1s", "teacher-1s-restart", "teacher"];

impl Curriculum {
    /// The curriculum in `work`, its corpora synthesized first unless finished ones are there;
    /// with `given_teacher`, its teacher stages are not trained, and with `stages`, finished runs
    /// are restored from and kept in that store.
    pub fn prepare(
        work: &Path,
        seed: u64,
        synthesizers: &[Synthesizer],
        sizes: &'static Sizes,
        given_teacher: Option<&Path>,
        stages: Option<&Path>,
        device: DeviceArgs,
    ) -> Result<Self, String> {
        if let Some(teacher) = given_teacher
            && !teacher.join("config.json").is_file()
        {
            return Err(format!(
                "--teacher {}: no config.json there; give a teacher's model folder",
                teacher.display()
            ));
        }
        let corpus = |lengths, per_class, splits| {
            corpus(sizes, seed, synthesizers, lengths, per_class, splits)
        };
        let words = corpus(vec![1.0], sizes.words_per_class, Split::ALL.to_vec());
        let mixed = corpus(LENGTHS.to_vec(), sizes.mixed_per_class, Split::ALL.to_vec());
        let test = corpus(LENGTHS.to_vec(), sizes.test_per_class, vec![Split::Test]);
        let data = work.join("data");
        let words_dir = words.made_in(data.join("words-1s"))?;
        let mixed_dir = mixed.made_in(data.join("mixed"))?;
        let test_dir = test.made_in(data.join("test"))?;

        let teacher_stages = teacher_stage_jobs(sizes, seed, work, &words_dir, &mixed_dir);
        Ok(Self {
            sizes,
            seed,
            // As a corpus takes them: sorted, each once, so cards name each once.
            synthesizers: VoiceChoice::new(sizes.voices, synthesizers).synthesizers,
            work: work.to_path_buf(),
            words,
            words_dir,
            mixed,
            mixed_dir,
            test,
            test_dir,
            teacher_stages,
            given_teacher: given_teacher.map(Path::to_path_buf),
            stages: stages.map(|root| StageStore::new(root, work)),
            device,
        })
    }

    /// The `jobs` not finished in the work folder nor restored from the store.
    pub fn unfinished<'a>(&self, jobs: impl Iterator<Item = &'a Job>) -> Result<Vec<Job>, String> {
        unfinished(jobs, self.stages.as_ref())
    }

    /// Runs `jobs`, keeping each finished model in the store.
    pub fn run(&self, jobs: &[Job]) -> Result<(), String> {
        run_jobs(jobs, &self.device, &|job| self.keep_model(job))
    }

    /// Keeps `job`'s finished model in the store, if there is one.
    pub fn keep_model(&self, job: &Job) -> Result<(), String> {
        match &self.stages {
            Some(stages) => stages.keep(job, Kept::Model),
            None => Ok(()),
        }
    }

    /// The training and validation clips of one length, made in the work folder unless there;
    /// its test clips are the test corpus's of that length.
    pub fn length_corpus(&self, length: f32) -> Result<PathBuf, String> {
        let (corpus, dir) = self.length_spec(length);
        corpus.made_in(dir)
    }

    /// The `tempokd synth` command of the corpus of one length.
    pub fn length_recipe(&self, length: f32) -> String {
        let (corpus, dir) = self.length_spec(length);
        corpus.command(&dir)
    }

    fn length_spec(&self, length: f32) -> (Corpus, PathBuf) {
        let splits = vec![Split::Train, Split::Validation];
        let per_class = self.sizes.length_per_class;
        (
            corpus(
                self.sizes,
                self.seed,
                &self.synthesizers,
                vec![length],
                per_class,
                splits,
            ),
            self.work.join("data").join(format!("L{length}")),
        )
    }

    /// The teacher every student with KD learns from.
    pub fn teacher(&self) -> &Path {
        let [.., last] = &self.teacher_stages;
        self.given_teacher.as_deref().unwrap_or(&last.dir)
    }

    /// A student's first stage: the words on 1 s clips, without KD.
    pub fn words_stage(&self, preset: Preset) -> Job {
        StudentRun {
            preset,
            data: &self.words_dir,
            out: &self
                .work
                .join("students")
                .join(preset.name())
                .join("words-1s"),
            lambda: 0.0,
            teacher: self.teacher(),
            target: KdTarget::default(),
            budget: self.sizes.student(preset)[0],
            seed: self.seed,
            init: None,
        }
        .job()
    }

    /// A student's second stage on `data`, from its first stage, with KD weight `lambda`.
    pub fn second_stage(&self, preset: Preset, lambda: f32, data: &Path, out: &Path) -> Job {
        StudentRun {
            preset,
            data,
            out,
            lambda,
            teacher: self.teacher(),
            target: KdTarget::default(),
            budget: self.sizes.student(preset)[1],
            seed: self.seed,
            init: Some(&self.words_stage(preset).dir),
        }
        .job()
    }

    /// A student's second stage on the mixed-length corpus: the runs `defaults` ships from.
    pub fn mixed_stage(&self, preset: Preset, lambda: f32) -> Job {
        let out = self
            .work
            .join("students")
            .join(preset.name())
            .join(format!("lambda-{lambda}"));
        self.second_stage(preset, lambda, &self.mixed_dir, &out)
    }

    /// Trains the teacher's stages one after the other, its first beside the `students`' first
    /// stages, its warm restart beside those of `without_teacher` (runs that need no teacher)
    /// that have not finished, each stage skipped when finished. `without_teacher` is checked
    /// only after the first stages ran, so a retrained first stage retrains what starts from it.
    /// Restores from the store, where kept, the teacher's stages (unless one is given) and the
    /// `students`' first stages.
    pub fn restore_first_stages(&self, students: &[Preset]) -> Result<(), String> {
        let teacher_stages = self
            .teacher_stages
            .iter()
            .filter(|_| self.given_teacher.is_none());
        let words_stages: Vec<Job> = students.iter().map(|p| self.words_stage(*p)).collect();
        self.unfinished(teacher_stages.chain(&words_stages))?;
        Ok(())
    }

    /// With a given teacher, only the students' stages run. Each of `without_teacher` goes to
    /// `without_teacher_finished` as it finishes.
    pub fn train_teacher(
        &self,
        students: &[Preset],
        without_teacher: &[Job],
        without_teacher_finished: &WhenFinished<'_>,
    ) -> Result<(), String> {
        let words_stages: Vec<Job> = students.iter().map(|p| self.words_stage(*p)).collect();
        if let Some(teacher) = &self.given_teacher {
            println!(
                "== the students on 1 s clips (the teacher: {})",
                teacher.display()
            );
            self.run(&self.unfinished(words_stages.iter())?)?;
            println!("== the students without KD");
            return run_jobs(
                &self.unfinished(without_teacher.iter())?,
                &self.device,
                without_teacher_finished,
            );
        }
        let [first, restart, mixed] = &self.teacher_stages;
        println!("== the teacher and the students on 1 s clips");
        self.run(&self.with_first(first, words_stages.iter())?)?;
        println!("== the teacher's warm restart on 1 s clips, beside the students without KD");
        let restart_jobs = self.with_first(restart, without_teacher.iter())?;
        run_jobs(
            &restart_jobs,
            &self.device,
            &|job| match job.dir == restart.dir {
                true => self.keep_model(job),
                false => without_teacher_finished(job),
            },
        )?;
        println!("== the teacher on clips of every length");
        self.run(&self.unfinished(std::iter::once(mixed))?)
    }

    /// `first` (unless finished) ahead of the unfinished of `rest`.
    fn with_first<'a>(
        &self,
        first: &Job,
        rest: impl Iterator<Item = &'a Job>,
    ) -> Result<Vec<Job>, String> {
        let mut jobs = self.unfinished(std::iter::once(first))?;
        jobs.extend(self.unfinished(rest)?);
        Ok(jobs)
    }
}

/// A corpus of this build's voices and seed; effects on its training clips, if it has any.
fn corpus(
    sizes: &Sizes,
    seed: u64,
    synthesizers: &[Synthesizer],
    lengths: Vec<f32>,
    per_class: usize,
    splits: Vec<Split>,
) -> Corpus {
    Corpus {
        lengths,
        per_class,
        voices: VoiceChoice::new(sizes.voices, synthesizers),
        seed,
        augment: match splits.contains(&Split::Train) {
            true => Augmentation::all(),
            false => Augmentation::none(),
        },
        splits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobRecord;

    /// A kept stage is restored only while the curriculum asks for it with the very arguments it
    /// recorded: the shipped set's teacher stages are the curriculum's, so a change to the
    /// teacher's budgets that would train them again fails here first.
    #[test]
    fn the_shipped_sets_teacher_stages_keep_their_arguments() {
        let work = Path::new("target/six-synthesizers");
        let data = work.join("data");
        let jobs = teacher_stage_jobs(
            &Sizes::FULL,
            6,
            work,
            &data.join("words-1s"),
            &data.join("mixed"),
        );
        let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stages/six-synthesizers");
        for (job, stage) in jobs.iter().zip(TEACHER_STAGES) {
            let record = JobRecord::read(&kept.join(stage)).expect("a kept stage's job.json");
            assert_eq!(job.args, record.args, "{stage}");
        }
    }
}
