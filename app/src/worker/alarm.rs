//! A panic in the worker ends its wasm instance without a word through gloo-worker's bridge, so
//! the page would wait for answers that never come. The worker's panic hook broadcasts the
//! panic on a channel named by the page, which then starts a new worker. A failed allocation
//! aborts the instance without running the hook; the trap it raises in the worker's scope is
//! heard by a listener made of JavaScript alone, which broadcasts on the same channel.

use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

/// Which worker panicked (the page counts the workers it starts) and the panic's message.
#[derive(Clone, Debug, PartialEq)]
pub struct Panic {
    pub worker: u32,
    pub message: String,
}

/// The page's end: hears panics of its workers, and only of its own.
pub struct PanicAlarm {
    channel: BroadcastChannel,
    name: String,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl PanicAlarm {
    /// Listens on a channel no other tab uses.
    pub fn listen(on_panic: impl Fn(Panic) + 'static) -> Result<Self, String> {
        let name = format!(
            "tempokd-panics-{:x}",
            (js_sys::Math::random() * 1e15) as u64
        );
        let channel = BroadcastChannel::new(&name)
            .map_err(|_| "this browser cannot watch the model worker".to_string())?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(panic) = event.data().as_string().as_deref().and_then(parse) {
                on_panic(panic);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Ok(Self {
            channel,
            name,
            _listener: listener,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PanicAlarm {
    fn drop(&mut self) {
        self.channel.close();
    }
}

fn parse(text: &str) -> Option<Panic> {
    let (worker, message) = text.split_once('\n')?;
    Some(Panic {
        worker: worker.parse().ok()?,
        message: message.to_string(),
    })
}

thread_local! {
    /// The worker's end, once the page has named the channel.
    static RINGER: RefCell<Option<(u32, BroadcastChannel)>> = const { RefCell::new(None) };
}

/// In the worker: panics from now on are broadcast on `channel`, as worker number `worker`.
pub fn ring_on(channel: &str, worker: u32) {
    if let Ok(channel) = BroadcastChannel::new(channel) {
        ring_on_trap(&channel, worker);
        RINGER.with(|ringer| {
            if let Ok(mut ringer) = ringer.try_borrow_mut() {
                *ringer = Some((worker, channel));
            }
        });
    }
}

/// In the worker: a trap (an aborted instance, or the end of a panic) raises `error`, or
/// `unhandledrejection` inside an async call, in the worker's scope. The listener is the
/// channel's own `postMessage` bound to a fixed message, so it runs when wasm no longer can.
fn ring_on_trap(channel: &BroadcastChannel, worker: u32) {
    let Ok(post) = js_sys::Reflect::get(channel, &"postMessage".into())
        .and_then(|post| post.dyn_into::<js_sys::Function>())
    else {
        return;
    };
    let message =
        format!("{worker}\nthe model worker stopped without a word, most likely out of memory");
    let listener = post.bind1(channel, &message.into());
    let scope = js_sys::global();
    let Ok(add) = js_sys::Reflect::get(&scope, &"addEventListener".into())
        .and_then(|add| add.dyn_into::<js_sys::Function>())
    else {
        return;
    };
    for event in ["error", "unhandledrejection"] {
        let _ = add.call2(&scope, &event.into(), &listener);
    }
}

/// In the worker's `main`: logs panics to the console, as before, and broadcasts them.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => text.to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| info.to_string()),
        };
        ring(&message);
    }));
}

/// In the worker: tells the page this worker is going down, with why.
pub fn ring(message: &str) {
    RINGER.with(|ringer| {
        if let Ok(ringer) = ringer.try_borrow()
            && let Some((worker, channel)) = ringer.as_ref()
        {
            let _ = channel.post_message(&format!("{worker}\n{message}").into());
        }
    });
}
