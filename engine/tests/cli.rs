//! The `tempokd` command line: JSON on success, one line on stderr and a non-zero exit on failure.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

fn tempokd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tempokd"))
        .args(args)
        .output()
        .unwrap()
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
    let dir = std::env::temp_dir().join(format!("tempokd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
