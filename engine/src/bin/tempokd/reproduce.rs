//! `tempokd reproduce`: the paper's experiment on Synthetic Noisy Keywords, end to end. Every
//! stage writes its result beside its model, so an interrupted run resumes where it stopped.

use crate::figures::{MapRow, attention_figure};
use crate::jobs::{
    Corpus, StudentBudget, StudentRun, TRAINING_PROCESSES, TeacherStage, run_jobs,
    underlying_voices,
};
use crate::training::{self, evaluate};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tempokd::data::augment::Augmentation;
use tempokd::data::{Dataset, Split};
use tempokd::device::ComputeDevice;
use tempokd::parallel;
use tempokd::students::{Preset, Student};
use tempokd::teacher::{Teacher, TeacherShape};
use tempokd::train::Evaluation;

#[derive(Args, Clone)]
pub struct ReproduceArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Clip lengths L in seconds [default: 2,4,6,8; 4,8 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub lengths: Option<Vec<f32>>,
    /// KD weights λ; 0 is the student without KD [default: 0,0.1,0.25,0.5; 0,0.25 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub lambdas: Option<Vec<f32>>,
    /// Students by name, or `all` [default: all; tc-resnet8,att-rnn with --quick].
    #[arg(long, value_delimiter = ',')]
    pub students: Option<Vec<String>>,
    /// A run that finishes in under 30 minutes on 2 CPU cores: fewer clips and steps, and by
    /// default one convolutional and one recurrent student (the recurrent students' training
    /// steps are slow on burn's CPU backend).
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Sizes of one run.
struct Budget {
    per_class: usize,
    voices: usize,
    /// The teacher learns the words first on 1 s clips, where the word fills most of the clip,
    /// then where it is in clips of every length: (steps, batch) of each stage.
    teacher_short: (usize, usize),
    teacher_mixed: (usize, usize),
    /// Clips per class of the 1 s corpus: cheap to make, and the short stage sees many.
    short_per_class: usize,
    /// Steps and batch size of TC-ResNet, whose steps are cheap.
    convolutional: (usize, usize),
    /// Steps and batch size of the recurrent students (LSTM-P, CRNN, Att-RNN, MHAtt-RNN).
    recurrent: (usize, usize),
    eval_every: usize,
}

impl Budget {
    fn new(quick: bool) -> Self {
        match quick {
            true => Self {
                per_class: 200,
                voices: 300,
                teacher_short: (1000, 16),
                teacher_mixed: (400, 8),
                short_per_class: 600,
                convolutional: (1000, 32),
                recurrent: (200, 16),
                eval_every: 50,
            },
            false => Self {
                per_class: 600,
                voices: 400,
                teacher_short: (3000, 16),
                teacher_mixed: (3000, 8),
                short_per_class: 1500,
                convolutional: (2000, 100),
                recurrent: (2000, 100),
                eval_every: 200,
            },
        }
    }

    fn student(&self, preset: Preset) -> (usize, usize) {
        match preset {
            Preset::TcResNet8 | Preset::TcResNet14 => self.convolutional,
            _ => self.recurrent,
        }
    }
}

/// One trained student's scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    length_s: f32,
    student: String,
    lambda: f32,
    validation_accuracy: f32,
    /// The test split's scores, with their n and intervals.
    test: Evaluation,
    train_seconds: f32,
}

