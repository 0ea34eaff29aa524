//! The CLI on the model folders built to hurt (engine/tests/fixtures/hostile, the library's own
//! test in engine/tests/hostile.rs) and on files far larger than they may be: each refused with
//! exit 1 and one line naming what is wrong.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../tests/common/scratch.rs"]
mod scratch;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

#[test]
fn the_cli_refuses_every_hostile_folder_with_exit_1() {
    let audio = fixtures().join("audio/tone-22050-mono.ogg");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(fixtures().join("hostile"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "no hostile folders found");
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let expect = std::fs::read_to_string(folder.join("expect.txt")).unwrap();
        let role = match name.starts_with("teacher") {
            true => "--teacher",
            false => "--student",
        };
        let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .arg("inspect")
            .arg(role)
            .arg(&folder)
            .arg("--audio")
            .arg(&audio)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr.trim_end();
        assert!(
            message.contains(expect.trim()),
            "{name}: expected {:?} in {message:?}",
            expect.trim()
        );
        assert!(!message.contains('\n'), "{name}: {message:?}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
    }
}

/// Files too large for what they claim to be are refused from their size before a byte is read
/// (sparse files: reading them would take seconds and gigabytes).
#[test]
fn the_cli_refuses_huge_model_files_and_clips_from_their_size() {
    let fixtures = fixtures();
    let fixtures = fixtures.display();
    let dir = scratch::scratch_dir("tempokd-huge-files");
    let student = dir.join("student");
    std::fs::create_dir_all(&student).unwrap();
    std::fs::copy(
        format!("{fixtures}/students/tc-resnet/config.json"),
        student.join("config.json"),
    )
    .unwrap();
    let sparse = |path: std::path::PathBuf, bytes: u64| {
        std::fs::File::create(&path)
            .unwrap()
            .set_len(bytes)
            .unwrap();
        path
    };
    sparse(student.join("model.safetensors"), 8 << 30);
    let clip = sparse(dir.join("clip.wav"), 4 << 30);
    let tone = format!("{fixtures}/audio/tone-22050-mono.ogg");
    for (args, expect) in [
        (
            [
                "inspect",
                "--student",
                student.to_str().unwrap(),
                "--audio",
                &tone,
            ],
            "over the 80777216 bytes a student's weights may take",
        ),
        (
            [
                "inspect",
                "--student",
                student.to_str().unwrap(),
                "--audio",
                clip.to_str().unwrap(),
            ],
            "over the 67108864 bytes a clip may take",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
