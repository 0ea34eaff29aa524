//! Students on devices outside TempoKD: as ONNX models, for other runtimes (onnxruntime, tract,
//! a phone's or a microcontroller's inference engine), and the deployment card of what each
//! costs there (`card`, `profile`).
//!
//! The exported graph is the student's forward pass from its features to its logits and its
//! temporal attention; the front end (framing, mel filters, log, DCT) stays outside it and is
//! written into the model's metadata (`tempokd.front_end` in words, `tempokd.config` as the
//! student's `config.json`) so an integrator can compute the same features.

#[cfg(feature = "tensors")]
mod c_header;
pub mod card;
#[cfg(feature = "tensors")]
mod onnx;
#[cfg(feature = "tensors")]
mod profile;
#[cfg(feature = "tensors")]
mod students;

#[cfg(feature = "tensors")]
pub use c_header::student_c_header;
#[cfg(feature = "tensors")]
pub use profile::{deployment_cost, time_one_second, timing_clip};

/// The ONNX operator set every exported graph is written against.
pub const OPSET: i64 = 17;

/// How a student's weights are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precision {
    #[default]
    #[serde(rename = "fp32")]
    F32,
    #[serde(rename = "fp16")]
    F16,
    #[serde(rename = "int8")]
    Int8,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::F16 => "fp16",
            Precision::Int8 => "int8",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }
}

use crate::audio::{FeatureConfig, FeatureKind, MelNorm, MelScale};
#[cfg(feature = "tensors")]
use crate::{
    checkpoint::{named_tensors, read_to_host},
    students::{Student, StudentConfig},
};
use serde::{Deserialize, Serialize};
#[cfg(feature = "tensors")]
use std::collections::HashMap;
#[cfg(feature = "tensors")]
use students::{HostTensor, student_graph};
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq)]
pub enum ExportError {
    #[error("the student has no weight `{0}`; its config.json and weights do not belong together")]
    MissingWeight(String),
    #[error(
        "the weight `{key}` has shape {shape:?}, which the student's config.json does not give"
    )]
    WeightShape { key: String, shape: Vec<usize> },
    #[error("reading the weights from the device failed: {0}")]
    Device(String),
    #[error("the student cannot read a second of audio: {0}")]
    Features(String),
}

/// An exported student.
#[cfg(feature = "tensors")]
pub struct OnnxStudent {
    /// The `.onnx` file.
    pub bytes: Vec<u8>,
    /// Bytes of its weights (the rest of the file is the graph and the metadata).
    pub weight_bytes: usize,
}

/// `student` as an ONNX model (opset [`OPSET`]), its matrices and kernels stored at `precision`
/// (int8: codes and a scale per tensor through `DequantizeLinear`; fp16: cast to float). Input `features`: `[batch, frames, bins]`,
/// frame-major, as the front end in the metadata computes them; outputs `logits`
/// `[batch, classes]`, `attention` `[batch, student frames]` (a_S: for LSTM-P, TC-ResNet and
/// CRNN from the query head used in training, which the logits never use) and, for Att-RNN and
/// MHAtt-RNN, `attention_heads` `[batch, heads, student frames]`. Batch and frames are dynamic.
#[cfg(feature = "tensors")]
pub async fn student_onnx(
    student: &Student,
    precision: Precision,
) -> Result<OnnxStudent, ExportError> {
    let mut weights = HashMap::new();
    let host = read_to_host(named_tensors(student.model()))
        .await
        .map_err(ExportError::Device)?;
    for (name, shape, values) in host {
        // Keys below the module's root (`TcResNet.classifier.weight` → `classifier.weight`).
        let key = match name.split_once('.') {
            Some((_, key)) => key.to_owned(),
            None => name,
        };
        weights.insert(key, HostTensor { shape, values });
    }
    let config = student.config();
    let graph = student_graph(config, &weights, precision)?;
    let bytes = onnx::model_bytes(
        &graph,
        env!("CARGO_PKG_VERSION"),
        &metadata(config, precision),
    );
    Ok(OnnxStudent {
        weight_bytes: graph.stored_bytes(),
        bytes,
    })
}

/// What an integrator needs beside the graph: the classes, the front end, the time axis.
#[cfg(feature = "tensors")]
fn metadata(config: &StudentConfig, precision: Precision) -> Vec<(String, String)> {
    let weights = match precision {
        Precision::F32 => "fp32".to_owned(),
        Precision::F16 => "fp16: matrices and kernels stored in half precision, cast to float; \
                           biases, batch norm, peepholes and the query in fp32"
            .to_owned(),
        Precision::Int8 => "int8: matrices and kernels as symmetric int8 codes with one scale \
                            per tensor (scale = max |w| / 127, zero point 0), dequantized by \
                            DequantizeLinear; biases, batch norm, peepholes and the query in fp32"
            .to_owned(),
    };
    let pairs = [
        ("tempokd.weights", weights),
        ("tempokd.labels", config.labels.join(",")),
        (
            "tempokd.front_end",
            front_end(config.input, &config.features),
        ),
        ("tempokd.min_frames", config.min_input_frames().to_string()),
        ("tempokd.config", config.to_json()),
    ];
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// The front end in words, exact enough to reimplement.
pub fn front_end(kind: FeatureKind, c: &FeatureConfig) -> String {
    let scale = match c.mel_scale {
        MelScale::Htk => "HTK mel scale (2595·log10(1 + f/700))",
        MelScale::Slaney => "Slaney mel scale (librosa's default)",
    };
    let norm = match c.mel_norm {
        MelNorm::None => "triangles of peak 1",
        MelNorm::Slaney => "triangles of equal area (librosa norm=\"slaney\")",
    };
    let spectrum = if c.power == 2.0 {
        "power".to_owned()
    } else {
        format!("magnitude to the power {}", c.power)
    };
    let mut text = format!(
        "{} Hz mono float samples; frames of {} samples every {} samples, the first starting at \
         sample 0 and none padded (librosa center=False); a periodic Hann window of {} samples in \
         the middle of each frame; the {spectrum} spectrum of a {}-point real FFT; {} mel \
         filters from {} to {} Hz on the {scale}, {norm}; natural log of each band plus {}",
        c.sample_rate,
        c.n_fft,
        c.hop_length,
        c.win_length,
        c.n_fft,
        c.n_mels,
        c.f_min,
        c.f_max,
        c.log_offset,
    );
    match kind {
        FeatureKind::Mfcc => text.push_str(&format!(
            "; the first {} coefficients of the orthonormal DCT-II of the log-mel bands",
            c.n_mfcc
        )),
        FeatureKind::LogMel => text.push_str("; the log-mel bands are the features"),
    }
    if c.normalize {
        text.push_str(
            "; then each coefficient brought to zero mean and unit variance over the clip's frames \
             (population variance; scale 1/sqrt(variance + 1e-10))",
        );
    }
    text.push_str(". Input `features` is [batch, frames, values per frame], frame-major.");
    text
}
