//! `tempokd export`: a student as a file for runtimes outside TempoKD.

use std::path::PathBuf;
use tempokd::device::ComputeDevice;
use tempokd::export::{OPSET, front_end, student_onnx};
use tempokd::students::Student;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A student directory (config.json and model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the ONNX model.
    #[arg(long)]
    onnx: PathBuf,
}

pub fn export(args: &ExportArgs) -> Result<(), String> {
    let device = ComputeDevice::cpu("exporting reads the weights on the CPU").device;
    let student = Student::load_dir(&args.model, &device)
        .map_err(|e| format!("{}: {e}", args.model.display()))?;
    let onnx = pollster::block_on(student_onnx(&student)).map_err(|e| e.to_string())?;
    std::fs::write(&args.onnx, &onnx.bytes).map_err(|e| format!("{}: {e}", args.onnx.display()))?;
    let config = student.config();
    println!(
        "{}: ONNX opset {OPSET}, {} bytes ({} of weights)",
        args.onnx.display(),
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
