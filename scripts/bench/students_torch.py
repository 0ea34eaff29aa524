"""PyTorch's times for the benchmark in engine/benches/students.rs, with the students of
scripts/oracle/students.py (the same layer layouts as the Rust models) on the CPU.

    python scripts/bench/students_torch.py --students tc-resnet8 mhatt-rnn --batch 100 --runs 10

For each student prints one JSON object: the median time of single-clip inference (a 1 s clip's
features, logits only) and of one KD training step (batch of 1 s clips: forward with a_S,
cross-entropy + 0.25·KL(a_T ‖ a_S), backward, Adam).
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
from students import preset_model  # noqa: E402

FRAMES_PER_SECOND = 49  # 40 ms windows every 20 ms over 1 s at 16 kHz
LAMBDA = 0.25


def timed(function, runs):
    function()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", nargs="+", required=True)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    for name in args.students:
        torch.manual_seed(0)
        model, inputs = preset_model(name)
        clip = torch.randn(1, FRAMES_PER_SECOND, inputs)

        def infer():
            with torch.inference_mode():
                model(clip)

        model.eval()
        inference_ms = timed(infer, args.runs)

        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        features = torch.randn(args.batch, FRAMES_PER_SECOND, inputs)
        targets = torch.randint(0, 12, (args.batch,))
        with torch.no_grad():
            frames = model(features[:1])[1].shape[1]
        teacher = torch.softmax(torch.randn(args.batch, frames), dim=1)

        def step():
            optimizer.zero_grad()
            logits, attention, _ = model(features)
            kd = (teacher * (teacher.clamp_min(1e-12).log() - attention.clamp_min(1e-12).log())).sum(1).mean()
            loss = F.cross_entropy(logits, targets) + LAMBDA * kd
            loss.backward()
            optimizer.step()
            return loss.item()

        step_ms = timed(step, args.runs)
        print(json.dumps({"student": name, "inference_ms": inference_ms, "step_ms": step_ms,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
