"""Writes docs/voices/synthesizers.md from the runs of scripts/voices/synthesizers.sh.

Usage: synthesizers.py WORK "SEED SHIPPED_SEED VOICES PER_CLASS" "TRAINING_SEED ..."
       "SYNTHESIZER ..." "TESTED_SYNTHESIZER ..." ARM [ARM ...]   (standard library only)
"""

import csv
import json
import math
import sys
from pathlib import Path

from voice_ids import NAMES, underlying


def manifest(folder):
    with open(Path(folder) / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def wilson(correct, n):
    z = 1.959964
    centre = (correct + z * z / 2) / (n + z * z)
    half = z * math.sqrt(correct * (n - correct) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def cell(correct, n):
    if not n:
        return "–"
    low, high = wilson(correct, n)
    return f"{100 * correct / n:.1f} % ({100 * low:.1f}–{100 * high:.1f}), n {n}"


def scores(paths):
    """Correct clips and clips over the evaluations that exist among `paths`."""
    correct = n = 0
    for path in paths:
        if path.is_file():
            evaluation = json.loads(path.read_text())
            n += evaluation["n"]
            correct += round(evaluation["accuracy"] * evaluation["n"])
    return correct, n


def arm_label(arm):
    """`espeak-ng,kokoro=3` (an arm: synthesizers, each with a factor on its share where it has
    one) as `espeak-ng, Kokoro ×3`."""
    def label(part):
        name, _, factor = part.partition("=")
        return f"{NAMES[name]} ×{factor}" if factor else NAMES[name]
    return ", ".join(label(part) for part in arm.split(","))


def arm_synthesizers(arm):
    """The synthesizers of an arm, without their factors."""
    return [part.partition("=")[0] for part in arm.split(",")]


def speaker_table(rows, synthesizers):
    """Each synthesizer's underlying voices (and voice variants) per split of a manifest."""
    print("| synthesizer | train | validation | test | training clips |\n|---|---|---|---|---|")
    for synthesizer in synthesizers:
        mine = [r for r in rows if r["voice"].startswith(f"{synthesizer}:")]
        counts = [f"{len({underlying(r['voice']) for r in mine if r['split'] == split})} "
                  f"({len({r['voice'] for r in mine if r['split'] == split})})"
                  for split in ("train", "validation", "test")]
        clips = sum(1 for r in mine if r["split"] == "train")
        print(f"| {NAMES[synthesizer]} | " + " | ".join(map(str, counts)) + f" | {clips} |")
    print()


def arm_tables(work, arms, seeds, tested):
    """Each TC-ResNet8 run on each tested synthesizer's test split and on every clip of Pico,
    then the means over the training seeds."""
    columns = [NAMES[s] for s in tested] + ["Pico, every clip"]
    print("| trained on | seed | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    means = {}
    for arm in arms:
        name = arm.replace(",", "+")
        for training_seed in seeds:
            run = work / f"tc-resnet8-{name}-seed{training_seed}"
            cells = []
            for synthesizer in tested:
                correct, n = scores([run / f"test-{synthesizer}.json"])
                cells.append(cell(correct, n))
                means.setdefault((arm, synthesizer), []).append(correct / n if n else None)
            correct, n = scores([run / "pico-all-train.json"])
            cells.append(cell(correct, n))
            means.setdefault((arm, "pico-all"), []).append(correct / n if n else None)
            print(f"| {arm_label(arm)} | {training_seed} | " + " | ".join(cells) + " |")
    print("\nMeans over the training seeds:\n")
    print("| trained on | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for arm in arms:
        cells = []
        for key in tested + ["pico-all"]:
            values = [v for v in means[(arm, key)] if v is not None]
            cells.append(f"{100 * sum(values) / len(values):.1f} %" if values else "–")
        print(f"| {arm_label(arm)} | " + " | ".join(cells) + " |")
    print()


def ablation_arguments():
    """The command line of kokoro.py and gnuspeech.py: WORK "SEED SHIPPED_SEED VOICES PER_CLASS"
    "TRAINING_SEED ..." "TESTED_SYNTHESIZER ..." ARM [ARM ...]."""
    work = Path(sys.argv[1])
    seed, shipped_seed, voices, per_class = sys.argv[2].split()
    return (work, seed, shipped_seed, voices, per_class, sys.argv[3].split(), sys.argv[4].split(),
            sys.argv[5:])


def shipped_table(shipped, corpus, column):
    """Each shipped model's accuracy over every clip of a corpus (`MODEL-CORPUS-SPLIT.json` in
    `shipped`, one per split), the teacher first."""
    print(f"| model | {column} |\n|---|---|")
    models = sorted({p.name.split(f"-{corpus}-")[0] for p in shipped.glob(f"*-{corpus}-*.json")},
                    key=lambda n: (n != "teacher", n))
    for model in models:
        paths = [shipped / f"{model}-{corpus}-{split}.json"
                 for split in ("train", "validation", "test")]
        print(f"| `{model}` | {cell(*scores(paths))} |")


def main():
    work = Path(sys.argv[1])
    seed, shipped_seed, voices, per_class = sys.argv[2].split()
    seeds = sys.argv[3].split()
    synthesizers = sys.argv[4].split()
    tested = sys.argv[5].split()
    arms = sys.argv[6:]
    print("# More synthesizers: results\n")
    print(f"Generated by `scripts/voices/synthesizers.sh` from its runs (seed {seed}, {voices} "
          f"voice variants, 1 s clips, {per_class} per class over the three splits). Accuracy "
          "with its Wilson "
          "95 % interval and the clip count n. Speakers are divided into train, validation and "
          "test by the seed alone, whichever synthesizers a corpus uses, so no arm trained on a "
          "test speaker of any synthesizer.\n")

    rows = manifest(work / f"data-1s-{arms[-1].replace(',', '+')}")
    print("## The speakers of the corpus of every synthesizer\n")
    print("Underlying voices per split: espeak-ng's accent + timbre, and each recorded speaker "
          "(one per flite, MBROLA, RHVoice or Pico voice; RHVoice's Alan and Slt are flite's awb "
          "and slt).\n")
    print("Cells: underlying voices (voice variants of them).\n")
    speaker_table(rows, synthesizers)

    print("## TC-ResNet8 by the synthesizers it trained on (L = 1 s)\n")
    print("Corpora that differ only in their synthesizers. TC-ResNet8 trained 6,000 steps, batch "
          "32, without KD, once per training seed, keeping the weights of its best validation "
          "step. Each column is the test split of one synthesizer alone (its test speakers, as "
          "spoken; one to four speakers each, so the intervals, over clips, say nothing of how "
          "another speaker would do); *Pico, every clip* is every clip of a corpus of Pico alone "
          "(its training split, which holds both its speakers; it has no test split): its two "
          "speakers, a synthesizer the first two arms never heard (the third trained on the "
          "Pico speakers of its training split, so its cell there is not a test of unseen "
          "voices).\n")
    arm_tables(work, arms, seeds, tested)

    print("## The shipped models on voices they never heard\n")
    print(f"`static/models` when this ran (corpora of seed {shipped_seed}; their cards name the "
          "synthesizers), scored by "
          "`tempokd eval` at L = 1 s on the test split of each synthesizer drawn with their seed, "
          "whose speakers none of them trained on (so these are other test speakers than the "
          "table above's), and on every clip of Pico: clips of voices those models heard where "
          "their corpora had Pico, so that column tests unseen voices only for models trained "
          "without it.\n")
    print("| model | " + " | ".join(NAMES[s] for s in tested) + " | Pico, every clip |")
    print("|---|" + "---|" * (len(tested) + 1))
    shipped = work / "shipped"
    models = sorted({p.name[:-len(f"-{s}.json")] for p in shipped.glob("*.json")
                     for s in tested if p.name.endswith(f"-{s}.json")},
                    key=lambda n: (n != "teacher", n))
    for model in models:
        cells = [cell(*scores([shipped / f"{model}-{s}.json"])) for s in tested]
        cells.append(cell(*scores([shipped / f"{model}-pico-all-train.json"])))
        print(f"| `{model}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
