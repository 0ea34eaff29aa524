use leptos::prelude::*;
use tempokd::device::Placement;

/// Shows where the models run: "WebGPU: <adapter>" or "CPU (no WebGPU: <why>)".
#[component]
pub fn DeviceBadge(#[prop(into)] device: Signal<Option<Placement>>) -> impl IntoView {
    let class = move || {
        device.with(|placement| match placement {
            None => "device pending",
            Some(Placement::Gpu { .. }) => "device webgpu",
            Some(Placement::Cpu { .. }) => "device cpu",
        })
    };
    let text = move || {
        device.with(|placement| match placement {
            None => "Looking for WebGPU…".to_string(),
            Some(placement) => placement.to_string(),
        })
    };
    view! {
        <span class=class id="device" title="Where the models run" role="status">
            {text}
        </span>
    }
}
