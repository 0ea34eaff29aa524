//! Any bytes through the whole audio path: decode, validate, resample, features. It may refuse,
//! never panic. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run decode` in engine/ (see README).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempokd::audio::{FeatureConfig, FeatureExtractor, Limits, load_clip};

fuzz_target!(
    init: {
        // decode() turns decoder panics into errors; libFuzzer's hook would abort before that.
        // A panic anywhere else still escapes the target and is reported as a crash.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |bytes: &[u8]| {
    // A short limit keeps each input cheap; the limit logic is the same at any length.
    let limits = Limits {
        max_seconds: 2.0,
        ..Limits::default()
    };
    let Ok(clip) = load_clip(bytes.to_vec(), &limits) else {
        return;
    };
    if let Ok(extractor) = FeatureExtractor::new(FeatureConfig::default()) {
        let _ = extractor.mfcc(clip.samples());
    }
    }
);
