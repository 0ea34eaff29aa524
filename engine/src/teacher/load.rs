//! Building the teacher from its config and a [`ParamSource`] under Hugging Face's key names:
//! the same code loads a checkpoint and initialises a fresh model.

use super::config::{ClassifierPooling, FeatureNorm, Wav2Vec2Config};
use super::model::{
    Act, ClassificationHead, Encoder, EncoderLayer, FeatureEncoder, FeatureProjection, FeedForward,
    PositionalConv, SelfAttention, Wav2Vec2Classifier, no_dropout,
};
use crate::checkpoint::{CheckpointError, Init, ParamSource};
use crate::matmul::transposed;
use burn::module::Param;
use burn::nn::conv::Conv1d;
use burn::nn::{GroupNormConfig, LayerNorm, LayerNormConfig, Linear, PaddingConfig1d};
use burn::tensor::{Device, Tensor, TensorData};

/// Parameters present in Hugging Face checkpoints that inference never reads.
pub(super) const UNUSED_KEYS: &[&str] = &["wav2vec2.masked_spec_embed"];

const ENCODER: &str = "wav2vec2.encoder";

pub(super) fn build(
    config: &Wav2Vec2Config,
    source: &mut impl ParamSource,
    device: &Device,
) -> Result<Wav2Vec2Classifier, CheckpointError> {
    let mut params = Params { source, device };
    Ok(Wav2Vec2Classifier {
        feature_encoder: params.feature_encoder(config)?,
        feature_projection: params.feature_projection(config)?,
        encoder: params.encoder(config)?,
        head: params.head(config)?,
    }
    .with_dropout(&config.dropout))
}

struct Params<'s, S> {
    source: &'s mut S,
    device: &'s Device,
}

