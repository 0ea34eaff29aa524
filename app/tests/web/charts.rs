//! The time axis every chart shares.

use super::*;

#[wasm_bindgen_test]
fn a_time_on_the_axis_and_its_place_on_a_chart_agree() {
    // The plot spans pixels 56 to 948 of 960, and 56 to 468 of a phone's 480.
    assert_eq!(x_to_time(56.0 / 960.0, 4.0, 960), Some(0.0));
    assert!((x_to_time(948.0 / 960.0, 4.0, 960).unwrap() - 4.0).abs() < 1e-5);
    assert_eq!(x_to_time(10.0 / 960.0, 4.0, 960), None);
    assert_eq!(x_to_time(955.0 / 960.0, 4.0, 960), None);
    assert!((x_to_time(0.6, 4.0, 960).unwrap() - 2.3318).abs() < 1e-3);
    assert!((x_to_time(468.0 / 480.0, 4.0, 480).unwrap() - 4.0).abs() < 1e-5);
    for width in [960, 480] {
        for t in [0.0, 0.37, 2.0, 3.99] {
            let back = x_to_time(time_to_x(t, 4.0, width), 4.0, width).unwrap();
            assert!(
                (back - t).abs() < 1e-5,
                "{t} came back as {back} at {width} px"
            );
        }
    }
}
