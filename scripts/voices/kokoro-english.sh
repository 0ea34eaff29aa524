#!/usr/bin/env bash
# What Kokoro's English voices buy on voices no model trained on. Writes
# docs/voices/kokoro-english.md from runs kept in target/voices-kokoro-english (resumable: a
# finished corpus, run or score is reused).
#
# 1. TC-ResNet8 trained on two 1 s corpora that differ only in Kokoro's 28 English voices (the six
#    synthesizers of the shipped set, and those with kokoro-english; same seed, voices and clip
#    budget as kokoro.sh), twice each (two training seeds). The seed splits every synthesizer's
#    speakers the same way in both, so neither arm trains on a test speaker of any synthesizer.
# 2. Every run scored on the test split of each synthesizer alone, and on every clip of Pico.
# 3. The shipped models (none trained on an English Kokoro voice) on every clip of a corpus of
#    Kokoro's English voices alone: 28 neural speakers of American and British English.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TEMPOKD_KOKORO_PYTHON=${TEMPOKD_KOKORO_PYTHON:-$HOME/.cache/tempokd/kokoro-venv/bin/python}
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-kokoro-english}
seed=21
voices=600
per_class=840
shipped_seed=6
added=kokoro-english
six=espeak-ng,flite,mbrola,rhvoice,pico,kokoro
arms=($six $six,kokoro-english)
tested=(espeak-ng flite mbrola rhvoice kokoro kokoro-english)
training_seeds=(1 2)
source scripts/voices/synthesizer-ablation.sh

test_corpora
train_arms
score_shipped
report kokoro-english
