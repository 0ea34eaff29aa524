//! `tempokd deploy-card`: what each shipped student costs and keeps at fp32, fp16 and int8 —
//! parameters, multiply-adds, the ONNX file, the time and peak memory to classify a second of
//! audio here, and test accuracy and localisation with the accuracy lost to storing it smaller —
//! written as the page's record (beside the models), a table in a folder, README and every
//! student's model card.

use crate::heap;
use crate::jobs::this_machine;
use crate::train_and_eval::{self, evaluate};
use std::path::{Path, PathBuf};
use tempokd::data::Split;
use tempokd::device::ComputeDevice;
use tempokd::export::card::{
    AtPrecision, CardStudent, DeploymentCard, LengthScore, TIMED_RUNS, TIMED_SECONDS, millions,
};
use tempokd::export::{deployment_cost, time_one_second, timing_clip};
use tempokd::metrics::Evaluation;
use tempokd::model::{ModelIndex, ModelKind};
use tempokd::students::{AttentionRequest, Precision, Student};
use tempokd::train::ClipLoading;

#[derive(clap::Args)]
pub struct DeployCardArgs {
    /// The shipped models' folder (its index.json names the students); the card's record goes
    /// into it as deployment.json, for the page.
    #[arg(long, default_value = "static/models")]
    pub models: PathBuf,
    /// The test corpus the cards score on (`defaults` makes it; see the cards' Data section).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_values_t = DEFAULT_LENGTHS, value_delimiter = ',')]
    pub lengths: Vec<f32>,
    /// Where card.md goes.
    #[arg(long, default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// Also replace the table between the deploy-card markers of this README, and add it to
    /// every student's model card.
    #[arg(long)]
    pub readme: Option<PathBuf>,
}

/// Where card.md goes unless told.
pub const DEFAULT_OUT: &str = "docs/deployment";
/// The clip lengths the card scores unless told.
pub const DEFAULT_LENGTHS: [f32; 2] = [1.0, 4.0];

/// The page's copy of the card, in the models' folder.
pub const CARD_FILE: &str = "deployment.json";
const START: &str = "<!-- deploy-card:start -->";
const END: &str = "<!-- deploy-card:end -->";

pub fn deploy_card(args: &DeployCardArgs) -> Result<(), String> {
    let index = ModelIndex::read(&args.models).map_err(|e| e.to_string())?;
    let models: Vec<_> = (index.models.iter())
        .filter(|model| model.kind == ModelKind::Student)
        .collect();
    // One student measured first and forgotten, so the process's one-time allocations (the
    // thread pool, the front end's FFT plans) weigh on no student's peak.
    if let Some(first) = models.first() {
        measured(&args.models.join(&first.name))?;
    }
    let mut students = Vec::new();
    for model in &models {
        let dir = args.models.join(&model.name);
        let mut student = measured(&dir)?;
        let mut fp32_accuracy = Vec::new();
        for precision in Precision::ALL {
            eprintln!("{} at {}", model.name, precision.name());
            let mut scores = Vec::new();
            for (index, &length) in args.lengths.iter().enumerate() {
                let (evaluation, _) = evaluate(
                    &dir,
                    &args.data,
                    Split::Test,
                    Some(length),
                    precision,
                    ClipLoading::Memory,
                    &train_and_eval::cpu(),
                )?;
                if precision == Precision::F32 {
                    fp32_accuracy.push(evaluation.accuracy);
                }
                scores.push(length_score(length, &evaluation, fp32_accuracy[index]));
            }
            student.precisions.push(AtPrecision { precision, scores });
        }
        students.push(CardStudent {
            model: model.name.clone(),
            title: model.title.clone(),
            paper_params: paper_params(&model.name).map(str::to_owned),
            ..student
        });
    }
    let card = DeploymentCard {
        machine: this_machine(),
        test_data: args.data.display().to_string(),
        lengths_s: args.lengths.clone(),
        students,
    };
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut record = serde_json::to_string_pretty(&card).map_err(|e| e.to_string())?;
    record.push('\n');
    write(args.models.join(CARD_FILE), record)?;
    let table = markdown(&card);
    write(
        args.out.join("card.md"),
        format!("# Deployment card\n\n{table}"),
    )?;
    if let Some(readme) = &args.readme {
        replace_between_markers(readme, &table)?;
        for student in &card.students {
            let section = format!(
                "## Deployment\n\n{}",
                markdown_rows(&card, std::slice::from_ref(student), &[]).trim_end()
            );
            append_or_replace(
                &args.models.join(&student.model).join("README.md"),
                &section,
            )?;
        }
    }
    println!("{}", args.out.join("card.md").display());
    Ok(())
}

