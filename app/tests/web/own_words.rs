//! The visitor's own words, recorded for training.

use super::*;

#[wasm_bindgen_test]
async fn own_words_are_added_with_one_click_and_a_take_too_long_is_refused() {
    let (models, training) = (Models::new(), Training::new());
    let decoded = |samples: Vec<f32>| DecodedClip {
        name: "take.wav".into(),
        source_rate: 16_000,
        source_channels: 1,
        clip: Clip::from_mono_16k(samples, &Limits::default()).unwrap(),
        keyword_window: None,
    };
    // Half a second of tone between silences.
    let word: Vec<f32> = (0..24_000)
        .map(|i| {
            let on = (8_000..16_000).contains(&i);
            if on {
                0.3 * (i as f32 * 0.2).sin()
            } else {
                0.0
            }
        })
        .collect();
    let clip = RwSignal::new(Some(Arc::new(decoded(word))));
    let (root, _mount) = mount_trainer(models, training, clip);
    settle().await;
    click(&root, "#take-clip");
    settle().await;
    for label in ["yes", "yes", "no"] {
        click(&root, &format!("button.take[data-label='{label}']"));
        settle().await;
    }
    assert_eq!(
        text(&root, "#own-words-count").as_deref(),
        Some("In the next run: yes × 2, no × 1.")
    );
    let recordings = training.recordings.get_untracked();
    assert!(
        recordings.iter().all(|r| r.samples.len() < 12_000),
        "cut to the word"
    );
    assert!(root.query_selector(".error").unwrap().is_none());

    // 2.5 s of speech cannot fit the 2 s clips it would be placed in.
    let long: Vec<f32> = (0..40_000).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect();
    clip.set(Some(Arc::new(decoded(long))));
    click(&root, "button.take[data-label='up']");
    settle().await;
    assert!(
        text(&root, "#own-words-note.error").is_some_and(|t| t.contains("2.50 s")),
        "a take longer than L is refused with a message: {:?}",
        text(&root, "#own-words-note")
    );
    assert_eq!(training.recordings.with_untracked(Vec::len), 3);
    click(&root, "#own-words-undo");
    settle().await;
    assert_eq!(
        text(&root, "#own-words-count").as_deref(),
        Some("In the next run: yes × 2.")
    );
    click(&root, "#own-words-clear");
    settle().await;
    assert!(root.query_selector("#own-words-count").unwrap().is_none());
}
