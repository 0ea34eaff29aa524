#!/usr/bin/env python3
"""Split a corpus's test clips by their background: one folder per kind under OUT, each a
manifest of that kind's test rows and a link to the corpus's test clips (no audio copied).

Usage: by_background.py CORPUS OUT
"""
import csv
import os
import sys


def main(corpus, out):
    with open(os.path.join(corpus, "manifest.csv"), newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = [row for row in reader if row["split"] == "test"]
    kinds = sorted({row["noise"] for row in rows})
    for kind in kinds:
        folder = os.path.join(out, kind)
        os.makedirs(folder, exist_ok=True)
        link = os.path.join(folder, "test")
        if not os.path.islink(link):
            os.symlink(os.path.relpath(os.path.join(corpus, "test"), folder), link)
        with open(os.path.join(folder, "manifest.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(row for row in rows if row["noise"] == kind)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
