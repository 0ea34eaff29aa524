//! The downloads of what the page shows (JSON, PNG, SVG).

use super::*;

#[wasm_bindgen_test]
fn downloads_hold_every_model_with_the_maps_on_screen() {
    let analysis = two_second_analysis();
    let readings = vec![
        ("Teacher".to_string(), reading("teacher", "stop", 0.9, true)),
        (
            "TC-ResNet8".to_string(),
            reading("tc-resnet8", "yes", 0.5, false),
        ),
    ];
    let rollout = RolloutConfig {
        residual: 0.0,
        ..RolloutConfig::default()
    };
    let view = View {
        analysis: &analysis,
        readings: &readings,
        device: None,
        rollout: Some(&rollout),
    };
    let numbers = view.numbers();
    assert_eq!(numbers["clip"]["name"], "test.wav");
    assert_eq!(numbers["models"][0]["top"], "stop");
    assert_eq!(numbers["models"][1]["probs"][0], 0.5);
    assert_eq!(numbers["models"][0]["rollout"]["residual"], 0.0);
    assert!(numbers["models"][1]["rollout"].is_null());
    // The teacher's map is the one on screen: rolled out with the visitor's settings, where every
    // frame attends to frame 6, not the map the worker sent.
    let teacher_map: Vec<f64> = numbers["models"][0]["attention"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(teacher_map[6] > 0.99, "{teacher_map:?}");
    assert_eq!(view.json().name, "test-tempokd.json");

    let svg = view.svg().unwrap();
    assert_eq!(svg.name, "test-tempokd.svg");
    let prefix = "data:image/svg+xml;charset=utf-8,";
    assert!(svg.url.starts_with(prefix));
    let text: String = js_sys::decode_uri_component(&svg.url[prefix.len()..])
        .unwrap()
        .into();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("Teacher: hears “stop” 90.0 %"));
    assert!(text.contains("TC-ResNet8: hears “yes” 50.0 %"));
    let png = view.png().unwrap();
    assert!(png.url.starts_with("data:image/png;base64,"));
}
