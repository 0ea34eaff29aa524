//! Replays the decoder fuzzer's corpus (engine/fuzz/corpus/decode) through the whole audio path:
//! every input must come back as audio or as an error, never as a panic.
#![cfg(not(target_arch = "wasm32"))]

use tempokd::audio::{FeatureConfig, FeatureExtractor, Limits, load_clip};

#[test]
fn every_corpus_input_is_decoded_or_refused() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/decode");
    let limits = Limits {
        max_seconds: 2.0,
        ..Limits::default()
    };
    let extractor = FeatureExtractor::new(FeatureConfig::default()).unwrap();
    let (mut decoded_count, mut refused) = (0, 0);
    for entry in std::fs::read_dir(corpus).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        match load_clip(bytes, None, &limits) {
            Ok(clip) => {
                decoded_count += 1;
                // Clips shorter than one analysis window are refused here, not by a panic.
                let _ = extractor.mfcc(clip.samples());
            }
            Err(error) => {
                refused += 1;
                assert!(!error.to_string().is_empty());
            }
        }
    }
    // The seeds (one file per format) must still decode.
    assert!(
        decoded_count >= 5,
        "{decoded_count} decoded, {refused} refused"
    );
}
