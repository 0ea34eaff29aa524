//! `tempokd reproduce`: the paper's experiment on Synthetic Noisy Keywords, end to end, on the
//! curriculum the shipped models follow: the same corpora, teacher and students' first stages
//! (shared with `defaults` when both use the same work folder), then, as in the paper, each
//! student trained for one clip length L and one KD weight λ. Every run is kept, so an
//! interrupted grid resumes where it stopped.

use crate::curriculum::{Curriculum, LENGTHS, SEED, SYNTHESIZERS, Sizes};
use crate::device::DeviceArgs;
use crate::figures::{MapRow, attention_figure};
use crate::jobs::{Job, JobRecord, TRAINING_PROCESSES, modified, run_jobs, underlying_voices};
use crate::stages::{Kept, RESULT_FILE};
use crate::train_and_eval::{self, evaluate};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::data::tts::Synthesizer;
use tempokd::data::{Dataset, Split};
use tempokd::device::ComputeDevice;
use tempokd::parallel;
use tempokd::students::{Precision, Preset, Student};
use tempokd::teacher::Teacher;
use tempokd::train::{
    ClipLoading, CommonSettings, Evaluation, TRAINING_RECORD_FILE, TrainingRecord,
    bytes_fingerprint,
};

#[derive(Args, Clone)]
pub struct ReproduceArgs {
    /// Where the report (report.md, report.json, figures/) goes.
    #[arg(long)]
    pub out: PathBuf,
    /// Where the corpora and every run are kept [default: target/default-models, the shipped
    /// models' folder, whose teacher and first stages it reuses; target/reproduce-quick with
    /// --quick].
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Clip lengths L in seconds [default: 2,4,6,8; 4,8 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub lengths: Option<Vec<f32>>,
    /// KD weights λ; 0 is the student without KD [default: 0,0.1,0.25,0.5; 0,0.25 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub lambdas: Option<Vec<f32>>,
    /// Students by name, or `all` [default: all; tc-resnet8,att-rnn with --quick].
    #[arg(long, value_delimiter = ',')]
    pub students: Option<Vec<String>>,
    /// Small corpora, a small teacher and short stages, in a work folder of their own.
    #[arg(long)]
    pub quick: bool,
    /// A trained teacher (a model folder, e.g. static/models/teacher) for the students to learn
    /// from, instead of training the teacher's stages; it is scored at every L as trained ones
    /// are.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Restore finished runs from, and keep each run as it finishes in, this folder (the
    /// repository's `stages/`): the students' first stages whole, each grid run's scores, so the
    /// grid resumes on another machine.
    #[arg(long)]
    pub stages: Option<PathBuf>,
    #[arg(long, default_value_t = SEED)]
    pub seed: u64,
    /// The synthesizers that speak every corpus (`synth --synthesizers`).
    #[arg(long, value_delimiter = ',', default_values_t = SYNTHESIZERS, value_parser = Synthesizer::parse)]
    pub synthesizers: Vec<Synthesizer>,
    /// Where every run trains (the report's scores are measured on the CPU).
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// One student run of the grid: a clip length L, a student and a KD weight λ.
struct GridRun {
    length: f32,
    preset: Preset,
    lambda: f32,
    job: Job,
}

/// One trained student's scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    length_s: f32,
    student: String,
    lambda: f32,
    /// On the validation split of its own length's corpus, at its best step.
    validation_accuracy: f32,
    /// The test split's scores, with their n and intervals.
    test: Evaluation,
    train_seconds: f32,
    /// Where it trained, as its job record says.
    machine: String,
}

/// A grid run's `result.json`: its cell, and what the report needs of its weights, so the
/// report can be written from kept scores alone.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ScoredRun {
    cell: Cell,
    /// The fingerprint of the test corpus's manifest it was scored on.
    test_manifest: String,
    /// Its temporal attention on its L's figure clip.
    figure_map: Option<FigureMap>,
}

/// A temporal map over frames that start at `start_s`, `frame_s` apart.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FigureMap {
    values: Vec<f32>,
    start_s: f32,
    frame_s: f32,
}

/// λ of the paper's Table 2 columns.
const PAPER_LAMBDAS: [f32; 4] = [0.0, 0.1, 0.25, 0.5];

