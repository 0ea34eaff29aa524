"""Writes engine/tests/fixtures/features.json: librosa's log-mel and MFCC of a test signal for
several front-end settings, which the Rust tests (native and wasm) compare against.

    python -m venv .venv && .venv/bin/pip install librosa numpy
    .venv/bin/python scripts/oracle/features.py
"""
import json
from pathlib import Path

import librosa
import numpy as np

SR = 16000
OUT = Path(__file__).resolve().parents[2] / "engine/tests/fixtures/features.json"

# The Rust FeatureConfig fields, and the librosa arguments they correspond to.
CONFIGS = [
    dict(name="paper default (HTK, power, 20 MFCC)", win_length=640, hop_length=320, n_fft=640,
         n_mels=40, f_min=20.0, f_max=7600.0, power=2.0, mel_scale="htk", mel_norm="none",
         log_offset=1e-6, n_mfcc=20),
    dict(name="TC-ResNet (40 MFCC)", win_length=640, hop_length=320, n_fft=640,
         n_mels=40, f_min=20.0, f_max=7600.0, power=2.0, mel_scale="htk", mel_norm="none",
         log_offset=1e-6, n_mfcc=40),
    dict(name="Slaney, magnitude, padded FFT", win_length=400, hop_length=160, n_fft=1024,
         n_mels=64, f_min=0.0, f_max=8000.0, power=1.0, mel_scale="slaney", mel_norm="slaney",
         log_offset=1e-5, n_mfcc=13),
]


def signal(seconds=0.6, seed=7):
    """A chirp across the band, a quiet noise floor and a stretch of digital silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    chirp = 0.5 * np.sin(2 * np.pi * (100 * t + 0.5 * (6000 - 100) / seconds * t**2))
    y = chirp + 0.01 * rng.standard_normal(t.size)
    y[int(0.45 * SR):int(0.5 * SR)] = 0.0
    return y.astype(np.float32)


def features(y, c):
    mel = librosa.feature.melspectrogram(
        y=y.astype(np.float64), sr=SR, n_fft=c["n_fft"], hop_length=c["hop_length"],
        win_length=c["win_length"], window="hann", center=False, power=c["power"],
        n_mels=c["n_mels"], fmin=c["f_min"], fmax=c["f_max"], htk=c["mel_scale"] == "htk",
        norm="slaney" if c["mel_norm"] == "slaney" else None)
    log_mel = np.log(mel + c["log_offset"])
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=c["n_mfcc"], dct_type=2, norm="ortho")
    # librosa is [bins, frames]; the engine is frame-major.
    return log_mel.T, mfcc.T


def main():
    y = signal()
    cases = []
    for c in CONFIGS:
        log_mel, mfcc = features(y, c)
        config = {k: v for k, v in c.items() if k != "name"}
        config["sample_rate"] = SR
        cases.append(dict(name=c["name"], config=config, frames=int(log_mel.shape[0]),
                          log_mel=np.round(log_mel, 6).ravel().tolist(),
                          mfcc=np.round(mfcc, 6).ravel().tolist()))
    OUT.write_text(json.dumps(dict(librosa=librosa.__version__, samples=y.tolist(),
                                   cases=cases)))
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
