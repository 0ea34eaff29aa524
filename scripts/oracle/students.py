"""The five students in PyTorch, layer for layer as engine/src/students builds them, and the
fixtures that hold the Rust models to them: engine/tests/fixtures/students/<arch>/.

    python -m venv .venv && .venv/bin/pip install torch safetensors numpy
    .venv/bin/python scripts/oracle/students.py            # write the fixtures
    .venv/bin/python scripts/oracle/students.py --counts   # parameter counts of the full layouts

GRUs are torch.nn.GRU. PyTorch has no LSTM with peepholes, so PeepholeLSTM below is written
out; before writing anything the script checks that with its peepholes at zero it equals
torch.nn.LSTM(proj_size=…). The fixtures in the repository were written with torch 2.15.

Each directory holds config.json and model.safetensors (keys and layouts as the Rust model
saves them: burn module paths, linear weights [in, out]) and expected.safetensors:
    features   [batch, frames, input]   random features fed to the model
    logits     [batch, classes]
    attention  [batch, student frames]  a_S
    heads      [batch, heads, student frames]
and gradients.safetensors, one training step on the same features (see `gradients`):
    labels     [batch]                  class indices, as floats
    target     [batch, student frames]  a_T
    loss       [1]
    grad.<name>                         every parameter's gradient, under its saved name and layout
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parents[2] / "engine/tests/fixtures/students"
LABELS = ["yes", "no", "up", "down", "_unknown_"]


class TemporalQuery(nn.Module):
    """a_S = softmax(c'·q)."""

    def __init__(self, dim):
        super().__init__()
        self.q = nn.Parameter(torch.empty(dim).uniform_(-dim ** -0.5, dim ** -0.5))

    def forward(self, context):
        return torch.softmax(context @ self.q, dim=1)


class PeepholeLSTM(nn.Module):
    def __init__(self, inp, hidden, proj):
        super().__init__()
        b = hidden ** -0.5
        u = lambda *shape: nn.Parameter(torch.empty(*shape).uniform_(-b, b))
        self.weight_ih, self.weight_hh, self.bias = u(4 * hidden, inp), u(4 * hidden, proj), u(4 * hidden)
        self.peephole_input, self.peephole_forget, self.peephole_output = u(hidden), u(hidden), u(hidden)
        self.projection = u(proj, hidden)

    def forward(self, x):
        batch, frames, _ = x.shape
        h = x.new_zeros(batch, self.projection.shape[0])
        c = x.new_zeros(batch, self.projection.shape[1])
        outputs = []
        for t in range(frames):
            i, f, g, o = (x[:, t] @ self.weight_ih.T + h @ self.weight_hh.T + self.bias).chunk(4, 1)
            i = torch.sigmoid(i + self.peephole_input * c)
            f = torch.sigmoid(f + self.peephole_forget * c)
            c = f * c + i * torch.tanh(g)
            o = torch.sigmoid(o + self.peephole_output * c)
            h = (o * torch.tanh(c)) @ self.projection.T
            outputs.append(h)
        return torch.stack(outputs, 1)


def check_peephole_lstm_against_torch():
    torch.manual_seed(0)
    ours = PeepholeLSTM(5, 7, 3)
    with torch.no_grad():
        for p in (ours.peephole_input, ours.peephole_forget, ours.peephole_output):
            p.zero_()
    reference = nn.LSTM(5, 7, proj_size=3, batch_first=True)
    with torch.no_grad():
        reference.weight_ih_l0.copy_(ours.weight_ih)
        reference.weight_hh_l0.copy_(ours.weight_hh)
        reference.bias_ih_l0.copy_(ours.bias)
        reference.bias_hh_l0.zero_()
        reference.weight_hr_l0.copy_(ours.projection)
    x = torch.randn(2, 9, 5)
    assert torch.allclose(ours(x), reference(x)[0], atol=1e-6), "PeepholeLSTM differs from nn.LSTM"


class LstmP(nn.Module):
    def __init__(self, inp, classes, units, projection, dropout):
        super().__init__()
        self.lstm = PeepholeLSTM(inp, units, projection)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(projection, classes)
        self.attention_head = TemporalQuery(projection)

    def forward(self, x):
        sequence = self.lstm(x)
        logits = self.classifier(self.dropout(sequence[:, -1]))
        attention = self.attention_head(sequence)
        return logits, attention, attention[:, None]


class Shortcut(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv = nn.Conv1d(inp, out, 1, stride, bias=False)
        self.norm = nn.BatchNorm1d(out)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)))


