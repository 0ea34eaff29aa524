//! `tempokd deploy-card`: what each shipped student costs and keeps at fp32, fp16 and int8 —
//! parameters, the ONNX file, the time to classify a 1 s clip here, and test accuracy and
//! localisation with the accuracy lost to storing it smaller — written as a table into a folder,
//! README and every student's model card.

use crate::export::exported_onnx;
use crate::jobs::this_machine;
use crate::median_ms;
use crate::train_and_eval::evaluate;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::data::Split;
use tempokd::device::ComputeDevice;
use tempokd::metrics::{Evaluation, Interval};
use tempokd::model::{ModelIndex, ModelKind};
use tempokd::students::{AttentionRequest, Precision, Student};

#[derive(clap::Args)]
pub struct DeployCardArgs {
    /// The shipped models' folder (its index.json names the students).
    #[arg(long, default_value = "static/models")]
    models: PathBuf,
    /// The test corpus the cards score on (`defaults` makes it; see the cards' Data section).
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value = "1,4", value_delimiter = ',')]
    lengths: Vec<f32>,
    /// Where card.md and card.json go.
    #[arg(long, default_value = "docs/deployment")]
    out: PathBuf,
    /// Also replace the table between the deploy-card markers of this README, and add it to
    /// every student's model card.
    #[arg(long)]
    readme: Option<PathBuf>,
}

