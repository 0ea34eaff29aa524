//! JSON files the page serves beside itself (the models' index, the deployment card), fetched and
//! read with messages that say which file and what to do.

use serde::de::DeserializeOwned;

/// `url` read as a `T`; `what` names the file in the message when it cannot be.
pub async fn fetch_json<T: DeserializeOwned>(url: &str, what: &str) -> Result<T, String> {
    let failure = |why: String| format!("{what} ({url}) {why}.");
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| failure(format!("could not be fetched ({e}); reload the page")))?;
    if !response.ok() {
        return Err(failure(format!(
            "could not be fetched (HTTP {}); reload the page",
            response.status()
        )));
    }
    response
        .json()
        .await
        .map_err(|e| failure(format!("is not readable ({e})")))
}