/// One L of the paper's Table 2 (Noisy Speech Commands v2, test accuracy %): the teacher and
/// each student at the λ of `PAPER_LAMBDAS`.
struct PaperRow {
    length_s: f32,
    teacher: f32,
    students: [(&'static str, [f32; 4]); 5],
}

const PAPER_TABLE_2: [PaperRow; 4] = [
    PaperRow {
        length_s: 2.0,
        teacher: 90.59,
        students: [
            ("lstm-p", [88.73, 88.98, 89.31, 88.92]),
            ("tc-resnet8", [87.77, 88.08, 86.21, 86.27]),
            ("crnn", [89.96, 90.06, 90.00, 89.46]),
            ("att-rnn", [89.88, 91.31, 91.67, 90.94]),
            ("mhatt-rnn", [89.75, 91.25, 91.67, 91.75]),
        ],
    },
    PaperRow {
        length_s: 4.0,
        teacher: 91.22,
        students: [
            ("lstm-p", [85.19, 88.23, 88.52, 89.08]),
            ("tc-resnet8", [87.60, 88.33, 87.21, 84.62]),
            ("crnn", [89.69, 89.44, 89.46, 90.21]),
            ("att-rnn", [90.65, 91.98, 91.79, 91.58]),
            ("mhatt-rnn", [91.19, 91.58, 92.12, 91.73]),
        ],
    },
    PaperRow {
        length_s: 6.0,
        teacher: 90.93,
        students: [
            ("lstm-p", [45.27, 69.21, 85.58, 85.10]),
            ("tc-resnet8", [86.00, 86.85, 84.23, 82.10]),
            ("crnn", [88.58, 89.88, 89.29, 89.46]),
            ("att-rnn", [90.88, 90.77, 90.73, 91.19]),
            ("mhatt-rnn", [90.58, 90.96, 91.67, 91.10]),
        ],
    },
    PaperRow {
        length_s: 8.0,
        teacher: 90.95,
        students: [
            ("lstm-p", [78.44, 82.19, 34.58, 66.25]),
            ("tc-resnet8", [77.81, 85.79, 85.71, 80.15]),
            ("crnn", [88.94, 89.02, 89.79, 89.77]),
            ("att-rnn", [88.81, 90.44, 90.98, 90.75]),
            ("mhatt-rnn", [88.33, 91.50, 91.79, 91.35]),
        ],
    },
];

/// The paper's accuracy % for a student at L and λ, when Table 2 has that cell.
fn paper_cell(length: f32, student: &str, lambda: f32) -> Option<f32> {
    let at = PAPER_LAMBDAS.iter().position(|l| *l == lambda)?;
    let row = PAPER_TABLE_2.iter().find(|row| row.length_s == length)?;
    let (_, cells) = row.students.iter().find(|(name, _)| *name == student)?;
    Some(cells[at])
}

fn paper_teacher(length: f32) -> Option<f32> {
    PAPER_TABLE_2
        .iter()
        .find(|row| row.length_s == length)
        .map(|row| row.teacher)
}

pub fn reproduce(args: &ReproduceArgs) -> Result<(), String> {
    let grid = Grid::from_args(args)?;
    let started = std::time::Instant::now();
    let out = &args.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let curriculum = Curriculum::prepare(
        &grid.work,
        args.seed,
        &args.synthesizers,
        grid.sizes,
        args.teacher.as_deref(),
        args.stages.as_deref(),
        args.device.clone(),
    )?;
    let length_data: Vec<(f32, PathBuf)> = (grid.lengths.iter())
        .map(|l| Ok((*l, curriculum.length_corpus(*l)?)))
        .collect::<Result<_, String>>()?;
    let runs = grid.runs(&curriculum, &length_data);
    let scorer = Scorer::new(&curriculum, &grid.lengths)?;
    let kept = kept_results(&curriculum, &runs, &scorer)?;
    train(&curriculum, &grid, &runs, &kept, &length_data, &scorer)?;
    let (teacher_scores, scored) = score(&curriculum, &grid, &runs, kept, &scorer)?;
    let figures = draw_figures(
        out,
        curriculum.teacher(),
        &grid.lengths,
        &scorer.figure_clips,
        &scored,
    )?;
    let cells: Vec<Cell> = scored.into_iter().map(|run| run.cell).collect();
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let minutes = started.elapsed().as_secs_f32() / 60.0;
    let mut corpora: Vec<&Path> = vec![
        &curriculum.words_dir,
        &curriculum.mixed_dir,
        &curriculum.test_dir,
    ];
    corpora.extend(length_data.iter().map(|(_, dir)| dir.as_path()));
    let setup = Setup {
        command: &command,
        minutes,
        curriculum: &curriculum,
        length_recipes: (grid.lengths.iter())
            .map(|l| curriculum.length_recipe(*l))
            .collect(),
        voices: underlying_voices(&corpora)?,
    };
    let report = Report {
        command: format!("tempokd {command}"),
        minutes,
        teacher: teacher_scores,
        students: cells,
    };
    write_report(out, &setup, &report, &figures)
}

/// What the grid covers, from the command line (checked, sorted, without repeats).
struct Grid {
    lengths: Vec<f32>,
    lambdas: Vec<f32>,
    students: Vec<Preset>,
    sizes: &'static Sizes,
    work: PathBuf,
}

impl Grid {
    fn from_args(args: &ReproduceArgs) -> Result<Self, String> {
        let mut lengths = args.lengths.clone().unwrap_or(match args.quick {
            true => vec![4.0, 8.0],
            false => vec![2.0, 4.0, 6.0, 8.0],
        });
        if let Some(length) = lengths.iter().find(|l| !LENGTHS.contains(l)) {
            return Err(format!(
                "--lengths: {length} s is not a length of the test corpus ({LENGTHS:?} s)"
            ));
        }
        let mut lambdas = args.lambdas.clone().unwrap_or(match args.quick {
            true => vec![0.0, 0.25],
            false => PAPER_LAMBDAS.to_vec(),
        });
        if !lambdas.contains(&0.0) {
            return Err("--lambdas must include 0: the student without KD is the baseline".into());
        }
        if let Some(lambda) = lambdas.iter().find(|l| !(0.0..=1.0).contains(*l)) {
            return Err(format!("--lambdas: {lambda} is not a KD weight in [0, 1]"));
        }
        let names = args.students.clone().unwrap_or_else(|| match args.quick {
            true => vec!["tc-resnet8".into(), "att-rnn".into()],
            false => vec!["all".into()],
        });
        let mut students: Vec<Preset> = if names.iter().any(|s| s == "all") {
            Preset::PAPER.to_vec()
        } else {
            (names.iter())
                .map(|name| {
                    Preset::from_name(name).ok_or_else(|| format!("unknown student {name:?}"))
                })
                .collect::<Result<_, _>>()?
        };
        // A value given twice would make two jobs write one folder at once.
        for values in [&mut lengths, &mut lambdas] {
            values.sort_by(f32::total_cmp);
            values.dedup();
        }
        students.sort_by_key(|preset| Preset::PAPER.iter().position(|p| p == preset));
        students.dedup();
        let (sizes, work) = match args.quick {
            true => (&Sizes::QUICK, "target/reproduce-quick"),
            false => (&Sizes::FULL, "target/default-models"),
        };
        Ok(Self {
            lengths,
            lambdas,
            students,
            sizes,
            work: args.work.clone().unwrap_or_else(|| PathBuf::from(work)),
        })
    }

    fn run_dir(&self, length: f32, preset: Preset, lambda: f32) -> PathBuf {
        (self.work.join("reproduce"))
            .join(format!("L{length}"))
            .join(preset.name())
            .join(format!("lambda-{lambda}"))
    }

    /// Every student's second stage at every L and λ, on that L's corpus.
    fn runs(&self, curriculum: &Curriculum, length_data: &[(f32, PathBuf)]) -> Vec<GridRun> {
        let mut runs = Vec::new();
        for (length, data) in length_data {
            for preset in &self.students {
                for lambda in &self.lambdas {
                    let dir = self.run_dir(*length, *preset, *lambda);
                    runs.push(GridRun {
                        length: *length,
                        preset: *preset,
                        lambda: *lambda,
                        job: curriculum.second_stage(*preset, *lambda, data, &dir),
                    });
                }
            }
        }
        runs
    }
}

/// The scores kept in the store for each run (`None` where none are, or not for this run's
/// arguments, inputs and test corpus), so those runs are neither trained nor scored again.
fn kept_results(
    curriculum: &Curriculum,
    runs: &[GridRun],
    scorer: &Scorer<'_>,
) -> Result<Vec<Option<ScoredRun>>, String> {
    let Some(stages) = &curriculum.stages else {
        return Ok(vec![None; runs.len()]);
    };
    // A run's inputs are its first stage and the teacher: restored first, so the fingerprints
    // its kept record is checked against are those of the models the grid will use.
    let mut students: Vec<Preset> = runs.iter().map(|run| run.preset).collect();
    students.dedup();
    curriculum.restore_first_stages(&students)?;
    runs.iter()
        .map(|run| {
            let Some(place) = stages.kept(&run.job)? else {
                return Ok(None);
            };
            Ok(read_result(&place).filter(|kept| kept.test_manifest == scorer.test_manifest))
        })
        .collect()
}

/// The teacher (and the students without KD, which train beside it), the teacher's maps of the
/// training clips of every length where students with KD are left to train, then those
/// students; finished runs and runs whose scores are kept are skipped, and each run is scored
/// (and its scores kept) as soon as it finishes, so a sitting that ends mid-grid keeps them.
fn train(
    curriculum: &Curriculum,
    grid: &Grid,
    runs: &[GridRun],
    kept: &[Option<ScoredRun>],
    length_data: &[(f32, PathBuf)],
    scorer: &Scorer<'_>,
) -> Result<(), String> {
    let score_finished = |job: &Job| {
        let run = (runs.iter())
            .find(|run| run.job.dir == job.dir)
            .ok_or_else(|| format!("{} is not a run of the grid", job.dir.display()))?;
        scorer.score(run).map(|_| ())
    };
    let left: Vec<&GridRun> = (runs.iter().zip(kept))
        .filter(|(_, kept)| kept.is_none())
        .map(|(run, _)| run)
        .collect();
    let (baselines, distilled): (Vec<&GridRun>, Vec<&GridRun>) =
        left.iter().partition(|run| run.lambda == 0.0);
    let baselines: Vec<Job> = baselines.iter().map(|r| r.job.clone()).collect();
    curriculum.train_teacher(&grid.students, &baselines, &score_finished)?;
    let distilled = curriculum.unfinished(distilled.iter().map(|r| &r.job))?;
    let map_data: Vec<&(f32, PathBuf)> = (length_data.iter())
        .filter(|(_, data)| {
            distilled
                .iter()
                .any(|job| job.args.contains(&path_arg(data)))
        })
        .collect();
    println!(
        "== the teacher's maps of the training clips of {} lengths",
        map_data.len()
    );
    let device = curriculum.device.start_lead()?;
    parallel::for_each(&map_data, TRAINING_PROCESSES, |(_, data)| {
        train_and_eval::cache_teacher_maps(curriculum.teacher(), data, &device)
    })?;
    println!("== the students with KD");
    run_jobs(&distilled, &curriculum.device, &score_finished)
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The teacher at each L and every student run, on the test corpus: runs with kept scores
/// take them, the others are scored (or read from their `result.json` when it is current)
/// and their scores kept.
fn score(
    curriculum: &Curriculum,
    grid: &Grid,
    runs: &[GridRun],
    kept: Vec<Option<ScoredRun>>,
    scorer: &Scorer<'_>,
) -> Result<(Vec<TeacherScore>, Vec<ScoredRun>), String> {
    println!("== scoring on the test corpus");
    let test_dir = &curriculum.test_dir;
    let mut teacher_scores = Vec::new();
    for length in &grid.lengths {
        let (test, _) = evaluate(
            curriculum.teacher(),
            test_dir,
            Split::Test,
            Some(*length),
            Precision::F32,
            ClipLoading::Memory,
            &train_and_eval::cpu(),
        )?;
        teacher_scores.push(TeacherScore {
            length_s: *length,
            test,
        });
    }
    let to_score: Vec<(&GridRun, Option<ScoredRun>)> = runs.iter().zip(kept).collect();
    let bar = crate::progress::bar(runs.len(), "models");
    let scored = parallel::map(&to_score, TRAINING_PROCESSES, |(run, kept)| {
        let scored = match kept {
            Some(kept) => kept.clone(),
            None => scorer.score(run)?,
        };
        bar.inc(1);
        Ok::<_, String>(scored)
    })?;
    bar.finish();
    Ok((teacher_scores, scored))
}

/// Scores grid runs on the test corpus and keeps their scores in the store.
struct Scorer<'c> {
    curriculum: &'c Curriculum,
    lengths: Vec<f32>,
    test_manifest: String,
    /// Each L's figure clip, in the order of `lengths`.
    figure_clips: Vec<Option<FigureClip>>,
}

impl<'c> Scorer<'c> {
    fn new(curriculum: &'c Curriculum, lengths: &[f32]) -> Result<Self, String> {
        let test_dir = &curriculum.test_dir;
        Ok(Self {
            curriculum,
            lengths: lengths.to_vec(),
            test_manifest: manifest_fingerprint(test_dir)?,
            figure_clips: (lengths.iter())
                .map(|length| FigureClip::of(test_dir, *length))
                .collect::<Result<_, String>>()?,
        })
    }

    /// `run`'s scores, measured unless its `result.json` is current, and kept in the store.
    fn score(&self, run: &GridRun) -> Result<ScoredRun, String> {
        let figure_clip = (self.lengths.iter())
            .position(|length| *length == run.length)
            .and_then(|at| self.figure_clips[at].as_ref());
        let scored = score_run(
            run,
            &self.curriculum.test_dir,
            &self.test_manifest,
            figure_clip,
        )?;
        if let Some(stages) = &self.curriculum.stages {
            stages.keep(&run.job, Kept::Scores)?;
        }
        Ok(scored)
    }
}

/// `report.json`: every score of the report, typed.
#[derive(Serialize)]
struct Report {
    command: String,
    minutes: f32,
    teacher: Vec<TeacherScore>,
    students: Vec<Cell>,
}

/// The teacher's scores at one L.
#[derive(Serialize)]
struct TeacherScore {
    length_s: f32,
    test: Evaluation,
}

/// `report.md` and `report.json` into `out`.
fn write_report(
    out: &Path,
    setup: &Setup<'_>,
    report: &Report,
    figures: &[(f32, String)],
) -> Result<(), String> {
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(
        "report.md",
        markdown(setup, &report.teacher, &report.students, figures),
    )?;
    // Through a JSON value, as the report was always written: keys sorted, floats as their f64
    // widening.
    let value = serde_json::to_value(report).map_err(|e| e.to_string())?;
    write(
        "report.json",
        serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?,
    )?;
    println!("report: {}", out.join("report.md").display());
    Ok(())
}

/// What the report says about how its numbers were made.
struct Setup<'a> {
    command: &'a str,
    minutes: f32,
    curriculum: &'a Curriculum,
    length_recipes: Vec<String>,
    /// Underlying voices of the train, validation and test splits over every corpus.
    voices: [usize; 3],
}

/// The λ a student would be deployed with at L: the best validation accuracy among λ > 0.
fn best_kd<'c>(cells: &'c [Cell], length: f32, student: &str) -> Option<&'c Cell> {
    cells
        .iter()
        .filter(|c| c.length_s == length && c.student == student && c.lambda > 0.0)
        .max_by(|a, b| a.validation_accuracy.total_cmp(&b.validation_accuracy))
}

