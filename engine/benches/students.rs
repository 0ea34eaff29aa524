//! Students on the CPU beside PyTorch running the same layer layouts in the same run: inference
//! on one 1 s clip, and one KD training step on a batch of 100 1 s clips (forward with a_S,
//! cross-entropy + λ·KL(a_T ‖ a_S), backward, Adam). The step is also timed on burn's own
//! operations (the recurrent layers on its per-frame graph, as on WebGPU, its 1-D convolution
//! and its batch norm) instead of ours, so our operations' gain is measured in the same run.
//!
//!     cargo bench -p tempokd --bench students [-- STUDENT…]
//!
//! Students named after `--` (`tc-resnet8`, `lstm-p`, …) are measured alone; none names all five.
//!
//! PyTorch runs through scripts/bench/students_torch.py with the Python in `$TEMPOKD_PYTHON`
//! (default `python3`), which needs `torch`; without it only our figures are printed.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Int, Tensor};
use serde::Deserialize;
use tempokd::batch_norm::on_burns_batch_norm;
use tempokd::convolution::on_burns_conv;
use tempokd::device::ComputeDevice;
use tempokd::kd::KdLossConfig;
use tempokd::students::{AttentionRequest, Preset, Student, StudentModel, on_recurrent_graph};

mod common;

const BATCH: usize = 100;
/// Timed runs per measurement, after one warm-up.
const RUNS: usize = 10;
/// Feature frames of a 1 s clip: 40 ms windows every 20 ms.
const FRAMES: usize = 49;
const CLASSES: usize = 12;

#[derive(Deserialize)]
struct TorchTiming {
    student: String,
    inference_ms: f64,
    step_ms: f64,
    threads: usize,
    torch: String,
}

fn main() -> Result<(), String> {
    // As the command line runs.
    tempokd::heap::keep_freed_blocks();
    let device = ComputeDevice::cpu("benchmark").device;
    let students = chosen_students()?;
    let args: Vec<String> = ["--students"]
        .into_iter()
        .map(String::from)
        .chain(students.iter().map(|s| s.name().to_string()))
        .chain([
            "--batch".into(),
            BATCH.to_string(),
            "--runs".into(),
            RUNS.to_string(),
        ])
        .collect();
    let torch = common::python_json_lines::<TorchTiming>("students_torch.py", &args);

    println!("students on the CPU: inference on one 1 s clip (features in, logits out) and one KD");
    println!(
        "training step on {BATCH} clips of 1 s (forward with a_S, CE + 0.25·KL, backward, Adam)"
    );
    println!(
        "{:<11} {:>13} {:>11} {:>7}   {:>13} {:>11} {:>7}   {:>13} {:>12}",
        "student",
        "infer (burn)",
        "PyTorch",
        "ratio",
        "step (burn)",
        "PyTorch",
        "ratio",
        "burn's ops",
        "burn's/ours"
    );
    for &preset in &students {
        let inference = inference_ms(preset, &device)?;
        let step = training_step_ms(preset, &device.clone().autodiff())?;
        let burns_step = on_recurrent_graph(|| {
            on_burns_conv(|| {
                on_burns_batch_norm(|| training_step_ms(preset, &device.clone().autodiff()))
            })
        })?;
        let reference = torch
            .as_ref()
            .ok()
            .and_then(|t| t.iter().find(|t| t.student == preset.name()));
        let (torch_inference, torch_step) =
            reference.map_or((f64::NAN, f64::NAN), |r| (r.inference_ms, r.step_ms));
        println!(
            "{:<11} {:>10.2} ms {:>8.2} ms {:>7.2}   {:>10.1} ms {:>8.1} ms {:>7.2}   {:>10.1} ms {:>12.2}",
            preset.name(),
            inference,
            torch_inference,
            inference / torch_inference,
            step,
            torch_step,
            step / torch_step,
            burns_step,
            burns_step / step
        );
    }
    match &torch {
        Ok(timings) => {
            if let Some(first) = timings.first() {
                println!(
                    "PyTorch {} on {} threads; medians of {RUNS} runs; ratio = burn / PyTorch; \
                     burn's ops = the step with burn's per-frame recurrent layers, convolution and batch norm",
                    first.torch, first.threads
                );
            }
        }
        Err(why) => println!("PyTorch not measured: {why}"),
    }
    Ok(())
}

/// The paper's students named on the command line (cargo's `--bench` flag aside), or all five.
fn chosen_students() -> Result<Vec<Preset>, String> {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if named.is_empty() {
        return Ok(Preset::PAPER.to_vec());
    }
    (named.iter())
        .map(|name| {
            (Preset::PAPER.into_iter())
                .find(|preset| preset.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Preset::PAPER.iter().map(|p| p.name()).collect();
                    format!(
                        "no student {name}; the benchmark knows {}",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

fn student(preset: Preset, device: &Device) -> Result<Student, String> {
    let labels = (0..CLASSES).map(|i| format!("class {i}")).collect();
    Student::new(preset.config(labels), device).map_err(|e| e.to_string())
}

fn inference_ms(preset: Preset, device: &Device) -> Result<f64, String> {
    let student = student(preset, device)?;
    let inputs = student.config().input_size();
    let clip = Tensor::<3>::random([1, FRAMES, inputs], Distribution::Default, device);
    common::median_ms(RUNS, || {
        let output = student
            .model()
            .forward(clip.clone(), AttentionRequest::None);
        // Reading the logits waits for the work to finish.
        read(output.logits)
    })
}

fn training_step_ms(preset: Preset, device: &Device) -> Result<f64, String> {
    let student = student(preset, device)?;
    let inputs = student.config().input_size();
    let frames = student.config().frames_for_input(FRAMES);
    let mut model: Option<StudentModel> = Some(student.into_model());
    let mut optimizer = AdamConfig::new().init();
    let features = Tensor::<3>::random([BATCH, FRAMES, inputs], Distribution::Default, device);
    let targets =
        Tensor::<1, Int>::random([BATCH], Distribution::Uniform(0.0, CLASSES as f64), device);
    let teacher = softmax(
        Tensor::<2>::random([BATCH, frames], Distribution::Default, device),
        1,
    );
    let loss = KdLossConfig::default();
    common::median_ms(RUNS, || {
        let current = model.take().ok_or("the model was lost in a failed step")?;
        let output = current.forward(features.clone(), AttentionRequest::Mean);
        let attention = output.attention.ok_or("no attention")?;
        let total = loss
            .loss(output.logits, targets.clone(), teacher.clone(), attention)
            .total;
        let gradients = GradientsParams::from_grads(total.backward(), &current);
        model = Some(optimizer.step(1e-3, current, gradients));
        // As PyTorch's loss.item(): the step is done when its loss is on the host.
        read(total)
    })
}

fn read<const D: usize>(tensor: Tensor<D>) -> Result<(), String> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}
