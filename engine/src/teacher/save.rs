//! The teacher's weights under Hugging Face's key names, the inverse of `load`: what
//! `Teacher::save` writes so that `transformers` and this crate read the same file.

use super::model::Wav2Vec2Classifier;
use crate::checkpoint::NamedTensor;
use burn::module::Param;
use burn::nn::conv::Conv1d;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;

const ENCODER: &str = "wav2vec2.encoder";

pub(super) fn hf_tensors(model: &Wav2Vec2Classifier) -> Vec<NamedTensor> {
    let mut out = Writer(Vec::new());
    let features = &model.feature_encoder;
    for (index, conv) in features.convs.iter().enumerate() {
        let key = format!("wav2vec2.feature_extractor.conv_layers.{index}");
        out.conv(&format!("{key}.conv"), conv);
        if let Some(norm) = features.layer_norms.get(index) {
            out.layer_norm(&format!("{key}.layer_norm"), norm);
        }
    }
    if let Some(norm) = &features.group_norm {
        let key = "wav2vec2.feature_extractor.conv_layers.0.layer_norm";
        out.optional(&format!("{key}.weight"), &norm.gamma);
        out.optional(&format!("{key}.bias"), &norm.beta);
    }
    let projection = &model.feature_projection;
    out.layer_norm(
        "wav2vec2.feature_projection.layer_norm",
        &projection.layer_norm,
    );
    out.linear(
        "wav2vec2.feature_projection.projection",
        &projection.projection,
    );

    let encoder = &model.encoder;
    // Hugging Face keeps the positional convolution under weight norm over the kernel axis:
    // g = ‖w‖ per kernel position, v = w gives back w = g·v/‖v‖.
    let weight = encoder.pos_conv.conv.weight.val(); // [out, in/groups, k]
    let magnitude = weight.clone().powf_scalar(2.0).sum_dim(0).sum_dim(1).sqrt(); // [1, 1, k]
    out.put(
        &format!("{ENCODER}.pos_conv_embed.conv.weight_g"),
        magnitude,
    );
    out.put(&format!("{ENCODER}.pos_conv_embed.conv.weight_v"), weight);
    out.optional(
        &format!("{ENCODER}.pos_conv_embed.conv.bias"),
        &encoder.pos_conv.conv.bias,
    );
    out.layer_norm(&format!("{ENCODER}.layer_norm"), &encoder.layer_norm);
    for (index, layer) in encoder.layers.iter().enumerate() {
        let key = format!("{ENCODER}.layers.{index}");
        let attention = &layer.attention;
        for (name, linear) in [
            ("q_proj", &attention.q_proj),
            ("k_proj", &attention.k_proj),
            ("v_proj", &attention.v_proj),
            ("out_proj", &attention.out_proj),
        ] {
            out.linear(&format!("{key}.attention.{name}"), linear);
        }
        out.layer_norm(&format!("{key}.layer_norm"), &layer.layer_norm);
        out.linear(
            &format!("{key}.feed_forward.intermediate_dense"),
            &layer.feed_forward.intermediate_dense,
        );
        out.linear(
            &format!("{key}.feed_forward.output_dense"),
            &layer.feed_forward.output_dense,
        );
        out.layer_norm(&format!("{key}.final_layer_norm"), &layer.final_layer_norm);
    }
    let head = &model.head;
    out.optional("layer_weights", &head.layer_weights);
    if let Some(projector) = &head.projector {
        out.linear("projector", projector);
    }
    out.linear("classifier", &head.classifier);
    out.0
}

struct Writer(Vec<NamedTensor>);

impl Writer {
    fn put<const D: usize>(&mut self, name: &str, tensor: Tensor<D>) {
        let shape = tensor.dims().to_vec();
        self.0.push(NamedTensor {
            name: name.to_string(),
            values: tensor.reshape([shape.iter().product::<usize>()]),
            shape,
        });
    }

    fn optional<const D: usize>(&mut self, name: &str, param: &Option<Param<Tensor<D>>>) {
        if let Some(param) = param {
            self.put(name, param.val());
        }
    }

    /// PyTorch's `nn.Linear` keeps `[out, in]`; burn keeps `[in, out]`.
    fn linear(&mut self, key: &str, linear: &Linear) {
        self.put(&format!("{key}.weight"), linear.weight.val().transpose());
        self.optional(&format!("{key}.bias"), &linear.bias);
    }

    fn layer_norm(&mut self, key: &str, norm: &LayerNorm) {
        self.put(&format!("{key}.weight"), norm.gamma.val());
        self.optional(&format!("{key}.bias"), &norm.beta);
    }

    fn conv(&mut self, key: &str, conv: &Conv1d) {
        self.put(&format!("{key}.weight"), conv.weight.val());
        self.optional(&format!("{key}.bias"), &conv.bias);
    }
}
