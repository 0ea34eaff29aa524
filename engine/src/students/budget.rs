//! What a student layout costs, worked out from its config alone, and the budget it must fit
//! before anything is allocated: every field of a config has its own bound, but their products
//! do not, and a few hundred bytes of JSON could otherwise ask for gigabytes.

use super::StudentError;
use super::config::{Architecture, StudentConfig};
use serde::{Deserialize, Serialize};

/// The most a student may cost. The defaults fit a phone with room for training (Adam keeps
/// three more copies of every weight).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudentBudget {
    /// Trainable parameters, the training-only query included.
    pub max_parameters: u64,
    /// Bytes of activations one clip's forward pass keeps per second of audio.
    pub max_activation_bytes_per_second: u64,
}

impl Default for StudentBudget {
    fn default() -> Self {
        Self {
            max_parameters: 16_000_000,
            max_activation_bytes_per_second: 64 << 20,
        }
    }
}

/// One layer's share of a cost, named by the config fields that set it.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub fields: &'static str,
    pub amount: u64,
}

/// A sum that remembers its largest term. Saturating: a sum that overflows is over any budget.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub total: u64,
    pub largest: Option<Term>,
}

impl Tally {
    fn add(&mut self, fields: &'static str, amount: u64) {
        self.total = self.total.saturating_add(amount);
        if self
            .largest
            .as_ref()
            .is_none_or(|term| amount > term.amount)
        {
            self.largest = Some(Term { fields, amount });
        }
    }

    fn refuse(&self, what: &str, budget: u64, setting: &str) -> Result<(), StudentError> {
        if self.total <= budget {
            return Ok(());
        }
        let most = self
            .largest
            .as_ref()
            .map(|term| format!(", most of it from {} ({})", term.fields, term.amount))
            .unwrap_or_default();
        Err(StudentError::Config(format!(
            "this layout needs {} {what}{most}; the budget is {budget} ({setting}). Make the \
             layout smaller",
            self.total
        )))
    }
}

/// Parameters and activation memory of a layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StudentCost {
    pub parameters: Tally,
    /// Floats one forward pass keeps per input frame.
    pub activations_per_frame: Tally,
    pub frames_per_second: u64,
}

impl StudentCost {
    pub fn activation_bytes_per_second(&self) -> u64 {
        self.activations_per_frame
            .total
            .saturating_mul(4)
            .saturating_mul(self.frames_per_second)
    }
}

fn product(factors: &[usize]) -> u64 {
    factors
        .iter()
        .fold(1u64, |total, &f| total.saturating_mul(f as u64))
}

fn linear(input: usize, output: usize) -> u64 {
    product(&[input, output]).saturating_add(output as u64)
}

fn gru(input: usize, hidden: usize) -> u64 {
    product(&[3, hidden, input.saturating_add(hidden)]).saturating_add(product(&[6, hidden]))
}

