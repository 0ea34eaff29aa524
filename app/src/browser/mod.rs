//! The browser's own APIs the page and the workers use, each wrapped so that every failure reads
//! as a message a visitor can act on.

pub mod audio;
pub mod cache;
pub mod json;
pub mod microphone;

/// Calls `then` whenever the page's tab is hidden (another tab chosen, the window minimised), for
/// the page's whole life.
pub fn when_hidden(then: impl Fn() + 'static) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let watched = document.clone();
    let on_change = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if watched.hidden() {
            then();
        }
    });
    let listening = document
        .add_event_listener_with_callback("visibilitychange", on_change.as_ref().unchecked_ref());
    if listening.is_ok() {
        // Listens as long as the page lives.
        on_change.forget();
    }
}

/// Bytes of this wasm instance's linear memory (the page's, or a worker's in a worker): it grows
/// in 64 KiB pages and never shrinks, so it is the most the instance has held at once.
pub fn wasm_memory_bytes() -> u64 {
    use wasm_bindgen::JsCast;
    (wasm_bindgen::memory().dyn_into::<js_sys::WebAssembly::Memory>())
        .ok()
        .and_then(|memory| memory.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map_or(0, |buffer| u64::from(buffer.byte_length()))
}