fn baseline<'c>(cells: &'c [Cell], length: f32, student: &str) -> Option<&'c Cell> {
    cells
        .iter()
        .find(|c| c.length_s == length && c.student == student && c.lambda == 0.0)
}

/// Whether two cells' accuracy intervals overlap (the difference is within the noise).
fn overlap(a: &Cell, b: &Cell) -> bool {
    let (a, b) = (a.test.accuracy_interval, b.test.accuracy_interval);
    a.low <= b.high && b.low <= a.high
}

fn markdown(
    setup: &Setup<'_>,
    teacher: &[TeacherScore],
    cells: &[Cell],
    figures: &[(f32, String)],
) -> String {
    let columns = Columns::of(cells);
    let comparisons = compare(teacher, cells, &columns);
    let mut out = setup_section(setup, teacher, cells);
    out += &scores_table(teacher, cells, &columns);
    out += &shape_table(&comparisons);
    out += &agreement_list(teacher, cells, &comparisons);
    out += &figures_section(figures);
    out
}

/// The λ and students the cells cover, in order.
struct Columns<'c> {
    lambdas: Vec<f32>,
    students: Vec<&'c str>,
}

impl<'c> Columns<'c> {
    fn of(cells: &'c [Cell]) -> Self {
        let mut lambdas: Vec<f32> = cells.iter().map(|c| c.lambda).collect();
        lambdas.sort_by(f32::total_cmp);
        lambdas.dedup();
        let mut students: Vec<&str> = Vec::new();
        for cell in cells {
            if !students.contains(&cell.student.as_str()) {
                students.push(&cell.student);
            }
        }
        Self { lambdas, students }
    }
}

