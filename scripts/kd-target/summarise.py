"""Writes docs/kd-target/STUDENT.md from the runs of scripts/kd-target/run.sh.

Usage: summarise.py WORK STUDENT STEPS BATCH "SEED SEED ..." ARM [ARM ...]   (standard library only)
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evaluation_text import accuracy, localisation  # noqa: E402

MEANING = {
    "no-kd": "without KD (λ = 0)",
    "rollout": "the first-frame rollout as it is",
    "without-query-frame": "without the query frame's own mass, renormalised",
    "T0.5": "sharper: temperature 0.5",
    "T2": "softer: temperature 2",
    "without-query-frame+T0.5": "without the query frame, then temperature 0.5 (the default since this study)",
}


def cell(evaluation):
    located = localisation(evaluation, 3)
    return accuracy(evaluation) + ("" if located == "–" else f" / {located}")


def main():
    work, student, steps, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seeds, arms = sys.argv[5].split(), sys.argv[6:]
    print(f"# The teacher's map as a KD target: {student}\n")
    print(
        f"Written by `scripts/kd-target/run.sh {student}` (rerun it to regenerate): {student} from "
        f"the default models' 1 s stage, trained {steps:,} steps (batch {batch}) on their "
        "mixed-length corpus "
        "(1, 2, 4, 6 and 8 s clips) at λ = 0.25 with their teacher's first-frame rollout as the "
        f"target, changed as each row says; training seeds {', '.join(seeds)}. Cells: accuracy "
        "with its Wilson "
        "95 % interval / localisation (the share of the student's temporal attention inside the "
        "keyword window) with its bootstrap 95 % interval, on the corpus's validation split (the "
        "one the choice is made on) and its test split (unseen underlying voices).\n"
    )
    n = None
    rows = []
    for arm in arms:
        for seed in seeds:
            run = work / f"{arm}-seed{seed}"
            scores = {s: json.loads((run / f"{s}.json").read_text()) for s in ("validation", "test")}
            n = (scores["validation"]["n"], scores["test"]["n"])
            rows.append((arm, seed, scores))
    print(f"n = {n[0]} validation clips, {n[1]} test clips per run.\n")
    print("| target | seed | validation | test |\n|---|---|---|---|")
    for arm, seed, scores in rows:
        print(f"| {MEANING.get(arm, arm)} | {seed} | {cell(scores['validation'])} | {cell(scores['test'])} |")
    print("\nMeans over the seeds (validation accuracy / localisation):\n")
    print("| target | validation accuracy | validation localisation |\n|---|---|---|")
    for arm in arms:
        mine = [s for a, _, s in rows if a == arm]
        accuracy = sum(s["validation"]["accuracy"] for s in mine) / len(mine)
        located = [s["validation"].get("attention_in_window") for s in mine]
        located = [v for v in located if v is not None]
        where = f"{sum(located) / len(located):.3f}" if located else "–"
        print(f"| {MEANING.get(arm, arm)} | {100 * accuracy:.1f} % | {where} |")


if __name__ == "__main__":
    main()
