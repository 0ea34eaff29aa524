"""The exported students in onnxruntime, the second ONNX runtime that checks `tempokd export`
(the first, tract, runs in engine/tests/export.rs without Python).

    python -m venv .venv && .venv/bin/pip install onnx onnxruntime numpy safetensors
    cargo build --release -p tempokd-cli
    .venv/bin/python scripts/oracle/onnx_runtime.py [--tempokd PATH]   # default: the release build

For each oracle student in engine/tests/fixtures/students/<arch>/ (random weights from
scripts/oracle/students.py) the script exports it with `tempokd export` (fp32, and int8 with
`--precision int8`), checks the file with
onnx's checker (full check, strict shape inference), runs it in onnxruntime (basic graph
optimisations: the graph as written, see `runtime`) on fixed random
features of 1 s (a batch of two) and of 4 s (one clip), and writes
engine/tests/fixtures/onnx/<arch>.safetensors (<arch>-int8.safetensors for int8):
    features_1s  [2, 49, input]     logits_1s, attention_1s, heads_1s (Att-RNN, MHAtt-RNN)
    features_4s  [1, 199, input]    logits_4s, attention_4s, heads_4s
with the exported file's FNV-1a 64-bit hash in the metadata (`export_fnv1a64`), so the Rust test
knows that today's export is the file onnxruntime ran. The fixtures in the repository were
written with onnx 1.23.2 and onnxruntime 1.32.0.
"""
import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
STUDENTS = ROOT / "engine/tests/fixtures/students"
OUT = ROOT / "engine/tests/fixtures/onnx"
ARCHS = ["lstm-p", "tc-resnet", "crnn", "att-rnn", "mhatt-rnn"]
PRECISIONS = {"fp32": "", "int8": "-int8"}
# Feature frames of 1 s and 4 s at 16 kHz, 640-sample frames every 320 samples, none padded.
FRAMES = {"1s": (2, 49), "4s": (1, 199)}


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main() -> None:
    parser = argparse.ArgumentParser()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--tempokd", default=str(target / "release/tempokd"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for precision, suffix in PRECISIONS.items():
        # The same features for every precision, so the fixtures compare.
        rng = np.random.default_rng(17)
        for arch in ARCHS:
            write(arch, precision, suffix, rng, args.tempokd)


def runtime(data: bytes, level) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = level
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def write(arch: str, precision: str, suffix: str, rng, tempokd: str) -> None:
    config = json.loads((STUDENTS / arch / "config.json").read_text())
    inputs = config["features"]["n_mfcc" if config["input"] == "mfcc" else "n_mels"]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{arch}.onnx"
        subprocess.run(
            [tempokd, "export", "--model", str(STUDENTS / arch), "--onnx", str(path),
             "--precision", precision],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = path.read_bytes()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    # The graph as written: onnxruntime's fullest optimisation may fuse DequantizeLinear with the
    # product after it into integer kernels that also quantize the activations, which is another
    # computation; how far that moves the logits is printed beside.
    session = runtime(data, onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    fused = runtime(data, onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL)
    names = [output.name for output in session.get_outputs()]
    tensors = {}
    for length, (batch, frames) in FRAMES.items():
        features = rng.standard_normal((batch, frames, inputs)).astype(np.float32)
        results = session.run(None, {"features": features})
        moved = np.abs(fused.run(None, {"features": features})[0] - results[0]).max()
        print(f"{arch} {precision} {length}: full optimisation moves the logits by {moved:.2e}")
        tensors[f"features_{length}"] = features
        for name, value in zip(names, results):
            short = {"attention_heads": "heads"}.get(name, name)
            tensors[f"{short}_{length}"] = np.ascontiguousarray(value, dtype=np.float32)
    save_file(
        tensors,
        str(OUT / f"{arch}{suffix}.safetensors"),
        metadata={"export_fnv1a64": f"{fnv1a64(data):016x}"},
    )
    print(f"{arch} {precision}: {len(data)} bytes, outputs {names}")

if __name__ == "__main__":
    main()
