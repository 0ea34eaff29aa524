//! `tempokd export`: a student as a file for runtimes outside TempoKD.

use crate::train_and_eval::parse_precision;
use std::path::{Path, PathBuf};
use tempokd::device::ComputeDevice;
use tempokd::export::{OPSET, OnnxStudent, front_end, student_onnx};
use tempokd::students::{Precision, Student};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A student directory (config.json and model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the ONNX model.
    #[arg(long)]
    onnx: PathBuf,
    /// How the matrices and kernels are stored: fp32, fp16, or int8 (symmetric, one scale per
    /// tensor); biases, batch norm and the query stay fp32.
    #[arg(long, default_value = "fp32", value_parser = parse_precision)]
    precision: Precision,
}

/// The student in `dir` as an ONNX file at `precision`, and the student.
fn export_student(dir: &Path, precision: Precision) -> Result<(OnnxStudent, Student), String> {
    let device = ComputeDevice::cpu("exporting reads the weights on the CPU").device;
    let student = Student::load_dir(dir, &device).map_err(|e| format!("{}: {e}", dir.display()))?;
    let onnx = pollster::block_on(student_onnx(&student, precision)).map_err(|e| e.to_string())?;
    Ok((onnx, student))
}

/// The ONNX file of the student in `dir` at `precision`.
pub fn exported_onnx(dir: &Path, precision: Precision) -> Result<Vec<u8>, String> {
    export_student(dir, precision).map(|(onnx, _)| onnx.bytes)
}

pub fn export(args: &ExportArgs) -> Result<(), String> {
    let (onnx, student) = export_student(&args.model, args.precision)?;
    std::fs::write(&args.onnx, &onnx.bytes).map_err(|e| format!("{}: {e}", args.onnx.display()))?;
    let config = student.config();
    println!(
        "{}: ONNX opset {OPSET}, {} weights, {} bytes ({} of weights)",
        args.onnx.display(),
        args.precision.name(),
        onnx.bytes.len(),
        onnx.weight_bytes
    );
    println!(
        "input `features` [batch, frames, {}]; outputs `logits` [batch, {}] ({}), `attention` \
         [batch, student frames]{}",
        config.input_size(),
        config.classes(),
        config.labels.join(", "),
        if config.arch_name().contains("att-rnn") {
            ", `attention_heads` [batch, heads, student frames]"
        } else {
            ""
        }
    );
    println!("front end: {}", front_end(config.input, &config.features));
    Ok(())
}
