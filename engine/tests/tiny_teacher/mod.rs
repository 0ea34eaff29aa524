//! The teacher of the training tests: small enough to train a few steps in a test, natively and
//! in headless Chromium.

use tempokd::teacher::{ClassifierPooling, TeacherShape, Wav2Vec2Config};

/// A two-layer, 32-wide teacher for `labels`, with the paper's first-frame head.
pub fn tiny_teacher_config(labels: &[&str]) -> Wav2Vec2Config {
    let shape = TeacherShape {
        hidden: 32,
        layers: 2,
        heads: 2,
        conv_channels: 16,
    };
    Wav2Vec2Config::shaped(labels, shape, ClassifierPooling::FirstFrame)
}