/// How the report's numbers were made: the command, the voices, the stages and the corpora.
fn setup_section(setup: &Setup<'_>, teacher: &[TeacherScore], cells: &[Cell]) -> String {
    let mut out = String::new();
    let curriculum = setup.curriculum;
    let sizes = curriculum.sizes;
    let [train_voices, validation_voices, test_voices] = setup.voices;
    let [words_budget, restart_budget, mixed_budget] = sizes.teacher;
    let teacher_text = match &curriculum.given_teacher {
        Some(dir) => format!(
            "The teacher is the one in `{}`, given to this command (`--teacher`) and not \
             retrained here; its card says how it was trained, on corpora of the same seed and \
             voices.",
            dir.display()
        ),
        None => format!(
            "The teacher ({} transformer layers of width {}, {} convolution channels) trained \
             in three stages: {} steps of {} clips of 1 s, {} more from those weights with the \
             rate raised again, then {} steps of {} clips of every length.",
            sizes.teacher_shape.layers,
            sizes.teacher_shape.hidden,
            sizes.teacher_shape.conv_channels,
            words_budget.steps,
            words_budget.batch,
            restart_budget.steps,
            mixed_budget.steps,
            mixed_budget.batch,
        ),
    };
    let _ = writeln!(out, "# Temporal KD on Synthetic Noisy Keywords\n");
    let _ = writeln!(
        out,
        "Command: `tempokd {}` ({:.1} minutes on this machine, {}).\n",
        setup.command,
        setup.minutes,
        crate::jobs::this_machine()
    );
    let mut machines: Vec<&str> = cells.iter().map(|cell| cell.machine.as_str()).collect();
    machines.sort();
    machines.dedup();
    let _ = writeln!(
        out,
        "The {} student runs of the grid trained for {:.0} minutes in all (two at a time), on {}; \
         runs finished in earlier sittings were taken from the store of \
         finished runs (`--stages`), not retrained.\n",
        cells.len(),
        cells.iter().map(|cell| cell.train_seconds).sum::<f32>() / 60.0,
        machines.join("; ")
    );
    let _ = writeln!(
        out,
        "Voices split by underlying voice (espeak-ng accent + variant, recorded speaker): \
         {train_voices} in training, {validation_voices} in validation, {test_voices} in test, \
         none in two splits. {teacher_text} Each \
         student first learns the words on 1 s clips without KD ({} steps of {} for TC-ResNet, \
         {} of {} for the recurrent students), then, from those weights, one run per clip \
         length L and KD weight λ on clips of that length ({} steps of {} for TC-ResNet, {} of \
         {} for the recurrent students), as in the paper, which trains a student per L. The \
         teacher is one for every L (the paper's may not be). Cells: test accuracy % (Wilson \
         95 % interval) / attention localisation, the share of the map inside the keyword \
         window (bootstrap 95 % interval over clips), on the test split, whose underlying \
         voices no stage trained on ({} clips per length). Best λ: the λ > 0 with the best \
         validation accuracy at that L, as a user would choose it without the test split. \
         Corpora:\n\n```\n{}\n{}\n{}\n{}\n```\n",
        sizes.convolutional[0].steps,
        sizes.convolutional[0].batch,
        sizes.recurrent[0].steps,
        sizes.recurrent[0].batch,
        sizes.convolutional[1].steps,
        sizes.convolutional[1].batch,
        sizes.recurrent[1].steps,
        sizes.recurrent[1].batch,
        teacher.first().map_or(0, |score| score.test.n),
        curriculum.words.command(&curriculum.words_dir),
        curriculum.mixed.command(&curriculum.mixed_dir),
        curriculum.test.command(&curriculum.test_dir),
        setup.length_recipes.join("\n"),
    );
    out
}

