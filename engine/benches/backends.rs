//! burn's native backends side by side on the training steps `tempokd` runs: one call of
//! `StudentTrainer::step` (KD loss, backward, Adam) for each of the five students and one of
//! `TeacherTrainer::step`, on batches of 4 s clips, shaped as in `--quick`. The fastest CPU
//! backend is the CLI's default.
//!
//!     cargo bench -p tempokd --bench backends                       # flex only
//!     cargo bench -p tempokd --bench backends --features ndarray    # flex beside ndarray
//!     cargo bench -p tempokd --bench backends --features wgpu       # flex beside wgpu's device
//!     cargo bench -p tempokd --bench backends --features fusion     # the same, with burn's fusion
//!
//! Every backend compiled in is timed in the same run, so the ratios compare like with like on a
//! shared machine; wgpu's column is the adapter `tempokd --device wgpu` would take (named in the
//! output; on a machine without a GPU, Mesa's software Vulkan driver). flex is also timed on
//! burn's own operations in place of ours (its per-frame recurrent layers, its convolution and
//! batch norm), so our operations' gain in the trainers is measured in the same run; so is wgpu,
//! for the recurrent students, on the per-frame graph in place of the recurrent layers' kernels.

use burn::tensor::Device;
use tempokd::batch_norm::on_burns_batch_norm;
use tempokd::convolution::on_burns_conv;
use tempokd::device::CpuBackend;
use tempokd::kd::KdLossConfig;
use tempokd::rng::Rng;
use tempokd::students::{Preset, Student, on_recurrent_graph};
use tempokd::teacher::{ClassifierPooling, Teacher, TeacherShape, Wav2Vec2Config};
use tempokd::train::{
    StudentBatch, StudentTrainer, StudentTraining, TeacherBatch, TeacherTrainer, TeacherTraining,
};

mod common;

const CLASSES: usize = 12;
const SECONDS: usize = 4;
/// Feature frames of a 4 s clip (40 ms windows every 20 ms) and its samples at 16 kHz.
const FRAMES: usize = 49 * SECONDS + 3;
const SAMPLES: usize = 16_000 * SECONDS;
const RUNS: usize = 5;

/// A workload: what is trained, on how many clips per step.
struct Workload {
    name: String,
    clips: usize,
}

fn main() -> Result<(), String> {
    // As the command line runs.
    tempokd::heap::keep_freed_blocks();
    let columns = columns();
    let workloads = [
        (Preset::TcResNet8.name(), 32),
        (Preset::LstmP.name(), 16),
        (Preset::Crnn.name(), 16),
        (Preset::AttRnn.name(), 16),
        (Preset::MhattRnn.name(), 16),
        ("teacher", 8),
    ]
    .map(|(name, clips)| Workload {
        name: name.into(),
        clips,
    });
    println!("one training step on {SECONDS} s clips, median of {RUNS} after a warm-up (ms)");
    print!("{:<12} {:>6}", "workload", "clips");
    for (name, _) in &columns {
        print!(" {:>10} {:>8}", name, "/ flex");
    }
    print!(" {:>12} {:>8}", "burn's ops", "/ flex");
    let wgpu = columns
        .iter()
        .find(|(name, _)| name == WGPU)
        .map(|(_, d)| d);
    if wgpu.is_some() {
        print!(" {:>12} {:>8}", "wgpu graph", "/ wgpu");
    }
    println!();
    for workload in &workloads {
        print!("{:<12} {:>6}", workload.name, workload.clips);
        let mut flex_ms = f64::NAN;
        let mut wgpu_ms = f64::NAN;
        for (name, device) in &columns {
            let ms = step_ms(workload, &device.clone().autodiff())?;
            match name.as_str() {
                WGPU => wgpu_ms = ms,
                name if name == CpuBackend::Flex.name() => flex_ms = ms,
                _ => {}
            }
            print!(" {:>10.1} {:>8.2}", ms, ms / flex_ms);
        }
        let device = CpuBackend::Flex.device().autodiff();
        let burns_ms = on_recurrent_graph(|| {
            on_burns_conv(|| on_burns_batch_norm(|| step_ms(workload, &device)))
        })?;
        print!(" {:>12.1} {:>8.2}", burns_ms, burns_ms / flex_ms);
        // The recurrent layers on wgpu as burn's graph frame by frame, as before their kernels:
        // only the recurrent students have any.
        let recurrent = Preset::from_name(&workload.name).is_some_and(|p| p != Preset::TcResNet8);
        match wgpu {
            Some(device) if recurrent => {
                let graph_ms =
                    on_recurrent_graph(|| step_ms(workload, &device.clone().autodiff()))?;
                print!(" {:>12.1} {:>8.2}", graph_ms, graph_ms / wgpu_ms);
            }
            Some(_) => print!(" {:>12} {:>8}", "-", "-"),
            None => {}
        }
        println!();
    }
    Ok(())
}

