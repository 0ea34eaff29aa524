//! The five students: forward passes against PyTorch (fixtures from scripts/oracle/students.py),
//! parameter counts of the reference layouts, shapes over clip lengths, temporal attention,
//! gradients through the KD loss, saving and loading. The fixture tests run natively and in
//! headless Chromium, on the CPU and, where the browser offers it, on WebGPU.

use burn::tensor::{Device, Tensor, TensorData};
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::device::{ComputeDevice, read_floats};
use tempokd::students::{
    Architecture, AttRnnConfig, AttentionRequest, CrnnConfig, LstmPConfig, Precision, Preset,
    Student, StudentBudget, StudentConfig, StudentError, StudentFiles, TcResNetConfig,
};

mod common;
use common::{fixture_floats, max_difference};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

const TOLERANCE: f32 = 1e-4;

struct Fixture {
    name: &'static str,
    config: &'static str,
    weights: &'static [u8],
    expected: &'static [u8],
    /// One training step's loss and gradients (see scripts/oracle/students.py).
    gradients: &'static [u8],
}

macro_rules! fixture {
    ($name:literal) => {
        Fixture {
            name: $name,
            config: include_str!(concat!("fixtures/students/", $name, "/config.json")),
            weights: include_bytes!(concat!("fixtures/students/", $name, "/model.safetensors")),
            expected: include_bytes!(concat!(
                "fixtures/students/",
                $name,
                "/expected.safetensors"
            )),
            gradients: include_bytes!(concat!(
                "fixtures/students/",
                $name,
                "/gradients.safetensors"
            )),
        }
    };
}

const FIXTURES: [Fixture; 5] = [
    fixture!("lstm-p"),
    fixture!("tc-resnet"),
    fixture!("crnn"),
    fixture!("att-rnn"),
    fixture!("mhatt-rnn"),
];

impl Fixture {
    fn files(&self) -> StudentFiles<'static> {
        StudentFiles {
            config: self.config,
            weights: self.weights,
        }
    }
}

fn labels(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("class {i}")).collect()
}

/// A tensor's values, read off the autodiff graph.
fn read<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.without_autodiff()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

fn cpu() -> Device {
    ComputeDevice::cpu("test").device
}

/// Logits, a_S and every head of every architecture, on one device.
async fn matches_pytorch(device: &ComputeDevice) {
    for fixture in &FIXTURES {
        let student = Student::load(fixture.files(), &device.device)
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        let features = fixture_floats(fixture.expected, "features");
        let input_size = student.config().input_size();
        let shape = [2, features.len() / (2 * input_size), input_size];
        let input = Tensor::<3>::from_data(TensorData::new(features, shape), &device.device);
        let output = student.model().forward(input, AttentionRequest::PerHead);
        let outputs = [
            ("logits", read_floats(output.logits).await),
            ("attention", read_floats(output.attention.unwrap()).await),
            ("heads", read_floats(output.heads.unwrap()).await),
        ];
        for (key, actual) in outputs {
            let difference =
                max_difference(&actual.unwrap(), &fixture_floats(fixture.expected, key));
            assert!(
                difference <= TOLERANCE,
                "{} on {}: {key} differs from PyTorch by {difference}",
                fixture.name,
                device.placement
            );
        }
    }
}

async_test!(cpu_matches_pytorch, async {
    matches_pytorch(&ComputeDevice::cpu("test")).await
});

/// In a browser that offers WebGPU the students must run there and agree with PyTorch too.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn webgpu_matches_pytorch_when_offered() {
    matches_pytorch(&common::browser_device().await).await;
}

/// The deployment card's figures where the browser runs students (WebGPU where it offers it):
/// the same cost as on the CPU, and a time.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn deployment_figures_are_measured_where_the_browser_runs_students() {
    use tempokd::export::{deployment_cost, time_one_second};
    let device = common::browser_device().await;
    let config = Preset::TcResNet8.config(labels(12));
    let there = Student::new(config.clone(), &device.device).unwrap();
    let on_cpu = Student::new(config, &cpu()).unwrap();
    assert_eq!(
        deployment_cost(&there).await.unwrap(),
        deployment_cost(&on_cpu).await.unwrap()
    );
    let ms = time_one_second(&there, common::now_ms).await.unwrap();
    wasm_bindgen_test::console_log!("1 s on {}: {ms:.2} ms", device.placement);
    assert!(ms >= 0.0 && ms.is_finite(), "{ms}");
}