/// The grid beside the paper's Table 2: the teacher and every student at every L and λ.
fn scores_table(teacher: &[TeacherScore], cells: &[Cell], columns: &Columns<'_>) -> String {
    let mut out = String::new();
    let lambdas = &columns.lambdas;
    let header: Vec<String> = lambdas.iter().map(|l| format!("λ = {l}")).collect();
    let _ = writeln!(
        out,
        "| L | model | {} | best λ | paper, λ = {} |",
        header.join(" | "),
        PAPER_LAMBDAS.map(|l| l.to_string()).join(" / ")
    );
    let _ = writeln!(out, "|---|---|{}---|---|", "---|".repeat(lambdas.len()));
    for TeacherScore {
        length_s: length,
        test,
    } in teacher
    {
        let _ = writeln!(
            out,
            "| {length} s | teacher | {} |{} {} |",
            train_and_eval::score_text(test),
            " |".repeat(lambdas.len()),
            paper_teacher(*length).map_or("–".into(), |a| format!("{a:.2}"))
        );
        for student in &columns.students {
            let row: Vec<String> = lambdas
                .iter()
                .map(|lambda| {
                    cells
                        .iter()
                        .find(|c| {
                            c.length_s == *length && c.student == *student && c.lambda == *lambda
                        })
                        .map_or("–".into(), |c| train_and_eval::score_text(&c.test))
                })
                .collect();
            let best =
                best_kd(cells, *length, student).map_or("–".into(), |c| c.lambda.to_string());
            let paper: Vec<String> = PAPER_LAMBDAS
                .iter()
                .map(|l| {
                    paper_cell(*length, student, *l).map_or("–".into(), |a| format!("{a:.2}"))
                })
                .collect();
            let _ = writeln!(
                out,
                "| {length} s | {student} | {} | {best} | {} |",
                row.join(" | "),
                paper.join(" / ")
            );
        }
    }
    out
}

