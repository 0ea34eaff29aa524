//! The models' loading progress.

use super::*;

#[wasm_bindgen_test]
async fn model_loading_shows_progress_then_the_time_and_each_failure() {
    let models = Models::new();
    models.loading.set(LoadProgress {
        total_bytes: 3_000_000,
        expected: 2,
        started_ms: js_sys::Date::now(),
        ..LoadProgress::default()
    });
    // Sizes come from the catalog; bytes of a model it does not size are not counted.
    models.catalog.set(
        ["teacher", "crnn"]
            .map(|name| CatalogEntry {
                name: name.into(),
                kind: ModelKind::Student,
                title: name.into(),
                bytes: 1_500_000,
            })
            .to_vec(),
    );
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <ModelLoading models=models /> },
    );
    models.apply(Response::Fetched {
        model: "teacher".into(),
        file: "model.safetensors".into(),
        bytes: 1_500_000,
    });
    settle().await;
    assert_eq!(
        text(&root, "#model-status").as_deref(),
        Some("Loading 2 models: 1.5 of 3.0 MB")
    );
    assert!(root.query_selector("#model-progress").unwrap().is_some());
    models.apply(Response::Loaded {
        model: "teacher".into(),
    });
    models.apply(Response::LoadFailed {
        model: "crnn".into(),
        message: "models/crnn/model.safetensors could not be fetched (HTTP 404 Not Found)".into(),
    });
    settle().await;
    let status = text(&root, "#model-status").unwrap();
    assert!(
        status.starts_with("1 of 2 models loaded (3.0 MB) in "),
        "{status}"
    );
    assert!(root.query_selector("#model-progress").unwrap().is_none());
    assert_eq!(
        text(&root, "[role=alert]").as_deref(),
        Some(
            "The model “crnn” could not be loaded: models/crnn/model.safetensors could not be \
             fetched (HTTP 404 Not Found)"
        )
    );
    drop(handle);
}
