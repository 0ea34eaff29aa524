use crate::state::catalog::CatalogEntry;
use crate::state::models::Models;
use crate::worker::fetch::{BodyFailure, read_body};
use crate::worker::{MAX_MODEL_FILE_BYTES, ModelFiles, ModelKind, ModelSource, too_large};
use gloo_net::http::{Method, Request, RequestBuilder};
use leptos::prelude::*;
use leptos::task::spawn_local;
use tempokd::capped_read::MAX_CONFIG_BYTES;
use web_sys::HtmlInputElement;

/// Picked weights larger than this are read only once the visitor confirms: reading them takes
/// as much memory in the tab, and the worker as much again while it loads them.
const CONFIRM_ABOVE_BYTES: u64 = 100_000_000;

/// A model found at a URL, described before its weights are downloaded.
#[derive(Clone, Debug, PartialEq)]
struct Offer {
    kind: ModelKind,
    folder: String,
    /// Size of `model.safetensors`, when the server says.
    bytes: Option<u64>,
}

/// Loads a teacher or student beside the default ones: from a Hugging Face-style folder URL
/// (described, with its size, before download) or from files on this computer.
#[component]
pub fn OtherModels(models: Models) -> impl IntoView {
    let (url, set_url) = signal(String::new());
    let (offer, set_offer) = signal(None::<Offer>);
    let (error, set_error) = signal(None::<String>);
    let (checking, set_checking) = signal(false);
    // The worker says where models run once it is up; until then there is nothing to load into.
    let waiting = move || models.device.get().is_none();
    let added = StoredValue::new(0usize);
    let add = move |kind: ModelKind, origin: &str, bytes: u64, files: ModelFiles| {
        added.update_value(|n| *n += 1);
        let kind_name = kind_name(kind);
        let name = format!("your-{kind_name}-{}", added.get_value());
        let entry = CatalogEntry {
            name: name.clone(),
            kind,
            title: format!("your {kind_name} ({origin})"),
            bytes,
        };
        models.add(entry, ModelSource { name, kind, files });
    };

    let check = move || {
        let folder = folder_url(&url.get_untracked());
        set_error.set(None);
        set_offer.set(None);
        set_checking.set(true);
        spawn_local(async move {
            match describe(&folder).await {
                Ok(found) => set_offer.set(Some(found)),
                Err(message) => set_error.set(Some(message)),
            }
            set_checking.set(false);
        });
    };
    let load_offer = move |_| {
        if let Some(offer) = offer.get_untracked() {
            let bytes = offer.bytes.unwrap_or_default();
            add(
                offer.kind,
                &offer.folder,
                bytes,
                ModelFiles::Folder(offer.folder.clone()),
            );
            set_offer.set(None);
        }
    };
    // Picked files waiting for the visitor's yes, and what to tell them.
    let waiting_files = StoredValue::new_local(None::<Vec<gloo_file::File>>);
    let (large_pick, set_large_pick) = signal(None::<(String, u64)>);
    let load_picked = move |picked: Vec<gloo_file::File>| {
        spawn_local(async move {
            match read_picked(picked).await {
                Ok((kind, origin, files)) => {
                    let bytes = match &files {
                        ModelFiles::Picked { weights, .. } => weights.len() as u64,
                        ModelFiles::Folder(_) => 0,
                    };
                    add(kind, &origin, bytes, files);
                }
                Err(message) => set_error.set(Some(message)),
            }
        });
    };
    let on_files = move |event: web_sys::Event| {
        let input: HtmlInputElement = event_target(&event);
        let picked: Vec<gloo_file::File> = input
            .files()
            .map(|list| gloo_file::FileList::from(list).iter().cloned().collect())
            .unwrap_or_default();
        input.set_value("");
        set_error.set(None);
        let large = picked.iter().find(|file| {
            file.name().ends_with(".safetensors")
                && (CONFIRM_ABOVE_BYTES + 1..=MAX_MODEL_FILE_BYTES).contains(&file.size())
        });
        match large {
            Some(file) => {
                set_large_pick.set(Some((file.name(), file.size())));
                waiting_files.set_value(Some(picked));
            }
            None => load_picked(picked),
        }
    };
    let answer_large_pick = move |load: bool| {
        set_large_pick.set(None);
        let picked = waiting_files.try_update_value(Option::take).flatten();
        if let Some(picked) = picked.filter(|_| load) {
            load_picked(picked);
        }
    };

    view! {
        <details class="other-models">
            <summary>"Load another model"</summary>
            <form class="model-url" on:submit=move |event| {
                event.prevent_default();
                check();
            }>
                <label>
                    "Model folder URL "
                    <input id="model-url" type="url" required placeholder="https://…/my-model/"
                        prop:value=url on:input=move |event| set_url.set(event_target_value(&event)) />
                </label>
                <button type="submit" disabled=move || checking.get() || waiting()>"Check"</button>
            </form>
            {move || offer.get().map(|offer| view! {
                <p class="offer" id="model-offer">
                    {format!(
                        "A {} at {}: model.safetensors is {}. ",
                        kind_title(offer.kind),
                        offer.folder,
                        offer.bytes.map_or("of unknown size".to_string(), megabytes),
                    )}
                    <button type="button" id="load-offer" on:click=load_offer>"Load it"</button>
                </p>
            })}
            <label class="button">
                "Pick model files (config.json and model.safetensors)"
                <input id="model-files" type="file" multiple class="visually-hidden"
                    accept=".json,.safetensors" disabled=waiting on:change=on_files />
            </label>
            {move || large_pick.get().map(|(name, bytes)| view! {
                <p class="offer" id="picked-offer">
                    {format!(
                        "{name} is {}: reading it takes as much memory in this tab, and loading it \
                         as much again. ",
                        megabytes(bytes),
                    )}
                    <button type="button" id="load-picked" on:click=move |_| answer_large_pick(true)>
                        "Load it"
                    </button>
                    " "
                    <button type="button" id="cancel-picked" on:click=move |_| answer_large_pick(false)>
                        "Cancel"
                    </button>
                </p>
            })}
            <p class="muted">
                "A teacher is a Hugging Face wav2vec 2.0 folder (config.json, model.safetensors, \
                 optionally preprocessor_config.json); a student is a folder written by tempokd. \
                 Files you pick stay in this browser."
            </p>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get()}</p>
            </Show>
        </details>
    }
}

