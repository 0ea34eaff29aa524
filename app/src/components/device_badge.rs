use leptos::prelude::*;
use tempokd::device::{ComputeDevice, Placement};

/// Shows where tensors run: "WebGPU: <adapter>" or "CPU (no WebGPU: <why>)".
#[component]
pub fn DeviceBadge(#[prop(into)] device: Signal<Option<ComputeDevice>>) -> impl IntoView {
    let class = move || {
        device.with(|d| match d.as_ref().map(|d| &d.placement) {
            None => "device pending",
            Some(Placement::Gpu { .. }) => "device webgpu",
            Some(Placement::Cpu { .. }) => "device cpu",
        })
    };
    let text = move || {
        device.with(|d| match d {
            None => "Looking for WebGPU…".to_string(),
            Some(d) => d.placement.to_string(),
        })
    };
    view! {
        <span class=class id="device" title="Where the models run" role="status">
            {text}
        </span>
    }
}
