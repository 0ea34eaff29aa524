#!/usr/bin/env bash
# What GnuSpeech's articulatory voices buy on voices no model trained on. Writes
# docs/voices/gnuspeech.md from runs kept in target/voices-gnuspeech (resumable: a finished
# corpus, run or score is reused).
#
# 1. TC-ResNet8 trained on two 1 s corpora that differ only in GnuSpeech (the six synthesizers of
#    the shipped set, and those with GnuSpeech; same seed, voices and effects as kokoro.sh), twice
#    each (two training seeds). The seed splits every synthesizer's speakers the same way in both,
#    so neither arm trains on a test speaker of any synthesizer.
# 2. Every run scored on the test split of each synthesizer alone, and on every clip of Pico.
# 3. The shipped models (never trained on GnuSpeech) on every clip of a corpus of GnuSpeech alone:
#    five articulatory speakers of a synthesizer they never heard.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TEMPOKD_KOKORO_PYTHON=${TEMPOKD_KOKORO_PYTHON:-$HOME/.cache/tempokd/kokoro-venv/bin/python}
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-gnuspeech}
seed=21
voices=600
per_class=840
shipped_seed=6
added=gnuspeech
six=espeak-ng,flite,mbrola,rhvoice,pico,kokoro
arms=($six $six,gnuspeech)
tested=(espeak-ng flite mbrola rhvoice kokoro gnuspeech)
training_seeds=(1 2)
source scripts/voices/synthesizer-ablation.sh

test_corpora
score_shipped
train_arms
report gnuspeech