class Block(nn.Module):
    def __init__(self, inp, out, kernel, stride):
        super().__init__()
        self.conv1 = nn.Conv1d(inp, out, kernel, stride, kernel // 2, bias=False)
        self.norm1 = nn.BatchNorm1d(out)
        self.conv2 = nn.Conv1d(out, out, kernel, 1, kernel // 2, bias=False)
        self.norm2 = nn.BatchNorm1d(out)
        self.shortcut = None
        if stride != 1 or inp != out:
            self.shortcut = Shortcut(inp, out, stride)

    def forward(self, x):
        y = self.norm2(self.conv2(torch.relu(self.norm1(self.conv1(x)))))
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + skip)


class TcResNet(nn.Module):
    def __init__(self, inp, classes, first_channels, first_kernel, stages, blocks_per_stage, kernel):
        super().__init__()
        self.first = nn.Conv1d(inp, first_channels, first_kernel, padding=first_kernel // 2, bias=False)
        self.first_norm = nn.BatchNorm1d(first_channels)
        blocks, width = [], first_channels
        for channels in stages:
            blocks.append(Block(width, channels, kernel, 2))
            blocks += [Block(channels, channels, kernel, 1) for _ in range(1, blocks_per_stage)]
            width = channels
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(width, classes)
        self.attention_head = TemporalQuery(width)

    def forward(self, x):
        x = torch.relu(self.first_norm(self.first(x.transpose(1, 2))))
        for block in self.blocks:
            x = block(x)
        attention = self.attention_head(x.transpose(1, 2))
        return self.classifier(x.mean(2)), attention, attention[:, None]


class Crnn(nn.Module):
    def __init__(self, inp, classes, conv_channels, conv_kernels, gru_units, dropout, dense):
        super().__init__()
        convs, channels, bins = [], 1, inp
        for out, (time, freq) in zip(conv_channels, conv_kernels):
            convs.append(nn.Conv2d(channels, out, (time, freq)))
            channels, bins = out, bins + 1 - freq
        self.convs = nn.ModuleList(convs)
        self.gru = nn.GRU(channels * bins, gru_units, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        widths = [gru_units] + dense
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.classifier = nn.Linear(widths[-1], classes)
        self.attention_head = TemporalQuery(gru_units)

    def forward(self, x):
        x = x[:, None]
        for conv in self.convs:
            x = torch.relu(conv(x))
        batch, channels, frames, bins = x.shape
        sequence, _ = self.gru(x.permute(0, 2, 3, 1).reshape(batch, frames, bins * channels))
        y = self.dropout(sequence[:, -1])
        for index, dense in enumerate(self.dense):
            y = dense(y) if index == 0 else torch.relu(dense(y))
        attention = self.attention_head(sequence)
        return self.classifier(y), attention, attention[:, None]


class AttRnn(nn.Module):
    def __init__(self, inp, classes, conv_channels, conv_kernel, gru_layers, gru_units, heads, dropout, dense):
        super().__init__()
        convs, norms, channels = [], [], 1
        for out in conv_channels:
            convs.append(nn.Conv2d(channels, out, (conv_kernel, 1), padding=(conv_kernel // 2, 0)))
            norms.append(nn.BatchNorm2d(out))
            channels = out
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        widths = [inp] + [2 * gru_units] * gru_layers
        self.grus = nn.ModuleList(nn.GRU(a, gru_units, batch_first=True, bidirectional=True)
                                  for a in widths[:-1])
        width = widths[-1]
        self.heads = heads
        self.query = nn.Linear(width, heads * width)
        self.dropout = nn.Dropout(dropout)
        widths = [heads * width] + dense
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.classifier = nn.Linear(widths[-1], classes)

    def forward(self, x):
        batch, frames, inp = x.shape
        x = x[:, None]
        for conv, norm in zip(self.convs, self.norms):
            x = norm(torch.tanh(conv(x)))
        sequence = x.reshape(batch, frames, inp)
        for gru in self.grus:
            sequence, _ = gru(sequence)
        width = sequence.shape[2]
        queries = self.query(sequence[:, frames // 2]).reshape(batch, self.heads, width)
        weights = torch.softmax(queries @ sequence.transpose(1, 2), dim=2)
        y = self.dropout((weights @ sequence).reshape(batch, -1))
        for index, dense in enumerate(self.dense):
            y = torch.relu(dense(y)) if index == 0 else dense(y)
        return self.classifier(y), weights.mean(1), weights


VARIANT = {"lstm-p": "LstmP", "tc-resnet": "TcResNet", "crnn": "Crnn", "att-rnn": "AttRnn", "mhatt-rnn": "AttRnn"}


def build(arch, layout, inp, classes):
    if arch == "lstm-p":
        return LstmP(inp, classes, **layout)
    if arch == "tc-resnet":
        return TcResNet(inp, classes, **layout)
    if arch == "crnn":
        return Crnn(inp, classes, **layout)
    return AttRnn(inp, classes, **layout)


def burn_state(arch, model, tensors=None):
    """The model's tensors (or `tensors`, keyed by the model's own names, e.g. gradients) under
    the names and layouts the Rust model saves them with."""
    state = {}
    prefix = VARIANT[arch]
    tensors = model.state_dict() if tensors is None else tensors
    for name, tensor in tensors.items():
        value = tensor.detach().numpy().astype(np.float32)
        if name.endswith("num_batches_tracked"):
            continue
        parts = name.split(".")
        module = model.get_submodule(".".join(parts[:-1]))
        leaf = parts[-1]
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            name = ".".join(parts[:-1] + [{"weight": "gamma", "bias": "beta"}.get(leaf, leaf)])
        elif isinstance(module, nn.Linear) and leaf == "weight":
            value = value.T
        elif isinstance(module, nn.GRU):
            direction = "backward" if leaf.endswith("_reverse") else "forward"
            kind = leaf.replace("_reverse", "").replace("_l0", "")
            path = ".".join(parts[:-1])
            name = f"{path}.{direction}.{kind}" if module.bidirectional else f"{path}.{kind}"
            if kind.startswith("weight"):
                value = value.T
        elif isinstance(module, PeepholeLSTM) and leaf in ("weight_ih", "weight_hh", "projection"):
            value = value.T
        state[f"{prefix}.{name}"] = np.ascontiguousarray(value)
    return state


def randomise_batch_norm(model, generator):
    """Non-trivial running statistics, so a swapped mean and variance would show."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                module.running_mean.normal_(0, 0.5, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.normal_(1, 0.2, generator=generator)
                module.bias.normal_(0, 0.2, generator=generator)


FIXTURES = {
    "lstm-p": dict(units=24, projection=8, dropout=0.3),
    "tc-resnet": dict(first_channels=6, first_kernel=3, stages=[8, 10], blocks_per_stage=2, kernel=5),
    "crnn": dict(conv_channels=[4, 3], conv_kernels=[[3, 3], [5, 3]], gru_units=12, dropout=0.1, dense=[10, 9]),
    "att-rnn": dict(conv_channels=[3, 1], conv_kernel=5, gru_layers=2, gru_units=6, heads=1, dropout=0.1,
                    dense=[7, 5]),
    "mhatt-rnn": dict(conv_channels=[3, 1], conv_kernel=5, gru_layers=2, gru_units=6, heads=3, dropout=0.2,
                      dense=[7, 5]),
}
FEATURES = dict(n_mfcc=8)
FRAMES = 13


def gradients(model, features, generator):
    """One training step's loss and gradients for a fixed batch, with dropout off (its masks
    cannot be matched) and batch normalisation on batch statistics, as in training:
    L = cross-entropy(logits, labels) + 0.5 · KL(a_T ‖ a_S) with a fixed target a_T."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    model.zero_grad()
    logits, attention, _ = model(features)
    labels = torch.randint(0, logits.shape[1], (logits.shape[0],), generator=generator)
    target = torch.softmax(2 * torch.randn(attention.shape, generator=generator), dim=1)
    kd = (target * (target.log() - attention.clamp_min(1e-12).log())).sum(1).mean()
    loss = nn.functional.cross_entropy(logits, labels) + 0.5 * kd
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    recorded = dict(labels=labels.float(), target=target, loss=loss.reshape(1))
    return grads, {k: v.detach() for k, v in recorded.items()}


def write_fixtures():
    check_peephole_lstm_against_torch()
    shutil.rmtree(OUT, ignore_errors=True)
    for seed, (arch, layout) in enumerate(FIXTURES.items()):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(100 + seed)
        model = build(arch, layout, FEATURES["n_mfcc"], len(LABELS))
        randomise_batch_norm(model, generator)
        model.eval()
        features = torch.randn(2, FRAMES, FEATURES["n_mfcc"], generator=generator)
        with torch.no_grad():
            logits, attention, heads = model(features)
        directory = OUT / arch
        directory.mkdir(parents=True)
        config = {"labels": LABELS, "input": "mfcc", "features": FEATURES, "arch": arch, "layout": layout}
        (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        save_file(burn_state(arch, model), directory / "model.safetensors")
        expected = dict(features=features, logits=logits, attention=attention, heads=heads)
        save_file({k: v.numpy().astype(np.float32) for k, v in expected.items()}, directory / "expected.safetensors")
        grads, recorded = gradients(model, features, generator)
        step = {f"grad.{k}": v for k, v in burn_state(arch, model, grads).items()}
        step.update({k: v.numpy().astype(np.float32) for k, v in recorded.items()})
        save_file(step, directory / "gradients.safetensors")
        print(f"{arch}: logits {tuple(logits.shape)}, attention {tuple(attention.shape)}")


PRESETS = {
    "lstm-p": ("lstm-p", dict(units=500, projection=200, dropout=0.3), 20),
    "tc-resnet8": ("tc-resnet", dict(first_channels=16, first_kernel=3, stages=[24, 32, 48], blocks_per_stage=1,
                                     kernel=9), 40),
    "tc-resnet14": ("tc-resnet", dict(first_channels=16, first_kernel=3, stages=[24, 32, 48], blocks_per_stage=2,
                                      kernel=9), 40),
    "crnn": ("crnn", dict(conv_channels=[16, 16], conv_kernels=[[3, 3], [5, 3]], gru_units=256, dropout=0.1,
                          dense=[128, 256]), 20),
    "att-rnn": ("att-rnn", dict(conv_channels=[10, 1], conv_kernel=5, gru_layers=2, gru_units=128, heads=1,
                                dropout=0.1, dense=[64, 32]), 20),
    "mhatt-rnn": ("mhatt-rnn", dict(conv_channels=[10, 1], conv_kernel=5, gru_layers=2, gru_units=128, heads=4,
                                    dropout=0.2, dense=[64, 32]), 20),
}


def preset_model(name, classes=12):
    arch, layout, inp = PRESETS[name]
    return build(arch, layout, inp, classes), inp


def print_counts():
    for name in PRESETS:
        model, _ = preset_model(name)
        deployed = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("attention_head"))
        buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
        print(f"{name:12} deployed {deployed:>8,}  + running statistics {deployed + buffers:>8,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", action="store_true")
    if parser.parse_args().counts:
        print_counts()
    else:
        write_fixtures()