/// What the student in `dir` costs on this machine's CPU: its cost, the median time to classify
/// a second of audio and the heap its first classification needs at its peak, its weights
/// included. The scores are left to the caller.
fn measured(dir: &Path) -> Result<CardStudent, String> {
    let device = ComputeDevice::cpu("the card measures the CPU").device;
    let baseline = heap::in_use();
    let student = Student::load_dir(dir, &device).map_err(|e| format!("{}: {e}", dir.display()))?;
    let clip = timing_clip();
    let (first, peak) = heap::peak_above(baseline, || {
        pollster::block_on(student.infer(&clip, AttentionRequest::None))
    });
    first.map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let now_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let native_ms =
        pollster::block_on(time_one_second(&student, now_ms)).map_err(|e| e.to_string())?;
    let cost = pollster::block_on(deployment_cost(&student)).map_err(|e| e.to_string())?;
    Ok(CardStudent {
        model: String::new(),
        title: String::new(),
        cost,
        paper_params: None,
        native_ms,
        peak_memory_bytes: peak as u64,
        precisions: Vec::new(),
    })
}

fn length_score(length_s: f32, evaluation: &Evaluation, fp32_accuracy: f32) -> LengthScore {
    LengthScore {
        length_s,
        n: evaluation.n,
        accuracy: evaluation.accuracy,
        accuracy_interval: evaluation.accuracy_interval,
        localisation: evaluation.attention_in_window,
        localisation_interval: evaluation.attention_in_window_interval,
        points_changed: 100.0 * (evaluation.accuracy - fp32_accuracy),
    }
}

/// The paper's parameter counts (its students' table), by the shipped model's architecture.
fn paper_params(model: &str) -> Option<&'static str> {
    let arch = model.strip_suffix("-kd").unwrap_or(model);
    match arch {
        "lstm-p" => Some("≈546K"),
        "tc-resnet8" => Some("≈66K"),
        "crnn" => Some("467,772"),
        "att-rnn" => Some("≈496K"),
        "mhatt-rnn" => Some("743,025"),
        _ => None,
    }
}

fn markdown(card: &DeploymentCard) -> String {
    let int8_over: Vec<String> = (card.students.iter())
        .filter_map(|student| {
            let fp32 = student.cost.onnx_bytes(Precision::F32)?;
            let int8 = student.cost.onnx_bytes(Precision::Int8)?;
            let share = int8 as f64 / fp32 as f64;
            (share > 0.25).then(|| format!("{} {:.1} %", student.model, 100.0 * share))
        })
        .collect();
    markdown_rows(card, &card.students, &int8_over)
}

