#!/usr/bin/env python3
"""How long after each keyword's end a listener decided it: `tempokd stream --json` set against
the stream's truth file (what `synth-stream` wrote beside it). A keyword is found, as `tempokd
calibrate` counts it, by the first unused detection of its label placed within 0.25 s of the
word; its delay is the detection's `decided_s` minus the word's end. Printed for the models that
read each stretch of speech once (the teacher) and those that read every hop (the students)
apart: keywords found, readings made, and the delay's median, 90th and 99th percentiles and
worst.

    tempokd synth-stream --out cal.wav --seconds 1200 --stream-seed 1
    tempokd stream --model static/models/teacher --model static/models/crnn ... \\
        --audio cal.wav --json > heard.json
    python3 scripts/stream/decision-delay.py cal.json heard.json
"""
import json
import sys

TOLERANCE_S = 0.25


def delays(model, keywords):
    used = [False] * len(model["detections"])
    found = []
    for word in keywords:
        for index, detection in enumerate(model["detections"]):
            near = word["start_s"] - TOLERANCE_S <= detection["at_s"] <= word["end_s"] + TOLERANCE_S
            if not used[index] and detection["label"] == word["label"] and near:
                used[index] = True
                found.append(1000.0 * (detection["decided_s"] - word["end_s"]))
                break
    return found


def main(truth_path, heard_path):
    truth = json.load(open(truth_path))
    keywords = [word for word in truth["words"] if not word["label"].startswith("_")]
    heard = json.load(open(heard_path))
    for reader, cadence in [("each stretch once", "PerSegment"), ("every hop", "EveryHop")]:
        models = [model for model in heard["models"] if model["cadence"] == cadence]
        if not models:
            continue
        found = sorted(ms for model in models for ms in delays(model, keywords))
        readings = sum(model["windows_read"] for model in models)
        at = lambda q: found[min(len(found) - 1, int(q * len(found)))]
        print(f"{reader} ({len(models)} models): {len(found)} of {len(keywords) * len(models)} "
              f"keywords found in {readings} readings; decided after the word's end: median "
              f"{at(0.5):.0f} ms, 90th percentile {at(0.9):.0f} ms, 99th {at(0.99):.0f} ms, "
              f"worst {found[-1]:.0f} ms")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
