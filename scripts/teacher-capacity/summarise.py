"""Writes docs/teacher-capacity/results.md from the runs of scripts/teacher-capacity/run.sh.

Usage: summarise.py WORK
Every figure is read from the runs' training.json (validation scores, the steps' batch accuracies
and times), their model.safetensors headers (values stored) and the test scores
`tempokd eval --json` wrote; the shipped stages' from stages/.
"""

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evaluation_text import accuracy, localisation, percent  # noqa: E402
from training_record import record_of, validations  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
# Batches whose training accuracy is averaged: the end of each run, at its last rate.
LAST_BATCHES = 600

ANNEAL = [
    ("stages/teacher-1s-restart", "teacher-1s-restart", "shipped warm restart (6,000 steps of 16, rate 5e-4 then 5e-5)"),
    ("anneal-plain", "anneal-plain", "3,000 steps more at 5e-5 then 5e-6, clips as made"),
    ("anneal-fresh", "anneal-fresh", "the same with every effect drawn afresh (`--fresh-effects all`)"),
]
SIZE = [
    ("stages/teacher-1s", "teacher-1s", "shipped first stage: width 192, 64 convolution channels"),
    ("conv-128", "conv-128", "128 convolution channels"),
    ("hidden-256", "hidden-256", "transformer width 256"),
]
RESTART = [
    ANNEAL[0],
    ("conv-128-restart", "conv-128-restart", "128 convolution channels, warm restart from its first stage"),
]
DROPOUT = [
    SIZE[1],
    ("conv-128-dropout", "conv-128-dropout", "128 convolution channels, every dropout 0.1 (`--dropout 0.1`)"),
]
MIXED = [
    ("stages/teacher", "teacher", "shipped teacher (64 convolution channels), all three stages"),
    ("conv-128-mixed", "conv-128-mixed", "128 convolution channels, all three stages"),
]
LENGTHS = [1, 2, 4, 6, 8]


def values_stored(model):
    """Values in a model.safetensors file (weights and buffers), from its header's shapes; `–`
    for a stopped run, which has not written one."""
    path = model / "model.safetensors"
    if not path.is_file():
        return "–"
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    total = 0
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for size in tensor["shape"]:
            count *= size
        total += count
    return f"{total:,}"


def run_dir(work, name):
    return ROOT / name if name.startswith("stages/") else work / name


def row(work, name, test_name, label):
    model = run_dir(work, name)
    record = record_of(model)
    if record is None:
        return f"| {label} | not run | | | | | |"
    if "step" in record:
        label += f" (stopped at step {record['step']:,}; the script resumes it)"
    best = record["validation"]
    last = validations(record)[-1]
    history = record["history"][-LAST_BATCHES:]
    training = sum(step["accuracy"] for step in history) / len(history)
    test_path = work / f"{test_name}-test-1s.json"
    if test_path.is_file():
        test = json.loads(test_path.read_text())
        test_cell = f"{accuracy(test)} / {localisation(test)} (n = {test['n']})"
    else:
        test_cell = "not run"
    return (
        f"| {label} | {values_stored(model)} | {accuracy(best)} at step {record['best_step']:,} "
        f"(n = {best['n']:,}) | {percent(last['accuracy'])} | {percent(training)} | "
        f"{test_cell} | {record['seconds'] / 60:.1f} |"
    )


def lengths_row(work, name, test_name, label):
    """A mixed-length stage: its best validation score and the test corpus at every length."""
    record = record_of(run_dir(work, name))
    if record is None:
        return f"| {label} | not run |" + " |" * len(LENGTHS)
    if "step" in record:
        label += f" (stopped at step {record['step']:,}; the script resumes it)"
    cells = [f"{accuracy(record['validation'])} (n = {record['validation']['n']:,})"]
    for length in LENGTHS:
        path = work / f"{test_name}-test-{length}s.json"
        if path.is_file():
            test = json.loads(path.read_text())
            cells.append(f"{accuracy(test)} / {localisation(test)} (n = {test['n']:,})")
        else:
            cells.append("not run")
    return f"| {label} | " + " | ".join(cells) + " |"


def curve(work, name, label):
    record = record_of(run_dir(work, name))
    if record is None:
        return f"| {label} | not run |"
    scores = validations(record)
    return f"| {label} | " + ", ".join(f"{100 * s['accuracy']:.1f}" for s in scores) + " |"


