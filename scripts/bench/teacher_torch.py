"""PyTorch's time for the benchmark in engine/benches/teacher.rs: a wav2vec2-base geometry
classifier (random weights, eager attention, attention maps returned) on the CPU.

    python scripts/bench/teacher_torch.py --seconds 1 8 --runs 10 3

Prints one JSON object per clip length: {"seconds": s, "median_ms": m, "runs": n, ...}.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, nargs="+", required=True)
    parser.add_argument("--runs", type=int, nargs="+", required=True)
    args = parser.parse_args()
    torch.manual_seed(7)
    config = Wav2Vec2Config(num_labels=12, attn_implementation="eager")
    model = Wav2Vec2ForSequenceClassification(config).eval()
    parameters = sum(p.numel() for p in model.parameters())
    for seconds, runs in zip(args.seconds, args.runs):
        waveform = torch.randn(1, int(seconds * 16000))
        times = []
        with torch.inference_mode():
            model(waveform, output_attentions=True)  # warm-up
            for _ in range(runs):
                start = time.perf_counter()
                output = model(waveform, output_attentions=True)
                times.append(time.perf_counter() - start)
        assert len(output.attentions) == config.num_hidden_layers
        print(json.dumps({"seconds": seconds, "median_ms": 1000 * statistics.median(times), "runs": runs,
                          "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "parameters": parameters}), flush=True)


if __name__ == "__main__":
    main()