/// The table of `students`, a row for each precision, with what it measured; `int8_over` names
/// the int8 files over a quarter of their fp32 file.
fn markdown_rows(card: &DeploymentCard, students: &[CardStudent], int8_over: &[String]) -> String {
    let lengths: Vec<String> = card.lengths_s.iter().map(|l| format!("{l}")).collect();
    let n = (students.first())
        .and_then(|s| s.precisions.first())
        .and_then(|p| p.scores.first())
        .map_or(0, |s| s.n);
    let mut out = format!(
        "`tempokd deploy-card --data {} --lengths {}` on {}. Weights stored at each precision \
         and read back (matrices and kernels; biases, batch norm, peepholes and the query stay \
         fp32), so every row computes in fp32: the time to classify a {TIMED_SECONDS} s clip \
         (features included, logits only, median of {TIMED_RUNS}, one measurement per student on \
         a shared machine) and the heap at the peak of classifying it (the weights included, \
         counted by the CLI's allocator after one student has warmed the process up) are the \
         same at every precision. Multiply-adds: the \
         matrix products and convolutions of {TIMED_SECONDS} s of audio from the features to \
         the logits and the attention (checked against tract's count of the ONNX graph), the \
         front end left out. Accuracy on the test split (underlying voices no model trained \
         on, n = {n} clips per length) with its Wilson 95 % interval and its change in points \
         against fp32; localisation (attention inside the keyword window) with its bootstrap \
         95 % interval. File: the student as `tempokd export --precision`.\n\n",
        card.test_data,
        lengths.join(","),
        card.machine
    );
    out.push_str(
        "| student | weights | params (paper) | multiply-adds per s | ONNX file | 1 s clip | peak heap |",
    );
    for length in &lengths {
        out.push_str(&format!(
            " L = {length} s accuracy (change) | L = {length} s localisation |"
        ));
    }
    out.push_str("\n|---|---|---|---|---|---|---|");
    out.push_str(&"---|---|".repeat(lengths.len()));
    out.push('\n');
    for student in students {
        for at in &student.precisions {
            out.push_str(&format!(
                "| {} | {} | {} ({}) | {} | {:.0} kB | {:.2} ms | {:.1} MB |",
                student.title,
                at.precision.name(),
                student.cost.params,
                student.paper_params.as_deref().unwrap_or("–"),
                millions(student.cost.multiply_adds_per_second),
                student.cost.onnx_bytes(at.precision).unwrap_or(0) as f64 / 1000.0,
                student.native_ms,
                student.peak_memory_bytes as f64 / 1e6,
            ));
            for score in &at.scores {
                let lost = match at.precision {
                    Precision::F32 => String::new(),
                    _ => score.change_text(),
                };
                let localisation = match (score.localisation, score.localisation_interval) {
                    (Some(mean), Some(i)) => format!("{mean:.3} ({:.3}–{:.3})", i.low, i.high),
                    _ => "–".to_owned(),
                };
                out.push_str(&format!(
                    " {}{lost} | {localisation} |",
                    score.accuracy_text()
                ));
            }
            out.push('\n');
        }
    }
    if !int8_over.is_empty() {
        out.push_str(&format!(
            "\nOver a quarter of the fp32 file at int8: {}. The rest of each file is what stays \
             fp32 (biases, batch norm, peepholes, the query) and the graph itself, which weigh \
             most beside the smallest model's int8 weights.\n",
            int8_over.join(", ")
        ));
    }
    out
}

/// Replaces what lies between the markers in `path` with `table`.
fn replace_between_markers(path: &Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (before, rest) = text
        .split_once(START)
        .ok_or_else(|| format!("{}: no {START} marker", path.display()))?;
    let (_, after) = rest
        .split_once(END)
        .ok_or_else(|| format!("{}: no {END} marker", path.display()))?;
    let text = format!("{before}{START}\n{table}{END}{after}");
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Puts `section` between markers at the end of a model card, replacing an earlier one.
fn append_or_replace(path: &Path, section: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kept = match text.split_once(START) {
        Some((before, rest)) => {
            let after = rest.split_once(END).map_or("", |(_, after)| after);
            format!("{}{}", before.trim_end(), after)
        }
        None => text.trim_end().to_owned(),
    };
    let text = format!("{}\n\n{START}\n{section}\n{END}\n", kept.trim_end());
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