/// One training step against PyTorch's autograd: the loss (cross-entropy plus 0.5 · KL(a_T ‖ a_S)
/// on a fixed batch, labels and target) and every parameter's gradient, with dropout off and
/// batch normalisation on the batch's statistics as in training. The recurrent layers take the
/// fused path here, natively and in Chromium.
#[test]
fn a_training_step_matches_pytorch_autograd() {
    use burn::tensor::Int;
    use tempokd::checkpoint::named_gradients;
    use tempokd::kd::{cross_entropy, temporal_kd_loss};
    let device = cpu().autodiff();
    for fixture in &FIXTURES {
        let mut config: serde_json::Value = serde_json::from_str(fixture.config).unwrap();
        if let Some(dropout) = config["layout"].get_mut("dropout") {
            *dropout = 0.0.into();
        }
        let config = config.to_string();
        let files = StudentFiles {
            config: &config,
            weights: fixture.weights,
        };
        let student =
            Student::load(files, &device).unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        let features = fixture_floats(fixture.expected, "features");
        let input_size = student.config().input_size();
        let shape = [2, features.len() / (2 * input_size), input_size];
        let input = Tensor::<3>::from_data(TensorData::new(features, shape), &device);
        let output = student.model().forward(input, AttentionRequest::Mean);
        let labels: Vec<i64> = fixture_floats(fixture.gradients, "labels")
            .iter()
            .map(|l| *l as i64)
            .collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [2]), &device);
        let target = fixture_floats(fixture.gradients, "target");
        let frames = target.len() / 2;
        let target = Tensor::<2>::from_data(TensorData::new(target, [2, frames]), &device);
        let loss = cross_entropy(output.logits, labels)
            + temporal_kd_loss(target, output.attention.unwrap()).mul_scalar(0.5);
        let gradients = loss.backward();
        let difference = max_difference(&read(loss), &fixture_floats(fixture.gradients, "loss"));
        assert!(
            difference <= TOLERANCE,
            "{}: the loss differs from PyTorch's by {difference}",
            fixture.name
        );
        let found = named_gradients(student.model(), &gradients);
        let expected = safetensors::SafeTensors::deserialize(fixture.gradients)
            .unwrap()
            .names()
            .iter()
            .filter(|name| name.starts_with("grad."))
            .count();
        assert_eq!(
            found.len(),
            expected,
            "{}: parameters with a gradient, ours and PyTorch's",
            fixture.name
        );
        for gradient in found {
            let reference = fixture_floats(fixture.gradients, &format!("grad.{}", gradient.name));
            let largest = reference.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let difference = max_difference(&read(gradient.values), &reference);
            assert!(
                difference <= TOLERANCE * largest,
                "{}: the gradient of {} differs from PyTorch's by {difference}",
                fixture.name,
                gradient.name
            );
        }
    }
}

#[test]
fn parameter_counts_equal_the_reference_layouts() {
    // (deployed, training-only query q); derivations beside each layout's `init`. The paper's
    // rounded figures: LSTM-P ≈546K, TC-ResNet8 ≈66K (with batch-norm running statistics:
    // 65,836), Att-RNN ≈496K; CRNN 467,772 and MHAtt-RNN 743,025 exactly.
    let expected = [
        (Preset::LstmP, 545_912, 200),
        (Preset::TcResNet8, 65_180, 48),
        (Preset::TcResNet14, 135_868, 48),
        (Preset::Crnn, 467_772, 256),
        (Preset::AttRnn, 496_497, 0),
        (Preset::MhattRnn, 743_025, 0),
    ];
    for (preset, deployed, training_only) in expected {
        let config = preset.config(labels(12));
        assert_eq!(
            config.cost().parameters.total,
            (deployed + training_only) as u64,
            "{}: the count from the config alone",
            preset.name()
        );
        let student = Student::new(config, &cpu()).unwrap();
        assert_eq!(student.deployed_params(), deployed, "{}", preset.name());
        assert_eq!(
            student.training_only_params(),
            training_only,
            "{}",
            preset.name()
        );
    }
}