pub fn reproduce(args: &ReproduceArgs) -> Result<(), String> {
    let budget = Budget::new(args.quick);
    let lengths = args.lengths.clone().unwrap_or(match args.quick {
        true => vec![4.0, 8.0],
        false => vec![2.0, 4.0, 6.0, 8.0],
    });
    let lambdas = args.lambdas.clone().unwrap_or(match args.quick {
        true => vec![0.0, 0.25],
        false => vec![0.0, 0.1, 0.25, 0.5],
    });
    if !lambdas.contains(&0.0) {
        return Err("--lambdas must include 0: the student without KD is the baseline".into());
    }
    let names = args.students.clone().unwrap_or_else(|| match args.quick {
        true => vec!["tc-resnet8".into(), "att-rnn".into()],
        false => vec!["all".into()],
    });
    let students: Vec<Preset> = if names.iter().any(|s| s == "all") {
        Preset::PAPER.to_vec()
    } else {
        names
            .iter()
            .map(|name| Preset::from_name(name).ok_or_else(|| format!("unknown student {name:?}")))
            .collect::<Result<_, _>>()?
    };
    let started = std::time::Instant::now();
    let out = &args.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;

    // Data: one corpus per length for the students, one of mixed lengths for the teacher.
    let corpus = |lengths: Vec<f32>, per_class: usize| Corpus {
        lengths,
        per_class,
        voices: budget.voices,
        seed: args.seed,
        augment: Augmentation::all(),
        splits: Split::ALL.to_vec(),
    };
    let data_dir = out.join("data");
    let short_data =
        corpus(vec![1.0], budget.short_per_class).made_in(data_dir.join("teacher-1s"))?;
    let mut teacher_lengths = vec![1.0, 2.0];
    teacher_lengths.extend(lengths.iter().copied().filter(|l| *l > 2.0));
    let teacher_data =
        corpus(teacher_lengths, budget.per_class).made_in(data_dir.join("teacher-mixed"))?;
    let length_data: Vec<(f32, PathBuf)> = lengths
        .iter()
        .map(|l| {
            let dir = data_dir.join(format!("L{l}"));
            Ok((*l, corpus(vec![*l], budget.per_class).made_in(dir)?))
        })
        .collect::<Result<_, String>>()?;

    let teacher_dir = out.join("teacher");
    let student_dir = |length: f32, preset: Preset, lambda: f32| {
        out.join("students")
            .join(format!("L{length}"))
            .join(preset.name())
            .join(format!("lambda-{lambda}"))
    };
    let mut baseline_jobs = Vec::new();
    let mut kd_jobs = Vec::new();
    for (length, data) in &length_data {
        for preset in &students {
            for lambda in &lambdas {
                let dir = student_dir(*length, *preset, *lambda);
                let (steps, batch) = budget.student(*preset);
                let job = StudentRun {
                    preset: *preset,
                    data,
                    out: &dir,
                    lambda: *lambda,
                    teacher: &teacher_dir,
                    budget: StudentBudget {
                        steps,
                        batch,
                        lr: 1e-3,
                        lr_after: 1e-4,
                        eval_every: budget.eval_every,
                    },
                    seed: args.seed,
                    init: None,
                }
                .job();
                if dir.join("result.json").is_file() && job.finished() {
                    continue;
                }
                match *lambda > 0.0 {
                    true => kd_jobs.push(job),
                    false => baseline_jobs.push(job),
                }
            }
        }
    }
    // The teacher's stages run one after the other, each beside half of the students without KD.
    let short_teacher_dir = out.join("teacher-1s");
    let teacher_stage =
        |data: &Path, dir: &Path, (steps, batch): (usize, usize), init: Option<&Path>| {
            TeacherStage {
                data,
                out: dir,
                steps,
                batch,
                lr: if init.is_some() { 5e-4 } else { 1e-3 },
                warmup: steps / 20,
                eval_every: budget.eval_every * 4,
                seed: args.seed,
                init,
                shape: TeacherShape::default(),
            }
            .job()
        };
    let mut second_jobs = baseline_jobs.split_off(baseline_jobs.len() / 2);
    let mut first_jobs = baseline_jobs;
    let short_stage = teacher_stage(&short_data, &short_teacher_dir, budget.teacher_short, None);
    let mixed_stage = teacher_stage(
        &teacher_data,
        &teacher_dir,
        budget.teacher_mixed,
        Some(&short_teacher_dir),
    );
    if !mixed_stage.finished() {
        if !short_stage.finished() {
            first_jobs.insert(0, short_stage);
        }
        second_jobs.insert(0, mixed_stage);
    }
    println!("== training the teacher on 1 s clips and half of the students without KD");
    run_jobs(&first_jobs)?;
    println!("== training the teacher on clips of every length and the other students without KD");
    run_jobs(&second_jobs)?;
    println!("== the teacher's maps of every training clip");
    parallel::for_each(&length_data, TRAINING_PROCESSES, |(_, data)| {
        training::cache_teacher_maps(&teacher_dir, data)
    })?;
    println!("== training the students with KD");
    run_jobs(&kd_jobs)?;

    let mut teacher_scores = Vec::new();
    let mut cells = Vec::new();
    for (length, data) in &length_data {
        let (teacher_eval, _) = evaluate(&teacher_dir, data, Split::Test, None)?;
        teacher_scores.push((*length, teacher_eval));
        for preset in &students {
            for lambda in &lambdas {
                let dir = student_dir(*length, *preset, *lambda);
                cells.push(score_cell(&dir, data, *length, *preset, *lambda)?);
            }
        }
    }

    let figures = draw_figures(out, &teacher_dir, &length_data, &students, &cells)?;
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let minutes = started.elapsed().as_secs_f32() / 60.0;
    let mut corpora: Vec<&Path> = vec![short_data.as_path(), teacher_data.as_path()];
    corpora.extend(length_data.iter().map(|(_, dir)| dir.as_path()));
    let report = markdown(
        &command,
        minutes,
        &budget,
        underlying_voices(&corpora)?,
        &teacher_scores,
        &cells,
        &figures,
    );
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("report.md", report)?;
    write(
        "report.json",
        serde_json::to_string_pretty(&json!({
            "command": format!("tempokd {command}"),
            "minutes": minutes,
            "teacher": teacher_scores.iter().map(|(l, e)| json!({"length_s": l, "test": e})).collect::<Vec<_>>(),
            "students": cells,
        }))
        .unwrap_or_default(),
    )?;
    println!("report: {}", out.join("report.md").display());
    Ok(())
}

