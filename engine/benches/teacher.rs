//! The teacher's forward pass with every attention map, for wav2vec2-base's geometry (95M
//! parameters, random weights) on 1 s and 8 s of audio, on the CPU, beside PyTorch running the
//! same model in the same run, and again with burn's own linear layers, then burn's own
//! convolution, then burn's linear layers, convolution and GELU, instead of the teacher's; and
//! the maps of several clips computed one clip per forward pass, then in one batched pass, for
//! that geometry (beside PyTorch's own, one clip per forward pass and all in one) and for the
//! shipped teacher (`static/models/teacher`, what the maps caches run);
//! and what one fused product of the queries, keys and values could save at most: each layer's
//! three products against one of the three weights side by side (burn's CPU matrix product on
//! both sides, so the difference is the fusing alone), over all layers, beside the forward pass.
//!
//!     cargo bench -p tempokd --bench teacher
//!
//! PyTorch runs through scripts/bench/teacher_torch.py with the Python in `$TEMPOKD_PYTHON`
//! (default `python3`), which needs `torch` and `transformers`; without them only our figures
//! are printed.

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use serde::Deserialize;
use tempokd::convolution::on_burns_conv;
use tempokd::device::ComputeDevice;
use tempokd::teacher::{AttentionDetail, Teacher, Wav2Vec2Config, on_burns_gelu, on_burns_linear};
use tempokd::train::{MAP_BATCH_CLIPS, teacher_target, teacher_targets};

mod common;

/// Clip lengths in seconds and how many timed runs each gets (after one warm-up).
const CASES: [(f32, usize); 2] = [(1.0, 10), (8.0, 3)];

#[derive(Deserialize)]
struct TorchTiming {
    seconds: f32,
    median_ms: f64,
    threads: usize,
    torch: String,
    parameters: usize,
}

/// PyTorch's maps of [`MAP_BATCH_CLIPS`] clips, per clip, one clip per forward pass and all in
/// one: whether batching gains there is the reference for whether it can gain here.
#[derive(Deserialize)]
struct TorchMaps {
    maps_clips: usize,
    alone_ms: f64,
    together_ms: f64,
}

/// One line of the PyTorch script's output.
#[derive(Deserialize)]
#[serde(untagged)]
enum TorchLine {
    Forward(TorchTiming),
    Maps(TorchMaps),
}

fn main() -> Result<(), String> {
    // As the command line runs.
    tempokd::heap::keep_freed_blocks();
    let device = ComputeDevice::cpu("benchmark");
    let labels: Vec<String> = (0..12).map(|i| format!("class {i}")).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let teacher = Teacher::random(Wav2Vec2Config::base(&labels), 7, &device.device)
        .map_err(|e| e.to_string())?;
    let parameters = teacher.model().num_params();
    let torch = torch_timings();

    println!(
        "wav2vec2-base geometry, {:.1}M parameters, forward pass with all attention maps, CPU",
        parameters as f64 / 1e6
    );
    println!(
        "{:>6}  {:>15}  {:>12}  {:>15}  {:>20}  {:>12}  {:>18}  {:>12}  {:>28}  {:>12}",
        "audio",
        "TempoKD (burn)",
        "PyTorch",
        "TempoKD/PyTorch",
        "with burn's linear",
        "burn's/ours",
        "with burn's conv",
        "burn's/ours",
        "burn's linear, conv and GELU",
        "burn's/ours"
    );
    let mut forward_ms = Vec::new();
    for (seconds, runs) in CASES {
        let ours = median_ms(&teacher, seconds, runs)?;
        forward_ms.push(ours);
        let burns_linear = on_burns_linear(|| median_ms(&teacher, seconds, runs))?;
        let burns_conv = on_burns_conv(|| median_ms(&teacher, seconds, runs))?;
        let burns_all = on_burns_linear(|| {
            on_burns_conv(|| on_burns_gelu(|| median_ms(&teacher, seconds, runs)))
        })?;
        let reference = torch
            .as_ref()
            .ok()
            .and_then(|(t, _)| t.iter().find(|t| t.seconds == seconds))
            .map_or(f64::NAN, |t| t.median_ms);
        println!(
            "{:>5}s  {:>12.0} ms  {:>9.0} ms  {:>15.2}  {:>17.0} ms  {:>12.2}  {:>15.0} ms  {:>12.2}  {:>25.0} ms  {:>12.2}",
            seconds,
            ours,
            reference,
            ours / reference,
            burns_linear,
            burns_linear / ours,
            burns_conv,
            burns_conv / ours,
            burns_all,
            burns_all / ours
        );
    }
    let config = Wav2Vec2Config::base(&labels);
    for ((seconds, runs), forward) in CASES.into_iter().zip(&forward_ms) {
        let [separate, fused] = qkv_products_ms(config.hidden_size, seconds, runs * 10, &device)?;
        let layers = config.num_hidden_layers as f64;
        let saved = (separate - fused) * layers;
        println!(
            "queries, keys and values at {seconds} s, one layer: three products {separate:.2} ms, \
             one fused {fused:.2} ms ({:.2}); over {layers} layers at most {saved:.1} ms of the \
             forward pass's {forward:.0} ms ({:.1} %)",
            fused / separate,
            100.0 * saved / forward
        );
    }
    let [alone, together] = maps_per_clip_ms(&teacher, 3)?;
    println!(
        "teacher maps of {MAP_BATCH_CLIPS} clips of 4 s, per clip: one clip per forward pass \
         {alone:.0} ms, all in one {together:.0} ms ({:.2} of the single-clip time)",
        together / alone
    );
    match torch.as_ref().ok().and_then(|(_, maps)| maps.as_ref()) {
        Some(maps) => println!(
            "PyTorch, the same {} clips' maps, per clip: one clip per forward pass {:.0} ms, all \
             in one {:.0} ms ({:.2} of the single-clip time); TempoKD / PyTorch: {:.2} one at a \
             time, {:.2} all in one",
            maps.maps_clips,
            maps.alone_ms,
            maps.together_ms,
            maps.together_ms / maps.alone_ms,
            alone / maps.alone_ms,
            together / maps.together_ms
        ),
        None => println!("PyTorch's maps not measured"),
    }
    // The maps caches' own teacher, far smaller: its products gain more from more rows.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/models/teacher");
    let shipped = Teacher::load_dir(std::path::Path::new(shipped), &device.device)
        .map_err(|e| format!("{shipped}: {e}"))?;
    let [alone, together] = maps_per_clip_ms(&shipped, 15)?;
    println!(
        "the shipped teacher (static/models/teacher, {:.2}M parameters), the same maps, per clip: \
         one clip per forward pass {alone:.1} ms, all in one {together:.1} ms ({:.2} of the \
         single-clip time)",
        shipped.model().num_params() as f64 / 1e6,
        together / alone
    );
    match &torch {
        Ok((timings, _)) => {
            if let Some(first) = timings.first() {
                println!(
                    "PyTorch {} on {} threads, {:.1}M parameters; medians of {:?} runs",
                    first.torch,
                    first.threads,
                    first.parameters as f64 / 1e6,
                    CASES.map(|c| c.1)
                );
            }
        }
        Err(why) => println!("PyTorch not measured: {why}"),
    }
    Ok(())
}