/// The budget counts parameters from the config alone; on layouts unlike the presets (more
/// blocks, more layers, other widths) it must still agree with the model built from it.
#[test]
fn the_cost_of_any_layout_equals_the_built_model() {
    let mut layouts = Vec::new();
    let mut tc = TcResNetConfig::default();
    (tc.stages, tc.blocks_per_stage, tc.kernel) = (vec![8, 16], 3, 5);
    layouts.push(Architecture::TcResNet(tc));
    let mut crnn = CrnnConfig::default();
    (crnn.conv_channels, crnn.conv_kernels) = (vec![4, 6, 3], vec![[3, 3], [1, 5], [3, 1]]);
    (crnn.gru_units, crnn.dense) = (24, Vec::new());
    layouts.push(Architecture::Crnn(crnn));
    layouts.push(Architecture::MhattRnn(AttRnnConfig {
        conv_channels: vec![4, 2, 1],
        conv_kernel: 3,
        gru_layers: 3,
        gru_units: 16,
        heads: 2,
        dropout: 0.0,
        dense: vec![8],
    }));
    layouts.push(Architecture::LstmP(LstmPConfig {
        units: 30,
        projection: 7,
        dropout: 0.0,
    }));
    for arch in layouts {
        let config = StudentConfig {
            arch,
            ..Preset::Crnn.config(labels(5))
        };
        let student = Student::new(config.clone(), &cpu()).unwrap();
        let built = student.deployed_params() + student.training_only_params();
        assert_eq!(config.cost().parameters.total, built as u64, "{config:?}");
    }
}

#[test]
fn layouts_over_the_budget_are_refused_by_their_costliest_field() {
    let base = Preset::LstmP.config(labels(12));
    let huge_lstm = StudentConfig {
        arch: Architecture::LstmP(LstmPConfig {
            units: 8192,
            projection: 8192,
            dropout: 0.0,
        }),
        ..base.clone()
    };
    // Each field is within its own bound; the product is 336 million parameters.
    let why = huge_lstm.validate().unwrap_err().to_string();
    assert!(why.contains("336363532 parameters"), "{why}");
    assert!(why.contains("units × projection"), "{why}");
    assert!(why.contains("16000000 (max_parameters)"), "{why}");
    // Small weights, but 8,192 channels over every bin of 1,000 frames a second.
    let mut wide = Preset::AttRnn.config(labels(12));
    wide.features.hop_length = 16;
    if let Architecture::AttRnn(c) = &mut wide.arch {
        c.conv_channels = vec![8192, 1];
    }
    let why = wide.validate().unwrap_err().to_string();
    assert!(why.contains("activations per second"), "{why}");
    assert!(why.contains("conv_channels"), "{why}");
    // Through the loader, before any weight is read.
    let text = huge_lstm.to_json();
    let loaded = Student::load(
        StudentFiles {
            config: &text,
            weights: &[],
        },
        &cpu(),
    );
    assert!(matches!(loaded, Err(StudentError::Config(_))));
    // The budget is a setting.
    let phone = StudentBudget {
        max_parameters: 100_000,
        ..StudentBudget::default()
    };
    assert!(base.validate().is_ok());
    let why = base.validate_within(&phone).unwrap_err().to_string();
    assert!(why.contains("546112 parameters"), "{why}");
}

