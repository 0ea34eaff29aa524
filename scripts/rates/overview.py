"""Writes docs/rates/README.md: every student's KD-stage rates side by side, from the runs of
scripts/rates/run.sh in WORK (a folder per training seed, in it one per student).

Usage: overview.py WORK   (standard library only)
"""

import re
import sys
from pathlib import Path

from summarise import SCORES, accuracy, best_with_kd, scores

STUDENTS = ["lstm-p", "tc-resnet8", "crnn", "att-rnn", "mhatt-rnn"]
CURRICULUM_RATE = "0.0005"
RUN = re.compile(r"rate-(?P<rate>[0-9.e-]+)-lambda-(?P<lam>[0-9.]+)$")


def finished(run):
    return all((run / f"{name}.json").is_file() for name in SCORES)


def main(work):
    print("# The KD stage's learning rate, per architecture\n")
    print(
        "Written by `scripts/rates/overview.py` from the runs of `scripts/rates/run.sh STUDENT` "
        "(each student's table, with every λ, its best step and its validation curve, is "
        "`STUDENT.md` here, `STUDENT-seedN.md` for another training seed than the shipped set's "
        "6). Each row: the curriculum's second stage (mixed lengths, from the shipped first "
        "stage) at one first rate and training seed; the λ > 0 with the best validation "
        "accuracy, and λ = 0 at the same rate. Accuracy with its Wilson 95 % interval, and "
        "under each column its n (validation: clips of every length; test: underlying voices no "
        f"stage trained on). The curriculum's rate is {CURRICULUM_RATE}; "
        "**bold**: the rate whose best KD run scores highest on validation, for that seed.\n"
    )
    print(
        "| student | seed | rate | best λ | validation | test 4 s | test 8 s | λ = 0 validation | "
        "λ = 0 test 4 s | λ = 0 test 8 s |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    counts = None
    for run in sorted(work.glob("seed*/*/rate-*-lambda-*")):
        if run.is_dir() and finished(run):
            counts = {name: evaluation["n"] for name, evaluation in scores(run).items()}
            break
    if counts:
        n = [f"n = {counts[name]:,}" for name in SCORES]
        print(f"| | | | | {' | '.join(n)} | {' | '.join(n)} |")
    seeds = sorted(
        int(folder.name[4:]) for folder in work.glob("seed*") if folder.name[4:].isdigit()
    )
    for student in STUDENTS:
        for seed in seeds:
            student_rows(work / f"seed{seed}" / student, student, seed)


def student_rows(folder, student, seed):
    """Prints a row per rate of one student's runs with one training seed."""
    runs = {}
    for run in sorted(folder.glob("rate-*-lambda-*")):
        found = RUN.match(run.name)
        if found and run.is_dir() and finished(run):
            runs.setdefault(found["rate"], {})[found["lam"]] = scores(run)
    rows = []
    for rate, by_lambda in runs.items():
        best = best_with_kd(by_lambda)
        if best is None:
            continue
        rows.append((rate, best, by_lambda[best], by_lambda["0"]))
    if len(rows) < 2:
        return
    chosen = max(rows, key=lambda row: row[2]["validation"]["accuracy"])[0]
    for rate, best, kd, plain in sorted(rows, key=lambda row: float(row[0]), reverse=True):
        shown = f"**{rate}**" if rate == chosen else rate
        print(
            f"| {student} | {seed} | {shown} | {best} | {accuracy(kd['validation'])} | "
            f"{accuracy(kd['test-L4'])} | {accuracy(kd['test-L8'])} | "
            f"{accuracy(plain['validation'])} | {accuracy(plain['test-L4'])} | "
            f"{accuracy(plain['test-L8'])} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