/// One student at one L: KD at its best λ (on validation) against no KD, beside the paper.
struct Comparison<'c> {
    length: f32,
    student: &'c str,
    kd: &'c Cell,
    base: &'c Cell,
    /// Test accuracy points gained with KD.
    gain: f32,
    /// The paper's best λ among those run here, with its accuracy.
    paper_best: Option<(f32, f32)>,
    paper_gain: Option<f32>,
    /// The λ > 0 with the best test accuracy.
    test_best: Option<&'c Cell>,
}

fn compare<'c>(
    teacher: &[TeacherScore],
    cells: &'c [Cell],
    columns: &Columns<'c>,
) -> Vec<Comparison<'c>> {
    let mut comparisons = Vec::new();
    for length in teacher.iter().map(|score| score.length_s) {
        for student in &columns.students {
            let (Some(kd), Some(base)) = (
                best_kd(cells, length, student),
                baseline(cells, length, student),
            ) else {
                continue;
            };
            let paper_base = paper_cell(length, student, 0.0);
            // Among the λ this grid ran, so both sides choose from the same columns.
            let paper_best = (columns.lambdas.iter())
                .filter(|l| **l > 0.0)
                .filter_map(|l| paper_cell(length, student, *l).map(|a| (*l, a)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            comparisons.push(Comparison {
                length,
                student,
                kd,
                base,
                gain: 100.0 * (kd.test.accuracy - base.test.accuracy),
                paper_best,
                paper_gain: paper_base.zip(paper_best).map(|(b, (_, a))| a - b),
                test_best: (cells.iter())
                    .filter(|c| c.length_s == length && c.student == *student && c.lambda > 0.0)
                    .max_by(|a, b| a.test.accuracy.total_cmp(&b.test.accuracy)),
            });
        }
    }
    comparisons
}

/// KD at the best λ against no KD, cell by cell, beside the paper's gain.
fn shape_table(comparisons: &[Comparison<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## The paper's shape, cell by cell\n");
    let _ = writeln!(
        out,
        "KD at the best λ (chosen on validation) against no KD, beside the paper's gain at its \
         own best λ (the paper reports test accuracy only, so its best λ is the best on test).\n"
    );
    let _ = writeln!(
        out,
        "| L | student | best λ | accuracy, KD − no KD | intervals | localisation, KD − no KD | paper: best λ, KD − no KD | best λ on test |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for comparison in comparisons {
        let Comparison {
            length,
            student,
            kd,
            base,
            gain,
            ..
        } = comparison;
        let localisation = (kd.test.attention_in_window)
            .zip(base.test.attention_in_window)
            .map_or("n/a".into(), |(a, b)| format!("{:+.2}", a - b));
        let on_test = (comparison.test_best).map_or("–".into(), |c| c.lambda.to_string());
        let _ = writeln!(
            out,
            "| {length} s | {student} | {} | {gain:+.1} points | {} | {localisation} | {} | {on_test} |",
            kd.lambda,
            if overlap(kd, base) {
                "overlap"
            } else {
                "**apart**"
            },
            (comparison.paper_best)
                .zip(comparison.paper_gain)
                .map_or("–".into(), |((l, _), g)| format!("{l}: {g:+.2}")),
        );
    }
    out
}

/// Where the grid agrees with the paper's findings and where it does not.
fn agreement_list(
    teacher: &[TeacherScore],
    cells: &[Cell],
    comparisons: &[Comparison<'_>],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Where the shape agrees and where it does not\n");
    let helped = comparisons.iter().filter(|c| c.gain > 0.0).count();
    let _ = writeln!(
        out,
        "- **KD helps at the best λ**: the paper, in {} of {} cells; here, higher \
         accuracy with KD in {helped} of {} cells (see the table above for which differences \
         are outside the intervals).",
        (comparisons.iter())
            .filter(|c| c.paper_gain.is_some_and(|p| p > 0.0))
            .count(),
        comparisons
            .iter()
            .filter(|c| c.paper_gain.is_some())
            .count(),
        comparisons.len()
    );
    let mut by_length = String::new();
    for length in teacher.iter().map(|score| score.length_s) {
        let at_length = || comparisons.iter().filter(move |c| c.length == length);
        let here: Vec<f32> = at_length().map(|c| c.gain).collect();
        let paper: Vec<f32> = at_length().filter_map(|c| c.paper_gain).collect();
        let mean = |values: &[f32]| match values.len() {
            0 => "–".to_string(),
            n => format!("{:+.1}", values.iter().sum::<f32>() / n as f32),
        };
        let _ = write!(
            by_length,
            "{}L = {length} s: {} here, {} in the paper",
            if by_length.is_empty() { "" } else { "; " },
            mean(&here),
            mean(&paper)
        );
    }
    let _ = writeln!(
        out,
        "- **Gains are largest on long clips**: mean gain in points over the students, {by_length}."
    );
    let mut hurt = Vec::new();
    for base in cells.iter().filter(|c| c.lambda == 0.0) {
        for kd in cells
            .iter()
            .filter(|c| c.lambda > 0.0 && c.length_s == base.length_s && c.student == base.student)
        {
            if kd.test.accuracy < base.test.accuracy && !overlap(kd, base) {
                hurt.push(format!(
                    "{} at L = {} s, λ = {} ({:+.1} points)",
                    kd.student,
                    kd.length_s,
                    kd.lambda,
                    100.0 * (kd.test.accuracy - base.test.accuracy)
                ));
            }
        }
    }
    let _ = writeln!(
        out,
        "- **A wrong λ can hurt**: in the paper most at LSTM-P, L = 8 s, λ = 0.25 (78.44 → \
         34.58); here, KD below no KD with intervals apart in {} of {} runs with KD{}.",
        hurt.len(),
        cells.iter().filter(|c| c.lambda > 0.0).count(),
        match hurt.is_empty() {
            true => String::new(),
            false => format!(": {}", hurt.join("; ")),
        }
    );
    let disagreeing: Vec<&Comparison<'_>> = (comparisons.iter())
        .filter(|c| c.test_best.is_some_and(|best| best.lambda != c.kd.lambda))
        .collect();
    let within = (disagreeing.iter())
        .filter(|c| c.test_best.is_some_and(|best| overlap(best, c.kd)))
        .count();
    let _ = writeln!(
        out,
        "- **Validation and test**: the best λ on validation is not the best on test in \
         {} of {} cells, and in {within} of those the two λ's test accuracy intervals overlap.",
        disagreeing.len(),
        comparisons.len()
    );
    out
}

fn figures_section(figures: &[(f32, String)]) -> String {
    let mut out = String::new();
    if !figures.is_empty() {
        let _ = writeln!(out, "\n## Attention maps on test clips\n");
        for (length, file) in figures {
            let _ = writeln!(out, "![L = {length} s]({file})\n");
        }
    }
    out
}

/// The clip each L's figure shows: the first test clip of that length with the word "yes",
/// or any with a word.
struct FigureClip {
    file: String,
    labels: Vec<String>,
    window: Option<tempokd::data::Window>,
    samples: Vec<f32>,
}

impl FigureClip {
    fn of(test_dir: &Path, length: f32) -> Result<Option<Self>, String> {
        let mut dataset = Dataset::open(test_dir).map_err(|e| e.to_string())?;
        dataset
            .keep_length(Split::Test, length)
            .map_err(|e| e.to_string())?;
        let Some(example) = dataset
            .split(Split::Test)
            .find(|e| e.window.is_some() && e.labels.iter().any(|l| l == "yes"))
            .or_else(|| dataset.split(Split::Test).find(|e| e.window.is_some()))
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            file: example.file.clone(),
            labels: example.labels.clone(),
            window: example.window,
            samples: dataset.audio(example).map_err(|e| e.to_string())?,
        }))
    }
}

