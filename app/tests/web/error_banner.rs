//! The error banner.

use super::*;

#[wasm_bindgen_test]
async fn error_banner_shows_and_dismisses_the_message() {
    let root = container();
    let (error, set_error) = signal(Some("The file is empty.".to_string()));
    let handle = mount_to(root.clone(), move || {
        view! { <ErrorBanner error=error on_dismiss=Callback::new(move |()| set_error.set(None)) /> }
    });
    settle().await;
    assert_eq!(
        text(&root, "[role=alert] .error-text").as_deref(),
        Some("The file is empty.")
    );
    let dismiss: HtmlElement = root
        .query_selector("button.dismiss")
        .unwrap()
        .unwrap()
        .unchecked_into();
    dismiss.click();
    settle().await;
    assert!(root.query_selector("[role=alert]").unwrap().is_none());
    drop(handle);
}
