//! The worker boundary: panics reported to the page, messages across it, model files' bodies read with a cap.

use super::*;

#[wasm_bindgen_test]
async fn a_worker_panic_reaches_the_page_that_listens_and_no_other() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use tempokd_app::worker::alarm::{Panic, PanicAlarm, ring, ring_on};
    let heard = Rc::new(RefCell::new(Vec::new()));
    let listener = heard.clone();
    let alarm = PanicAlarm::listen(move |panic| listener.borrow_mut().push(panic)).unwrap();
    let other_tab = PanicAlarm::listen(|panic| panic!("another page heard {panic:?}")).unwrap();
    assert_ne!(alarm.name(), other_tab.name());
    ring_on(alarm.name(), 3);
    ring("wgpu error: out of memory");
    for _ in 0..50 {
        if !heard.borrow().is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert_eq!(
        *heard.borrow(),
        vec![Panic {
            worker: 3,
            message: "wgpu error: out of memory".into()
        }]
    );
}

/// A response whose body streams `chunks` chunks of 1,000 bytes, with no length said.
fn streamed_response(chunks: u32) -> web_sys::Response {
    js_sys::Function::new_with_args(
        "chunks",
        "return new Response(new ReadableStream({ start(controller) { \
           for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(1000)); \
           controller.close(); } }));",
    )
    .call1(&wasm_bindgen::JsValue::NULL, &chunks.into())
    .unwrap()
    .dyn_into()
    .unwrap()
}

#[wasm_bindgen_test]
async fn a_model_files_body_is_read_whole_within_the_cap_and_stopped_just_past_it() {
    use tempokd_app::worker::fetch::{BodyFailure, read_body};
    let whole = read_body(&streamed_response(5), 5_000).await.unwrap();
    assert_eq!(whole.len(), 5_000);
    // A hundred chunks against a cap of 5,500 bytes: reading stops at the sixth.
    assert_eq!(
        read_body(&streamed_response(100), 5_500).await,
        Err(BodyFailure::TooBig(6_000))
    );
}

/// A yield must let tasks already queued run (a resolved promise would not: its continuation is a
/// microtask, which runs before any task), so the page's pause and stop reach a training loop.
#[wasm_bindgen_test]
async fn yielding_lets_a_queued_message_in() {
    use std::cell::Cell;
    use std::rc::Rc;
    use tempokd_app::worker::yielding::yield_to_messages;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    let channel = web_sys::MessageChannel::new().unwrap();
    let heard = Rc::new(Cell::new(false));
    let hearing = heard.clone();
    let handler = Closure::<dyn FnMut()>::new(move || hearing.set(true));
    channel
        .port1()
        .set_onmessage(Some(handler.as_ref().unchecked_ref()));
    channel
        .port2()
        .post_message(&wasm_bindgen::JsValue::NULL)
        .unwrap();
    let mut yields = 0;
    while !heard.get() && yields < 10 {
        yield_to_messages().await;
        yields += 1;
    }
    channel.port1().close();
    assert!(
        heard.get(),
        "a message queued before was not handled within 10 yields"
    );
}