/// For each L: the teacher's map and, for every student, its map without KD and with KD at
/// its best λ, on that L's figure clip.
fn draw_figures(
    out: &Path,
    teacher_dir: &Path,
    lengths: &[f32],
    figure_clips: &[Option<FigureClip>],
    scored: &[ScoredRun],
) -> Result<Vec<(f32, String)>, String> {
    let device = ComputeDevice::cpu("the command line runs on the CPU").device;
    let teacher = Teacher::load_dir(teacher_dir, &device).map_err(|e| e.to_string())?;
    let rollout = teacher.default_rollout();
    std::fs::create_dir_all(out.join("figures")).map_err(|e| e.to_string())?;
    let cells: Vec<Cell> = scored.iter().map(|run| run.cell.clone()).collect();
    let mut figures = Vec::new();
    for (clip, length) in figure_clips.iter().zip(lengths.iter().copied()) {
        let Some(clip) = clip else {
            continue;
        };
        let target = pollster::block_on(tempokd::train::teacher_target(
            &teacher,
            &clip.samples,
            &rollout,
        ))
        .map_err(|e| e.to_string())?;
        let mut rows = vec![MapRow {
            name: "teacher (rollout)".into(),
            map: target.map,
            start_s: 0.0,
            frame_s: teacher.frame_s(),
        }];
        for student in Columns::of(&cells).students {
            let chosen = [
                baseline(&cells, length, student),
                best_kd(&cells, length, student),
            ];
            for cell in chosen.into_iter().flatten() {
                let figure_map = scored
                    .iter()
                    .find(|run| same_cell(&run.cell, cell))
                    .and_then(|run| run.figure_map.as_ref());
                if let Some(map) = figure_map {
                    rows.push(MapRow {
                        name: format!("{student} λ={}", cell.lambda),
                        map: map.values.clone(),
                        start_s: map.start_s,
                        frame_s: map.frame_s,
                    });
                }
            }
        }
        let file = format!(
            "figures/L{length}-{}.svg",
            clip.labels.join("+").trim_matches('_')
        );
        attention_figure(
            &out.join(&file),
            &format!(
                "{} (\"{}\"), L = {length} s",
                clip.file,
                clip.labels.join(", ")
            ),
            clip.samples.len() as f32 / MODEL_SAMPLE_RATE as f32,
            clip.window,
            &rows,
        )?;
        figures.push((length, file));
    }
    Ok(figures)
}

