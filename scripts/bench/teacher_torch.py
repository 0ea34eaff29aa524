"""PyTorch's time for the benchmark in engine/benches/teacher.rs: a wav2vec2-base geometry
classifier (random weights, eager attention, attention maps returned) on the CPU.

    python scripts/bench/teacher_torch.py --seconds 1 8 --runs 10 3 --maps-clips 8 --maps-seconds 4 --maps-runs 3

Prints one JSON object per clip length: {"seconds": s, "median_ms": m, "runs": n, ...}; then,
with --maps-clips, one for the maps of that many clips (the attention rollout from the first
frame, as the maps caches keep), per clip, one clip per forward pass and all in one:
{"maps_clips": c, "maps_seconds": s, "alone_ms": a, "together_ms": t, "runs": n}.
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
    parser.add_argument("--maps-clips", type=int, default=0)
    parser.add_argument("--maps-seconds", type=float, default=4.0)
    parser.add_argument("--maps-runs", type=int, default=3)
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
    if args.maps_clips:
        alone, together = maps_per_clip_ms(model, args.maps_clips, args.maps_seconds, args.maps_runs)
        print(json.dumps({"maps_clips": args.maps_clips, "maps_seconds": args.maps_seconds,
                          "alone_ms": alone, "together_ms": together, "runs": args.maps_runs}), flush=True)


def first_frame_rollout(attentions):
    """Each clip's rollout row of the first frame: the layers' head-averaged maps, each mixed
    half and half with the identity for the residual path and renormalised, multiplied up."""
    rollout = None
    for layer in attentions:
        mixed = 0.5 * layer.mean(dim=1) + 0.5 * torch.eye(layer.shape[-1])
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed if rollout is None else torch.bmm(mixed, rollout)
    return rollout[:, 0, :]


def maps_per_clip_ms(model, clips, seconds, runs):
    """Medians over `runs` of the maps and logits of `clips` clips, one clip per forward pass and
    all in one, divided by the clips."""
    waveforms = torch.randn(clips, int(seconds * 16000))

    def maps(batch):
        output = model(batch, output_attentions=True)
        return first_frame_rollout(output.attentions), output.logits

    def alone():
        for clip in waveforms:
            maps(clip.unsqueeze(0))

    def together():
        maps(waveforms)

    medians = []
    with torch.inference_mode():
        for run in (alone, together):
            run()  # warm-up
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            medians.append(1000 * statistics.median(times) / clips)
    return medians


if __name__ == "__main__":
    main()
