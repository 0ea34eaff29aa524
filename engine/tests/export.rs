//! Students exported to ONNX give the same logits and temporal attention as TempoKD's own forward
//! pass in two runtimes independent of ours: tract, run here on every shipped student and
//! TC-ResNet14 at 1 s and 4 s, one clip and a batch of two; and onnxruntime, whose outputs for the
//! oracle students' exports are fixtures written by scripts/oracle/onnx_runtime.py. Native only:
//! tract is a native dependency of the tests, and the export itself is the same code in wasm.
#![cfg(not(target_family = "wasm"))]

use burn::tensor::{Tensor, TensorData};
use tempokd::audio::{Limits, MODEL_SAMPLE_RATE, load_clip};
use tempokd::device::{ComputeDevice, read_floats};
use tempokd::export::student_onnx;
use tempokd::model::{ModelIndex, ModelKind};
use tempokd::students::{AttentionRequest, Precision, Preset, Student};

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/models");
const CHECK_SET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/check-set");

/// Logits may differ by this much relative to the largest logit (at least 1); attention, a
/// distribution, by this much absolutely.
const TOLERANCE: f32 = 1e-4;

fn cpu() -> burn::tensor::Device {
    ComputeDevice::cpu("tests run on the CPU").device
}

/// The shipped students and a TC-ResNet14 with its initial weights (no shipped model has two
/// blocks per stage).
fn students() -> Vec<(String, Student)> {
    let index = ModelIndex::read(std::path::Path::new(MODELS)).unwrap();
    let mut students: Vec<(String, Student)> = index
        .models
        .iter()
        .filter(|model| model.kind == ModelKind::Student)
        .map(|model| {
            let dir = std::path::Path::new(MODELS).join(&model.name);
            (model.name.clone(), Student::load_dir(&dir, &cpu()).unwrap())
        })
        .collect();
    assert_eq!(students.len(), 10, "the shipped students");
    let labels = students[0].1.labels().to_vec();
    students.push((
        "tc-resnet14 (initial weights)".to_owned(),
        Student::new(Preset::TcResNet14.config(labels), &cpu()).unwrap(),
    ));
    students
}

/// A check-set word placed 40 % into `seconds` of quiet noise (deterministic).
fn clip(word: &str, seconds: f32) -> Vec<f32> {
    let bytes = std::fs::read(format!("{CHECK_SET}/{word}")).unwrap();
    let word = load_clip(bytes, &Limits::default()).unwrap().into_samples();
    let length = (seconds * MODEL_SAMPLE_RATE as f32) as usize;
    let mut state = 7u32;
    let mut samples: Vec<f32> = (0..length)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            0.01 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
        })
        .collect();
    let start = (length * 2 / 5).min(length.saturating_sub(word.len()));
    for (out, value) in samples[start..].iter_mut().zip(&word) {
        *out += value;
    }
    samples
}

/// What TempoKD computes for a batch of equally long clips: logits, attention and, for the
/// students with attention of their own, every head's.
fn ours(student: &Student, batch: &[Vec<f32>]) -> (Vec<Vec<f32>>, Vec<usize>) {
    let features: Vec<_> = batch
        .iter()
        .map(|samples| student.features(samples).unwrap())
        .collect();
    let (frames, bins) = (features[0].frames, features[0].bins);
    let values: Vec<f32> = features.iter().flat_map(|f| f.values.clone()).collect();
    let input = Tensor::<3>::from_data(
        TensorData::new(values.clone(), [batch.len(), frames, bins]),
        student.device(),
    );
    let output = student.model().forward(input, AttentionRequest::PerHead);
    let mut outputs = vec![values, read(output.logits), read(output.attention.unwrap())];
    if student.config().arch_name().contains("att-rnn") {
        outputs.push(read(output.heads.unwrap()));
    }
    (outputs, vec![batch.len(), frames, bins])
}

fn read<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    pollster::block_on(read_floats(tensor)).unwrap()
}