impl<S: ParamSource> Params<'_, S> {
    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>, CheckpointError> {
        self.source.tensor(key, shape, init, self.device)
    }

    /// A PyTorch `nn.Linear` (`weight` is `[out, in]`; burn keeps `[in, out]`). The weight is
    /// transposed here, once, on the host: a transposed view would be copied to a contiguous
    /// tensor by every forward pass (7 % of the base teacher's time on the CPU).
    fn linear(&mut self, key: &str, d_in: usize, d_out: usize) -> Result<Linear, CheckpointError> {
        let rows = self
            .source
            .take(&format!("{key}.weight"), &[d_out, d_in], Init::FanIn(d_in))?;
        let weight = Tensor::from_data(
            TensorData::new(transposed(&rows, d_out, d_in), [d_in, d_out]),
            self.device,
        );
        let bias = self.tensor(&format!("{key}.bias"), [d_out], Init::FanIn(d_in))?;
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        })
    }

    fn layer_norm(
        &mut self,
        key: &str,
        size: usize,
        eps: f64,
    ) -> Result<LayerNorm, CheckpointError> {
        let mut norm = LayerNormConfig::new(size)
            .with_epsilon(eps)
            .init(self.device);
        norm.gamma =
            Param::from_tensor(self.tensor(&format!("{key}.weight"), [size], Init::Ones)?);
        norm.beta = Some(Param::from_tensor(self.tensor(
            &format!("{key}.bias"),
            [size],
            Init::Zeros,
        )?));
        Ok(norm)
    }

    fn feature_encoder(
        &mut self,
        config: &Wav2Vec2Config,
    ) -> Result<FeatureEncoder, CheckpointError> {
        let mut convs = Vec::new();
        let mut layer_norms = Vec::new();
        let mut group_norm = None;
        let mut channels_in = 1;
        let layers = config
            .conv_dim
            .iter()
            .zip(&config.conv_kernel)
            .zip(&config.conv_stride);
        for (index, ((&channels, &kernel), &stride)) in layers.enumerate() {
            let key = format!("wav2vec2.feature_extractor.conv_layers.{index}");
            let fan_in = channels_in * kernel;
            let weight = self.tensor(
                &format!("{key}.conv.weight"),
                [channels, channels_in, kernel],
                Init::FanIn(fan_in),
            )?;
            let bias = match config.conv_bias {
                true => Some(Param::from_tensor(self.tensor(
                    &format!("{key}.conv.bias"),
                    [channels],
                    Init::FanIn(fan_in),
                )?)),
                false => None,
            };
            convs.push(conv1d(weight, bias, stride, 1, PaddingConfig1d::Valid));
            match config.feat_extract_norm {
                FeatureNorm::Layer => layer_norms.push(self.layer_norm(
                    &format!("{key}.layer_norm"),
                    channels,
                    1e-5,
                )?),
                FeatureNorm::Group if index == 0 => {
                    // PyTorch's GroupNorm default epsilon; the config has no field for it.
                    let mut norm = GroupNormConfig::new(channels, channels)
                        .with_epsilon(1e-5)
                        .init(self.device);
                    norm.gamma = Some(Param::from_tensor(self.tensor(
                        &format!("{key}.layer_norm.weight"),
                        [channels],
                        Init::Ones,
                    )?));
                    norm.beta = Some(Param::from_tensor(self.tensor(
                        &format!("{key}.layer_norm.bias"),
                        [channels],
                        Init::Zeros,
                    )?));
                    group_norm = Some(norm);
                }
                FeatureNorm::Group => {}
            }
            channels_in = channels;
        }
        Ok(FeatureEncoder {
            convs,
            group_norm,
            layer_norms,
            activation: Act(config.feat_extract_activation),
        })
    }

    fn feature_projection(
        &mut self,
        config: &Wav2Vec2Config,
    ) -> Result<FeatureProjection, CheckpointError> {
        // validate() guarantees at least one convolution.
        let channels = config.conv_dim.last().copied().unwrap_or(1);
        Ok(FeatureProjection {
            layer_norm: self.layer_norm(
                "wav2vec2.feature_projection.layer_norm",
                channels,
                config.layer_norm_eps,
            )?,
            projection: self.linear(
                "wav2vec2.feature_projection.projection",
                channels,
                config.hidden_size,
            )?,
            dropout: no_dropout(),
        })
    }

    /// The positional convolution's weight, stored under weight norm in either spelling (or
    /// already folded, as a plain `weight`).
    fn positional_conv(
        &mut self,
        config: &Wav2Vec2Config,
    ) -> Result<PositionalConv, CheckpointError> {
        let key = format!("{ENCODER}.pos_conv_embed.conv");
        let hidden = config.hidden_size;
        let kernel = config.num_conv_pos_embeddings;
        let groups = config.num_conv_pos_embedding_groups;
        let shape = [hidden, hidden / groups, kernel];
        let fan_in = hidden / groups * kernel;
        let spellings = [
            ("weight_g", "weight_v"),
            (
                "parametrizations.weight.original0",
                "parametrizations.weight.original1",
            ),
        ];
        let weight_norm = spellings
            .iter()
            .find(|(g, _)| self.source.contains(&format!("{key}.{g}")));
        let weight = match weight_norm {
            Some((g, v)) => {
                let magnitude =
                    self.source
                        .take(&format!("{key}.{g}"), &[1, 1, kernel], Init::Ones)?;
                let direction =
                    self.source
                        .take(&format!("{key}.{v}"), &shape, Init::FanIn(fan_in))?;
                let folded = fold_weight_norm(&magnitude, direction, kernel);
                Tensor::from_data(TensorData::new(folded, shape), self.device)
            }
            None => self.tensor(&format!("{key}.weight"), shape, Init::FanIn(fan_in))?,
        };
        let bias = self.tensor(&format!("{key}.bias"), [hidden], Init::FanIn(fan_in))?;
        let padding = PaddingConfig1d::Explicit(kernel / 2, kernel / 2);
        Ok(PositionalConv {
            conv: conv1d(weight, Some(Param::from_tensor(bias)), 1, groups, padding),
            activation: Act(config.feat_extract_activation),
        })
    }

    fn encoder(&mut self, config: &Wav2Vec2Config) -> Result<Encoder, CheckpointError> {
        let pos_conv = self.positional_conv(config)?;
        let layer_norm = self.layer_norm(
            &format!("{ENCODER}.layer_norm"),
            config.hidden_size,
            config.layer_norm_eps,
        )?;
        let layers = (0..config.num_hidden_layers)
            .map(|index| self.encoder_layer(config, &format!("{ENCODER}.layers.{index}")))
            .collect::<Result<_, _>>()?;
        Ok(Encoder {
            pos_conv,
            layer_norm,
            layers,
            dropout: no_dropout(),
            stable: config.do_stable_layer_norm,
            tie_last_hidden_state: config.ties_last_hidden_state(),
        })
    }

    fn encoder_layer(
        &mut self,
        config: &Wav2Vec2Config,
        key: &str,
    ) -> Result<EncoderLayer, CheckpointError> {
        let hidden = config.hidden_size;
        let eps = config.layer_norm_eps;
        let attention = SelfAttention {
            q_proj: self.linear(&format!("{key}.attention.q_proj"), hidden, hidden)?,
            k_proj: self.linear(&format!("{key}.attention.k_proj"), hidden, hidden)?,
            v_proj: self.linear(&format!("{key}.attention.v_proj"), hidden, hidden)?,
            out_proj: self.linear(&format!("{key}.attention.out_proj"), hidden, hidden)?,
            heads: config.num_attention_heads,
            dropout: no_dropout(),
        };
        let layer_norm = self.layer_norm(&format!("{key}.layer_norm"), hidden, eps)?;
        let feed_forward = FeedForward {
            intermediate_dense: self.linear(
                &format!("{key}.feed_forward.intermediate_dense"),
                hidden,
                config.intermediate_size,
            )?,
            intermediate_dropout: no_dropout(),
            output_dense: self.linear(
                &format!("{key}.feed_forward.output_dense"),
                config.intermediate_size,
                hidden,
            )?,
            output_dropout: no_dropout(),
            activation: Act(config.hidden_act),
        };
        let final_layer_norm = self.layer_norm(&format!("{key}.final_layer_norm"), hidden, eps)?;
        Ok(EncoderLayer {
            attention,
            layer_norm,
            feed_forward,
            final_layer_norm,
            dropout: no_dropout(),
            stable: config.do_stable_layer_norm,
        })
    }

    fn head(&mut self, config: &Wav2Vec2Config) -> Result<ClassificationHead, CheckpointError> {
        let classes = config.id2label.len();
        let hidden_states = config.num_hidden_layers + 1;
        let layer_weights = match config.use_weighted_layer_sum {
            // Hugging Face starts every layer at the same weight.
            true => Some(Param::from_tensor(self.tensor(
                "layer_weights",
                [hidden_states],
                Init::Ones,
            )?)),
            false => None,
        };
        let (projector, classifier) = match config.classifier_pooling {
            ClassifierPooling::Mean => {
                let projection = config.classifier_proj_size;
                (
                    Some(self.linear("projector", config.hidden_size, projection)?),
                    self.linear("classifier", projection, classes)?,
                )
            }
            ClassifierPooling::FirstFrame => (
                None,
                self.linear("classifier", config.hidden_size, classes)?,
            ),
        };
        Ok(ClassificationHead {
            layer_weights,
            projector,
            classifier,
            pooling: config.classifier_pooling,
        })
    }
}

