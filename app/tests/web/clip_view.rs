//! The clip's waveform and spectrogram.

use super::*;

#[wasm_bindgen_test]
async fn clip_view_describes_the_clip_and_draws_both_charts() {
    let analysis = Arc::new(two_second_analysis());
    let hover = RwSignal::new(None::<f32>);
    let root = container();
    let handle = mount_to(
        root.clone(),
        move || view! { <ClipView analysis=analysis.clone() hover=hover /> },
    );
    settle().await;
    let summary = text(&root, ".clip-summary").unwrap();
    assert!(
        summary.starts_with("test.wav: 2.00 s, 1 channel,"),
        "{summary}"
    );
    assert!(summary.contains("99 frames of 40 mel bins"), "{summary}");
    for id in ["#waveform", "#spectrogram"] {
        let canvas: HtmlCanvasElement = root.query_selector(id).unwrap().unwrap().unchecked_into();
        let painted = painted_pixels(&canvas);
        let total = (canvas.width() * canvas.height()) as usize;
        assert!(
            painted > total / 20,
            "{id}: only {painted} of {total} pixels drawn"
        );
    }
    assert!(root.query_selector("[role=alert]").unwrap().is_none());
    hover.set(Some(0.6));
    settle().await;
    let readout = text(&root, "#hover-readout").unwrap();
    assert!(readout.starts_with("0.60 s: level "), "{readout}");
    assert!(readout.ends_with(" of 40"), "{readout}");
    assert_eq!(root.query_selector_all(".time-cursor").unwrap().length(), 2);
    drop(handle);
}