/// The name of wgpu's column.
const WGPU: &str = "wgpu";

/// The devices timed, by name: every CPU backend compiled in (flex first) and, in a build with
/// wgpu, the device `--device wgpu` takes, when one starts.
fn columns() -> Vec<(String, Device)> {
    let cpus = CpuBackend::compiled().into_iter();
    #[allow(unused_mut)]
    let mut columns: Vec<(String, Device)> = cpus
        .map(|backend| (backend.name().to_string(), backend.device()))
        .collect();
    #[cfg(feature = "wgpu")]
    {
        use tempokd::device::{ComputeDevice, DeviceChoice};
        let wgpu = ComputeDevice::native(DeviceChoice::Wgpu(None));
        let fusion = if cfg!(feature = "fusion") {
            ", with burn's fusion"
        } else {
            ", without burn's fusion"
        };
        match wgpu.is_gpu() {
            true => {
                println!("wgpu: {}{fusion}", wgpu.placement);
                columns.push((WGPU.into(), wgpu.device));
            }
            false => println!("wgpu not timed: {}", wgpu.placement),
        }
    }
    columns
}

fn step_ms(workload: &Workload, device: &Device) -> Result<f64, String> {
    let labels: Vec<String> = (0..CLASSES).map(|i| format!("class {i}")).collect();
    let mut rng = Rng::new(7);
    let targets: Vec<Vec<usize>> = (0..workload.clips).map(|i| vec![i % CLASSES]).collect();
    device.seed(1);
    if workload.name == "teacher" {
        let names: Vec<&str> = labels.iter().map(String::as_str).collect();
        let config = Wav2Vec2Config::shaped(
            &names,
            TeacherShape::default(),
            ClassifierPooling::FirstFrame,
        );
        let teacher = Teacher::random(config, 1, device).map_err(|e| e.to_string())?;
        let mut trainer = TeacherTrainer::new(teacher, &TeacherTraining::default(), false)
            .map_err(|e| e.to_string())?;
        let batch = TeacherBatch {
            clips: workload.clips,
            samples: SAMPLES,
            waveforms: (0..workload.clips * SAMPLES)
                .map(|_| 0.1 * rng.normal())
                .collect(),
            targets,
        };
        return common::median_ms(RUNS, || {
            pollster::block_on(trainer.step(&batch))
                .map(drop)
                .map_err(|e| e.to_string())
        });
    }
    let preset = Preset::from_name(&workload.name).ok_or("unknown student")?;
    let student = Student::new(preset.config(labels), device).map_err(|e| e.to_string())?;
    let bins = student.config().input_size();
    let student_frames = student.config().frames_for_input(FRAMES);
    let map = tempokd::kd::normalise(vec![1.0; student_frames]);
    let batch = StudentBatch {
        clips: workload.clips,
        frames: FRAMES,
        bins,
        features: (0..workload.clips * FRAMES * bins)
            .map(|_| rng.normal())
            .collect(),
        targets,
        teacher_attention: Some(map.repeat(workload.clips)),
        teacher_logits: None,
    };
    let settings = StudentTraining {
        loss: KdLossConfig {
            lambda: 0.25,
            ..KdLossConfig::default()
        },
        ..StudentTraining::default()
    };
    let mut trainer = StudentTrainer::new(student, settings, false).map_err(|e| e.to_string())?;
    common::median_ms(RUNS, || {
        pollster::block_on(trainer.step(&batch))
            .map(drop)
            .map_err(|e| e.to_string())
    })
}
