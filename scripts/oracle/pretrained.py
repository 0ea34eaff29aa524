"""Writes engine/tests/fixtures/teacher-pretrained/<variant>/: small random-weight pretrained
wav2vec 2.0 checkpoints as transformers saves them, for `tempokd train-teacher --init-from-hf`,
and what transformers' encoder computes for one clip. The Rust tests start a teacher from each
checkpoint's encoder under a new head and must agree on every attention map within 1e-4.

    python -m venv .venv && .venv/bin/pip install torch transformers safetensors numpy
    .venv/bin/python scripts/oracle/pretrained.py

(It borrows the clip and the weight scaling of scripts/oracle/teacher.py.)

Variants:
    for-pretraining  Wav2Vec2ForPreTraining: keys under `wav2vec2.`, plus the quantizer and the
                     two projections of the contrastive task, which a classifier leaves out
    bare-model       Wav2Vec2Model: the encoder alone, keys without the `wav2vec2.` prefix

Each holds config.json, preprocessor_config.json, model.safetensors and expected.safetensors:
    input        [samples]                  the raw clip fed to the feature extractor
    attentions   [layers, heads, T, T]      the encoder's self-attention for that clip
"""
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file as save_numpy
from transformers import (Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForPreTraining,
                          Wav2Vec2Model)

from teacher import clip, randomise

OUT = Path(__file__).resolve().parents[2] / "engine/tests/fixtures/teacher-pretrained"
SAMPLE_RATE = 16000

# The geometry of scripts/oracle/teacher.py's base-group variant: large strides keep a quarter
# second to a few dozen frames.
CONFIG = dict(hidden_size=32, intermediate_size=48, conv_dim=(24, 24, 32), conv_kernel=(10, 4, 4),
              conv_stride=(5, 4, 4), num_hidden_layers=2, num_attention_heads=4,
              num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="group",
              conv_bias=False, do_stable_layer_norm=False, hidden_dropout=0.0, attention_dropout=0.0,
              activation_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
              mask_time_prob=0.0, codevector_dim=16, proj_codevector_dim=16, num_codevectors_per_group=8,
              num_codevector_groups=2)


def write(name: str, model: torch.nn.Module, encoder: Wav2Vec2Model) -> None:
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
    extractor.save_pretrained(out)
    samples = clip(0.25, seed=7)
    prepared = extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values
    with torch.no_grad():
        attentions = encoder(prepared, output_attentions=True).attentions
    stacked = torch.stack([a[0] for a in attentions]).numpy()
    save_numpy({"input": samples, "attentions": np.ascontiguousarray(stacked)},
               str(out / "expected.safetensors"))
    for extra in out.glob("*.md"):
        extra.unlink()
    print(name, sorted(p.name for p in out.iterdir()), stacked.shape)


def main() -> None:
    generator = torch.Generator().manual_seed(11)
    config = Wav2Vec2Config(**CONFIG, attn_implementation="eager")
    pretraining = Wav2Vec2ForPreTraining(config).eval()
    randomise(pretraining, generator)
    write("for-pretraining", pretraining, pretraining.wav2vec2)
    bare = Wav2Vec2Model(config).eval()
    randomise(bare, generator)
    write("bare-model", bare, bare)


if __name__ == "__main__":
    main()
