#!/usr/bin/env bash
# Whether a larger share of Kokoro's neural speakers helps on voices no model trained on. Writes
# docs/voices/kokoro-share.md from runs kept in target/voices-kokoro-share (resumable).
#
# TC-ResNet8 on 1 s corpora of the shipped set's six synthesizers with Kokoro at its usual share
# of the voices and at three times it (synth --emphasis kokoro=3; the same speakers in every
# split, the same clip budget, so the others have fewer clips), two training seeds each, scored
# as in kokoro.sh and gnuspeech.sh on each synthesizer's test speakers alone, GnuSpeech's (a
# synthesizer neither arm heard) among them.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TEMPOKD_KOKORO_PYTHON=${TEMPOKD_KOKORO_PYTHON:-$HOME/.cache/tempokd/kokoro-venv/bin/python}
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-kokoro-share}
seed=21
voices=600
per_class=840
shipped_seed=6
six=espeak-ng,flite,mbrola,rhvoice,pico,kokoro
arms=($six ${six/kokoro/kokoro=3})
tested=(espeak-ng flite mbrola rhvoice kokoro gnuspeech)
training_seeds=(1 2)
source scripts/voices/synthesizer-ablation.sh

test_corpora
train_arms
report kokoro-share
