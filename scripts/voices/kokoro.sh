#!/usr/bin/env bash
# What Kokoro-82M's neural speakers buy on voices no model trained on. Writes docs/voices/kokoro.md
# from runs kept in target/voices-kokoro (resumable: a finished corpus, run or score is reused).
#
# 1. TC-ResNet8 trained on two 1 s corpora that differ only in Kokoro (the five synthesizers from
#    Debian, and those with Kokoro; same seed, voices and effects), twice each (two training
#    seeds). The seed splits every synthesizer's speakers the same way in both, so neither arm
#    trains on a test speaker of any synthesizer.
# 2. Every run scored on the test split of each synthesizer alone (Pico's two speakers are both in
#    training with this seed, so it has none), and every clip of Pico as in synthesizers.sh.
# 3. The shipped models (never trained on Kokoro) on every clip of a corpus of Kokoro alone: five
#    neural speakers of a synthesizer they never heard.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The Python that speaks with Kokoro, where scripts/setup.sh installs it.
export TEMPOKD_KOKORO_PYTHON=${TEMPOKD_KOKORO_PYTHON:-$HOME/.cache/tempokd/kokoro-venv/bin/python}
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-kokoro}
# The seed, voices and sizes of synthesizers.sh.
seed=21
voices=600
per_class=840
shipped_seed=6
added=kokoro
arms=(espeak-ng,flite,mbrola,rhvoice,pico espeak-ng,flite,mbrola,rhvoice,pico,kokoro)
tested=(espeak-ng flite mbrola rhvoice kokoro)
training_seeds=(1 2)
source scripts/voices/synthesizer-ablation.sh

test_corpora
train_arms
score_shipped
report kokoro
