//! The `tempokd` command line: JSON on success, one line on stderr and a non-zero exit on failure.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

fn tempokd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tempokd"))
        .args(args)
        .output()
        .unwrap()
}

/// A fresh directory for one test's files, removed by the test when it passes.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/audio/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn features_prints_json_for_a_compressed_file() {
    let output = tempokd(&[
        "features",
        "--audio",
        &fixture("tone-44100-stereo.flac"),
        "--kind",
        "mfcc",
        "--json",
    ]);
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["sample_rate"], 16_000);
    assert_eq!(json["features"]["bins"], 20);
    // 0.6 s at 16 kHz in frames of 640 samples every 320.
    assert_eq!(json["features"]["frames"], 1 + (9_600 - 640) / 320);
}

#[test]
fn bad_input_gives_one_line_and_a_failure_code() {
    let dir = scratch_dir("tempokd-cli");
    let text = dir.join("notes.wav");
    std::fs::write(&text, "not audio at all ".repeat(100)).unwrap();
    // A WAV header claiming a sample rate of 0 trips an assertion inside the decoder.
    let mut zero_rate = std::fs::read(fixture("../../../../static/clips/yes-2s.wav")).unwrap();
    zero_rate[24..28].copy_from_slice(&0u32.to_le_bytes());
    let zero_rate_path = dir.join("zero-rate.wav");
    std::fs::write(&zero_rate_path, zero_rate).unwrap();

    for path in [
        text.to_str().unwrap(),
        zero_rate_path.to_str().unwrap(),
        "/nonexistent/clip.wav",
    ] {
        let output = tempokd(&["features", "--audio", path]);
        assert!(!output.status.success(), "{path}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{path}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn teacher_fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/teacher/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A WAV of the oracle's input clip, so the command line's logits can be held to transformers'.
fn oracle_clip(dir: &std::path::Path) -> (std::path::PathBuf, Vec<f32>) {
    let expected = std::fs::read(teacher_fixture("base-group/expected.safetensors")).unwrap();
    let expected = safetensors::SafeTensors::deserialize(&expected).unwrap();
    let floats = |key: &str| -> Vec<f32> {
        let view = expected.tensor(key).unwrap();
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let path = dir.join("oracle-input.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for sample in floats("input") {
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    (path, floats("logits"))
}

/// `tempokd inspect --teacher TEACHER --audio CLIP EXTRA…`
fn inspect(teacher: &str, clip: &str, extra: &[&str]) -> std::process::Output {
    tempokd(&[&["inspect", "--teacher", teacher, "--audio", clip], extra].concat())
}

#[test]
fn inspect_prints_the_teachers_numbers_as_json() {
    let dir = scratch_dir("tempokd-inspect");
    let (clip, expected_logits) = oracle_clip(&dir);
    let clip = clip.to_str().unwrap();
    let teacher = teacher_fixture("base-group");

    let output = inspect(&teacher, clip, &["--json", "--attentions"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["sample_rate"], 16_000);
    assert!((json["duration_s"].as_f64().unwrap() - 0.25).abs() < 1e-6);
    let teacher_json = &json["teacher"];
    assert_eq!(
        teacher_json["labels"],
        serde_json::json!(["yes", "no", "up", "down", "_unknown_"])
    );
    let logits: Vec<f32> = serde_json::from_value(teacher_json["logits"].clone()).unwrap();
    for (actual, expected) in logits.iter().zip(&expected_logits) {
        assert!(
            (actual - expected).abs() <= 1e-4,
            "{logits:?} vs {expected_logits:?}"
        );
    }
    let probs: Vec<f32> = serde_json::from_value(teacher_json["probs"].clone()).unwrap();
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(
        teacher_json["top"], "_unknown_",
        "the largest logit is the last one"
    );
    assert_eq!(teacher_json["frames"], 49);
    assert!((teacher_json["frame_s"].as_f64().unwrap() - 0.005).abs() < 1e-9);
    let rollout: Vec<f32> = serde_json::from_value(teacher_json["rollout"].clone()).unwrap();
    assert_eq!(rollout.len(), 49);
    assert!((rollout.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let attentions: Vec<Vec<Vec<Vec<f32>>>> =
        serde_json::from_value(teacher_json["attentions"].clone()).unwrap();
    assert_eq!(
        (
            attentions.len(),
            attentions[0].len(),
            attentions[0][0].len()
        ),
        (2, 4, 49)
    );
    assert!(
        attentions[1][3]
            .iter()
            .all(|row| row.len() == 49 && (row.iter().sum::<f32>() - 1.0).abs() < 1e-4)
    );

    // Without --attentions the maps are left out; rollout settings change the map.
    let first_layer = inspect(
        &teacher,
        clip,
        &[
            "--json",
            "--rollout-layers",
            "0..1",
            "--head-fusion",
            "max",
            "--rollout-row",
            "first-frame",
        ],
    );
    assert!(first_layer.status.success());
    let json: serde_json::Value = serde_json::from_slice(&first_layer.stdout).unwrap();
    assert!(json["teacher"].get("attentions").is_none());
    let other: Vec<f32> = serde_json::from_value(json["teacher"]["rollout"].clone()).unwrap();
    assert_ne!(other, rollout);

    let summary = inspect(&teacher, clip, &[]);
    let summary = String::from_utf8(summary.stdout).unwrap();
    assert!(summary.contains("teacher says \"_unknown_\""), "{summary}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A teacher directory under `root` with the fixture's config.json and one more file.
fn teacher_dir_with(
    root: &std::path::Path,
    name: &str,
    file: &str,
    bytes: &[u8],
) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        teacher_fixture("base-group/config.json"),
        dir.join("config.json"),
    )
    .unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
    dir
}

#[test]
fn inspect_reports_a_bad_teacher_or_bad_settings_in_one_line() {
    let dir = scratch_dir("tempokd-inspect-bad");
    let (clip, _) = oracle_clip(&dir);
    let clip = clip.to_str().unwrap();
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let weights = std::fs::read(teacher_fixture("base-group/model.safetensors")).unwrap();
    let broken = teacher_dir_with(
        &dir,
        "broken",
        "model.safetensors",
        &weights[..weights.len() - 100],
    );
    let pickled = teacher_dir_with(&dir, "pickled", "pytorch_model.bin", b"PK");
    let good = teacher_fixture("base-group");

    let cases: [(&[&str], &str); 6] = [
        (
            &["--teacher", empty_dir.to_str().unwrap(), "--audio", clip],
            "config.json",
        ),
        (
            &["--teacher", broken.to_str().unwrap(), "--audio", clip],
            "not a readable safetensors file",
        ),
        (
            &["--teacher", pickled.to_str().unwrap(), "--audio", clip],
            "save the model with safe_serialization=True",
        ),
        (
            &["--teacher", &good, "--audio", "/nonexistent.wav"],
            "nonexistent.wav",
        ),
        (
            &[
                "--teacher",
                &good,
                "--audio",
                clip,
                "--rollout-layers",
                "1..5",
            ],
            "layers 1..5",
        ),
        (
            &["--teacher", &good, "--audio", clip, "--residual", "2"],
            "residual",
        ),
    ];
    for (args, says) in cases {
        let output = tempokd(&[&["inspect"], args].concat());
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
