//! The browser's Cache API as a small byte store, on the page and in the workers. It is reached
//! through its JavaScript names, which keeps web-sys's feature set (and so the build) as it is.
//! Every failure reads as "not stored": a browser without the API, or one that refuses to
//! store, only costs the time the cache would have saved.

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// One named cache of this origin (`caches.open(name)`).
pub struct ByteCache(JsValue);

impl ByteCache {
    pub async fn open(name: &str) -> Option<Self> {
        let caches = js_sys::Reflect::get(&js_sys::global(), &"caches".into()).ok()?;
        call(&caches, "open", &[name.into()]).await.map(Self)
    }

    /// The bytes stored under `key`, if any.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let found = call(&self.0, "match", &[key.into()]).await?;
        let response: web_sys::Response = found.dyn_into().ok()?;
        let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
        Some(Uint8Array::new(&buffer).to_vec())
    }

    /// Stores `parts`, one after the other, under `key` in one step, replacing what was there;
    /// false if refused.
    ///
    /// The body is a blob: the browser hands a blob's bytes to its cache as they are, where a
    /// response built on a buffer is copied and read into the cache on the calling thread (for
    /// a training run's two students, a page task of over 50 ms).
    pub async fn put(&self, key: &str, parts: &[&[u8]]) -> bool {
        let parts: js_sys::Array = parts.iter().map(|part| Uint8Array::from(*part)).collect();
        let Ok(body) = web_sys::Blob::new_with_u8_array_sequence(&parts.into()) else {
            return false;
        };
        let Ok(response) = web_sys::Response::new_with_opt_blob(Some(&body)) else {
            return false;
        };
        call(&self.0, "put", &[key.into(), response.into()])
            .await
            .is_some()
    }

    pub async fn delete(&self, key: &str) {
        call(&self.0, "delete", &[key.into()]).await;
    }

    /// Deletes the whole named cache of this origin (`caches.delete(name)`), if there is one.
    pub async fn delete_store(name: &str) {
        if let Ok(caches) = js_sys::Reflect::get(&js_sys::global(), &"caches".into()) {
            call(&caches, "delete", &[name.into()]).await;
        }
    }
}

/// Awaits the promise that `target.method(arguments…)` returns.
async fn call(target: &JsValue, method: &str, arguments: &[JsValue]) -> Option<JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    let arguments: js_sys::Array = arguments.iter().collect();
    let promise: js_sys::Promise = function.apply(target, &arguments).ok()?.dyn_into().ok()?;
    JsFuture::from(promise).await.ok()
}
