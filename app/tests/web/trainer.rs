//! The training panel: progress, curves, probe maps, results, and the run kept across visits.

use super::*;

/// `event(kd)` from the worker of each run, the run without KD first.
fn hear_both(training: Training, event: impl Fn(bool) -> TrainingEvent) {
    for kd in [false, true] {
        training.hear(kd, event(kd));
    }
}

#[wasm_bindgen_test]
async fn trainer_shows_progress_curves_probe_maps_and_the_comparison() {
    let (models, training) = (Models::new(), Training::new());
    models.catalog.set(vec![CatalogEntry {
        name: "tc-resnet8".into(),
        kind: ModelKind::Student,
        title: "TC-ResNet8".into(),
        bytes: 1,
    }]);
    let (root, _mount) = mount_trainer(models, training, RwSignal::new(None));
    settle().await;
    // Nothing has run: no curves, no table, no error.
    assert!(root.query_selector("#curve-loss").unwrap().is_none());
    assert!(root.query_selector(".error").unwrap().is_none());
    training.hear(
        true,
        TrainingEvent::Preparing {
            stage: "teacher maps".into(),
            done: 60,
            total: 240,
        },
    );
    settle().await;
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("Preparing the teacher maps: 60 of 240…")
    );
    assert!(root.query_selector("#training-progress").unwrap().is_some());
    let map = |values: Vec<f32>| TimeMap {
        start_s: 0.0,
        frame_s: 0.5,
        values,
    };
    hear_both(training, |kd| TrainingEvent::Started {
        setup: RunSetup {
            device: Placement::Cpu {
                reason: "tests".into(),
            },
            train_clips: 240,
            validation_clips: 48,
            cached_maps: kd,
        },
        // Only the run with KD has the teacher to map the probe with.
        probe: kd.then(|| Probe {
            label: "yes".into(),
            duration_s: 2.0,
            window: Some((0.5, 1.0)),
            teacher: map(vec![0.1, 0.7, 0.1, 0.1]),
            target: "as it is".into(),
        }),
    });
    for step in 1..=10 {
        hear_both(training, |kd| {
            let loss = if kd { 1.5 } else { 2.0 } / step as f32;
            TrainingEvent::Stepped {
                point: StepPoint {
                    step,
                    loss,
                    task: loss,
                    kd: 0.0,
                    accuracy: 0.5,
                },
                elapsed_ms: 500.0 * step as f64,
            }
        });
    }
    let score = |step: usize, accuracy: f32, localisation: f32| RunScore {
        step,
        accuracy,
        localisation,
    };
    let scores = [score(10, 0.6, 0.3), score(10, 0.7, 0.55)];
    let probes = [map(vec![0.25; 4]), map(vec![0.1, 0.7, 0.1, 0.1])];
    hear_both(training, |kd| TrainingEvent::Validated {
        score: scores[usize::from(kd)],
        probe: probes[usize::from(kd)].clone(),
        student: Some(student_files(1).get(kd).clone()),
    });
    settle().await;
    // 10 of 300 steps in 5 s: 2 steps/s, 145 s left.
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("Step 10 of 300 · 2.0 steps/s · about 145 s left")
    );
    assert!(text(&root, "#training-info").is_some_and(|t| t.contains("cache")));
    // The teacher's row says which map the KD copy learns.
    assert_eq!(
        text(&root, ".probe .row-title").as_deref(),
        Some("Teacher: the KD target, its rollout as it is")
    );
    for id in [
        "#curve-loss",
        "#curve-accuracy",
        "#probe-teacher",
        "#probe-kd",
    ] {
        let canvas: HtmlCanvasElement = root.query_selector(id).unwrap().unwrap().unchecked_into();
        assert!(painted_pixels(&canvas) > 0, "{id} is drawn");
    }
    // A divergence at step 11 undoes step 10's update: the worker scores the weights it kept,
    // and the table shows those, not step 10's.
    let scores = [score(9, 0.58, 0.3), score(9, 0.66, 0.5)];
    let probes = [map(vec![0.25; 4]), map(vec![0.1, 0.6, 0.2, 0.1])];
    hear_both(training, |kd| TrainingEvent::Validated {
        score: scores[usize::from(kd)],
        probe: probes[usize::from(kd)].clone(),
        student: Some(student_files(2).get(kd).clone()),
    });
    // The run with KD diverged; the other went back with it.
    training.hear(
        true,
        TrainingEvent::Checked {
            outcome: CheckOutcome::Diverged { kept: 9 },
        },
    );
    hear_both(training, |kd| TrainingEvent::Ended {
        end: TrainingEnd::Diverged(match kd {
            true => "training diverged at step 11; the weights after step 9 are kept".into(),
            false => "the other run diverged; both keep the weights after step 9".into(),
        }),
        student: student_files(2).get(kd).clone(),
        elapsed_ms: 5_500.0,
    });
    settle().await;
    assert_eq!(
        text(&root, "#training-status").as_deref(),
        Some("training diverged at step 11; the weights after step 9 are kept")
    );
    let rows = root
        .query_selector_all("#training-results tbody tr")
        .unwrap();
    assert_eq!(rows.length(), 2);
    assert_eq!(
        text(&root, "#training-results tbody tr:last-child .localisation").as_deref(),
        Some("0.500")
    );
    assert_eq!(
        text(&root, "#training-results caption").as_deref(),
        Some("On the validation clips, with the weights of step 9")
    );
    assert_eq!(training.scores.with_untracked(|runs| runs.kd.len()), 1);
}

