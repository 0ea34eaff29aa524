"""Writes docs/rates/STUDENT.md from the runs of scripts/rates/run.sh.

Usage: summarise.py WORK STUDENT STEPS BATCH SEED "RATE RATE ..." LAMBDA [LAMBDA ...]
(standard library only)
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evaluation_text import accuracy, localisation  # noqa: E402


SCORES = ("validation", "test-L4", "test-L8")


def scores(run):
    """A run's scores by name: its validation split and the test corpus at 4 s and 8 s."""
    return {name: json.loads((run / f"{name}.json").read_text()) for name in SCORES}


def best_with_kd(by_lambda):
    """The λ > 0 of the best validation accuracy in {λ: scores} (the smaller λ on a tie), or
    None when there is no λ > 0 or no λ = 0 to set it beside."""
    with_kd = sorted((lam for lam in by_lambda if float(lam) > 0), key=float)
    if not with_kd or "0" not in by_lambda:
        return None
    return max(with_kd, key=lambda lam: by_lambda[lam]["validation"]["accuracy"])


def mean_over(history, key, first, last):
    values = [entry[key] for entry in history if first <= entry["step"] <= last]
    return sum(values) / len(values)


def losses(history, key):
    """The mean of a loss over the first and over the last 100 steps."""
    steps = history[-1]["step"]
    return f"{mean_over(history, key, 1, 100):.2f} → {mean_over(history, key, steps - 99, steps):.2f}"


def main():
    work, student, steps, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seed, rates, lambdas = sys.argv[5], sys.argv[6].split(), sorted(sys.argv[7:], key=float)
    runs = {}
    for rate in rates:
        for lam in lambdas:
            run = work / f"rate-{rate}-lambda-{lam}"
            runs[rate, lam] = {
                # Kept by `tempokd defaults` (stages/), which writes job.json; this script's own
                # runs have none.
                "shipped": (run / "job.json").is_file(),
                "training": json.loads((run / "training.json").read_text()),
                **scores(run),
            }
    first = next(iter(runs.values()))
    print(f"# The KD stage's learning rate: {student}\n")
    print(
        f"Written by `RATES='{' '.join(rates)}' LAMBDAS='{' '.join(lambdas)}' RATES_SEED={seed} "
        f"scripts/rates/run.sh {student}` (rerun it to regenerate): {student} from the "
        f"default models' 1 s stage (`stages/students/{student}/words-1s`), trained {steps:,} "
        f"steps (batch {batch}, seed {seed}) on their mixed-length corpus (1, 2, 4, 6 and 8 s clips) "
        "with their teacher's map as the KD target (the default target), at each first rate "
        "(a tenth of it for the last quarter of the steps) and λ. The model kept is the one of "
        "the best validation scoring (every 100 steps). Accuracy with its Wilson 95 % interval, "
        "localisation (the share of the student's temporal attention inside the keyword "
        "window) with its bootstrap 95 % interval; "
        f"n = {first['validation']['n']:,} validation clips (every length), "
        f"{first['test-L4']['n']:,} test clips at L = 4 s and {first['test-L8']['n']:,} at "
        "L = 8 s (underlying voices no stage trained on).\n"
    )
    print(
        "| rate | λ | best step | lowest validation scoring | validation | test 4 s | "
        "localisation 4 s | test 8 s | localisation 8 s |\n|---|---|---|---|---|---|---|---|---|"
    )
    loss_rows = []
    for (rate, lam), run in runs.items():
        scorings = run["training"]["validations"]
        lowest = min(scorings, key=lambda v: v["accuracy"])
        mark = " †" if run["shipped"] else ""
        print(
            f"| {rate}{mark} | {lam} | {run['training']['best_step']} | "
            f"{100 * lowest['accuracy']:.1f} % (step {lowest['step']}) | "
            f"{accuracy(run['validation'])} | {accuracy(run['test-L4'])} | "
            f"{localisation(run['test-L4'])} | {accuracy(run['test-L8'])} | "
            f"{localisation(run['test-L8'])} |"
        )
        history = run["training"]["history"]
        # Without a teacher (λ = 0) the KD term is not computed.
        kd = losses(history, "kd") if float(lam) > 0 else "–"
        loss_rows.append(f"| {rate} | {lam} | {kd} | {losses(history, 'task')} |")
    if any(run["shipped"] for run in runs.values()):
        print(
            f"\n† The shipped set's own run with these settings, from the same first stage and "
            f"teacher (`stages/students/{student}/lambda-λ`, trained by `tempokd defaults`), put "
            "in the work folder before the script ran; the script trains such a run itself when "
            "it is not there."
        )
    print("\nAt each rate, the λ > 0 of the best validation accuracy against λ = 0:\n")
    print("| rate | best λ | validation | test 4 s | test 8 s | λ = 0 test 4 s | λ = 0 test 8 s |")
    print("|---|---|---|---|---|---|---|")
    for rate in rates:
        best = best_with_kd({lam: runs[rate, lam] for lam in lambdas})
        if best is None:
            continue
        chosen, without = runs[rate, best], runs[rate, "0"]
        print(
            f"| {rate} | {best} | {accuracy(chosen['validation'])} | "
            f"{accuracy(chosen['test-L4'])} | {accuracy(chosen['test-L8'])} | "
            f"{accuracy(without['test-L4'])} | {accuracy(without['test-L8'])} |"
        )
    print(
        "\nThe training batches' losses, mean over the first 100 steps → over the last 100: the "
        "KD term KL(a_T ‖ a_S) in nats (before λ weighs it; not computed at λ = 0) and the "
        "classification loss:\n"
    )
    print("| rate | λ | KL(a_T ‖ a_S) | classification |\n|---|---|---|---|")
    print("\n".join(loss_rows))
    print("\nValidation accuracy at each scoring (steps 100, 200, …):\n")
    print("| rate | λ | curve |\n|---|---|---|")
    for (rate, lam), run in runs.items():
        curve = " ".join(f"{100 * v['accuracy']:.1f}" for v in run["training"]["validations"])
        print(f"| {rate} | {lam} | {curve} |")


if __name__ == "__main__":
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    main()
