//! Model folders built to hurt (engine/tests/fixtures/hostile, written by
//! scripts/hostile/make.py): products of in-bound fields, huge front ends, a stride-1 teacher,
//! safetensors headers that lie, wrong dtypes, duplicated keys, deep or huge JSON. Each must be
//! refused with a one-line error naming what is wrong, by the library natively and in headless
//! Chromium, and by the CLI (exit 1); natively, refusing all of them keeps the process's peak
//! resident memory under 500 MB.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

struct Case {
    name: &'static str,
    config: &'static [u8],
    weights: &'static [u8],
    expect: &'static str,
}

macro_rules! case {
    ($name:literal) => {
        Case {
            name: $name,
            config: include_bytes!(concat!("fixtures/hostile/", $name, "/config.json")),
            weights: include_bytes!(concat!("fixtures/hostile/", $name, "/model.safetensors")),
            expect: include_str!(concat!("fixtures/hostile/", $name, "/expect.txt")),
        }
    };
}

const CASES: [Case; 15] = [
    case!("student-lstm-product"),
    case!("student-tc-product"),
    case!("student-activations"),
    case!("student-front-end"),
    case!("student-mel-bands"),
    case!("student-labels"),
    case!("student-nested"),
    case!("student-header-sizes"),
    case!("student-header-offsets"),
    case!("student-header-length"),
    case!("student-dtype"),
    case!("student-duplicate-keys"),
    case!("teacher-stride-one"),
    case!("teacher-product"),
    case!("teacher-header-sizes"),
];

/// What loading a case's files says, as the page does.
fn refusal(case: &Case) -> String {
    let config = std::str::from_utf8(case.config).expect("configs are UTF-8");
    match common::load_model_files(config, case.weights) {
        Ok(()) => panic!("{}: loaded", case.name),
        Err(why) => why,
    }
}

fn check(case: &Case, message: &str) {
    assert!(
        message.contains(case.expect.trim()),
        "{}: expected {:?} in {message:?}",
        case.name,
        case.expect.trim()
    );
    assert!(!message.contains('\n'), "{}: {message:?}", case.name);
}

async_test!(every_hostile_folder_is_refused_in_one_line, async {
    // The folders on disk are the ones listed here.
    #[cfg(not(target_arch = "wasm32"))]
    assert_eq!(
        std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/hostile"
        ))
        .unwrap()
        .count(),
        CASES.len()
    );
    for case in &CASES {
        check(case, &refusal(case));
    }
    #[cfg(target_os = "linux")]
    {
        let peak = peak_resident_bytes();
        assert!(peak < 500 << 20, "peak resident memory {peak} bytes");
    }
});

/// The process's peak resident set (VmHWM), in bytes.
#[cfg(target_os = "linux")]
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kilobytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kilobytes * 1024
}

#[cfg(all(not(target_arch = "wasm32"), feature = "cli"))]
#[test]
fn the_cli_refuses_every_hostile_folder_with_exit_1() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let audio = format!("{root}/audio/tone-22050-mono.ogg");
    for case in &CASES {
        let folder = format!("{root}/hostile/{}", case.name);
        let role = match case.name.starts_with("teacher") {
            true => "--teacher",
            false => "--student",
        };
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(["inspect", role, &folder, "--audio", &audio])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", case.name);
        let stderr = String::from_utf8_lossy(&output.stderr);
        check(case, stderr.trim_end());
        assert!(stderr.starts_with("error: "), "{}: {stderr}", case.name);
    }
}

/// Files too large for what they claim to be are refused from their size before a byte is read
/// (sparse files: reading them would take seconds and gigabytes).
#[cfg(all(not(target_arch = "wasm32"), feature = "cli"))]
#[test]
fn the_cli_refuses_huge_model_files_and_clips_from_their_size() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let dir = common::scratch_dir("tempokd-huge-files");
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
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tempokd"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
