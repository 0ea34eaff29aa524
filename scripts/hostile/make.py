"""Writes engine/tests/fixtures/hostile/<case>/: model folders a visitor could hand the page or
the CLI that must each be refused with a one-line error, before anything large is allocated.
Standard library only:

    python3 scripts/hostile/make.py

Each folder holds config.json and model.safetensors (and nothing else), and `expect.txt`: a
piece of the error message it must give. Folders named teacher-* are wav2vec 2.0 configs;
student-* are students. The valid starting points are the small oracle fixtures.
"""
import json
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "engine/tests/fixtures"
OUT = FIXTURES / "hostile"


def safetensors(header, data=b""):
    """A safetensors file with `header` written as given, however it lies."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def student_config():
    return json.loads((FIXTURES / "students/crnn/config.json").read_text())


def teacher_config():
    return json.loads((FIXTURES / "teacher/base-group/config.json").read_text())


def student_weights():
    return (FIXTURES / "students/crnn/model.safetensors").read_bytes()


def teacher_weights():
    return (FIXTURES / "teacher/base-group/model.safetensors").read_bytes()


def cases():
    # Students: every field within its own bound, their product not.
    lstm = {**student_config(), "arch": "lstm-p",
            "layout": {"units": 8192, "projection": 8192, "dropout": 0.0}}
    yield "student-lstm-product", json.dumps(lstm), student_weights(), "units × projection"
    tc = {**student_config(), "arch": "tc-resnet",
          "layout": {"first_channels": 8192, "first_kernel": 63, "stages": [8192] * 16,
                     "blocks_per_stage": 64, "kernel": 63}}
    yield "student-tc-product", json.dumps(tc), student_weights(), "max_parameters"
    wide = {**student_config(), "arch": "att-rnn",
            "features": {"n_mfcc": 8, "hop_length": 16},
            "layout": {"conv_channels": [8192, 1], "conv_kernel": 5, "gru_layers": 1,
                       "gru_units": 4, "heads": 1, "dropout": 0.0, "dense": [4]}}
    yield "student-activations", json.dumps(wide), student_weights(), "activations per second"
    # The front end: a gigantic FFT and filter bank.
    front = student_config()
    front["features"] = {"n_mfcc": 8, "n_fft": 1 << 30, "win_length": 1 << 30}
    yield "student-front-end", json.dumps(front), student_weights(), "n_fft"
    mels = student_config()
    mels["features"] = {"n_mfcc": 8, "n_mels": 1 << 24}
    yield "student-mel-bands", json.dumps(mels), student_weights(), "n_mels"
    labels = {**student_config(), "labels": [f"class {i}" for i in range(20_000)]}
    yield "student-labels", json.dumps(labels), student_weights(), "labels"
    # JSON nested far past any parser's patience.
    nested = '{"arch": "crnn", "labels": ' + "[" * 100_000 + "]" * 100_000 + "}"
    yield "student-nested", nested, student_weights(), "recursion limit"
    # Weights whose header lies.
    config = json.dumps(student_config())
    big = {"Crnn.convs.0.weight": {"dtype": "F32", "shape": [1 << 20, 1 << 20],
                              "data_offsets": [0, 1 << 42]}}
    yield "student-header-sizes", config, safetensors(big), "model.safetensors"
    offsets = {"Crnn.convs.0.weight": {"dtype": "F32", "shape": [4], "data_offsets": [1 << 40, (1 << 40) + 16]}}
    yield "student-header-offsets", config, safetensors(offsets, bytes(16)), "model.safetensors"
    yield "student-header-length", config, struct.pack("<Q", 1 << 60) + b"{}", "model.safetensors"
    # The first tensor the loader asks for, in the right shape but as 64-bit integers.
    wrong_dtype = {"Crnn.convs.0.weight": {"dtype": "I64", "shape": [4, 1, 3, 3], "data_offsets": [0, 288]}}
    yield "student-dtype", config, safetensors(wrong_dtype, bytes(288)), "I64"
    # One name twice, each entry valid on its own: a parser would silently keep either.
    twice = (b'{"Crnn.convs.0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
             b'"Crnn.convs.0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')
    yield "student-duplicate-keys", config, safetensors(twice, bytes(4)), "twice"
    # Teachers: a frame per sample, and a model of billions of weights.
    stride = teacher_config()
    stride["conv_stride"] = [1] * len(stride["conv_stride"])
    yield "teacher-stride-one", json.dumps(stride), teacher_weights(), "max_attention_bytes"
    huge = {**teacher_config(), "hidden_size": 8192, "num_hidden_layers": 256,
            "intermediate_size": 65536}
    yield "teacher-product", json.dumps(huge), teacher_weights(), "max_parameters"
    yield "teacher-header-sizes", json.dumps(teacher_config()), safetensors(big), "model.safetensors"
    # Each layer's attention fits, but the rollout keeps a map of every one of 256 layers.
    deep = {**teacher_config(), "num_hidden_layers": 256}
    yield "teacher-deep", json.dumps(deep), teacher_weights(), "max_kept_maps_bytes"
    # A thousand one-wide convolutions, each in bounds: a thousand layers built and run per clip.
    convs = teacher_config()
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        convs[key] = convs[key] + [1] * 1_000
    yield "teacher-convolutions", json.dumps(convs), teacher_weights(), "the number of convolutions"


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for name, config, weights, expect in cases():
        folder = OUT / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(config)
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "expect.txt").write_text(expect + "\n")
        print(f"{name}: config {len(config)} bytes, weights {len(weights)} bytes")


if __name__ == "__main__":
    main()
