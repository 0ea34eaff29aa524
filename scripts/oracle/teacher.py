"""Writes engine/tests/fixtures/teacher/<variant>/: small random-weight wav2vec 2.0 classifiers
built with Hugging Face transformers (eager attention), and what transformers computes for one
clip. The Rust tests load each directory and must agree within 1e-4.

    python -m venv .venv && .venv/bin/pip install torch transformers safetensors numpy
    .venv/bin/python scripts/oracle/teacher.py

The fixtures in the repository were written with torch 2.15 and transformers 5.24, except
stable-layer-4x, written by transformers 4.46.3 (whose stable-layer encoder hands the weighted
layer sum its last hidden state after the final layer norm; its config.json says which version
saved it, as real checkpoints do):

    .venv/bin/pip install --target .transformers-4 transformers==4.46.3
    PYTHONPATH=.transformers-4 .venv/bin/python scripts/oracle/teacher.py

Each variant directory holds config.json, preprocessor_config.json, model.safetensors (the
checkpoint exactly as a user would bring it) and expected.safetensors:
    input        [samples]                  the raw clip fed to the feature extractor
    logits       [classes]
    attentions   [layers, heads, T, T]
    rollout      [T]                        attention rollout, default settings for the head
    rollout_20   [20]                       the same, resampled to 20 frames
    rollout_max_first_layers [T]            max head fusion, residual 0.3, first frame row,
                                            layers 0..(L-1)
    logits_tied  [classes]                  (weighted layer sum only) the logits when the last
                                            hidden state is taken after the final layer norm,
                                            as transformers 4.x did (tie_last_hidden_states)
"""
import json
import shutil
from pathlib import Path

import numpy as np
import torch
import transformers
import torch.nn.functional as F
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file
from transformers import (Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification,
                          Wav2Vec2Model)

OUT = Path(__file__).resolve().parents[2] / "engine/tests/fixtures/teacher"
SAMPLE_RATE = 16000
LABELS = ["yes", "no", "up", "down", "_unknown_"]

# Strides are larger than wav2vec2-base's so that a quarter second gives a few dozen frames and
# the attention fixtures stay small; every other option is exercised somewhere.
COMMON = dict(hidden_size=32, intermediate_size=48, conv_dim=(24, 24, 32), conv_kernel=(10, 4, 4),
              conv_stride=(5, 4, 4), hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
              feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0,
              id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})

VARIANTS = {
    # wav2vec2-base layout; the old weight-norm key spelling (weight_g / weight_v).
    "base-group": dict(config=dict(feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False,
                                   num_hidden_layers=2, num_attention_heads=4, num_conv_pos_embeddings=16,
                                   num_conv_pos_embedding_groups=4, classifier_proj_size=8),
                       old_weight_norm=True, normalize=True, head="mean", seconds=0.25),
    # XLSR / large layout; the new spelling (parametrizations.weight.original0/1); weighted layer
    # sum, odd positional kernel, conv bias, no input normalisation.
    "stable-layer": dict(config=dict(feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
                                     num_hidden_layers=3, num_attention_heads=2, num_conv_pos_embeddings=15,
                                     num_conv_pos_embedding_groups=2, classifier_proj_size=12,
                                     use_weighted_layer_sum=True, hidden_act="gelu_new"),
                         old_weight_norm=False, normalize=False, head="mean", seconds=0.3),
    # The paper's head: a fully connected layer on the first frame c_1.
    "first-frame": dict(config=dict(feat_extract_norm="group", conv_bias=True, do_stable_layer_norm=False,
                                    num_hidden_layers=2, num_attention_heads=4, num_conv_pos_embeddings=8,
                                    num_conv_pos_embedding_groups=8),
                        old_weight_norm=False, normalize=True, head="first_frame", seconds=0.2),
}


# What transformers 4.x wrote: the stable-layer variant as it saved and ran it.
VARIANTS_4 = {"stable-layer-4x": VARIANTS["stable-layer"]}
MAJOR = int(transformers.__version__.split(".")[0])


def randomise(module, generator):
    """Weights with unit-scale activations, so attention is peaked rather than uniform."""
    for name, param in module.named_parameters():
        if "layer_norm" in name and name.endswith("weight"):
            values = 1.0 + 0.2 * torch.randn(param.shape, generator=generator)
        elif param.dim() >= 2:
            fan_in = param[0].numel()
            values = torch.randn(param.shape, generator=generator) * (1.5 / fan_in ** 0.5)
        else:
            values = 0.2 * torch.randn(param.shape, generator=generator)
        param.data.copy_(values)