/// The card: every student at every precision.
#[derive(Serialize)]
struct DeploymentCard {
    machine: String,
    test_data: String,
    lengths_s: Vec<f32>,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct Row {
    model: String,
    title: String,
    precision: Precision,
    /// Parameters of the deployed model (the training-only query left out).
    params: usize,
    /// The paper's count for the architecture, where it gives one.
    paper_params: Option<&'static str>,
    onnx_bytes: usize,
    /// Median of [`TIMED_RUNS`] runs on one 1 s clip, features included, logits only.
    native_ms: f64,
    scores: Vec<LengthScore>,
}

#[derive(Serialize)]
struct LengthScore {
    length_s: f32,
    n: usize,
    accuracy: f32,
    accuracy_interval: Interval,
    localisation: Option<f32>,
    localisation_interval: Option<Interval>,
    /// Points of accuracy against the same student at fp32 (negative: lost).
    points_changed: f32,
}

const TIMED_RUNS: usize = 15;
const START: &str = "<!-- deploy-card:start -->";
const END: &str = "<!-- deploy-card:end -->";

pub fn deploy_card(args: &DeployCardArgs) -> Result<(), String> {
    let index = ModelIndex::read(&args.models).map_err(|e| e.to_string())?;
    let students: Vec<_> = (index.models.iter())
        .filter(|model| model.kind == ModelKind::Student)
        .collect();
    let mut rows = Vec::new();
    for model in &students {
        let dir = args.models.join(&model.name);
        let native_ms = time_one_second(&dir)?;
        let mut fp32_accuracy = Vec::new();
        for precision in Precision::ALL {
            eprintln!("{} at {}", model.name, precision.name());
            let onnx_bytes = exported_onnx(&dir, precision)?.len();
            let mut scores = Vec::new();
            for (index, &length) in args.lengths.iter().enumerate() {
                let (evaluation, _) =
                    evaluate(&dir, &args.data, Split::Test, Some(length), precision)?;
                if precision == Precision::F32 {
                    fp32_accuracy.push(evaluation.accuracy);
                }
                scores.push(length_score(length, &evaluation, fp32_accuracy[index]));
            }
            rows.push(Row {
                model: model.name.clone(),
                title: model.title.clone(),
                precision,
                params: model.params,
                paper_params: paper_params(&model.name),
                onnx_bytes,
                native_ms,
                scores,
            });
        }
    }
    let card = DeploymentCard {
        machine: this_machine(),
        test_data: args.data.display().to_string(),
        lengths_s: args.lengths.clone(),
        rows,
    };
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let table = markdown(&card);
    let write = |name: &str, text: String| {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(
        "card.json",
        serde_json::to_string_pretty(&card).map_err(|e| e.to_string())?,
    )?;
    write("card.md", format!("# Deployment card\n\n{table}"))?;
    if let Some(readme) = &args.readme {
        replace_between_markers(readme, &table)?;
        for model in &students {
            let own: Vec<&Row> = card.rows.iter().filter(|r| r.model == model.name).collect();
            let section = format!(
                "## Deployment\n\n{}",
                markdown_rows(&card, &own, &[]).trim_end()
            );
            append_or_replace(&args.models.join(&model.name).join("README.md"), &section)?;
        }
    }
    println!("{}", args.out.join("card.md").display());
    Ok(())
}

/// The median time to classify a 1 s clip, features included, logits only.
fn time_one_second(dir: &Path) -> Result<f64, String> {
    let device = ComputeDevice::cpu("the card times the CPU").device;
    let student = Student::load_dir(dir, &device).map_err(|e| format!("{}: {e}", dir.display()))?;
    let clip: Vec<f32> = (0..MODEL_SAMPLE_RATE)
        .map(|n| 0.1 * (n as f32 * 0.05).sin())
        .collect();
    let infer = || pollster::block_on(student.infer(&clip, AttentionRequest::None));
    infer().map_err(|e| e.to_string())?;
    Ok(median_ms(TIMED_RUNS, || {
        let _ = infer();
    }))
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
    let rows: Vec<&Row> = card.rows.iter().collect();
    let int8_over: Vec<String> = card
        .rows
        .iter()
        .filter(|r| r.precision == Precision::Int8)
        .filter_map(|r| {
            let fp32 = card
                .rows
                .iter()
                .find(|f| f.model == r.model && f.precision == Precision::F32)?;
            let share = r.onnx_bytes as f64 / fp32.onnx_bytes as f64;
            (share > 0.25).then(|| format!("{} {:.1} %", r.model, 100.0 * share))
        })
        .collect();
    markdown_rows(card, &rows, &int8_over)
}

/// The table of `rows` with what it measured; `int8_over` names the int8 files over a quarter of
/// their fp32 file.
fn markdown_rows(card: &DeploymentCard, rows: &[&Row], int8_over: &[String]) -> String {
    let lengths: Vec<String> = card.lengths_s.iter().map(|l| format!("{l}")).collect();
    let n = rows
        .first()
        .and_then(|r| r.scores.first())
        .map_or(0, |s| s.n);
    let mut out = format!(
        "`tempokd deploy-card --data {} --lengths {}` on {}. Weights stored at each precision \
         and read back (matrices and kernels; biases, batch norm, peepholes and the query stay \
         fp32), so every row computes in fp32: the time to classify a 1 s clip (features \
         included, logits only, median of {TIMED_RUNS}, one measurement per student on a shared \
         machine) is the same at every precision. Accuracy \
         on the test split (underlying voices no model trained on, n = {n} clips per length) \
         with its Wilson 95 % interval and its change in points against fp32; localisation (attention \
         inside the keyword window) with its bootstrap 95 % interval. File: the student as \
         `tempokd export --precision`.\n\n",
        card.test_data,
        lengths.join(","),
        card.machine
    );
    out.push_str("| student | weights | params (paper) | ONNX file | 1 s clip |");
    for length in &lengths {
        out.push_str(&format!(
            " L = {length} s accuracy (change) | L = {length} s localisation |"
        ));
    }
    out.push_str("\n|---|---|---|---|---|");
    out.push_str(&"---|---|".repeat(lengths.len()));
    out.push('\n');
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} ({}) | {:.0} kB | {:.2} ms |",
            row.title,
            row.precision.name(),
            row.params,
            row.paper_params.unwrap_or("–"),
            row.onnx_bytes as f64 / 1000.0,
            row.native_ms
        ));
        for score in &row.scores {
            let lost = match row.precision {
                Precision::F32 => String::new(),
                // Rounds to nothing: no sign, and never "-0.0".
                _ if score.points_changed.abs() < 0.05 => " (±0.0)".to_owned(),
                _ => format!(" ({:+.1})", score.points_changed),
            };
            let localisation = match (score.localisation, score.localisation_interval) {
                (Some(mean), Some(i)) => format!("{mean:.3} ({:.3}–{:.3})", i.low, i.high),
                _ => "–".to_owned(),
            };
            out.push_str(&format!(
                " {:.1} % ({:.1}–{:.1}){lost} | {localisation} |",
                100.0 * score.accuracy,
                100.0 * score.accuracy_interval.low,
                100.0 * score.accuracy_interval.high
            ));
        }
        out.push('\n');
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