fn same_cell(a: &Cell, b: &Cell) -> bool {
    a.length_s == b.length_s && a.student == b.student && a.lambda == b.lambda
}

fn manifest_fingerprint(corpus: &Path) -> Result<String, String> {
    let path = corpus.join("manifest.csv");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes_fingerprint(&bytes))
}

fn read_result(dir: &Path) -> Option<ScoredRun> {
    let text = std::fs::read_to_string(dir.join(RESULT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A trained student's scores on the test corpus's clips of its length and its map of the
/// figure clip, measured once and kept in `result.json` (measured again when the run is newer
/// or the test corpus another).
fn score_run(
    run: &GridRun,
    test_dir: &Path,
    test_manifest: &str,
    figure_clip: Option<&FigureClip>,
) -> Result<ScoredRun, String> {
    let dir = &run.job.dir;
    let result_path = dir.join(RESULT_FILE);
    let current = modified(&result_path) >= modified(&dir.join(TRAINING_RECORD_FILE));
    if let Some(scored) =
        read_result(dir).filter(|scored| current && scored.test_manifest == test_manifest)
    {
        return Ok(scored);
    }
    let (test, _) = evaluate(
        dir,
        test_dir,
        Split::Test,
        Some(run.length),
        Precision::F32,
        ClipLoading::Memory,
        &train_and_eval::cpu(),
    )?;
    let record = TrainingRecord::<CommonSettings>::read(dir).map_err(|e| e.to_string())?;
    let figure_map = match figure_clip {
        Some(clip) => {
            let device = ComputeDevice::cpu("the command line runs on the CPU").device;
            let student = Student::load_dir(dir, &device).map_err(|e| e.to_string())?;
            let inference = pollster::block_on(
                student.infer(&clip.samples, tempokd::students::AttentionRequest::Mean),
            )
            .map_err(|e| e.to_string())?;
            Some(FigureMap {
                values: inference.attention.unwrap_or_default(),
                start_s: inference.axis.start_s,
                frame_s: inference.axis.frame_s,
            })
        }
        None => None,
    };
    let scored = ScoredRun {
        cell: Cell {
            length_s: run.length,
            student: run.preset.name().to_string(),
            lambda: run.lambda,
            validation_accuracy: record.validation.map_or(0.0, |v| v.accuracy),
            test,
            train_seconds: record.seconds,
            machine: JobRecord::read(dir).map_or_else(String::new, |job| job.machine),
        },
        test_manifest: test_manifest.to_string(),
        figure_map,
    };
    std::fs::write(
        &result_path,
        serde_json::to_string_pretty(&scored).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", result_path.display()))?;
    Ok(scored)
}