def clip(seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chirp = 0.4 * np.sin(2 * np.pi * (300 + 1500 * t) * t) * np.exp(-((t - seconds / 2) ** 2) / 0.002)
    return (chirp + 0.02 * rng.standard_normal(t.shape) + 0.01).astype(np.float32)


def rollout(attentions, row, fusion="mean", residual=0.5, layers=None):
    """Attention rollout on the full matrices, independently of the Rust vector form."""
    maps = attentions if layers is None else attentions[layers[0]:layers[1]]
    frames = maps.shape[-1]
    result = np.eye(frames)
    for layer in maps.astype(np.float64):
        fused = layer.mean(0) if fusion == "mean" else layer.max(0)
        fused = fused / fused.sum(-1, keepdims=True)
        step = (1 - residual) * fused + residual * np.eye(frames)
        result = step @ result
    r = result[0] if row == "first_frame" else result.mean(0)
    return (r / r.sum()).astype(np.float32)


def resample(distribution, target):
    x = torch.from_numpy(distribution).view(1, 1, -1)
    y = F.interpolate(x, size=target, mode="linear", align_corners=False).view(-1).numpy()
    return (y / y.sum()).astype(np.float32)


def build(name, spec, seed):
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    generator = torch.Generator().manual_seed(seed)
    config = Wav2Vec2Config(**COMMON, **spec["config"], attn_implementation="eager")
    extractor = Wav2Vec2FeatureExtractor(do_normalize=spec["normalize"], return_attention_mask=False)
    extractor.save_pretrained(out)
    audio = clip(spec["seconds"], seed)
    inputs = torch.from_numpy(extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="np")["input_values"])

    if spec["head"] == "mean":
        model = Wav2Vec2ForSequenceClassification(config).eval()
        randomise(model, generator)
        with torch.no_grad():
            output = model(inputs, output_attentions=True)
            tied_logits = None
            if config.use_weighted_layer_sum and MAJOR >= 5:
                base = model.wav2vec2(inputs, output_hidden_states=True)
                states = torch.stack(base.hidden_states[:-1] + (base.last_hidden_state,), dim=1)
                weights = F.softmax(model.layer_weights, dim=-1).view(-1, 1, 1)
                pooled = model.projector((states * weights).sum(dim=1)).mean(dim=1)
                tied_logits = model.classifier(pooled)[0]
        logits = output.logits[0]
        model.save_pretrained(out, safe_serialization=True)
    else:
        config.classifier_pooling = "first_frame"
        encoder = Wav2Vec2Model(config).eval()
        classifier = torch.nn.Linear(config.hidden_size, len(LABELS))
        randomise(encoder, generator)
        randomise(classifier, generator)
        with torch.no_grad():
            output = encoder(inputs, output_attentions=True)
            logits = classifier(output.last_hidden_state[:, 0])[0]
        weights = {f"wav2vec2.{k}": v.contiguous() for k, v in encoder.state_dict().items()}
        weights.update({f"classifier.{k}": v.contiguous() for k, v in classifier.state_dict().items()})
        save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
        config.save_pretrained(out)

    if spec["old_weight_norm"]:
        weights = load_file(out / "model.safetensors")
        prefix = "wav2vec2.encoder.pos_conv_embed.conv."
        weights[prefix + "weight_g"] = weights.pop(prefix + "parametrizations.weight.original0")
        weights[prefix + "weight_v"] = weights.pop(prefix + "parametrizations.weight.original1")
        save_file(weights, out / "model.safetensors", metadata={"format": "pt"})

    attentions = torch.stack([a[0] for a in output.attentions]).numpy()
    row = "first_frame" if spec["head"] == "first_frame" else "mean"
    default_rollout = rollout(attentions, row)
    layers = attentions.shape[0]
    extra = {} if spec["head"] != "mean" or tied_logits is None else {"logits_tied": tied_logits.numpy()}
    save_numpy({
        **extra,
        "input": audio,
        "logits": logits.numpy().astype(np.float32),
        "attentions": attentions.astype(np.float32),
        "rollout": default_rollout,
        "rollout_20": resample(default_rollout, 20),
        "rollout_max_first_layers": rollout(attentions, "first_frame", "max", 0.3, (0, layers - 1)),
    }, out / "expected.safetensors")
    # Keep the fixture small and deterministic: drop what save_pretrained adds that we do not need.
    for extra in out.glob("*.md"):
        extra.unlink()
    frames = attentions.shape[-1]
    print(f"{name}: {frames} frames, logits {np.round(logits.numpy(), 3)}, "
          f"max attention {attentions.max():.3f}, rollout peak {default_rollout.max():.3f}")


def main():
    if MAJOR >= 5:
        for seed, (name, spec) in enumerate(VARIANTS.items(), start=1):
            build(name, spec, seed)
    else:
        for seed, (name, spec) in enumerate(VARIANTS_4.items(), start=len(VARIANTS) + 1):
            build(name, spec, seed)


if __name__ == "__main__":
    main()
