//! The `tempokd` command line: JSON on success, one line on stderr and a non-zero exit on failure.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

fn tempokd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tempokd"))
        .args(args)
        .output()
        .unwrap()
}

// The engine's test helpers and fixtures serve the CLI's tests too.
#[path = "../../tests/common/mod.rs"]
mod common;
use common::scratch_dir;

fn fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/audio/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
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
}

fn teacher_fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/teacher/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A WAV of the oracle's input clip, so the command line's logits can be held to transformers'.
fn oracle_clip(dir: &std::path::Path) -> (std::path::PathBuf, Vec<f32>) {
    let expected = std::fs::read(teacher_fixture("base-group/expected.safetensors")).unwrap();
    let floats = |key: &str| common::fixture_floats(&expected, key);
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
    // A post-LN teacher has no choice to report; a stable-layout one with a weighted layer sum
    // says which behaviour it followed and why.
    assert!(teacher_json.get("last_hidden_state").is_none());
    let saved_by_4x = inspect(&teacher_fixture("stable-layer-4x"), clip, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&saved_by_4x.stdout).unwrap();
    assert_eq!(
        json["teacher"]["last_hidden_state"],
        serde_json::json!({
            "after_final_layer_norm": true,
            "because": "transformers_version 4.46.3 in config.json"
        })
    );

    // Every map is for the JSON alone: asked for without it, the command says so.
    let without_json = inspect(&teacher, clip, &["--attentions"]);
    assert!(!without_json.status.success());
    assert!(String::from_utf8_lossy(&without_json.stderr).contains("--json"));

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
}

fn student_fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/students/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn students_lists_every_layout_with_its_size_and_speed() {
    let output = tempokd(&["students", "--classes", "12", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "lstm-p",
            "tc-resnet8",
            "tc-resnet14",
            "crnn",
            "att-rnn",
            "mhatt-rnn"
        ]
    );
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(row("mhatt-rnn")["params"], 743_025);
    assert_eq!(row("crnn")["params"], 467_772);
    assert_eq!(row("tc-resnet8")["input"], "40 MFCC");
    assert_eq!(row("tc-resnet8")["frames_per_second"], 7);
    assert!((row("tc-resnet8")["frame_s"].as_f64().unwrap() - 0.16).abs() < 1e-6);
    for row in &rows {
        assert!(row["inference_ms"].as_f64().unwrap() > 0.0, "{row}");
    }
}

