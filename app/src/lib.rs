//! TempoKD's page: a Leptos front end over the `tempokd` engine.
//!
//! `browser` wraps the browser's APIs (WebAudio and the microphone, the Cache API), `analysis`
//! decodes and draws-ready features on the page's thread, `worker` runs the models in Web
//! Workers and says what crosses to them, `state` is what the page knows (the models' catalog,
//! the models and their readings, a training run and the run kept across reloads), `charts`
//! draws with plotters, `export` turns what is on screen into files, and `components` is the
//! page itself.

pub mod analysis;
pub mod browser;
pub mod charts;
pub mod components;
pub mod export;
pub mod state;
pub mod worker;

pub use components::App;

/// Routes any panic to the console and to a visible message, so a failure never leaves a blank
/// or frozen page without a word.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let shown = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.get_element_by_id("fatal"));
        if let Some(banner) = shown {
            banner.set_text_content(Some(&format!(
                "Something went wrong inside the page ({info}). Reload the page to start again; \
                 your audio never left this browser."
            )));
            // Removing an attribute cannot fail on an element we just found.
            let _ = banner.remove_attribute("hidden");
        }
    }));
}
