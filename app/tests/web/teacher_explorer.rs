//! The teacher's attention per layer and head, and the rollout settings.

use super::*;

#[wasm_bindgen_test]
async fn teacher_explorer_draws_a_layer_and_changes_the_rollout_settings() {
    let models = Models::new();
    let rollout = RwSignal::new(None::<RolloutConfig>);
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <TeacherExplorer models=models rollout=rollout /> },
    );
    settle().await;
    assert!(root.query_selector("#attention-matrix").unwrap().is_none());
    teacher_has_answered(models);
    settle().await;
    let matrix: HtmlCanvasElement = root
        .query_selector("#attention-matrix")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(painted_pixels(&matrix) > 0);
    assert_eq!(
        root.query_selector_all("#explore-layer option")
            .unwrap()
            .length(),
        2
    );
    // Three choices: mean of heads, head 1, head 2.
    assert_eq!(
        root.query_selector_all("#explore-head option")
            .unwrap()
            .length(),
        3
    );
    // Each control shows the settings in force: the last layer, every layer rolled out, the
    // teacher's own row.
    for (control, shown) in [
        ("#explore-layer", "1"),
        ("#explore-head", "mean"),
        ("#rollout-from", "0"),
        ("#rollout-to", "1"),
        ("#rollout-fusion", "mean"),
        ("#rollout-row", "mean_of_rows"),
    ] {
        assert_eq!(value(&root, control), shown, "{control}");
    }
    choose(&root, "#rollout-row", "first_frame");
    choose(&root, "#rollout-residual", "0.25");
    choose(&root, "#rollout-from", "1");
    settle().await;
    assert_eq!(
        rollout.get_untracked(),
        Some(RolloutConfig {
            layers: Some(1..2),
            residual: 0.25,
            row: RolloutRow::FirstFrame,
            ..RolloutConfig::default()
        })
    );
    // A range that ends before it starts is refused with a message, not a panic.
    choose(&root, "#rollout-to", "0");
    settle().await;
    assert!(text(&root, ".rollout-settings [role=alert]").is_some());
    choose(&root, "#rollout-to", "1");
    root.query_selector("#rollout-reset")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    assert_eq!(rollout.get_untracked(), None);
    drop(handle);
}