/// What tract computes from the exported file on the same features.
fn theirs(file: &[u8], features: &[f32], shape: &[usize], outputs: usize) -> Vec<Vec<f32>> {
    use tract_onnx::prelude::*;
    let model = tract_onnx::onnx()
        .model_for_read(&mut &*file)
        .unwrap()
        .with_input_fact(0, f32::fact(shape).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = tract_ndarray::ArrayD::from_shape_vec(shape, features.to_vec()).unwrap();
    let results = model.run(tvec!(Tensor::from(input).into())).unwrap();
    assert_eq!(results.len(), outputs, "the graph's outputs");
    results
        .iter()
        .map(|r| {
            r.to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect()
        })
        .collect()
}

fn assert_close(actual: &[f32], expected: &[f32], relative_to_scale: bool, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    assert!(!expected.is_empty(), "{what}: empty");
    let scale = match relative_to_scale {
        true => expected.iter().fold(1.0f32, |m, v| m.max(v.abs())),
        false => 1.0,
    };
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= TOLERANCE * scale,
        "{what}: differs by {worst} (scale {scale})"
    );
}

#[test]
fn exported_students_run_in_tract_as_in_tempokd() {
    let cases: [(&str, &[&str], f32); 3] = [
        ("1 s", &["yes_045360.wav"], 1.0),
        ("4 s", &["left_047040.wav"], 4.0),
        (
            "1 s, batch of 2",
            &["stop_048720.wav", "off_048300.wav"],
            1.0,
        ),
    ];
    for (name, student) in students() {
        for precision in Precision::ALL {
            // What TempoKD computes with the weights stored at this precision and read back.
            let reference = pollster::block_on(student.at_precision(precision)).unwrap();
            let onnx = pollster::block_on(student_onnx(&student, precision)).unwrap();
            for (case, words, seconds) in cases {
                let batch: Vec<Vec<f32>> = words.iter().map(|w| clip(w, seconds)).collect();
                let (ours, shape) = ours(&reference, &batch);
                let theirs = theirs(&onnx.bytes, &ours[0], &shape, ours.len() - 1);
                let what = |output: &str| format!("{name}, {}, {case}: {output}", precision.name());
                assert_close(&theirs[0], &ours[1], true, &what("logits"));
                assert_close(&theirs[1], &ours[2], false, &what("attention"));
                if ours.len() > 3 {
                    assert_close(&theirs[2], &ours[3], false, &what("every head's attention"));
                }
            }
        }
    }
}

/// Lower precision stores the matrices smaller: int8 about a quarter of fp32, fp16 half.
#[test]
fn lower_precision_exports_are_smaller() {
    for (name, student) in students() {
        let size = |precision| {
            pollster::block_on(student_onnx(&student, precision))
                .unwrap()
                .bytes
                .len() as f64
        };
        let fp32 = size(Precision::F32);
        let (fp16, int8) = (size(Precision::F16) / fp32, size(Precision::Int8) / fp32);
        println!("{name}: fp16 {fp16:.3}, int8 {int8:.3} of fp32's {fp32} bytes");
        assert!(
            fp16 < 0.53 && int8 < 0.3,
            "{name}: fp16 {fp16}, int8 {int8}"
        );
    }
}

#[test]
fn the_metadata_carries_the_front_end_and_the_classes() {
    let dir = std::path::Path::new(MODELS).join("crnn-kd");
    let student = Student::load_dir(&dir, &cpu()).unwrap();
    let onnx = pollster::block_on(student_onnx(&student, Precision::F32)).unwrap();
    use tract_onnx::prelude::Framework;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &*onnx.bytes)
        .unwrap();
    assert_eq!(proto.opset_import[0].version, tempokd::export::OPSET);
    let value = |key: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
            .unwrap_or_else(|| panic!("no {key}"))
    };
    assert_eq!(value("tempokd.labels"), student.labels().join(","));
    assert_eq!(value("tempokd.config"), student.config().to_json());
    let front_end = value("tempokd.front_end");
    for expected in [
        "16000 Hz",
        "640 samples",
        "320 samples",
        "DCT-II",
        "unit variance",
    ] {
        assert!(front_end.contains(expected), "{expected} in {front_end}");
    }
    // The weights are nearly all of the file.
    assert!(onnx.weight_bytes * 100 > onnx.bytes.len() * 95);
}

