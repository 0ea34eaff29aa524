//! Loading another model from a URL or picked files.

use super::*;

#[wasm_bindgen_test]
async fn another_model_from_a_url_that_has_none_is_a_message_not_a_load() {
    let models = Models::new();
    models.device.set(Some(Placement::Cpu {
        reason: "a test".into(),
    }));
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <OtherModels models=models /> },
    );
    settle().await;
    root.query_selector("details")
        .unwrap()
        .unwrap()
        .set_attribute("open", "")
        .unwrap();
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    let folder = format!("{origin}/no-such-model");
    let input = root.query_selector("#model-url").unwrap().unwrap();
    js_sys::Reflect::set(&input, &"value".into(), &folder.as_str().into()).unwrap();
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    root.query_selector(".model-url button[type=submit]")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    for _ in 0..50 {
        if text(&root, "[role=alert]").is_some() {
            break;
        }
        settle().await;
    }
    let message = text(&root, "[role=alert]").unwrap_or_else(|| root.inner_html());
    assert!(
        message.starts_with(&format!(
            "{folder}/config.json could not be read (HTTP 404)"
        )),
        "{message}"
    );
    assert!(root.query_selector("#model-offer").unwrap().is_none());
    assert_eq!(models.loading.get_untracked().expected, 0);
    drop(handle);
}
