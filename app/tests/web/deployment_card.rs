//! The deployment card: the shipped card's figures, this browser's times as the worker answers,
//! and a row for a student trained here.

use super::*;
use tempokd::export::Precision;
use tempokd::export::card::{
    AtPrecision, CardStudent, DeploymentCard, DeploymentCost, LengthScore, OnnxSize,
};
use tempokd::metrics::Interval;
use tempokd_app::state::deployment::Measured;
use tempokd_app::worker::BrowserProfile;

fn cost() -> DeploymentCost {
    let onnx = [
        (Precision::F32, 272_000),
        (Precision::F16, 143_000),
        (Precision::Int8, 80_400),
    ];
    DeploymentCost {
        params: 65_180,
        multiply_adds_per_second: 792_912,
        onnx: onnx
            .into_iter()
            .map(|(precision, bytes)| OnnxSize { precision, bytes })
            .collect(),
    }
}

fn score(accuracy: f32, points_changed: f32) -> LengthScore {
    LengthScore {
        length_s: 1.0,
        n: 1008,
        accuracy,
        accuracy_interval: Interval {
            low: accuracy - 0.02,
            high: accuracy + 0.02,
        },
        localisation: Some(0.4),
        localisation_interval: None,
        points_changed,
    }
}

fn card() -> DeploymentCard {
    DeploymentCard {
        machine: "a test machine".into(),
        test_data: "test".into(),
        lengths_s: vec![1.0],
        students: vec![CardStudent {
            model: "tc-resnet8".into(),
            title: "tc-resnet8 student without KD".into(),
            cost: cost(),
            paper_params: Some("≈66K".into()),
            native_ms: 1.234,
            peak_memory_bytes: 700_000,
            precisions: vec![
                AtPrecision {
                    precision: Precision::F32,
                    scores: vec![score(0.831, 0.0)],
                },
                AtPrecision {
                    precision: Precision::Int8,
                    scores: vec![score(0.833, 0.2)],
                },
            ],
        }],
    }
}

#[wasm_bindgen_test]
async fn deployment_card_shows_the_card_then_this_browsers_times() {
    let root = container();
    let models = Models::new();
    let training = Training::new();
    let handle = mount_to(
        root.clone(),
        move || view! { <DeploymentCardView models=models training=training /> },
    );
    settle().await;
    let deployment = models.deployment;
    assert_eq!(
        text(&root, ".deployment .hint").as_deref(),
        Some("Reading the deployment card…")
    );
    deployment.card.set(Some(Ok(card())));
    settle().await;
    let row = "#deployment-table tr[data-model=\"tc-resnet8\"]";
    let cell = |selector: &str| text(&root, &format!("{row} {selector}")).unwrap();
    assert_eq!(cell(".params"), "65180 (≈66K)");
    assert_eq!(cell(".multiply-adds"), "0.79 M");
    assert_eq!(cell(".onnx"), "272 · 143 · 80 kB");
    assert_eq!(cell(".accuracy"), "83.1 % (81.1–85.1) (+0.2)");
    let times = "#deployment-times tr[data-model=\"tc-resnet8\"]";
    let time = |selector: &str| text(&root, &format!("{times} {selector}")).unwrap();
    assert_eq!(time(".native"), "1.23 ms");
    assert_eq!(time(".peak"), "0.7 MB");
    assert_eq!(time(".browser-cpu"), "");

    // Asked for, then answered by the worker; a student trained here gets a row in both tables.
    let trained = "tc-resnet8, trained here with KD";
    deployment.measured.set(
        [("tc-resnet8", false), (trained, true)]
            .map(|(model, trained_here)| Measured {
                model: model.into(),
                trained_here,
                profile: None,
            })
            .to_vec(),
    );
    settle().await;
    assert!(
        text(&root, "#deployment-progress")
            .unwrap()
            .contains("Measured 0 of 2")
    );
    for (model, webgpu_ms) in [
        ("tc-resnet8", Some(Err("the device was lost".to_string()))),
        (trained, None),
    ] {
        models.apply(Response::Profiled {
            model: model.into(),
            profile: Ok(BrowserProfile {
                cost: cost(),
                cpu_ms: 12.345,
                webgpu_ms,
            }),
        });
    }
    settle().await;
    assert!(text(&root, "#deployment-progress").is_none());
    assert_eq!(time(".browser-cpu"), "12.35 ms");
    assert_eq!(time(".browser-webgpu"), "failed: the device was lost");
    let own = format!("#deployment-table tr.trained-here[data-model=\"{trained}\"]");
    assert_eq!(
        text(&root, &format!("{own} .params")).as_deref(),
        Some("65180")
    );
    assert!(
        text(&root, &format!("{own} .accuracy"))
            .unwrap()
            .starts_with("not scored")
    );
    let own_times = format!("#deployment-times tr.trained-here[data-model=\"{trained}\"]");
    assert_eq!(
        text(&root, &format!("{own_times} .browser-webgpu")).as_deref(),
        Some("not used: the models run on the CPU")
    );

    // A card that cannot be read says why, and nothing can be timed.
    deployment.card.set(Some(
        Err("The deployment card could not be fetched.".into()),
    ));
    settle().await;
    assert_eq!(
        text(&root, ".deployment .hint").as_deref(),
        Some("The deployment card could not be fetched.")
    );
    let button = root.query_selector("#deployment-measure").unwrap().unwrap();
    assert!(button.has_attribute("disabled"));
    drop(handle);
}