impl StudentConfig {
    /// The cost of this layout, from the config alone (its fields must be within their own
    /// bounds, as [`StudentConfig::validate`] checks first).
    pub fn cost(&self) -> StudentCost {
        let (input, classes) = (self.input_size(), self.classes());
        let mut parameters = Tally::default();
        let mut activations = Tally::default();
        let features = &self.features;
        activations.add(
            "features (n_fft, n_mels)",
            (features.n_fft / 2 + 1 + features.n_mels + input) as u64,
        );
        match &self.arch {
            Architecture::LstmP(c) => {
                let (h, p) = (c.units, c.projection);
                parameters.add(
                    "units × projection (the LSTM)",
                    product(&[4, h, input + p]) + product(&[7, h]) + product(&[h, p]),
                );
                parameters.add("projection (the classifier)", linear(p, classes));
                parameters.add("projection (the query)", p as u64);
                activations.add("units (the LSTM's gates and cell)", product(&[6, h]));
                activations.add("projection", p as u64);
            }
            Architecture::TcResNet(c) => {
                let k = c.kernel;
                parameters.add(
                    "first_channels × first_kernel",
                    product(&[c.first_kernel, input, c.first_channels])
                        + product(&[2, c.first_channels]),
                );
                activations.add("first_channels", c.first_channels as u64);
                let mut width = c.first_channels;
                for (stage, &channels) in c.stages.iter().enumerate() {
                    for block in 0..c.blocks_per_stage {
                        let shortcut = block == 0;
                        let mut weights = product(&[k, width, channels])
                            + product(&[k, channels, channels])
                            + product(&[4, channels]);
                        if shortcut {
                            weights += product(&[width, channels]) + product(&[2, channels]);
                        }
                        parameters.add("stages × kernel × blocks_per_stage", weights);
                        // Each stage halves the frame rate.
                        activations.add(
                            "stages × blocks_per_stage",
                            product(&[3, channels]) >> (stage + 1).min(63),
                        );
                        width = channels;
                    }
                }
                parameters.add("stages (the classifier)", linear(width, classes));
                parameters.add("stages (the query)", width as u64);
            }
            Architecture::Crnn(c) => {
                let (mut channels, mut bins) = (1usize, input);
                for (&out, &[time, frequency]) in c.conv_channels.iter().zip(&c.conv_kernels) {
                    parameters.add(
                        "conv_channels × conv_kernels",
                        product(&[channels, out, time, frequency]) + out as u64,
                    );
                    bins = (bins + 1).saturating_sub(frequency);
                    activations.add("conv_channels", product(&[out, bins]));
                    channels = out;
                }
                parameters.add(
                    "gru_units × conv_channels (the GRU)",
                    gru(channels.saturating_mul(bins), c.gru_units),
                );
                activations.add("gru_units", product(&[4, c.gru_units]));
                let mut width = c.gru_units;
                for &units in &c.dense {
                    parameters.add("dense", linear(width, units));
                    width = units;
                }
                parameters.add("dense (the classifier)", linear(width, classes));
                parameters.add("gru_units (the query)", c.gru_units as u64);
            }
            Architecture::AttRnn(c) | Architecture::MhattRnn(c) => {
                let mut channels = 1usize;
                for &out in &c.conv_channels {
                    parameters.add(
                        "conv_channels × conv_kernel",
                        product(&[channels, out, c.conv_kernel]) + product(&[3, out]),
                    );
                    activations.add("conv_channels", product(&[out, input]));
                    channels = out;
                }
                let mut width = input;
                for _ in 0..c.gru_layers {
                    parameters.add(
                        "gru_layers × gru_units (the BiGRUs)",
                        gru(width, c.gru_units).saturating_mul(2),
                    );
                    activations.add("gru_layers × gru_units", product(&[10, c.gru_units]));
                    width = 2 * c.gru_units;
                }
                parameters.add(
                    "heads × gru_units (the queries)",
                    linear(width, c.heads.saturating_mul(width)),
                );
                activations.add("heads", c.heads as u64);
                let mut features = c.heads.saturating_mul(width);
                for &units in &c.dense {
                    parameters.add("heads × gru_units × dense", linear(features, units));
                    features = units;
                }
                parameters.add("dense (the classifier)", linear(features, classes));
            }
        }
        StudentCost {
            parameters,
            activations_per_frame: activations,
            frames_per_second: u64::from(features.sample_rate)
                .div_ceil(features.hop_length.max(1) as u64),
        }
    }

