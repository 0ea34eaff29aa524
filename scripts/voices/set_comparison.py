"""The tables of a comparison of two builds of the shipped set (scripts/voices/set-comparison.sh):
each stage, then each finished model, of the build before and the build after, on the test
corpora of both builds and on the test speakers of what the later build added, alone.

A report's writer (six_synthesizers.py, seven_synthesizers.py) says what its builds and tests
are and prints its own prose around these tables (standard library only).
"""

import csv
import json
from dataclasses import dataclass

from by_voice import group_of
from synthesizers import cell

STAGES = {"teacher-1s": "teacher, first stage (1 s clips)",
          "teacher-1s-restart": "teacher, warm restart (1 s)", "teacher": "teacher, every length"}
STAGES.update({f"students-{arch}-words-1s": f"{name}, first stage (1 s, without KD)"
               for arch, name in (("tc-resnet8", "TC-ResNet8"), ("lstm-p", "LSTM-P"),
                                  ("crnn", "CRNN"), ("att-rnn", "Att-RNN"),
                                  ("mhatt-rnn", "MHAtt-RNN"))})


@dataclass
class Comparison:
    """Names as set-comparison.sh writes them into the scores' file names, each with its text.

    `builds`: the build before, then the build after, each with what it was trained on.
    `tests`: the build before's test corpus, the build after's, then each group of speakers
    scored alone (the first: the speakers the build after added), each with its heading.
    `without`: the heading of the last column, the build after's test less the first group.
    """
    builds: dict
    tests: dict
    without: str

    def heading(self, first):
        return (f"| {first} | trained on | " + " | ".join(self.tests.values())
                + f" | {self.without} |\n" + "|---" * (len(self.tests) + 3) + "|")

    def row(self, paths):
        """The cells of one model on each test, and on the later build's test less the first
        group alone."""
        counts = [correct_of(json.loads(path.read_text())) for path in paths]
        (new_correct, new_n), (added_correct, added_n) = counts[1], counts[2]
        counts.append((new_correct - added_correct, new_n - added_n))
        return [cell(correct, n) for correct, n in counts]


def stage_table(work, comparison):
    """Every stage that both builds' scores are there for, at 1 s."""
    print(comparison.heading("stage"))
    for stage, stage_text in STAGES.items():
        for build, build_text in comparison.builds.items():
            paths = [work / "scores" / f"{build}-{stage}-{test}.json"
                     for test in comparison.tests]
            if all(path.is_file() for path in paths):
                print(f"| {stage_text} | {build_text} | " + " | ".join(comparison.row(paths))
                      + " |")


def set_tables(work, comparison, introduction):
    """The finished sets' tables, one per length, under `introduction`, where the later set's
    scores are there; nothing when none is."""
    old_test = next(iter(comparison.tests))
    new_build = list(comparison.builds)[1]
    prefix, suffix = f"set-{new_build}-", f"-{old_test}-L4.json"
    models = sorted({path.name[len(prefix):-len(suffix)]
                     for path in (work / "scores").glob(f"{prefix}*{suffix}")},
                    key=lambda model: (model != "teacher", model))
    if not models:
        return
    print("\n## The finished sets\n")
    print(introduction + "\n")
    for length in (4, 8):
        print(f"### L = {length} s\n")
        print(comparison.heading("model"))
        for model in models:
            for build, build_text in comparison.builds.items():
                paths = [work / "scores" / f"set-{build}-{model}-{test}-L{length}.json"
                         for test in comparison.tests]
                if all(path.is_file() for path in paths):
                    print(f"| `{model}` | {build_text} | "
                          + " | ".join(comparison.row(paths)) + " |")
        print()


def speakers(work, synthesizer):
    """The test speakers of a synthesizer scored alone, from its group's manifest, as
    `kokoro-jf_nezumi` or `` `a`, `b` and `c` ``."""
    with open(work / "alone" / synthesizer / "manifest.csv", newline="") as f:
        names = sorted({group_of(row["voice"]) for row in csv.DictReader(f)})
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def correct_of(evaluation):
    """Correct clips and clips of one `tempokd eval --json` score."""
    return round(evaluation["accuracy"] * evaluation["n"]), evaluation["n"]