fn kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Teacher => "teacher",
        ModelKind::Student => "student",
    }
}

fn kind_title(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Teacher => "wav2vec 2.0 teacher",
        ModelKind::Student => "TempoKD student",
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The folder URL as typed, ending in `/` (a link to its config.json is accepted too).
fn folder_url(typed: &str) -> String {
    let typed = typed.trim();
    let folder = typed.strip_suffix("config.json").unwrap_or(typed);
    match folder.ends_with('/') {
        true => folder.to_string(),
        false => format!("{folder}/"),
    }
}

/// Reads the folder's config.json to know the model, and asks the size of its weights.
async fn describe(folder: &str) -> Result<Offer, String> {
    let config_url = format!("{folder}config.json");
    let unreachable = |why: String| {
        format!(
            "{config_url} could not be read ({why}). A model folder holds config.json and \
             model.safetensors, and its server must let other sites read it (CORS)."
        )
    };
    let response = Request::get(&config_url)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !response.ok() {
        return Err(unreachable(format!("HTTP {}", response.status())));
    }
    let config = read_body(&web_sys::Response::from(response), MAX_CONFIG_BYTES)
        .await
        .map_err(|failure| match failure {
            BodyFailure::TooBig(bytes) => format!(
                "{config_url} is over {} MB ({bytes} bytes or more); a model's config.json is a \
                 few kB.",
                MAX_CONFIG_BYTES >> 20
            ),
            BodyFailure::Cut(why) => unreachable(why),
        })?;
    let config =
        String::from_utf8(config).map_err(|_| format!("{config_url} is not text (UTF-8)."))?;
    let kind = ModelKind::of_config(&config)
        .map_err(|why| format!("{config_url} is not a model's config: {why}."))?;
    let weights = RequestBuilder::new(&format!("{folder}model.safetensors"))
        .method(Method::HEAD)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !weights.ok() {
        return Err(format!(
            "{folder}model.safetensors could not be found (HTTP {}).",
            weights.status()
        ));
    }
    let bytes = weights
        .headers()
        .get("content-length")
        .and_then(|length| length.parse::<u64>().ok());
    if let Some(bytes) = bytes.filter(|bytes| *bytes > MAX_MODEL_FILE_BYTES) {
        return Err(too_large(&format!("{folder}model.safetensors"), bytes));
    }
    Ok(Offer {
        kind,
        folder: folder.to_string(),
        bytes,
    })
}

/// The picked files as a model: which kind, a name for where they came from, and their bytes.
async fn read_picked(
    picked: Vec<gloo_file::File>,
) -> Result<(ModelKind, String, ModelFiles), String> {
    if let Some(file) = picked
        .iter()
        .find(|file| file.size() > MAX_MODEL_FILE_BYTES)
    {
        return Err(too_large(&file.name(), file.size()));
    }
    let named = |name: &str| picked.iter().find(|file| file.name() == name);
    if let Some(file) = ["config.json", "preprocessor_config.json"]
        .into_iter()
        .filter_map(named)
        .find(|file| file.size() > MAX_CONFIG_BYTES)
    {
        return Err(format!(
            "{} is {} bytes; a config of at most {} MB is read.",
            file.name(),
            file.size(),
            MAX_CONFIG_BYTES >> 20
        ));
    }
    let text = |file: &gloo_file::File| {
        let file = file.clone();
        async move {
            gloo_file::futures::read_as_text(&file)
                .await
                .map_err(|e| format!("{} could not be read ({e}).", file.name()))
        }
    };
    let config = named("config.json")
        .ok_or("Pick the model's config.json together with its model.safetensors.")?;
    let weights = picked
        .iter()
        .find(|file| file.name().ends_with(".safetensors"))
        .ok_or("Pick the model's model.safetensors together with its config.json.")?;
    let config = text(config).await?;
    let kind = ModelKind::of_config(&config)
        .map_err(|why| format!("That config.json is not a model's config: {why}."))?;
    let preprocessor = match named("preprocessor_config.json") {
        Some(file) => Some(text(file).await?),
        None => None,
    };
    let origin = weights.name();
    let weights = gloo_file::futures::read_as_bytes(weights)
        .await
        .map_err(|e| format!("{origin} could not be read ({e})."))?;
    Ok((
        kind,
        format!("picked files, {origin}"),
        ModelFiles::Picked {
            config,
            weights,
            preprocessor,
        },
    ))
}
