//! The badge that says where the models run.

use super::*;

#[wasm_bindgen_test]
async fn device_badge_names_the_cpu_fallback_and_its_reason() {
    let root = container();
    let device = RwSignal::new(None::<Placement>);
    let handle = mount_to(
        root.clone(),
        move || view! { <DeviceBadge device=device /> },
    );
    settle().await;
    assert_eq!(
        text(&root, "#device").as_deref(),
        Some("Looking for WebGPU…")
    );
    device.set(Some(Placement::Cpu {
        reason: "test".into(),
    }));
    settle().await;
    assert_eq!(
        text(&root, "#device").as_deref(),
        Some("CPU (no WebGPU: test)")
    );
    drop(handle);
}
