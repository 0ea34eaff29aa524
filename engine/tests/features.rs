//! The students' front end against librosa (fixtures from scripts/oracle/features.py).
//! The same tests run natively and in headless Chromium, so wasm is held to the same numbers.

use serde::Deserialize;
use tempokd::audio::{FeatureConfig, FeatureError, FeatureExtractor};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[derive(Deserialize)]
struct Fixture {
    samples: Vec<f32>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: FeatureConfig,
    frames: usize,
    log_mel: Vec<f32>,
    mfcc: Vec<f32>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/features.json")).unwrap()
}

/// Largest error relative to `max(1, |expected|)`: relative for large values, absolute near 0.
fn worst_error(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len());
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .fold(0.0, f32::max)
}

#[test]
fn log_mel_matches_librosa() {
    let fixture = fixture();
    for case in fixture.cases {
        let extractor = FeatureExtractor::new(case.config).unwrap();
        let log_mel = extractor.log_mel(&fixture.samples).unwrap();
        assert_eq!(log_mel.frames, case.frames, "{}", case.name);
        let error = worst_error(&log_mel.values, &case.log_mel);
        assert!(error <= 1e-3, "{}: log-mel off by {error}", case.name);
    }
}

#[test]
fn mfcc_matches_librosa() {
    let fixture = fixture();
    for case in fixture.cases {
        let extractor = FeatureExtractor::new(case.config).unwrap();
        let mfcc = extractor.mfcc(&fixture.samples).unwrap();
        assert_eq!(mfcc.bins * mfcc.frames, case.mfcc.len(), "{}", case.name);
        let error = worst_error(&mfcc.values, &case.mfcc);
        assert!(error <= 1e-3, "{}: MFCC off by {error}", case.name);
    }
}

#[test]
fn one_second_gives_49_frames_of_20_ms() {
    let extractor = FeatureExtractor::new(FeatureConfig::default()).unwrap();
    let features = extractor.mfcc(&vec![0.1; 16_000]).unwrap();
    assert_eq!((features.frames, features.bins), (49, 20));
    assert_eq!(features.frame_s, 0.02);
}

#[test]
fn bad_settings_and_short_clips_are_errors() {
    let short = FeatureExtractor::new(FeatureConfig::default())
        .unwrap()
        .log_mel(&[0.0; 100]);
    assert_eq!(
        short,
        Err(FeatureError::TooShort {
            samples: 100,
            needed: 640
        })
    );
    for broken in [
        FeatureConfig {
            f_max: 9_000.0,
            ..Default::default()
        },
        FeatureConfig {
            n_fft: 320,
            ..Default::default()
        },
        FeatureConfig {
            n_mfcc: 41,
            ..Default::default()
        },
        FeatureConfig {
            hop_length: 0,
            ..Default::default()
        },
    ] {
        assert!(matches!(
            FeatureExtractor::new(broken),
            Err(FeatureError::Config(_))
        ));
    }
    // Sizes a config file could ask for that would build a gigabyte FFT plan or filter bank, or
    // a frame per sample, are refused by name before anything is built.
    let huge = [
        (
            FeatureConfig {
                n_fft: 1 << 30,
                win_length: 1 << 30,
                ..Default::default()
            },
            "n_fft",
        ),
        (
            FeatureConfig {
                n_mels: 1 << 20,
                ..Default::default()
            },
            "n_mels",
        ),
        (
            FeatureConfig {
                hop_length: 1,
                ..Default::default()
            },
            "hop_length",
        ),
        (
            FeatureConfig {
                sample_rate: 8_000,
                f_max: 4_000.0,
                ..Default::default()
            },
            "sample_rate",
        ),
        (
            FeatureConfig {
                power: f32::INFINITY,
                ..Default::default()
            },
            "power",
        ),
    ];
    for (config, field) in huge {
        match config.validate() {
            Err(FeatureError::Config(why)) => assert!(why.contains(field), "{why}"),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// With `normalize`, each coefficient has zero mean and unit variance over the clip, and a clip
/// 20 dB louder gives the same features (its log-mel moves by a constant, which the mean
/// removes, as long as no band is near the logarithm's offset).
#[test]
fn normalized_features_have_zero_mean_unit_variance_whatever_the_gain() {
    use tempokd::audio::FeatureKind;
    // A swelling tone in noise: every band well above the offset.
    let mut state = 7u32;
    let samples: Vec<f32> = (0..16_000)
        .map(|n| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = n as f32 / 16_000.0;
            let swell = 0.2 + 0.8 * (std::f32::consts::PI * t).sin();
            0.05 * noise + 0.3 * swell * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
        })
        .collect();
    let louder: Vec<f32> = samples.iter().map(|s| s * 10.0).collect();
    let extractor = FeatureExtractor::new(FeatureConfig {
        normalize: true,
        ..FeatureConfig::default()
    })
    .unwrap();
    for kind in [FeatureKind::Mfcc, FeatureKind::LogMel] {
        let features = extractor.extract(kind, &samples).unwrap();
        let frames = features.frames as f32;
        assert!(features.frames > 10);
        for bin in 0..features.bins {
            let column: Vec<f32> = (0..features.frames)
                .map(|t| features.frame(t)[bin])
                .collect();
            let mean = column.iter().sum::<f32>() / frames;
            let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / frames;
            assert!(mean.abs() < 1e-4, "{kind:?} bin {bin}: mean {mean}");
            assert!(
                (variance - 1.0).abs() < 1e-3,
                "{kind:?} bin {bin}: variance {variance}"
            );
        }
        let loud = extractor.extract(kind, &louder).unwrap();
        let error = worst_error(&loud.values, &features.values);
        assert!(
            error < 1e-2,
            "{kind:?}: the gain changed the features by {error}"
        );
    }
}
