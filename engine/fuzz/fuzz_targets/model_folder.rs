//! Any model folder: config.json's bytes, a NUL, then model.safetensors's bytes, loaded as the
//! page and the CLI load a folder (the kind from the config, then that kind's loader). It may
//! refuse, never panic, and never allocate past libFuzzer's memory limit.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run model_folder -- -rss_limit_mb=1024` in engine/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempokd::device::ComputeDevice;
use tempokd::model::{FolderFiles, Model};

fuzz_target!(|bytes: &[u8]| {
    let (config, weights) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[][..]),
    };
    let Ok(config) = std::str::from_utf8(config) else {
        return;
    };
    let device = ComputeDevice::cpu("fuzzing").device;
    // Refusals are the expected outcome; only a panic or an allocation past the limit counts.
    let files = FolderFiles {
        config,
        weights,
        preprocessor: None,
    };
    let _ = Model::load(files, &device);
});
