//! `tempokd export`: a student as a file for runtimes outside TempoKD, or as a TempoKD folder
//! with its weights stored smaller.

use crate::train_and_eval::parse_precision;
use std::path::PathBuf;
use tempokd::device::ComputeDevice;
use tempokd::export::{OPSET, front_end, student_c_header, student_onnx};
use tempokd::students::{Precision, Student};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A student directory (config.json and model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the ONNX model.
    #[arg(long, required_unless_present_any = ["folder", "c_header"])]
    onnx: Option<PathBuf>,
    /// Where to write the student as a TempoKD folder (config.json and model.safetensors) with
    /// its weights at `--precision`, for the page and the other commands.
    #[arg(long)]
    folder: Option<PathBuf>,
    /// Where to write the student's weights as a C header (int8 matrices and kernels with their
    /// scales, the rest float, in the module tree's order) for microcontroller integrators.
    #[arg(long)]
    c_header: Option<PathBuf>,
    /// How the matrices and kernels are stored: fp32, fp16, or int8 (symmetric, one scale per
    /// tensor); biases, batch norm and the query stay fp32.
    #[arg(long, default_value = "fp32", value_parser = parse_precision)]
    precision: Precision,
}

pub fn export(args: &ExportArgs) -> Result<(), String> {
    let device = ComputeDevice::cpu("exporting reads the weights on the CPU").device;
    let dir = &args.model;
    let student = Student::load_dir(dir, &device).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(folder) = &args.folder {
        pollster::block_on(student.save_dir(folder, args.precision)).map_err(|e| e.to_string())?;
        println!(
            "{}: config.json and model.safetensors, {} weights",
            folder.display(),
            args.precision.name()
        );
    }
    if let Some(path) = &args.c_header {
        let name =
            (dir.file_name()).map_or("student".into(), |name| name.to_string_lossy().into_owned());
        let header =
            pollster::block_on(student_c_header(&student, &name)).map_err(|e| e.to_string())?;
        std::fs::write(path, header).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}: C header, int8 matrices and kernels", path.display());
    }
    let Some(path) = &args.onnx else {
        return Ok(());
    };
    let onnx =
        pollster::block_on(student_onnx(&student, args.precision)).map_err(|e| e.to_string())?;
    std::fs::write(path, &onnx.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = student.config();
    println!(
        "{}: ONNX opset {OPSET}, {} weights, {} bytes ({} of weights)",
        path.display(),
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
