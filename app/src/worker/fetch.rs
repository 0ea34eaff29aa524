//! Model files over the network: bytes fetched with a cap on their size, read through the
//! body's stream so that a server that does not say (or lies about) a length cannot make the
//! worker hold more than the cap.

use super::MAX_MODEL_FILE_BYTES;

/// A file's bytes, or a sentence saying why not. Files over `cap` bytes (at most
/// [`MAX_MODEL_FILE_BYTES`]) are refused from their declared length, or, when a server does not
/// say or says less, as soon as the body read so far passes it.
pub async fn fetch_bytes(url: &str, cap: u64) -> Result<Vec<u8>, String> {
    let cap = cap.min(MAX_MODEL_FILE_BYTES);
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| format!("{url} could not be fetched ({e})"))?;
    if !response.ok() {
        return Err(format!(
            "{url} could not be fetched (HTTP {} {})",
            response.status(),
            response.status_text()
        ));
    }
    let too_big = |bytes: u64| {
        format!(
            "{url} is over {} MB ({bytes} bytes or more); this page loads such a file of at most \
             {} MB",
            cap >> 20,
            cap >> 20
        )
    };
    let declared = response
        .headers()
        .get("content-length")
        .and_then(|length| length.parse::<u64>().ok());
    if let Some(length) = declared.filter(|length| *length > cap) {
        return Err(too_big(length));
    }
    read_body(&web_sys::Response::from(response), cap)
        .await
        .map_err(|failure| match failure {
            BodyFailure::TooBig(bytes) => too_big(bytes),
            BodyFailure::Cut(why) => format!("{url} was cut off ({why})"),
        })
}

/// Why a body was not read whole.
#[derive(Debug, PartialEq)]
pub enum BodyFailure {
    /// It passed the cap after this many bytes.
    TooBig(u64),
    /// The stream failed, with the browser's reason.
    Cut(String),
}

/// A response's body, chunk by chunk through its stream reader, stopping past `cap` bytes.
pub async fn read_body(response: &web_sys::Response, cap: u64) -> Result<Vec<u8>, BodyFailure> {
    use js_sys::{Function, Promise, Reflect, Uint8Array};
    use wasm_bindgen::JsCast;
    let cut = |error: wasm_bindgen::JsValue| BodyFailure::Cut(format!("{error:?}"));
    let method = |object: &wasm_bindgen::JsValue, name: &str| {
        Reflect::get(object, &name.into()).and_then(|method| method.dyn_into::<Function>())
    };
    let body = Reflect::get(response, &"body".into()).map_err(cut)?;
    if body.is_null() || body.is_undefined() {
        return Ok(Vec::new());
    }
    let reader = method(&body, "getReader")
        .and_then(|get_reader| get_reader.call0(&body))
        .map_err(cut)?;
    let read = method(&reader, "read").map_err(cut)?;
    let mut bytes = Vec::new();
    loop {
        let next = read
            .call0(&reader)
            .and_then(|promise| promise.dyn_into::<Promise>())
            .map_err(cut)?;
        let chunk = wasm_bindgen_futures::JsFuture::from(next)
            .await
            .map_err(cut)?;
        if Reflect::get(&chunk, &"done".into())
            .map_err(cut)?
            .is_truthy()
        {
            return Ok(bytes);
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .and_then(|value| value.dyn_into())
            .map_err(cut)?;
        let total = bytes.len() as u64 + u64::from(value.length());
        if total > cap {
            if let Ok(cancel) = method(&reader, "cancel") {
                let _ = cancel.call0(&reader);
            }
            return Err(BodyFailure::TooBig(total));
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
    }
}