/// FNV-1a, 64 bits: the script records the hash of the file onnxruntime ran.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn exported_oracle_students_ran_in_onnxruntime_as_in_tempokd() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let archs = ["lstm-p", "tc-resnet", "crnn", "att-rnn", "mhatt-rnn"];
    let precisions = [(Precision::F32, ""), (Precision::Int8, "-int8")];
    for (arch, (precision, suffix)) in archs
        .into_iter()
        .flat_map(|arch| precisions.map(|p| (arch, p)))
    {
        let dir = std::path::Path::new(fixtures).join("students").join(arch);
        let student = Student::load_dir(&dir, &cpu()).unwrap();
        let onnx = pollster::block_on(student_onnx(&student, precision)).unwrap();
        let student = pollster::block_on(student.at_precision(precision)).unwrap();
        let expected =
            std::fs::read(format!("{fixtures}/onnx/{arch}{suffix}.safetensors")).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&expected).unwrap();
        let recorded = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("export_fnv1a64").cloned());
        assert_eq!(
            recorded,
            Some(format!("{:016x}", fnv1a64(&onnx.bytes))),
            "{arch}{suffix}: the export changed since onnxruntime ran it; rerun \
             scripts/oracle/onnx_runtime.py"
        );
        for length in ["1s", "4s"] {
            let tensor = |name: &str| {
                let file = safetensors::SafeTensors::deserialize(&expected).unwrap();
                let view = file.tensor(&format!("{name}_{length}")).ok()?;
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect::<Vec<f32>>();
                Some((view.shape().to_vec(), values))
            };
            let (shape, features) = tensor("features").unwrap();
            let input = Tensor::<3>::from_data(
                TensorData::new(features, [shape[0], shape[1], shape[2]]),
                student.device(),
            );
            let output = student.model().forward(input, AttentionRequest::PerHead);
            let what =
                |output: &str| format!("{arch}{suffix}, {length}: {output} against onnxruntime");
            assert_close(
                &read(output.logits),
                &tensor("logits").unwrap().1,
                true,
                &what("logits"),
            );
            assert_close(
                &read(output.attention.unwrap()),
                &tensor("attention").unwrap().1,
                false,
                &what("attention"),
            );
            if let Some((_, heads)) = tensor("heads") {
                assert_close(&read(output.heads.unwrap()), &heads, false, &what("heads"));
            }
        }
    }
}

/// Multiply-adds of the matrix products and convolutions in a tract model, its symbols given
/// `values`,
/// the body of each `Scan` counted once per iteration.
fn tract_multiply_adds(
    model: &tract_onnx::prelude::TypedModel,
    values: &tract_onnx::prelude::SymbolValues,
) -> u64 {
    use tract_onnx::tract_core::internal::Cost;
    use tract_onnx::tract_core::ops::scan::{Scan, iteration_count};
    let mut total = 0;
    for &id in &model.eval_order().unwrap() {
        let node = model.node(id);
        let facts = model.node_input_facts(id).unwrap();
        if let Some(scan) = node.op_as::<Scan>() {
            let iterations = iteration_count(&scan.input_mapping, &facts).unwrap();
            let iterations = iterations.eval(values).to_i64().unwrap() as u64;
            total += iterations * tract_multiply_adds(&scan.body, values);
            continue;
        }
        for (cost, amount) in node.op.cost(&facts).unwrap() {
            let product = matches!(&*node.op.name(), "EinSum" | "Conv");
            if product && matches!(cost, Cost::FMA(_)) {
                total += amount.eval(values).to_i64().unwrap() as u64;
            }
        }
    }
    total
}