/// A test signal of `seconds` of audio, different for each `seed`.
fn clip(seconds: f32, seed: usize) -> Vec<f32> {
    (0..(seconds * 16_000.0) as usize)
        .map(|i| (i as f32 * 0.07).sin() * 0.3 + ((i * 7919 + seed * 31) % 101) as f32 / 1000.0)
        .collect()
}

/// The first-frame rollout and logits (what the maps caches keep) of [`MAP_BATCH_CLIPS`] clips
/// of 4 s, per clip: one clip per forward pass, then all of them in one; medians of `runs`.
fn maps_per_clip_ms(teacher: &Teacher, runs: usize) -> Result<[f64; 2], String> {
    let clips: Vec<Vec<f32>> = (0..MAP_BATCH_CLIPS).map(|seed| clip(4.0, seed)).collect();
    let clips: Vec<&[f32]> = clips.iter().map(Vec::as_slice).collect();
    let rollout = teacher.default_rollout();
    let alone = common::median_ms(runs, || {
        for clip in &clips {
            pollster::block_on(teacher_target(teacher, clip, &rollout))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    let together = common::median_ms(runs, || {
        pollster::block_on(teacher_targets(teacher, &clips, &rollout))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    let count = clips.len() as f64;
    Ok([alone / count, together / count])
}

/// One attention layer's query, key and value products on `seconds` of audio (the frames the
/// feature encoder makes of it): three products of `hidden` columns, then one of `3 × hidden`;
/// medians of `runs`.
fn qkv_products_ms(
    hidden: usize,
    seconds: f32,
    runs: usize,
    device: &ComputeDevice,
) -> Result<[f64; 2], String> {
    // The feature encoder's frames: 20 ms apart with a 25 ms receptive field.
    let frames = ((seconds * 16_000.0) as usize - 400) / 320 + 1;
    let random =
        |shape: [usize; 3]| Tensor::<3>::random(shape, Distribution::Default, &device.device);
    let x = random([1, frames, hidden]);
    let weights: Vec<Tensor<3>> = (0..3).map(|_| random([1, hidden, hidden])).collect();
    let fused = Tensor::cat(weights.clone(), 2);
    let time = |run: &dyn Fn() -> Vec<Tensor<3>>| {
        common::median_ms(runs, || {
            // Reading one value makes sure every product was computed.
            for product in run() {
                product.slice([0..1, 0..1, 0..1]).into_data();
            }
            Ok(())
        })
    };
    let separate = time(&|| {
        weights
            .iter()
            .map(|w| x.clone().matmul(w.clone()))
            .collect()
    })?;
    let fused = time(&|| vec![x.clone().matmul(fused.clone())])?;
    Ok([separate, fused])
}

fn median_ms(teacher: &Teacher, seconds: f32, runs: usize) -> Result<f64, String> {
    let samples = clip(seconds, 0);
    common::median_ms(runs, || {
        let result = pollster::block_on(teacher.infer(&samples, AttentionDetail::PerHead))
            .map_err(|e| e.to_string())?;
        match result.attentions {
            Some(_) => Ok(()),
            None => Err("no attention maps came back".into()),
        }
    })
}

fn torch_timings() -> Result<(Vec<TorchTiming>, Option<TorchMaps>), String> {
    let mut args = vec!["--seconds".to_string()];
    args.extend(CASES.map(|c| c.0.to_string()));
    args.push("--runs".into());
    args.extend(CASES.map(|c| c.1.to_string()));
    args.extend(["--maps-clips", &MAP_BATCH_CLIPS.to_string()].map(String::from));
    args.extend(["--maps-seconds", "4", "--maps-runs", "3"].map(String::from));
    let lines = common::python_json_lines::<TorchLine>("teacher_torch.py", &args)?;
    let mut forward = Vec::new();
    let mut maps = None;
    for line in lines {
        match line {
            TorchLine::Forward(timing) => forward.push(timing),
            TorchLine::Maps(timing) => maps = Some(timing),
        }
    }
    Ok((forward, maps))
}
