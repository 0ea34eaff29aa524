"""Which of Kokoro's voices may be one speaker: for each voice the nearest others by the distance
between their style tables (the mean, over Kokoro's 510 utterance lengths, of the Euclidean
distance between the two 256-wide style vectors), and the median distance of all pairs.

Usage: $TEMPOKD_KOKORO_PYTHON scripts/voices/kokoro_voices.py [VOICE ...]
(the Python of Kokoro's environment, which has numpy and the voices scripts/setup.sh installs;
with no VOICE, every voice of kokoro-js)
"""

import itertools
import sys
from pathlib import Path

import numpy as np

STYLE_SHAPE = (510, 256)
NEAREST = 4


def main():
    folder = Path(sys.prefix) / "share" / "kokoro-js-voices"
    paths = sorted(folder.glob("*.bin"))
    if not paths:
        sys.exit(f"no voices in {folder}: run scripts/setup.sh's install_kokoro with this Python")
    tables = {}
    for path in paths:
        if path.stat().st_size != 4 * np.prod(STYLE_SHAPE):
            sys.exit(f"{path} is not a style table of {np.prod(STYLE_SHAPE)} 32-bit numbers")
        tables[path.stem] = np.fromfile(path, dtype="<f4").reshape(STYLE_SHAPE)

    def distance(a, b):
        return float(np.mean(np.linalg.norm(tables[a] - tables[b], axis=1)))

    asked = sys.argv[1:] or sorted(tables)
    unknown = [voice for voice in asked if voice not in tables]
    if unknown:
        sys.exit(f"no voice {', '.join(unknown)} in {folder}")
    for voice in asked:
        nearest = sorted((distance(voice, other), other) for other in tables if other != voice)
        print(f"{voice}: " + ", ".join(f"{other} {d:.2f}" for d, other in nearest[:NEAREST]))
    pairs = [distance(a, b) for a, b in itertools.combinations(sorted(tables), 2)]
    print(f"median of all {len(pairs)} pairs: {np.median(pairs):.2f}")


if __name__ == "__main__":
    main()