#[wasm_bindgen_test]
async fn a_run_kept_by_the_browser_is_restored_on_the_next_visit_until_reset() {
    let (models, training) = (Models::new(), Training::new());
    let (_root, _mount) = mount_trainer(models, training, RwSignal::new(None));
    hear_both(training, |kd| TrainingEvent::Started {
        setup: RunSetup {
            device: Placement::Cpu {
                reason: "tests".into(),
            },
            train_clips: 4,
            validation_clips: 2,
            cached_maps: false,
        },
        probe: kd.then(|| Probe {
            label: "no".into(),
            duration_s: 1.0,
            window: None,
            teacher: TimeMap {
                start_s: 0.0,
                frame_s: 0.5,
                values: vec![0.5, 0.5],
            },
            target: "as it is".into(),
        }),
    });
    for step in 1..=3 {
        hear_both(training, |_| TrainingEvent::Stepped {
            point: StepPoint {
                step,
                ..StepPoint::default()
            },
            elapsed_ms: 100.0 * step as f64,
        });
    }
    hear_both(training, |kd| TrainingEvent::Validated {
        score: RunScore::default(),
        probe: TimeMap {
            start_s: 0.0,
            frame_s: 0.5,
            values: vec![0.9, 0.1],
        },
        student: Some(student_files(3).get(kd).clone()),
    });
    // The page was closed here, mid-run: the next visit finds step 3's students.
    let mut kept = None;
    for _ in 0..100 {
        kept = SavedRun::load().await.filter(|run| run.step() == 3);
        if kept.is_some() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let kept = kept.expect("the run is kept after its scoring");
    assert_eq!(kept.students, student_files(3));
    assert_eq!(kept.end, None);

    let next_visit = Training::new();
    let (root, _again) = mount_trainer(models, next_visit, RwSignal::new(None));
    next_visit.restore().await;
    settle().await;
    assert_eq!(
        next_visit.phase.get_untracked(),
        Phase::Restored { step: 3, end: None }
    );
    assert!(
        text(&root, "#training-status").is_some_and(|t| t.contains("was at step 3 of 300")),
        "{:?}",
        text(&root, "#training-status")
    );
    assert_eq!(
        root.query_selector_all("#training-results tbody tr")
            .unwrap()
            .length(),
        2
    );
    let canvas: HtmlCanvasElement = root
        .query_selector("#probe-kd")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(painted_pixels(&canvas) > 0, "the probe map is drawn again");

    next_visit.reset();
    for _ in 0..100 {
        if SavedRun::load().await.is_none() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    assert_eq!(SavedRun::load().await, None, "reset forgets the kept run");
}
