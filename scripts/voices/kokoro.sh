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
arms=(espeak-ng,flite,mbrola,rhvoice,pico espeak-ng,flite,mbrola,rhvoice,pico,kokoro)
tested=(espeak-ng flite mbrola rhvoice kokoro)
training_seeds=(1 2)
mkdir -p "$work/shipped"

corpus() { # OUT SYNTHESIZERS SEED CLIPS_PER_CLASS [synth arguments...]
  local out=$1 chosen=$2 seed=$3 clips=$4; shift 4
  voice_corpus "$out" "$chosen" "$seed" "$clips" $voices "$@"
}

for synthesizer in "${tested[@]}"; do
  corpus "$work/test-$synthesizer" "$synthesizer" $seed $per_class --splits test
done
corpus "$work/pico-all" pico $seed $per_class --augment none --splits train
# Every Kokoro speaker as spoken: 200 clips per class over the three splits.
corpus "$work/kokoro-all" kokoro $shipped_seed 200 --augment none

for arm in "${arms[@]}"; do
  name=${arm//,/+}
  data="$work/data-1s-$name"
  corpus "$data" "$arm" $seed $per_class
  for training_seed in "${training_seeds[@]}"; do
    run="$work/tc-resnet8-$name-seed$training_seed"
    ablation_arm "$run" "$data" "$training_seed"
    for synthesizer in "${tested[@]}"; do
      keep "$run/test-$synthesizer.json" \
        "$tempokd" eval --model "$run" --data "$work/test-$synthesizer" --split test --json
    done
    keep "$run/pico-all-train.json" \
      "$tempokd" eval --model "$run" --data "$work/pico-all" --split train --json
  done
done

for model in static/models/*/; do
  name=$(basename "$model")
  for split in train validation test; do
    keep "$work/shipped/$name-kokoro-$split.json" \
      "$tempokd" eval --model "$model" --data "$work/kokoro-all" --split $split --json
  done
done

python3 scripts/voices/kokoro.py "$work" "$seed $shipped_seed $voices $per_class" \
  "${training_seeds[*]}" "${tested[*]}" "${arms[@]}" > docs/voices/kokoro.md
echo "wrote docs/voices/kokoro.md"
