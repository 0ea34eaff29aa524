//! Model folders built to hurt (engine/tests/fixtures/hostile, written by
//! scripts/hostile/make.py): products of in-bound fields, huge front ends, a stride-1 teacher,
//! safetensors headers that lie, wrong dtypes, duplicated keys, deep or huge JSON. Each must be
//! refused with a one-line error naming what is wrong, by the library natively and in headless
//! Chromium (and by the CLI: `engine/cli/tests/hostile.rs`); natively, refusing all of them keeps
//! the process's peak resident memory under 500 MB.

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

const CASES: [Case; 17] = [
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
    case!("teacher-deep"),
    case!("teacher-convolutions"),
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