/// The λ a student would be deployed with: the best validation accuracy among λ > 0.
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

fn markdown(
    command: &str,
    minutes: f32,
    budget: &Budget,
    [train_voices, validation_voices, test_voices]: [usize; 3],
    teacher: &[(f32, Evaluation)],
    cells: &[Cell],
    figures: &[(f32, String)],
) -> String {
    let mut out = String::new();
    // Accuracy with its Wilson interval, localisation with its bootstrap interval.
    let score = |e: &Evaluation| {
        format!(
            "{} / {}",
            training::accuracy_text(e, 1),
            training::localisation_text(e, 2).unwrap_or_else(|| "–".into())
        )
    };
    let _ = writeln!(out, "# Temporal KD on Synthetic Noisy Keywords\n");
    let _ = writeln!(
        out,
        "Command: `tempokd {command}` ({minutes:.1} minutes on this machine).\n"
    );
    let _ = writeln!(
        out,
        "{} clips per class per corpus, {} voices split by underlying voice (espeak-ng accent + \
         variant, flite speaker: {train_voices} in training, {validation_voices} in validation, \
         {test_voices} in test, none in two splits); teacher {} steps of \
         batch {} on 1 s clips ({} per class), then {} steps of batch {} on clips of mixed \
         lengths; TC-ResNet {} steps of batch {}, recurrent students \
         {} steps of batch {}; scores on the test split, whose underlying voices are never \
         trained on ({} clips per length). Cells: test accuracy % (Wilson 95 % interval) / \
         attention localisation, the share of the map inside the keyword window (bootstrap 95 % \
         interval over clips). Best λ: the λ > 0 with the best validation accuracy.\n",
        budget.per_class,
        budget.voices,
        budget.teacher_short.0,
        budget.teacher_short.1,
        budget.short_per_class,
        budget.teacher_mixed.0,
        budget.teacher_mixed.1,
        budget.convolutional.0,
        budget.convolutional.1,
        budget.recurrent.0,
        budget.recurrent.1,
        teacher.first().map_or(0, |(_, e)| e.n)
    );
    let mut lambdas: Vec<f32> = cells.iter().map(|c| c.lambda).collect();
    lambdas.sort_by(f32::total_cmp);
    lambdas.dedup();
    let mut students: Vec<&str> = Vec::new();
    for cell in cells {
        if !students.contains(&cell.student.as_str()) {
            students.push(&cell.student);
        }
    }
    let header: Vec<String> = lambdas.iter().map(|l| format!("λ = {l}")).collect();
    let _ = writeln!(out, "| L | model | {} | best λ |", header.join(" | "));
    let _ = writeln!(out, "|---|---|{}---|", "---|".repeat(lambdas.len()));
    for (length, evaluation) in teacher {
        let _ = writeln!(
            out,
            "| {length} s | teacher | {} |{}",
            score(evaluation),
            " |".repeat(lambdas.len())
        );
        for student in &students {
            let row: Vec<String> = lambdas
                .iter()
                .map(|lambda| {
                    cells
                        .iter()
                        .find(|c| {
                            c.length_s == *length && c.student == *student && c.lambda == *lambda
                        })
                        .map_or("–".into(), |c| score(&c.test))
                })
                .collect();
            let best =
                best_kd(cells, *length, student).map_or("–".into(), |c| c.lambda.to_string());
            let _ = writeln!(
                out,
                "| {length} s | {student} | {} | {best} |",
                row.join(" | ")
            );
        }
    }
    let _ = writeln!(out, "\n## KD at the best λ against no KD\n");
    for (length, _) in teacher {
        for student in &students {
            let (Some(kd), Some(base)) = (
                best_kd(cells, *length, student),
                baseline(cells, *length, student),
            ) else {
                continue;
            };
            let accuracy = 100.0 * (kd.test.accuracy - base.test.accuracy);
            let localisation = kd
                .test
                .attention_in_window
                .zip(base.test.attention_in_window)
                .map(|(a, b)| a - b);
            let verdict = match (accuracy >= 0.0, localisation.is_none_or(|d| d >= 0.0)) {
                (true, true) => "at least as good on both",
                (false, true) => "**accuracy lower with KD**",
                (true, false) => "**localisation lower with KD**",
                (false, false) => "**both lower with KD**",
            };
            let (k, b) = (kd.test.accuracy_interval, base.test.accuracy_interval);
            let overlap = k.low <= b.high && b.low <= k.high;
            let verdict = format!(
                "{verdict}; the accuracy intervals {}",
                if overlap { "overlap" } else { "do not overlap" }
            );
            let _ = writeln!(
                out,
                "- L = {length} s, {student}, λ = {}: accuracy {accuracy:+.1} points, localisation {}: {verdict}",
                kd.lambda,
                localisation.map_or("n/a".into(), |d| format!("{d:+.2}"))
            );
        }
    }
    if !figures.is_empty() {
        let _ = writeln!(out, "\n## Attention maps on test clips\n");
        for (length, file) in figures {
            let _ = writeln!(out, "![L = {length} s]({file})\n");
        }
    }
    out
}

