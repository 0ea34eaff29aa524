"""Checks that the shipped default teacher (static/models/teacher) loads in Hugging Face
transformers and that transformers computes the same logits as `tempokd inspect` for a clip.
The teacher has the paper's head, a fully connected layer on the first frame (its config says
`"classifier_pooling": "first_frame"`), which transformers' classes lack (they mean-pool a
projection): the encoder is loaded by transformers (`Wav2Vec2Model`) and the head is applied to
its first frame here, with the checkpoint's `classifier.*` weights.

    .venv/bin/python scripts/oracle/default_teacher.py [CLIP.wav] [TEMPOKD_BINARY]

Exits non-zero when the logits differ by more than 1e-4.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
import torch
from safetensors.torch import load_file
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "static/models/teacher"
clip = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "static/clips/stop-4s.wav"
tempokd = sys.argv[2] if len(sys.argv) > 2 else "tempokd"

encoder = Wav2Vec2Model.from_pretrained(MODEL, attn_implementation="eager").eval()
config = Wav2Vec2Config.from_pretrained(MODEL)
weights = load_file(MODEL / "model.safetensors")
extractor = Wav2Vec2FeatureExtractor.from_pretrained(MODEL)
audio, rate = soundfile.read(clip, dtype="float32")
assert rate == 16000, f"{clip}: {rate} Hz; give a 16 kHz clip"
inputs = extractor(audio, sampling_rate=rate, return_tensors="pt")
with torch.no_grad():
    hidden = encoder(inputs.input_values).last_hidden_state
    logits = (hidden[0, 0] @ weights["classifier.weight"].T + weights["classifier.bias"]).numpy()

ours = json.loads(subprocess.run([tempokd, "inspect", "--teacher", str(MODEL), "--audio", str(clip), "--json"],
                                 check=True, capture_output=True, text=True).stdout)["teacher"]
difference = float(np.abs(np.array(ours["logits"]) - logits).max())
labels = [config.id2label[i] for i in range(len(logits))]
print(f"transformers: {labels[int(logits.argmax())]}, tempokd: {ours['top']['label'] if isinstance(ours['top'], dict) else ours['top']}, "
      f"max |logit difference| {difference:.2e}")
sys.exit(0 if difference <= 1e-4 else 1)