fn conv1d(
    weight: Tensor<3>,
    bias: Option<Param<Tensor<1>>>,
    stride: usize,
    groups: usize,
    padding: PaddingConfig1d,
) -> Conv1d {
    let [_, _, kernel_size] = weight.dims();
    Conv1d {
        weight: Param::from_tensor(weight),
        bias,
        stride,
        kernel_size,
        dilation: 1,
        groups,
        padding,
    }
}

/// `w = g · v / ‖v‖` with the norm taken per kernel position (PyTorch `weight_norm(dim=2)`):
/// `magnitude` is `[1, 1, k]`, `direction` `[out, in, k]` row-major.
fn fold_weight_norm(magnitude: &[f32], mut direction: Vec<f32>, kernel: usize) -> Vec<f32> {
    let mut norms = vec![0f64; kernel];
    for (index, value) in direction.iter().enumerate() {
        norms[index % kernel] += (*value as f64).powi(2);
    }
    let scales: Vec<f32> = magnitude
        .iter()
        .zip(&norms)
        .map(|(g, norm)| {
            if *norm > 0.0 {
                (*g as f64 / norm.sqrt()) as f32
            } else {
                0.0
            }
        })
        .collect();
    for (value, scale) in direction.iter_mut().zip(scales.iter().cycle()) {
        *value *= scale;
    }
    direction
}
