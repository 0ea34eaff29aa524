"""Writes half a second of noise as Ogg Vorbis through libsndfile (libvorbis) at 8 to 96 kHz,
one to six channels, at libvorbis's highest and lowest quality, into DIR: the setups whose
codebooks bound what engine/src/audio/vorbis_setup.rs lets through (its ignored test
`libvorbis_setups_claim_far_less_than_the_bounds` reads them). Needs numpy and soundfile.

    python3 scripts/vorbis-setups.py DIR
"""

import sys
from pathlib import Path

import numpy as np
import soundfile

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for rate, channels in [(8000, 1), (16000, 1), (22050, 1), (44100, 2), (48000, 2), (96000, 6)]:
    noise = 0.1 * np.random.default_rng(0).standard_normal((rate // 2, channels))
    for level in (0.0, 1.0):
        name = out / f"vorbis-{rate}-{channels}ch-compression-{level}.ogg"
        soundfile.write(name, noise.astype("float32"), rate, format="OGG", subtype="VORBIS",
                        compression_level=level)