#[test]
fn inspect_adds_each_student_to_the_json() {
    use tempokd::students::{AttentionRequest, Student};
    let clip = fixture("../../../../static/clips/yes-2s.wav");
    let (lstm_p, mhatt_rnn) = (student_fixture("lstm-p"), student_fixture("mhatt-rnn"));
    let output = tempokd(&[
        "inspect",
        "--student",
        &lstm_p,
        "--student",
        &mhatt_rnn,
        "--audio",
        &clip,
        "--json",
        "--attentions",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json.get("teacher").is_none());
    let students = json["students"].as_array().unwrap();
    assert_eq!(students.len(), 2);
    assert_eq!(students[0]["arch"], "lstm-p");
    assert_eq!(students[1]["arch"], "mhatt-rnn");
    assert_eq!(students[1]["heads"].as_array().unwrap().len(), 3);

    // The command line reports what the library computes for the same file.
    let bytes = std::fs::read(&clip).unwrap();
    let decoded = tempokd::audio::load_clip(bytes, &Default::default()).unwrap();
    let cpu = tempokd::device::ComputeDevice::cpu("test").device;
    for (dir, json) in [(&lstm_p, &students[0]), (&mhatt_rnn, &students[1])] {
        let student = Student::load_dir(std::path::Path::new(dir), &cpu).unwrap();
        let expected =
            pollster::block_on(student.infer(decoded.samples(), AttentionRequest::Mean)).unwrap();
        let logits: Vec<f32> = serde_json::from_value(json["logits"].clone()).unwrap();
        assert_eq!(logits, expected.prediction.logits, "{dir}");
        let attention: Vec<f32> = serde_json::from_value(json["attention"].clone()).unwrap();
        assert_eq!(attention.len(), json["frames"].as_u64().unwrap() as usize);
        assert_eq!(attention, expected.attention.unwrap(), "{dir}");
        assert_eq!(json["top"], student.labels()[expected.prediction.top]);
        assert!((json["frame_s"].as_f64().unwrap() - 0.02).abs() < 1e-6);
    }
}

#[test]
fn inspect_refuses_a_bad_student_directory_in_one_line() {
    let clip = fixture("../../../../static/clips/yes-2s.wav");
    for dir in ["/nonexistent/student", &teacher_fixture("base-group")] {
        let output = tempokd(&["inspect", "--student", dir, "--audio", &clip, "--json"]);
        assert!(!output.status.success(), "{dir}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{dir}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(dir),
            "{stderr}"
        );
    }
    let neither = tempokd(&["inspect", "--audio", &clip]);
    assert!(!neither.status.success());
}

/// synth → train-teacher → train-student with KD → eval, on a corpus of a few dozen clips.
/// `train-teacher`'s flags for a teacher small enough to train in seconds.
const TINY_TEACHER: [&str; 10] = [
    "--warmup",
    "1",
    "--hidden",
    "32",
    "--layers",
    "1",
    "--heads",
    "2",
    "--conv-channels",
    "16",
];

/// `tempokd args`, which must succeed; its stdout.
fn succeed(args: &[&str]) -> String {
    let output = tempokd(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A corpus of 1 s clips, two per class from six voices, made with `seed` in `dir/data`.
fn tiny_corpus(dir: &std::path::Path, seed: &str) -> String {
    let data = dir.join("data").display().to_string();
    succeed(&[
        "synth",
        "--out",
        &data,
        "--length",
        "1",
        "--per-class",
        "2",
        "--voices",
        "6",
        "--seed",
        seed,
    ]);
    data
}

/// A tiny teacher trained for two steps on `data` into `out`, with `extra` flags; its stdout.
fn tiny_teacher(data: &str, out: &str, extra: &[&str]) -> String {
    let flags = [
        "train-teacher",
        "--data",
        data,
        "--out",
        out,
        "--steps",
        "2",
        "--batch",
        "4",
        "--eval-every",
        "2",
    ];
    succeed(&[flags.as_slice(), TINY_TEACHER.as_slice(), extra].concat())
}

#[test]
fn synth_train_and_eval_from_the_command_line() {
    let dir = scratch_dir("tempokd-cli-train");
    let path = |name: &str| dir.join(name).display().to_string();
    let path_data = path("data");
    let ok = |args: &[&str]| {
        let output = tempokd(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    ok(&[
        "synth",
        "--out",
        &path("data"),
        "--length",
        "1",
        "--per-class",
        "4",
        "--voices",
        "6",
        "--seed",
        "3",
    ]);
    ok(&[
        &[
            "train-teacher",
            "--data",
            &path("data"),
            "--out",
            &path("teacher"),
            "--steps",
            "3",
            "--batch",
            "8",
            "--eval-every",
            "3",
        ],
        TINY_TEACHER.as_slice(),
    ]
    .concat());
    ok(&[
        "train-student",
        "--arch",
        "tc-resnet8",
        "--data",
        &path("data"),
        "--teacher",
        &path("teacher"),
        "--lambda",
        "0.25",
        "--out",
        &path("student"),
        "--steps",
        "4",
        "--batch",
        "8",
        "--eval-every",
        "2",
    ]);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("student/training.json")).unwrap()).unwrap();
    assert_eq!(record["history"].as_array().map(Vec::len), Some(4));
    // A second stage starts from the first's weights: its first loss is the first stage's
    // model's, not a fresh random one's (the same batch order comes from the same seed).
    let stage = |name: &str, init: Option<&str>| -> f64 {
        let out = path(name);
        let mut args = vec![
            "train-student",
            "--arch",
            "tc-resnet8",
            "--data",
            &path_data,
            "--out",
            &out,
            "--steps",
            "1",
            "--batch",
            "8",
            "--eval-every",
            "1",
            "--no-spec-augment",
        ];
        if let Some(init) = init {
            args.extend(["--init", init]);
        }
        ok(&args);
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(name).join("training.json")).unwrap())
                .unwrap();
        record["history"][0]["task"].as_f64().unwrap()
    };
    let fresh = stage("fresh", None);
    let first = path("student");
    let continued = stage("continued", Some(&first));
    let again = stage("again", Some(&first));
    assert_eq!(continued, again, "one start and seed, one first loss");
    assert_ne!(continued, fresh, "--init was not used");
    // The KD target can leave out the teacher's query frame and take a temperature.
    let shaped = path("shaped");
    ok(&[
        "train-student",
        "--arch",
        "tc-resnet8",
        "--data",
        &path_data,
        "--teacher",
        &path("teacher"),
        "--lambda",
        "0.25",
        "--target-without-query-frame",
        "--target-temperature",
        "0.5",
        "--out",
        &shaped,
        "--steps",
        "2",
        "--batch",
        "8",
        "--eval-every",
        "2",
    ]);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("shaped/training.json")).unwrap()).unwrap();
    assert_eq!(
        record["settings"]["target"],
        serde_json::json!({"without_query_frame": true, "temperature": 0.5})
    );
    assert!(
        record["history"][0]["kd"].as_f64().unwrap() > 0.0,
        "λ > 0 trains with the KD term"
    );
    // The teacher's maps were cached beside the data for the next student.
    let cache = std::fs::read_dir(dir.join("data/.tempokd-cache"))
        .unwrap()
        .count();
    assert_eq!(cache, 1);
    // A clip re-synthesised under the same name gets the teacher's map of its new content, not
    // the map kept for the old one: here it becomes a copy of another training clip.
    let manifest = std::fs::read_to_string(dir.join("data/manifest.csv")).unwrap();
    let train: Vec<&str> = manifest
        .lines()
        .filter(|row| row.contains(",train,"))
        .filter_map(|row| row.split(',').next())
        .collect();
    let (copied, overwritten) = (train[0], train[1]);
    std::fs::copy(
        dir.join("data").join(copied),
        dir.join("data").join(overwritten),
    )
    .unwrap();
    let cached = || {
        let entry = std::fs::read_dir(dir.join("data/.tempokd-cache"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        json["entries"].as_object().unwrap().clone()
    };
    let map_of = |entries: &serde_json::Map<String, serde_json::Value>, file: &str| {
        let mut maps = entries
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("{file}@")))
            .map(|(_, target)| target["map"].clone());
        let map = maps.next().unwrap_or_else(|| panic!("no map of {file}"));
        assert!(maps.next().is_none(), "{file} has more than one map");
        map
    };
    let before = cached();
    assert_ne!(map_of(&before, copied), map_of(&before, overwritten));
    ok(&[
        "train-student",
        "--arch",
        "tc-resnet8",
        "--data",
        &path_data,
        "--teacher",
        &path("teacher"),
        "--lambda",
        "0.25",
        "--out",
        &path("after-resynthesis"),
        "--steps",
        "1",
        "--batch",
        "8",
        "--eval-every",
        "1",
    ]);
    let after = cached();
    assert_eq!(after.len(), before.len(), "the old clip's map is dropped");
    assert_eq!(map_of(&after, overwritten), map_of(&after, copied));
    for model in ["student", "teacher"] {
        let output = ok(&[
            "eval",
            "--model",
            &path(model),
            "--data",
            &path("data"),
            "--json",
        ]);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        // 12 classes × round(4 × 0.1) test clips.
        assert_eq!(json["n"], 12, "{model}: {json}");
        let accuracy = json["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy));
        assert_eq!(json["per_class"].as_object().map(|m| m.len()), Some(12));
        let localisation = json["attention_in_window"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&localisation), "{model}: {json}");
    }
    // `--length` keeps the clips of that length: all of them here, none of another length.
    let by_length = |length: &str| {
        tempokd(&[
            "eval",
            "--model",
            &path("student"),
            "--data",
            &path("data"),
            "--length",
            length,
            "--json",
        ])
    };
    let all: serde_json::Value = serde_json::from_slice(&by_length("1").stdout).unwrap();
    assert_eq!(all["n"], 12);
    let none = by_length("4");
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        !none.status.success() && stderr.contains("has no clips of 4 s"),
        "{stderr}"
    );

    // A folder of the user's own WAVs with the short manifest form; a label the model lacks
    // is refused with its row.
    let own = dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::copy(
        dir.join("data").join(first_test_clip(&dir.join("data"))),
        own.join("a.wav"),
    )
    .unwrap();
    std::fs::write(
        own.join("manifest.csv"),
        "file,label,start_s,end_s\na.wav,yes,0.1,0.6\n",
    )
    .unwrap();
    let output = ok(&[
        "eval",
        "--model",
        &path("student"),
        "--data",
        &own.display().to_string(),
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["n"], 1);
    std::fs::write(
        own.join("manifest.csv"),
        "file,label\na.wav,yes\na.wav,maybe\n",
    )
    .unwrap();
    let output = tempokd(&[
        "eval",
        "--model",
        &path("student"),
        "--data",
        &own.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("row 3: label `maybe`"),
        "{stderr}"
    );

    for (args, expected) in [
        (
            vec![
                "train-student",
                "--arch",
                "resnet50",
                "--data",
                &path("data"),
                "--out",
                &path("x"),
            ],
            "unknown student",
        ),
        (
            vec![
                "train-student",
                "--arch",
                "crnn",
                "--data",
                &path("data"),
                "--lambda",
                "0.5",
                "--out",
                &path("x"),
            ],
            "needs a teacher",
        ),
        (
            vec![
                "train-student",
                "--arch",
                "crnn",
                "--data",
                &path("nowhere"),
                "--out",
                &path("x"),
            ],
            "missing",
        ),
        (
            vec!["eval", "--model", &path("nowhere"), "--data", &path("data")],
            "config.json",
        ),
        (
            vec![
                "train-student",
                "--arch",
                "tc-resnet8",
                "--data",
                &path("data"),
                "--teacher",
                &path("teacher"),
                "--lambda",
                "0.25",
                "--target-temperature",
                "0",
                "--out",
                &path("x"),
            ],
            "temperature",
        ),
        (
            vec![
                "train-student",
                "--arch",
                "crnn",
                "--data",
                &path("data"),
                "--init",
                &path("student"),
                "--out",
                &path("x"),
            ],
            "is not a crnn",
        ),
    ] {
        let output = tempokd(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

fn first_test_clip(data: &std::path::Path) -> String {
    let manifest = std::fs::read_to_string(data.join("manifest.csv")).unwrap();
    manifest
        .lines()
        .find(|l| l.starts_with("test/yes"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string()
}

/// Speech Commands v2 as it ships (a folder per word, the two list files) made of tones: five
/// words (one of them an `_unknown_` word) from four speakers, the third in validation and the
/// fourth in test.
fn speech_commands_of_tones(root: &std::path::Path) -> String {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let (mut validation, mut testing) = (String::new(), String::new());
    for (index, word) in ["yes", "no", "up", "down", "cat"].iter().enumerate() {
        std::fs::create_dir_all(root.join(word)).unwrap();
        for speaker in 0..4 {
            let file = format!("{word}/5eed000{speaker}_nohash_0.wav");
            let mut writer = hound::WavWriter::create(root.join(&file), spec).unwrap();
            let hz = 300.0 + 150.0 * index as f32 + 20.0 * speaker as f32;
            for n in 0..16_000 {
                let phase = std::f32::consts::TAU * hz * n as f32 / 16_000.0;
                writer.write_sample((8_000.0 * phase.sin()) as i16).unwrap();
            }
            writer.finalize().unwrap();
            match speaker {
                2 => validation.push_str(&format!("{file}\n")),
                3 => testing.push_str(&format!("{file}\n")),
                _ => {}
            }
        }
    }
    std::fs::write(root.join("validation_list.txt"), validation).unwrap();
    std::fs::write(root.join("testing_list.txt"), testing).unwrap();
    root.display().to_string()
}

/// `train-teacher --fresh-effects`: the run's record names the effects drawn at every step; an
/// effect that does not exist is refused in one line before anything is trained.
#[test]
fn a_teacher_trains_on_fresh_effects_and_records_them() {
    let dir = scratch_dir("tempokd-cli-fresh-effects");
    let data = tiny_corpus(&dir, "5");
    let teacher = dir.join("teacher").display().to_string();
    tiny_teacher(&data, &teacher, &["--fresh-effects", "speed,room"]);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("teacher/training.json")).unwrap()).unwrap();
    assert_eq!(
        record["settings"]["fresh_effects"], "speed,room",
        "{record}"
    );

    let refused = tempokd(&[
        "train-teacher",
        "--data",
        &data,
        "--out",
        &dir.join("refused").display().to_string(),
        "--fresh-effects",
        "speed,echo",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("`echo` is not an effect"), "{stderr}");
    assert!(!dir.join("refused").exists());
}

/// `--stream`: a teacher and a KD student train on Speech Commands as it ships with each batch
/// read from disk while the steps run; the last line says how long the steps waited for their
/// clips, and the run's record keeps it; `eval --stream` scores as `eval`.
#[test]
fn speech_commands_trains_streamed_from_disk() {
    let dir = scratch_dir("tempokd-cli-stream");
    let path = |name: &str| dir.join(name).display().to_string();
    let data = speech_commands_of_tones(&dir.join("speech-commands"));
    let teacher = path("teacher");
    let said = tiny_teacher(&data, &teacher, &["--stream"]);
    assert!(said.contains("waiting for streamed clips"), "{said}");
    let student = path("student");
    let said = succeed(&[
        "train-student",
        "--arch",
        "crnn",
        "--data",
        &data,
        "--teacher",
        &teacher,
        "--lambda",
        "0.5",
        "--out",
        &student,
        "--steps",
        "3",
        "--batch",
        "4",
        "--eval-every",
        "3",
        "--stream",
    ]);
    assert!(said.contains("waiting for streamed clips"), "{said}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("student/training.json")).unwrap()).unwrap();
    let waiting = record["times"]["waiting_s"].as_f64();
    assert!(waiting.is_some_and(|s| s >= 0.0), "{record}");
    assert!(
        record["history"][2]["kd"].as_f64().unwrap() > 0.0,
        "{record}"
    );
    assert_eq!(record["validation"]["n"], 5, "{record}");
    // Scored streamed, a batch at a time, each model scores as loaded: the same JSON.
    for model in [&teacher, &student] {
        let eval = |extra: &[&str]| {
            let flags = ["eval", "--model", model, "--data", &data, "--json"];
            succeed(&[flags.as_slice(), extra].concat())
        };
        let loaded = eval(&[]);
        assert!(loaded.contains("\"n\":5"), "{loaded}");
        assert_eq!(eval(&["--stream"]), loaded, "{model}");
    }
}

/// `--device`: a student and a teacher train on wgpu (Mesa's software Vulkan driver on a
/// machine without a GPU, installed by scripts/setup.sh), the command's last line says where
/// it trained and the run's record keeps it; a device this build lacks falls back to the CPU
/// saying why; a misspelt one is refused.
#[test]
fn devices_are_chosen_said_and_recorded() {
    let dir = scratch_dir("tempokd-cli-devices");
    let path = |name: &str| dir.join(name).display().to_string();
    let data = tiny_corpus(&dir, "5");
    let teacher = path("teacher");
    let said = tiny_teacher(&data, &teacher, &["--device", "wgpu"]);
    assert!(said.contains(" trained on GPU: "), "{said}");
    let student = path("student");
    let said = succeed(&[
        "train-student",
        "--arch",
        "crnn",
        "--data",
        &data,
        "--teacher",
        &teacher,
        "--lambda",
        "0.5",
        "--out",
        &student,
        "--steps",
        "2",
        "--batch",
        "4",
        "--eval-every",
        "2",
        "--device",
        "wgpu",
    ]);
    assert!(said.contains(" trained on GPU: "), "{said}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("student/training.json")).unwrap()).unwrap();
    assert!(record["device"]["Gpu"]["adapter"].is_string(), "{record}");
    // Where the time went: every part measured, the steps taking some.
    let times = &record["times"];
    for part in ["loading_s", "batching_s", "stepping_s", "validating_s"] {
        assert!(
            times[part].as_f64().is_some_and(|s| s >= 0.0),
            "{part}: {record}"
        );
    }
    assert!(times["stepping_s"].as_f64().unwrap() > 0.0, "{record}");
    assert!(record["history"][1]["kd"].as_f64().unwrap() > 0.0);

    let eval = |device: &str| {
        tempokd(&[
            "eval",
            "--model",
            &student,
            "--data",
            &data,
            "--split",
            "validation",
            "--json",
            "--device",
            device,
        ])
    };
    let on_wgpu = eval("wgpu");
    let on_cpu = eval("cpu");
    assert!(on_wgpu.status.success() && on_cpu.status.success());
    let accuracy = |output: &std::process::Output| {
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["accuracy"].as_f64().unwrap()
    };
    assert_eq!(accuracy(&on_wgpu), accuracy(&on_cpu));
    if !cfg!(feature = "cuda") {
        let fell_back = eval("cuda:1");
        let said = String::from_utf8_lossy(&fell_back.stderr);
        assert!(fell_back.status.success(), "{said}");
        assert!(
            said.contains("device: CPU (this build has no CUDA backend")
                && said.contains("not cuda:1 as asked"),
            "{said}"
        );
    }
    for bad in ["gpu", "cuda:x", "cpu,cpu"] {
        let refused = eval(bad);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "--device {bad} was taken");
        assert!(said.contains("--device"), "{bad}: {said}");
    }
    let several = eval("cpu,wgpu");
    let said = String::from_utf8_lossy(&several.stderr);
    assert!(!several.status.success());
    assert!(said.contains("runs on one device"), "{said}");

    // Training takes several GPUs of one backend, data parallel, each as asked or not at all.
    let train_on = |devices: &str| {
        tempokd(&[
            "train-student",
            "--arch",
            "tc-resnet8",
            "--data",
            &data,
            "--out",
            &path("parallel"),
            "--steps",
            "1",
            "--batch",
            "4",
            "--device",
            devices,
        ])
    };
    for (devices, why) in [
        ("cpu,wgpu", "the CPU is one device"),
        ("wgpu:0,cuda:0", "one backend"),
    ] {
        let refused = train_on(devices);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "--device {devices} was taken");
        assert!(said.contains(why), "{devices}: {said}");
    }
    // Two discrete GPUs train here only on a machine that has them; elsewhere the refusal
    // names the one that could not be had.
    let two = train_on("wgpu:0,wgpu:1");
    let said = String::from_utf8_lossy(&two.stderr);
    if two.status.success() {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("parallel/training.json")).unwrap())
                .unwrap();
        assert_eq!(record["replicas"].as_array().map(Vec::len), Some(1));
    } else {
        assert!(
            said.contains("could not be had") && said.contains("data-parallel"),
            "{said}"
        );
    }
}

/// A training command stopped by SIGTERM (as a scheduler or the end of a session stops it)
/// saves its run and says how to go on; the same command with `--resume` then ends with the
/// weights and history of the run that was never stopped, and leaves no saved state behind.
#[test]
fn a_stopped_training_goes_on_with_resume_to_the_same_end() {
    let dir = scratch_dir("tempokd-cli-resume");
    let path = |name: &str| dir.join(name).display().to_string();
    let data = tiny_corpus(&dir, "7");
    let teacher = path("teacher");
    tiny_teacher(&data, &teacher, &[]);
    let student = |out: &str| {
        vec![
            "train-student".to_string(),
            "--arch".into(),
            "crnn".into(),
            "--data".into(),
            data.clone(),
            "--teacher".into(),
            teacher.clone(),
            "--lambda".into(),
            "0.5".into(),
            "--out".into(),
            path(out),
            "--steps".into(),
            "40".into(),
            "--batch".into(),
            "4".into(),
            "--eval-every".into(),
            "2".into(),
        ]
    };
    let whole = student("whole");
    succeed(&whole.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !dir.join("whole/resume").exists(),
        "a finished run keeps no saved state"
    );

    let parts = student("parts");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tempokd"))
        .args(&parts)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first save comes at the first scoring; stop it soon after.
    let saved = dir.join("parts/resume/state.json");
    let waited = std::time::Instant::now();
    while !saved.exists() {
        assert!(
            waited.elapsed().as_secs() < 300 && child.try_wait().unwrap().is_none(),
            "the run neither saved nor kept running"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let stopped = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(!stopped.status.success(), "the run was not stopped: {said}");
    let step: usize = said
        .split("stopped after step ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step said: {said}"));
    assert!((2..40).contains(&step), "{said}");
    assert!(said.contains("--resume"), "{said}");
    assert!(!dir.join("parts/model.safetensors").exists());

    let mut resumed = parts.clone();
    resumed.push("--resume".into());
    succeed(&resumed.iter().map(String::as_str).collect::<Vec<_>>());
    let record = |run: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(run).join("training.json")).unwrap())
            .unwrap()
    };
    assert_eq!(record("parts")["resumed_at"], serde_json::json!([step]));
    assert_eq!(record("parts")["history"], record("whole")["history"]);
    assert_eq!(record("parts")["best_step"], record("whole")["best_step"]);
    let weights = |run: &str| std::fs::read(dir.join(run).join("model.safetensors")).unwrap();
    assert!(weights("parts") == weights("whole"), "the weights differ");
    assert!(!dir.join("parts/resume").exists());
}

/// `train-teacher --init-from-hf`: a teacher fine-tuned from a pretrained Hugging Face encoder
/// (the oracle's Wav2Vec2ForPreTraining checkpoint) takes the dataset's labels under a new head;
/// with `--freeze-feature-encoder` its convolutions leave training as they came. Shape flags
/// are refused beside it, since the checkpoint's config gives the shape.
#[test]
fn a_teacher_is_fine_tuned_from_a_pretrained_encoder() {
    let dir = scratch_dir("tempokd-cli-pretrained");
    let path = |name: &str| dir.join(name).display().to_string();
    let data = tiny_corpus(&dir, "9");
    let pretrained = format!(
        "{}/../tests/fixtures/teacher-pretrained/for-pretraining",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = path("teacher");
    let trained = tempokd(&[
        "train-teacher",
        "--data",
        &data,
        "--out",
        &out,
        "--init-from-hf",
        &pretrained,
        "--freeze-feature-encoder",
        "--steps",
        "2",
        "--batch",
        "4",
        "--eval-every",
        "2",
    ]);
    let said = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{said}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("teacher/config.json")).unwrap()).unwrap();
    let dataset_labels = std::fs::read_to_string(dir.join("data/manifest.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|row| row.split(',').nth(1).map(str::to_owned))
        .collect::<std::collections::BTreeSet<String>>();
    let labels: std::collections::BTreeSet<String> = config["id2label"]
        .as_object()
        .unwrap()
        .values()
        .map(|label| label.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(labels, dataset_labels);
    assert_eq!(config["hidden_size"], 32, "the checkpoint's shape");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("teacher/training.json")).unwrap()).unwrap();
    assert_eq!(record["settings"]["freeze_feature_encoder"], true);
    let tensor = |file: &str, key: &str| {
        let bytes = std::fs::read(file).unwrap();
        common::fixture_floats(&bytes, key)
    };
    let conv = "wav2vec2.feature_extractor.conv_layers.1.conv.weight";
    assert_eq!(
        tensor(&format!("{out}/model.safetensors"), conv),
        tensor(&format!("{pretrained}/model.safetensors"), conv),
        "the frozen convolution changed"
    );
    let projection = "wav2vec2.feature_projection.projection.weight";
    assert_ne!(
        tensor(&format!("{out}/model.safetensors"), projection),
        tensor(&format!("{pretrained}/model.safetensors"), projection),
        "the rest of the encoder is trained"
    );

    let refused = tempokd(&[
        "train-teacher",
        "--data",
        &data,
        "--out",
        &path("other"),
        "--init-from-hf",
        &pretrained,
        "--hidden",
        "64",
    ]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(said.contains("--hidden"), "{said}");
}
