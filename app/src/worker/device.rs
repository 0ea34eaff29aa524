//! The worker's compute device: chosen once, on first use, shared by everything the worker
//! runs, and its loss reported to the page.

use super::protocol::Response;
use futures::StreamExt;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use tempokd::device::ComputeDevice;
use wasm_bindgen_futures::spawn_local;

/// The device being chosen, or chosen; every clone resolves to the same one.
pub type PendingDevice = Shared<LocalBoxFuture<'static, ComputeDevice>>;

/// Starts choosing: the CPU when there is a reason to, else the GPU where the browser has one.
pub fn pending(cpu_reason: Option<String>, reply: impl Fn(Response) + 'static) -> PendingDevice {
    choose_device(cpu_reason, reply).boxed_local().shared()
}

async fn choose_device(
    cpu_reason: Option<String>,
    reply: impl Fn(Response) + 'static,
) -> ComputeDevice {
    let device = match cpu_reason {
        Some(reason) => ComputeDevice::cpu(reason),
        None => ComputeDevice::gpu_or_cpu().await,
    };
    reply(Response::Device(device.placement.clone()));
    if device.is_gpu() {
        let (lost, mut losses) = futures::channel::mpsc::unbounded();
        device.on_lost(move |reason| {
            let _ = lost.unbounded_send(reason);
        });
        spawn_local(async move {
            if let Some(reason) = losses.next().await {
                reply(Response::DeviceLost { reason });
            }
        });
    }
    device
}