    /// Multiply-adds of one clip's inference forward pass over `input_frames` feature frames:
    /// every matrix product and convolution that the logits and the temporal attention need (what
    /// an exported student computes), not the elementwise gate math, normalisation or softmax.
    /// Saturating, as the other costs.
    pub fn multiply_adds(&self, input_frames: usize) -> u64 {
        let (input, classes) = (self.input_size(), self.classes());
        let frames = input_frames;
        // Output frames of a 1-D convolution with `pad` frames on each side.
        let convolved = |frames: usize, kernel: usize, stride: usize, pad: usize| {
            frames
                .saturating_add(2 * pad)
                .checked_sub(kernel)
                .map_or(0, |span| span / stride + 1)
        };
        let gru = |frames: usize, input: usize, hidden: usize| {
            product(&[frames, 3, hidden, input.saturating_add(hidden)])
        };
        let mut total = Tally::default();
        match &self.arch {
            Architecture::LstmP(c) => {
                let (h, p) = (c.units, c.projection);
                total.add("the LSTM", product(&[frames, 4, h, input + p]));
                total.add("the projection", product(&[frames, h, p]));
                total.add("the classifier", product(&[p, classes]));
                total.add("the query", product(&[frames, p]));
            }
            Architecture::TcResNet(c) => {
                let mut frames = convolved(frames, c.first_kernel, 1, c.first_kernel / 2);
                total.add(
                    "the first convolution",
                    product(&[frames, c.first_kernel, input, c.first_channels]),
                );
                let mut width = c.first_channels;
                for &channels in &c.stages {
                    for block in 0..c.blocks_per_stage {
                        let stride = if block == 0 { 2 } else { 1 };
                        let out = convolved(frames, c.kernel, stride, c.kernel / 2);
                        total.add("the blocks", product(&[out, c.kernel, width, channels]));
                        total.add("the blocks", product(&[out, c.kernel, channels, channels]));
                        if stride != 1 || width != channels {
                            let shortcut = convolved(frames, 1, stride, 0);
                            total.add("the shortcuts", product(&[shortcut, width, channels]));
                        }
                        (frames, width) = (out, channels);
                    }
                }
                total.add("the classifier", product(&[width, classes]));
                total.add("the query", product(&[frames, width]));
            }
            Architecture::Crnn(c) => {
                let (mut frames, mut bins, mut channels) = (frames, input, 1usize);
                for (&out, &[time, frequency]) in c.conv_channels.iter().zip(&c.conv_kernels) {
                    frames = convolved(frames, time, 1, 0);
                    bins = convolved(bins, frequency, 1, 0);
                    total.add(
                        "the convolutions",
                        product(&[frames, bins, out, channels, time, frequency]),
                    );
                    channels = out;
                }
                total.add("the GRU", gru(frames, channels * bins, c.gru_units));
                let mut width = c.gru_units;
                for &units in &c.dense {
                    total.add("the dense layers", product(&[width, units]));
                    width = units;
                }
                total.add("the classifier", product(&[width, classes]));
                total.add("the query", product(&[frames, c.gru_units]));
            }
            Architecture::AttRnn(c) | Architecture::MhattRnn(c) => {
                let mut channels = 1usize;
                for &out in &c.conv_channels {
                    let kernel = product(&[frames, input, out, channels, c.conv_kernel]);
                    total.add("the convolutions", kernel);
                    channels = out;
                }
                let mut width = input;
                for _ in 0..c.gru_layers {
                    total.add(
                        "the BiGRUs",
                        gru(frames, width, c.gru_units).saturating_mul(2),
                    );
                    width = 2 * c.gru_units;
                }
                // The queries from the middle frame, then each head's scores and context.
                total.add("the queries", product(&[width, c.heads, width]));
                total.add("the attention", product(&[2, c.heads, frames, width]));
                let mut features = c.heads * width;
                for &units in &c.dense {
                    total.add("the dense layers", product(&[features, units]));
                    features = units;
                }
                total.add("the classifier", product(&[features, classes]));
            }
        }
        total.total
    }

    /// Refuses a layout over `budget`, naming the field that costs most and both numbers.
    pub fn check_budget(&self, budget: &StudentBudget) -> Result<StudentCost, StudentError> {
        let cost = self.cost();
        cost.parameters
            .refuse("parameters", budget.max_parameters, "max_parameters")?;
        let per_second = Tally {
            total: cost.activation_bytes_per_second(),
            largest: cost.activations_per_frame.largest.clone().map(|term| Term {
                amount: term
                    .amount
                    .saturating_mul(4)
                    .saturating_mul(cost.frames_per_second),
                ..term
            }),
        };
        per_second.refuse(
            "bytes of activations per second of audio",
            budget.max_activation_bytes_per_second,
            "max_activation_bytes_per_second",
        )?;
        Ok(cost)
    }
}
