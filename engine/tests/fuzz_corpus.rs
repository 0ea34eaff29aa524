//! Replays the fuzzers' corpora (engine/fuzz/corpus): every input must come back as audio or a
//! model, or as an error, never as a panic.
#![cfg(not(target_arch = "wasm32"))]

use tempokd::audio::{FeatureConfig, FeatureExtractor, Limits, load_clip};

mod common;

/// The decoder fuzzer's inputs go through the whole audio path.
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
        match load_clip(bytes, &limits) {
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

/// Replays the model-folder fuzzer's corpus (engine/fuzz/corpus/model_folder: config.json's
/// bytes, a NUL, then the weights' bytes) through the loaders, as the page and the CLI load a
/// folder: every input loads or is refused with a message, never a panic.
#[test]
fn every_model_folder_corpus_input_loads_or_is_refused() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/model_folder");
    let (mut loaded, mut refused) = (0, 0);
    for entry in std::fs::read_dir(corpus).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let (config, weights) = match bytes.iter().position(|&b| b == 0) {
            Some(at) => (&bytes[..at], &bytes[at + 1..]),
            None => (&bytes[..], &[][..]),
        };
        let outcome = std::str::from_utf8(config)
            .map_err(|e| e.to_string())
            .and_then(|config| common::load_model_files(config, weights));
        match outcome {
            Ok(()) => loaded += 1,
            Err(message) => {
                refused += 1;
                assert!(!message.is_empty());
            }
        }
    }
    // The seeds include the five students of the oracle fixtures, which must still load.
    assert!(loaded >= 5, "{loaded} loaded, {refused} refused");
}
