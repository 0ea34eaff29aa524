#!/usr/bin/env bash
# What Kokoro's voices made for other languages buy on voices no model trained on. Writes
# docs/voices/kokoro-accented.md from runs kept in target/voices-kokoro-accented (resumable: a
# finished corpus, run or score is reused).
#
# 1. TC-ResNet8 trained on two 1 s corpora that differ only in Kokoro's 19 voices made for
#    Spanish, French, Hindi, Italian, Portuguese and Mandarin (17 speakers; the seven synthesizers
#    of the next set, and those with kokoro-accented; same seed, voices and clip budget as
#    kokoro-english.sh), twice each (two training seeds). The seed splits every synthesizer's
#    speakers the same way in both, so neither arm trains on a test speaker of any synthesizer.
# 2. Every run scored on the test split of each synthesizer alone, and on every clip of Pico.
# 3. The shipped models (none trained on these voices) on every clip of a corpus of them alone.
#
# The seven-synthesizer arm and the test corpora of the synthesizers both scripts test are
# kokoro-english.sh's (same commands, same seeds, and the same clips: the new synthesizer changes
# no draw of a corpus without it): where its work folder has them finished, they are hard-linked in
# rather than made again.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TEMPOKD_KOKORO_PYTHON=${TEMPOKD_KOKORO_PYTHON:-$HOME/.cache/tempokd/kokoro-venv/bin/python}
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-kokoro-accented}
seed=21
voices=600
per_class=840
shipped_seed=6
added=kokoro-accented
seven=espeak-ng,flite,mbrola,rhvoice,pico,kokoro,kokoro-english
arms=($seven $seven,kokoro-accented)
tested=(espeak-ng flite mbrola rhvoice kokoro kokoro-english kokoro-accented)
training_seeds=(1 2)
source scripts/voices/synthesizer-ablation.sh

english=${KOKORO_ENGLISH_WORK:-target/voices-kokoro-english}
for folder in data-1s-${seven//,/+} tc-resnet8-${seven//,/+}-seed1 tc-resnet8-${seven//,/+}-seed2 \
    pico-all $(printf 'test-%s ' "${tested[@]}"); do
  # A corpus is finished once it has its manifest, a run once it has its training record.
  if { [ -f "$english/$folder/manifest.csv" ] || [ -f "$english/$folder/training.json" ]; } &&
    [ ! -e "$work/$folder" ]; then
    cp -al "$english/$folder" "$work/$folder"
    [ -f "$english/$folder.log" ] && cp -l "$english/$folder.log" "$work/$folder.log"
  fi
done

test_corpora
train_arms
score_shipped
report kokoro-accented