HEADER = (
    "| run | values stored | best validation accuracy | last validation | training batches, "
    f"last {LAST_BATCHES} steps | test, L = 1 s: accuracy / localisation | minutes |\n"
    "|---|---|---|---|---|---|---|"
)


def section(work, title, introduction, runs):
    print(f"## {title}")
    print()
    print(introduction)
    print()
    print(HEADER)
    for name, test_name, label in runs:
        print(row(work, name, test_name, label))
    print()


def main():
    work = Path(sys.argv[1])
    print("# What holds the teacher back: training time or size")
    print()
    print(
        "Generated by `scripts/teacher-capacity/run.sh` from its runs on the default models' "
        "1 s corpus (`target/default-models/data/words-1s`: 24,000 clips, seed 6, every "
        "synthesizer and effect), beside the shipped teacher's own stages in `stages/`. "
        "Validation: 2,400 clips of 25 underlying voices no run trains on; test: the test "
        "corpus's 1,008 clips of 1 s, 12 other underlying voices. Accuracy with its Wilson 95 % "
        "interval, localisation (the rollout's mass inside the keyword window) with its "
        "bootstrap 95 % interval. *Training batches* is the share of training clips the run "
        f"named right over its last {LAST_BATCHES} steps (before each step's update, with the "
        "run's effects). Minutes are wall-clock on this 2-core machine, with other work beside "
        "each run (another run, or the test suite), so they do not compare the shapes' costs."
    )
    print()
    section(
        work,
        "Longer at a low rate",
        "The shipped teacher's warm restart gained most of its accuracy after its rate fell "
        "tenfold for its last fifth. Here it goes on from its weights for 3,000 steps more at "
        "that low rate (5e-5, warm-up of 50 steps, then 5e-6 for the last fifth; seed 8).",
        ANNEAL,
    )
    section(
        work,
        "A larger teacher",
        "The first stage of the curriculum (4,000 steps of 16 clips from random weights, rate "
        "5e-4 after 200 steps of warm-up, 5e-5 for the last fifth, seed 6: the settings of "
        "`stages/teacher-1s`) with one dimension of the shipped shape (4 layers of width 192 "
        "with 4 heads, 64-channel convolutions) enlarged.",
        SIZE,
    )
    section(
        work,
        "Dropout",
        "The 128-channel first stage above again with every dropout rate of transformers' "
        "wav2vec 2.0 (after the feature projection, on the encoder's input, on the attention "
        "weights, inside and after each feed-forward block and after each attention block) at "
        "0.1 (transformers' default for all but the feature projection's, which is 0); the shipped "
        "teacher trains without dropout.",
        DROPOUT,
    )
    section(
        work,
        "The larger front end's warm restart",
        "The 128-channel first stage above trained on as the curriculum's second stage "
        "(6,000 steps of 16 from its weights, rate raised back to 5e-4 after 100 steps of "
        "warm-up, 5e-5 for the last fifth, seed 7: the settings of `stages/teacher-1s-restart`).",
        RESTART,
    )
    print("## The larger front end's mixed-length stage")
    print()
    print(
        "The warm restart above trained on as the curriculum's last stage (2,000 steps of 8 "
        "clips of every length from the mixed corpus, `target/default-models/data/mixed`, "
        "rate 5e-4 after 50 steps of warm-up, 5e-5 for the last fifth, seed 6: the settings of "
        "`stages/teacher`, the shipped teacher), set beside the shipped teacher on the test "
        "corpus at every length (12 underlying voices no run trains on). Validation: the mixed "
        "corpus's validation split."
    )
    print()
    print(
        "| teacher | best validation accuracy | "
        + " | ".join(f"test, L = {length} s: accuracy / localisation" for length in LENGTHS)
        + " |"
    )
    print("|---|---|" + "---|" * len(LENGTHS))
    for name, test_name, label in MIXED:
        print(lengths_row(work, name, test_name, label))
    print()
    print("Validation accuracy (%) at every 250 steps:")
    print()
    print("| run | steps 250, 500, … |")
    print("|---|---|")
    for name, _, label in ANNEAL + SIZE + DROPOUT[1:] + RESTART[1:] + MIXED:
        print(curve(work, name, label))


if __name__ == "__main__":
    main()