/// One figure per length: the first test clip with a keyword, teacher and every student at
/// λ = 0 and at its best λ.
fn draw_figures(
    out: &Path,
    teacher_dir: &Path,
    length_data: &[(f32, PathBuf)],
    students: &[Preset],
    cells: &[Cell],
) -> Result<Vec<(f32, String)>, String> {
    let device = ComputeDevice::cpu("the command line runs on the CPU").device;
    let teacher = Teacher::load_dir(teacher_dir, &device).map_err(|e| e.to_string())?;
    let rollout = teacher.default_rollout();
    std::fs::create_dir_all(out.join("figures")).map_err(|e| e.to_string())?;
    let mut figures = Vec::new();
    for (length, data) in length_data {
        let dataset = Dataset::open(data).map_err(|e| e.to_string())?;
        let Some(example) = dataset
            .split(Split::Test)
            .find(|e| e.window.is_some() && e.labels.iter().any(|l| l == "yes"))
            .or_else(|| dataset.split(Split::Test).find(|e| e.window.is_some()))
        else {
            continue;
        };
        let samples = dataset.audio(example).map_err(|e| e.to_string())?;
        let target =
            pollster::block_on(tempokd::train::teacher_target(&teacher, &samples, &rollout))
                .map_err(|e| e.to_string())?;
        let mut rows = vec![MapRow {
            name: "teacher (rollout)".into(),
            map: target.map,
            start_s: 0.0,
            frame_s: teacher.frame_s(),
        }];
        for preset in students {
            let chosen = [
                baseline(cells, *length, preset.name()),
                best_kd(cells, *length, preset.name()),
            ];
            for cell in chosen.into_iter().flatten() {
                let dir = out
                    .join("students")
                    .join(format!("L{length}"))
                    .join(preset.name())
                    .join(format!("lambda-{}", cell.lambda));
                let student = Student::load_dir(&dir, &device).map_err(|e| e.to_string())?;
                let inference = pollster::block_on(
                    student.infer(&samples, tempokd::students::AttentionRequest::Mean),
                )
                .map_err(|e| e.to_string())?;
                rows.push(MapRow {
                    name: format!("{} λ={}", preset.name(), cell.lambda),
                    map: inference.attention.unwrap_or_default(),
                    start_s: inference.axis.start_s,
                    frame_s: inference.axis.frame_s,
                });
            }
        }
        let file = format!(
            "figures/L{length}-{}.svg",
            example.labels.join("+").trim_matches('_')
        );
        attention_figure(
            &out.join(&file),
            &format!(
                "{} (\"{}\"), L = {length} s",
                example.file,
                example.labels.join(", ")
            ),
            samples.len() as f32 / 16_000.0,
            example.window,
            &rows,
        )?;
        figures.push((*length, file));
    }
    Ok(figures)
}

/// A trained student's scores, measured once and kept in `result.json`.
fn score_cell(
    dir: &Path,
    data: &Path,
    length: f32,
    preset: Preset,
    lambda: f32,
) -> Result<Cell, String> {
    let result_path = dir.join("result.json");
    if let Some(cell) = std::fs::read_to_string(&result_path)
        .ok()
        .and_then(|t| serde_json::from_str::<Cell>(&t).ok())
    {
        return Ok(cell);
    }
    let (test, _) = evaluate(dir, data, Split::Test, None)?;
    let record: serde_json::Value = std::fs::read_to_string(dir.join("training.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let cell = Cell {
        length_s: length,
        student: preset.name().to_string(),
        lambda,
        validation_accuracy: record["validation"]["accuracy"].as_f64().unwrap_or(0.0) as f32,
        test,
        train_seconds: record["seconds"].as_f64().unwrap_or(0.0) as f32,
    };
    std::fs::write(
        &result_path,
        serde_json::to_string_pretty(&cell).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", result_path.display()))?;
    Ok(cell)
}
