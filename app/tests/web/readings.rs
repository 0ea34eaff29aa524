//! Each model's reading of the clip, in the catalog's order, one run at a time.

use super::*;

#[wasm_bindgen_test]
async fn readings_show_one_row_per_model_of_the_current_run_only() {
    let models = Models::new();
    run_loaded_models(models, 2);
    let (root, handle, rollout, hover) = mount_readings(models, Some((0.25, 0.5)));
    settle().await;
    assert_eq!(
        text(&root, "#run-status").as_deref(),
        Some("Running the models: 0 of 2 answered…")
    );
    models.apply(Response::Reading {
        run: 1,
        reading: Box::new(reading("teacher", "stop", 0.9, true)),
    });
    // An answer about an earlier clip must not show up beside this one.
    models.apply(Response::Reading {
        run: 0,
        reading: Box::new(reading("stale", "no", 0.8, false)),
    });
    models.apply(Response::Reading {
        run: 1,
        reading: Box::new(reading("tc-resnet8-kd", "yes", 0.5, false)),
    });
    models.apply(Response::Finished { run: 1, ms: 1234.0 });
    settle().await;
    let rows = root.query_selector_all(".reading").unwrap();
    assert_eq!(rows.length(), 2);
    let teacher = root
        .query_selector("[data-model=teacher]")
        .unwrap()
        .unwrap();
    assert_eq!(teacher.get_attribute("data-top").as_deref(), Some("stop"));
    assert!(teacher.class_name().contains("teacher"));
    assert_eq!(
        text(&root, "[data-model=teacher] .prediction").as_deref(),
        Some("hears “stop” 90.0 %")
    );
    assert_eq!(
        text(&root, "[data-model=tc-resnet8-kd] .prediction").as_deref(),
        Some("hears “yes” 50.0 %")
    );
    assert!(root.query_selector("[data-model=stale]").unwrap().is_none());
    assert_eq!(
        text(&root, "#run-status").as_deref(),
        Some("2 models answered in 1.23 s")
    );
    let strip: HtmlCanvasElement = root
        .query_selector("[data-model=teacher] canvas")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let painted = painted_pixels(&strip);
    let total = (strip.width() * strip.height()) as usize;
    assert!(painted > total / 2, "{painted} of {total} pixels drawn");
    // The time under the cursor shows each map's weight there, on every row.
    hover.set(Some(0.3));
    settle().await;
    assert_eq!(
        text(&root, "[data-model=teacher] .at-cursor").as_deref(),
        Some("0.30 s: weight 0.400")
    );
    // Under the teacher's row, and only the teacher's, its map as the KD target: a mean-of-rows
    // rollout has no query frame, so the map is squared (T = 0.5) and renormalised, and 0.4
    // becomes 1 / 2.0625.
    assert_eq!(root.query_selector_all(".kd-target").unwrap().length(), 1);
    assert_eq!(
        text(&root, ".kd-target .at-cursor").as_deref(),
        Some("0.30 s: weight 0.485")
    );
    assert_eq!(
        text(&root, ".kd-target .target-how").as_deref(),
        Some(
            "its rollout sharpened by a temperature of 0.5: the map a student distilled from it \
             learns to copy"
        )
    );
    assert_eq!(root.query_selector_all(".time-cursor").unwrap().length(), 3);
    hover.set(None);
    // New rollout settings redraw the teacher's strip from its layers, and only the teacher's.
    let student: HtmlCanvasElement = root
        .query_selector("[data-model=tc-resnet8-kd] canvas")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let target: HtmlCanvasElement = root
        .query_selector("#attention-kd-target-teacher")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(painted_pixels(&target) > total / 2);
    let before = (
        strip.to_data_url().unwrap(),
        student.to_data_url().unwrap(),
        target.to_data_url().unwrap(),
    );
    rollout.set(Some(RolloutConfig {
        residual: 0.0,
        ..RolloutConfig::default()
    }));
    settle().await;
    assert_ne!(strip.to_data_url().unwrap(), before.0);
    assert_eq!(student.to_data_url().unwrap(), before.1);
    // The target follows the rollout shown above it, and a first-frame rollout's leaves out
    // the query frame.
    assert_ne!(target.to_data_url().unwrap(), before.2);
    rollout.set(Some(RolloutConfig {
        row: RolloutRow::FirstFrame,
        ..RolloutConfig::default()
    }));
    settle().await;
    assert_eq!(
        text(&root, ".kd-target .target-how").as_deref(),
        Some(
            "these rollout settings' map without the query frame's own mass, then sharpened by \
             a temperature of 0.5: the target they would make (training uses the teacher's own \
             settings)"
        )
    );
    drop(handle);
}

#[wasm_bindgen_test]
async fn readings_stand_in_the_catalogs_order_whatever_order_they_arrive_in() {
    let models = Models::new();
    let entry = |name: &str, kind| CatalogEntry {
        name: name.into(),
        kind,
        title: name.into(),
        bytes: 4,
    };
    models.catalog.set(vec![
        entry("teacher", ModelKind::Teacher),
        entry("lstm-p", ModelKind::Student),
        entry("tc-resnet8-kd", ModelKind::Student),
    ]);
    run_loaded_models(models, 3);
    let (root, handle, _, _) = mount_readings(models, None);
    // The worker answers models as they finish loading: here the smallest first.
    for (model, teacher) in [
        ("tc-resnet8-kd", false),
        ("not-in-catalog", false),
        ("teacher", true),
        ("lstm-p", false),
    ] {
        models.apply(Response::Reading {
            run: 1,
            reading: Box::new(reading(model, "yes", 0.5, teacher)),
        });
    }
    settle().await;
    let rows = root.query_selector_all(".reading").unwrap();
    let shown: Vec<String> = (0..rows.length())
        .filter_map(|i| rows.item(i))
        .filter_map(|row| row.unchecked_into::<Element>().get_attribute("data-model"))
        .collect();
    assert_eq!(
        shown,
        ["teacher", "lstm-p", "tc-resnet8-kd", "not-in-catalog"]
    );
    drop(handle);
}

#[wasm_bindgen_test]
fn a_model_added_after_a_run_answers_alone_beside_the_others() {
    let models = Models::new();
    teacher_has_answered(models);
    models.apply(Response::Finished { run: 1, ms: 10.0 });
    let entry = CatalogEntry {
        name: "your-student-1".into(),
        kind: ModelKind::Student,
        title: "your student".into(),
        bytes: 4,
    };
    let source = ModelSource {
        name: "your-student-1".into(),
        kind: ModelKind::Student,
        files: ModelFiles::Picked {
            config: "{}".into(),
            weights: vec![0; 4],
            preprocessor: None,
        },
    };
    models.add(entry, source);
    assert_eq!(
        models.run.get_untracked(),
        RunProgress::Running {
            run: 2,
            answered: 0,
            total: 1
        }
    );
    assert_eq!(models.readings.with_untracked(Vec::len), 1);
    // Picked weights are counted when the worker has them.
    models.apply(Response::Fetched {
        model: "your-student-1".into(),
        file: "model.safetensors".into(),
        bytes: 4,
    });
    let loading = models.loading.get_untracked();
    assert_eq!(
        (loading.expected, loading.fetched_bytes, loading.total_bytes),
        (2, 4, 4)
    );
    models.apply(Response::Reading {
        run: 2,
        reading: Box::new(reading("your-student-1", "yes", 0.5, false)),
    });
    assert_eq!(models.readings.with_untracked(Vec::len), 2);
}