/// A clip with some structure: a tone that rises in the middle of low noise.
fn clip(seconds: f32) -> Vec<f32> {
    let samples = (seconds * MODEL_SAMPLE_RATE as f32) as usize;
    let mut state = 1u32;
    (0..samples)
        .map(|n| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = n as f32 / MODEL_SAMPLE_RATE as f32;
            let envelope = (-((t - seconds / 2.0) / 0.1).powi(2)).exp();
            0.02 * noise + 0.5 * envelope * (2.0 * std::f32::consts::PI * 600.0 * t).sin()
        })
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn shapes_follow_the_clip_length_and_attention_is_a_distribution() {
    for preset in Preset::ALL {
        let student = Student::new(preset.config(labels(12)), &cpu()).unwrap();
        for seconds in [1.0, 2.0, 4.0, 8.0] {
            let result =
                pollster::block_on(student.infer(&clip(seconds), AttentionRequest::PerHead))
                    .unwrap();
            let axis = result.axis;
            let context = format!("{} at {seconds} s", preset.name());
            assert_eq!(result.prediction.logits.len(), 12, "{context}");
            let feature_frames = 1 + (seconds as usize * 16_000 - 640) / 320;
            let expected_frames = match preset {
                Preset::TcResNet8 | Preset::TcResNet14 => feature_frames.div_ceil(8),
                Preset::Crnn => feature_frames - 6,
                _ => feature_frames,
            };
            assert_eq!(axis.frames, expected_frames, "{context}");
            let attention = result.attention.unwrap();
            assert_eq!(attention.len(), axis.frames, "{context}");
            assert!(
                (attention.iter().sum::<f32>() - 1.0).abs() < 1e-4,
                "{context}"
            );
            assert!(attention.iter().all(|&a| a >= 0.0), "{context}");
            let heads = result.heads.unwrap();
            let expected_heads = if preset == Preset::MhattRnn { 4 } else { 1 };
            assert_eq!(heads.len(), expected_heads, "{context}");
            for head in &heads {
                assert_eq!(head.len(), axis.frames, "{context}");
                assert!((head.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{context}");
            }
            // Frame 0 is centred where its receptive field is: feature frame 0's window centre
            // (20 ms) for frame-rate students, 3 frames later after the CRNN's valid 3- and
            // 5-wide convolutions, and on feature frame 0 for TC-ResNet's 160 ms frames.
            let (frame_s, first_centre_s) = match preset {
                Preset::TcResNet8 | Preset::TcResNet14 => (0.16, 0.02),
                Preset::Crnn => (0.02, 0.08),
                _ => (0.02, 0.02),
            };
            assert!((axis.frame_s - frame_s).abs() < 1e-6, "{context}");
            let centre = axis.start_s + axis.frame_s / 2.0;
            assert!(
                (centre - first_centre_s).abs() < 1e-6,
                "{context}: {centre}"
            );
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn without_attention_the_query_head_is_not_run() {
    let student = Student::new(Preset::Crnn.config(labels(12)), &cpu()).unwrap();
    let result = pollster::block_on(student.infer(&clip(1.0), AttentionRequest::None)).unwrap();
    assert!(result.attention.is_none() && result.heads.is_none());
    let with = pollster::block_on(student.infer(&clip(1.0), AttentionRequest::Mean)).unwrap();
    assert_eq!(
        result.prediction.logits, with.prediction.logits,
        "the query head must not touch the logits"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_kd_loss_trains_the_query_and_the_backbone() {
    use tempokd::checkpoint::named_gradients;
    use tempokd::kd::temporal_kd_loss;
    let device = cpu().autodiff();
    // (preset, a parameter that must receive a gradient through a_S)
    let cases = [
        (
            Preset::LstmP,
            ["LstmP.attention_head.q", "LstmP.lstm.weight_ih"],
        ),
        (
            Preset::TcResNet8,
            ["TcResNet.attention_head.q", "TcResNet.first.weight"],
        ),
        (
            Preset::Crnn,
            ["Crnn.attention_head.q", "Crnn.convs.0.weight"],
        ),
        (
            Preset::AttRnn,
            ["AttRnn.query.weight", "AttRnn.grus.0.forward.weight_ih"],
        ),
        (
            Preset::MhattRnn,
            ["AttRnn.query.weight", "AttRnn.convs.0.weight"],
        ),
    ];
    for (preset, names) in cases {
        let student = Student::new(preset.config(labels(12)), &device).unwrap();
        let features = student.features(&clip(1.0)).unwrap();
        let output = student
            .model()
            .forward(student.input(&features), AttentionRequest::Mean);
        let student_attention = output.attention.unwrap();
        let [_, frames] = student_attention.dims();
        // A teacher that looks only at the first frame.
        let mut target = vec![0.0; frames];
        target[0] = 1.0;
        let teacher = Tensor::<2>::from_data(TensorData::new(target, [1, frames]), &device);
        let loss = temporal_kd_loss(teacher, student_attention);
        let gradients = loss.backward();
        let found = named_gradients(student.model(), &gradients);
        for name in names {
            let gradient = found
                .iter()
                .find(|g| g.name == name)
                .unwrap_or_else(|| panic!("{}: no gradient for {name}", preset.name()));
            let values = gradient.values.clone();
            let norm: f32 = (values.clone() * values).sum().into_scalar();
            assert!(
                norm > 0.0,
                "{}: the gradient of {name} is zero",
                preset.name()
            );
        }
        // The logits took no part in this loss, so the classifier gets nothing.
        assert!(
            !found.iter().any(|g| g.name.contains("classifier")),
            "{}: the KD loss reached the classifier",
            preset.name()
        );
    }
}

async_test!(
    /// Every student's outputs and gradients on our CPU operations (the recurrent layers as one
    /// fused operation per sequence, the 1-D convolutions as one product per block of clips, batch
    /// norm in training as one node) and on burn's (the recurrent layers frame by frame on its
    /// graph, as on WebGPU before the recurrent kernels, its convolution and its batch norm), at
    /// 1 s and 8 s: logits, a_S, and the gradient of a loss on both for every parameter, equal to
    /// 1e-5 of the largest value of the output or of the student's gradients.
    ///
    /// The students' weights come from a fixed seed. With some weights a value entering one of
    /// TC-ResNet's ReLUs lies within a rounding error of zero (at 8 s the first layer has 6,384,
    /// the nearest about 1e-6 away for some seeds): the two paths' last bits then pick different
    /// sides of the kink, and every gradient upstream of it differs by that value's whole share,
    /// as it would between any two correct implementations that round differently.
    our_cpu_operations_equal_burns,
    async { ours_equal_burns(&ComputeDevice::cpu("test"), &Preset::ALL, &[1.0, 8.0]).await }
);

async_test!(
    /// The same on the GPU for every student with recurrent layers: their kernels (a sequence in
    /// one launch per direction, or a few where a driver limits a shader's loops, forward and
    /// backward) against burn's graph frame by frame on the same device. Natively on wgpu's
    /// device (Mesa's software Vulkan driver where there is no GPU), at 1 s and 8 s; in Chromium
    /// on WebGPU (SwiftShader in the headless tests) at 1 s, where the reference, the graph
    /// frame by frame on SwiftShader, takes minutes at 8 s.
    the_recurrent_kernels_equal_burns_graph_on_the_gpu,
    async {
        #[cfg(not(target_arch = "wasm32"))]
        let device = ComputeDevice::native(tempokd::device::DeviceChoice::Wgpu(None));
        #[cfg(target_arch = "wasm32")]
        let device = common::browser_device().await;
        // Natively a missing Vulkan driver is a broken setup; a browser without WebGPU runs the
        // CPU path, which the test above covers.
        #[cfg(not(target_arch = "wasm32"))]
        assert!(device.is_gpu(), "{}", device.placement);
        if !device.is_gpu() {
            return;
        }
        let recurrent: Vec<Preset> = (Preset::ALL.into_iter())
            .filter(|&preset| preset != Preset::TcResNet8)
            .collect();
        let seconds: &[f32] = match cfg!(target_arch = "wasm32") {
            true => &[1.0],
            false => &[1.0, 8.0],
        };
        ours_equal_burns(&device, &recurrent, seconds).await
    }
);

async fn ours_equal_burns(device: &ComputeDevice, presets: &[Preset], seconds: &[f32]) {
    const WEIGHTS_SEED: u64 = 1;
    use tempokd::batch_norm::on_burns_batch_norm;
    use tempokd::checkpoint::named_gradients;
    use tempokd::convolution::on_burns_conv;
    use tempokd::kd::temporal_kd_loss;
    use tempokd::students::on_recurrent_graph;
    let device_name = device.placement.to_string();
    let device = device.device.clone().autodiff();
    let mut failures = Vec::new();
    for &seconds in seconds {
        for &preset in presets {
            // Without dropout, whose masks would differ between the runs.
            let mut config = preset.config(labels(12));
            match &mut config.arch {
                Architecture::LstmP(c) => c.dropout = 0.0,
                Architecture::Crnn(c) => c.dropout = 0.0,
                Architecture::AttRnn(c) | Architecture::MhattRnn(c) => c.dropout = 0.0,
                Architecture::TcResNet(_) => {}
            }
            let convolutional = matches!(config.arch, Architecture::TcResNet(_));
            device.seed(WEIGHTS_SEED);
            let student = Student::new(config, &device).unwrap();
            let features = student.features(&clip(seconds)).unwrap();
            // The step's values, unread: the GPU's are read asynchronously below.
            let run = || {
                let output = student
                    .model()
                    .forward(student.input(&features), AttentionRequest::Mean);
                let attention = output.attention.unwrap();
                let [_, frames] = attention.dims();
                let [_, classes] = output.logits.dims();
                let target: Vec<f32> = (0..frames).map(|t| (t % 5 + 1) as f32).collect();
                let total: f32 = target.iter().sum();
                let target = target.iter().map(|v| v / total).collect::<Vec<_>>();
                let teacher = Tensor::<2>::from_data(TensorData::new(target, [1, frames]), &device);
                let weights: Vec<f32> = (0..classes).map(|c| c as f32 / 4.0 - 1.0).collect();
                let weights =
                    Tensor::<2>::from_data(TensorData::new(weights, [1, classes]), &device);
                let loss = temporal_kd_loss(teacher, attention.clone())
                    + (output.logits.clone() * weights).sum();
                let gradients = loss.backward();
                let mut all = vec![
                    (
                        "logits".to_string(),
                        output.logits.without_autodiff().flatten(0, 1),
                    ),
                    (
                        "attention".to_string(),
                        attention.without_autodiff().flatten(0, 1),
                    ),
                ];
                for gradient in named_gradients(student.model(), &gradients) {
                    all.push((gradient.name, gradient.values));
                }
                all
            };
            let ours = read_all(run()).await;
            let burns = read_all(on_recurrent_graph(|| {
                on_burns_conv(|| on_burns_batch_norm(run))
            }))
            .await;
            assert_eq!(ours.len(), burns.len(), "{}", preset.name());
            // Scales: the logits' and a_S's own largest values, and for the gradients the largest
            // of any parameter's. Gradients of biases and batch-norm shifts are sums over every
            // frame whose terms cancel, where the two paths' float rounding shows at up to 3e-5
            // of their own size in Chromium; the layers' own tests hold each gradient to 1e-5
            // of itself (engine/src/students/recurrent). TC-ResNet's values pass through up to
            // 13 batch norms, each dividing by a standard deviation over the clip's frames;
            // there the paths' rounding shows at up to 4e-5 in the gradients (seen over many
            // seeds) and just over 1e-5 in a_S at 8 s in Chromium, and its convolutions' and
            // batch norms' own tests hold each to 1e-5 (engine/src/conv1d, batch_norm.rs).
            let tolerance = match convolutional {
                true => 1e-4,
                false => 1e-5,
            };
            let largest = |values: &[f32]| values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let gradients_scale = burns[2..]
                .iter()
                .map(|(_, v)| largest(v))
                .fold(0.0, f32::max);
            for (index, ((name, a), (_, b))) in ours.iter().zip(&burns).enumerate() {
                let scale = match index {
                    0 | 1 => largest(b),
                    _ => gradients_scale,
                };
                let difference = max_difference(a, b);
                if difference > tolerance * scale.max(1e-12) {
                    failures.push(format!(
                        "{} at {seconds} s, {name}: differs by {difference} of {scale}",
                        preset.name()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "on {device_name}:\n{}",
        failures.join("\n")
    );
}

/// Every named tensor's values, read where they are.
async fn read_all(tensors: Vec<(String, Tensor<1>)>) -> Vec<(String, Vec<f32>)> {
    let mut all = Vec::with_capacity(tensors.len());
    for (name, values) in tensors {
        let values = read_floats(values)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        all.push((name, values));
    }
    all
}

async_test!(save_then_load_gives_identical_outputs, async {
    for preset in Preset::ALL {
        let student = Student::new(preset.config(labels(3)), &cpu()).unwrap();
        let (config, weights) = student.save().await.unwrap();
        let loaded = Student::load(
            StudentFiles {
                config: &config,
                weights: &weights,
            },
            &cpu(),
        )
        .unwrap();
        let audio = clip(1.0);
        let before = student
            .infer(&audio, AttentionRequest::PerHead)
            .await
            .unwrap();
        let after = loaded
            .infer(&audio, AttentionRequest::PerHead)
            .await
            .unwrap();
        assert_eq!(before, after, "{}", preset.name());
    }
});

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn save_dir_then_load_dir_round_trips() {
    let dir = common::scratch_dir("student-dir");
    let student = Student::new(Preset::TcResNet8.config(labels(2)), &cpu()).unwrap();
    pollster::block_on(student.save_dir(&dir, Precision::F32)).unwrap();
    let loaded = Student::load_dir(&dir, &cpu()).unwrap();
    assert_eq!(loaded.config(), student.config());
    let missing = Student::load_dir(&dir.join("absent"), &cpu())
        .err()
        .unwrap();
    assert!(missing.to_string().contains("config.json"), "{missing}");
}

/// Every tensor of a student as it sits on the device, by name.
async fn weights_of(student: &Student) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let tensors = tempokd::checkpoint::named_tensors(student.model());
    tempokd::checkpoint::read_to_host(tensors).await.unwrap()
}

async_test!(students_saved_at_fp16_or_int8_load_back_as_stored, async {
    use tempokd::students::{is_rounded, round_trip};
    let student = Student::new(Preset::Crnn.config(labels(4)), &cpu()).unwrap();
    let original = weights_of(&student).await;
    let (fp32_config, fp32_weights) = student.save().await.unwrap();
    assert!(
        !fp32_config.contains("\"weights\""),
        "fp32 configs stay as they were"
    );
    for (precision, largest_share) in [(Precision::F16, 0.55), (Precision::Int8, 0.3)] {
        let (config, weights) = student.save_at(precision).await.unwrap();
        assert!(
            config.contains(&format!("\"weights\": \"{}\"", precision.name())),
            "{config}"
        );
        let share = weights.len() as f64 / fp32_weights.len() as f64;
        assert!(
            share < largest_share,
            "{precision:?}: {share} of the fp32 file"
        );
        let loaded = load(&config, &weights).unwrap();
        assert_eq!(loaded.config().weights, precision);
        // What was stored is what loads: each matrix and kernel rounded, the rest exact.
        for ((name, shape, values), (_, _, back)) in original.iter().zip(weights_of(&loaded).await)
        {
            let expected = match is_rounded(shape) {
                true => round_trip(values, precision),
                false => values.clone(),
            };
            assert_eq!(back, expected, "{precision:?}: {name}");
        }
        // Saved again in full, it says fp32 again.
        let (again, _) = loaded.save().await.unwrap();
        assert!(!again.contains("\"weights\""), "{again}");
    }
});

async_test!(
    int8_weights_without_a_scale_or_with_a_config_that_disagrees_are_refused,
    async {
        use tempokd::checkpoint::{SCALE_PREFIX, Stored, serialize};
        let student = Student::new(Preset::TcResNet8.config(labels(2)), &cpu()).unwrap();
        let (config, _) = student.save_at(Precision::Int8).await.unwrap();
        let tensors = weights_of(&student).await;
        // Each matrix as int8 codes, its scale in the metadata written by hand below.
        let with_scale = |scale: Option<&str>| {
            let stored = (tensors.iter().cloned())
                .map(|(name, shape, values)| {
                    let stored = match shape.len() >= 2 {
                        true => Stored::I8 {
                            codes: values.iter().map(|v| (v * 10.0).round() as i8).collect(),
                            scale: 0.1,
                        },
                        false => Stored::F32(values),
                    };
                    (name, shape, stored)
                })
                .collect();
            let bytes = serialize(stored).unwrap();
            rewrite_scales(&bytes, scale)
        };
        assert!(load(&config, &with_scale(Some("0.1"))).is_ok());
        for scale in [None, Some("NaN"), Some("-0.1"), Some("0"), Some("a tenth")] {
            let message = load(&config, &with_scale(scale)).err().unwrap().to_string();
            assert!(message.contains("no usable scale"), "{scale:?}: {message}");
            assert!(message.contains(SCALE_PREFIX), "{message}");
        }
        // int8 codes under a config that does not say so, and a config saying int8 over fp32.
        let plain = student.config().to_json();
        let message = load(&plain, &with_scale(Some("0.1")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains("stores") && message.contains("int8 codes"),
            "{message}"
        );
        let (_, fp32) = student.save().await.unwrap();
        let message = load(&config, &fp32).err().unwrap().to_string();
        assert!(message.contains("no tensor stored so"), "{message}");
    }
);

/// A safetensors file with every `scale:` entry of its metadata set to `scale`, or removed.
fn rewrite_scales(bytes: &[u8], scale: Option<&str>) -> Vec<u8> {
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
    let metadata = header["__metadata__"].as_object_mut().unwrap();
    for value in metadata.values_mut() {
        *value = serde_json::Value::from(scale.unwrap_or("removed"));
    }
    if scale.is_none() {
        metadata.clear();
    }
    let mut text = serde_json::to_vec(&header).unwrap();
    // The header is padded to a multiple of 8 bytes, as safetensors writes it.
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut file = (text.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&text);
    file.extend_from_slice(&bytes[8 + length..]);
    file
}

fn load(config: &str, weights: &[u8]) -> Result<Student, StudentError> {
    Student::load(StudentFiles { config, weights }, &cpu())
}

#[test]
fn weights_of_another_architecture_or_shape_are_refused_by_name() {
    let [lstm_p, tc_resnet, ..] = &FIXTURES;
    let error = load(lstm_p.config, tc_resnet.weights).err().unwrap();
    let message = error.to_string();
    assert!(matches!(error, StudentError::Weights { .. }), "{message}");
    assert!(
        message.contains("LstmP.") && message.contains("missing"),
        "{message}"
    );

    let wider = lstm_p.config.replace("\"units\": 24", "\"units\": 25");
    let message = load(&wider, lstm_p.weights).err().unwrap().to_string();
    assert!(
        message.contains("LstmP.lstm.") && message.contains("shape"),
        "{message}"
    );

    for bytes in [&lstm_p.weights[..100], &[][..], &b"not a model"[..]] {
        let message = load(lstm_p.config, bytes).err().unwrap().to_string();
        assert!(message.contains("model.safetensors"), "{message}");
    }
}

#[test]
fn impossible_configs_are_refused_before_building() {
    let base = FIXTURES[2].config; // CRNN reading 8 MFCC
    let cases = [
        (base.replace("\"crnn\"", "\"transformer\""), "arch"),
        (
            base.replace("\"gru_units\": 12", "\"gru_units\": 0"),
            "gru_units",
        ),
        (
            base.replace("\"gru_units\": 12", "\"gru_units\": 100000000"),
            "gru_units",
        ),
        (
            base.replace("\"gru_units\": 12", "\"gru_unit\": 12"),
            "gru_unit",
        ),
        // Two 3-wide frequency kernels need more than 4 bins.
        (base.replace("\"n_mfcc\": 8", "\"n_mfcc\": 4"), "bins"),
        (
            base.replace("\"dropout\": 0.1", "\"dropout\": 1.5"),
            "dropout",
        ),
        ("{}".to_string(), "arch"),
    ];
    for (config, word) in cases {
        let message = load(&config, FIXTURES[2].weights)
            .err()
            .unwrap_or_else(|| panic!("accepted: {config}"))
            .to_string();
        assert!(message.starts_with("config.json"), "{message}");
        assert!(message.contains(word), "{word}: {message}");
    }
    let no_labels = StudentConfig {
        labels: Vec::new(),
        ..Preset::Crnn.config(labels(1))
    };
    assert!(Student::new(no_labels, &cpu()).is_err());
}

async_test!(
    a_clip_too_short_for_the_student_says_how_long_it_must_be,
    async {
        let student = Student::new(Preset::Crnn.config(labels(2)), &cpu()).unwrap();
        // 0.1 s gives 4 feature frames; the CRNN's valid convolutions need 7.
        let error = student
            .infer(&clip(0.1), AttentionRequest::Mean)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, StudentError::TooShort { needed: 7, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("0.16 s"), "{error}");
        let empty = student.infer(&[], AttentionRequest::Mean).await;
        assert!(empty.is_err());
    }
);