/// The deployment card's multiply-adds, worked out from a student's config, are what tract's
/// cost model counts in the exported graph (matrix products and convolutions), at 1 s and 4 s.
#[test]
fn multiply_adds_are_those_tract_counts() {
    use tract_onnx::prelude::*;
    for (name, student) in students() {
        let file = pollster::block_on(student_onnx(&student, Precision::F32))
            .unwrap()
            .bytes;
        for seconds in [1.0, 4.0] {
            let features = student.features(&clip("yes_045360.wav", seconds)).unwrap();
            // Typed with its time axis a symbol, as tract would otherwise fuse each GRU into an
            // op with no cost model; the symbol given its value when the costs are summed.
            let model = tract_onnx::onnx().model_for_read(&mut &*file).unwrap();
            let frames = model.symbols.sym("frames");
            let shape = [1.to_dim(), frames.to_dim(), features.bins.to_dim()];
            let model = model
                .with_input_fact(0, f32::fact(shape).into())
                .unwrap()
                .into_typed()
                .unwrap();
            let values = SymbolValues::default().with(&frames, features.frames as i64);
            let model = model.into_decluttered().unwrap();
            let expected = tract_multiply_adds(&model, &values);
            let ours = student.config().multiply_adds(features.frames);
            assert_eq!(ours, expected, "{name}, {seconds} s: multiply-adds");
        }
    }
}

/// The C header of a shipped student compiles as C99 with every warning an error, and a C
/// program reading it gets every weight TempoKD's int8 export holds (codes times scale for
/// matrices and kernels, the floats themselves for the rest) and the classes.
#[test]
fn the_c_header_compiles_and_holds_the_int8_weights() {
    use tempokd::checkpoint::{named_tensors, read_to_host};
    use tempokd::export::student_c_header;
    use tempokd::students::{Int8Codes, is_rounded};
    let dir = std::env::temp_dir().join(format!("tempokd-c-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let student =
        Student::load_dir(&std::path::Path::new(MODELS).join("tc-resnet8-kd"), &cpu()).unwrap();
    let header = pollster::block_on(student_c_header(&student, "tc-resnet8-kd")).unwrap();
    std::fs::write(dir.join("student.h"), &header).unwrap();
    let tensors = pollster::block_on(read_to_host(named_tensors(student.model()))).unwrap();
    let mut expected = vec![
        student.labels().len().to_string(),
        student.labels()[0].clone(),
    ];
    let mut program = String::from(
        "#include <stdio.h>\n#include \"student.h\"\nint main(void) {\n  size_t i;\n  \
         printf(\"%d\\n%s\\n\", TC_RESNET8_KD_CLASSES, tc_resnet8_kd_labels[0]);\n",
    );
    for (name, shape, values) in &tensors {
        let symbol = format!("tc_resnet8_kd_{}", name.replace('.', "_"));
        let count = values.len();
        let flat = format!(
            "((const {}*){symbol})",
            match is_rounded(shape) {
                true => "int8_t",
                false => "float",
            }
        );
        let value = match is_rounded(shape) {
            true => format!("(float){flat}[i] * {symbol}_scale"),
            false => format!("{flat}[i]"),
        };
        program.push_str(&format!(
            "  printf(\"%zu\\n\", sizeof {symbol} / sizeof *{flat});\n  \
             for (i = 0; i < {count}; i++) printf(\"%.9g\\n\", (double)({value}));\n"
        ));
        expected.push(count.to_string());
        let stored = match is_rounded(shape) {
            true => Int8Codes::quantize(values).dequantize(),
            false => values.clone(),
        };
        expected.extend(stored.iter().map(|v| format!("{v}")));
    }
    program.push_str("  return 0;\n}\n");
    std::fs::write(dir.join("main.c"), program).unwrap();
    let compiled = std::process::Command::new("cc")
        .args([
            "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", "main", "main.c",
        ])
        .current_dir(&dir)
        .output()
        .expect("a C compiler (cc), which building Rust natively needs anyway");
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let output = std::process::Command::new(dir.join("main"))
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), expected.len());
    for (index, (c, ours)) in lines.iter().zip(&expected).enumerate() {
        // Counts and names as text; weights as the same f32.
        match (c.parse::<f32>(), ours.parse::<f32>()) {
            (Ok(c), Ok(ours)) => assert_eq!(c, ours, "line {index}"),
            _ => assert_eq!(c, ours, "line {index}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
