#!/usr/bin/env bash
# What the recorded speakers of MBROLA, RHVoice and Pico buy on voices no model trained on.
# Writes docs/voices/synthesizers.md from runs kept in target/voices-synthesizers (resumable: a
# finished corpus, run or score is reused).
#
# 1. TC-ResNet8 trained on 1 s corpora that differ only in their synthesizers (same seed, voices
#    and effects), twice each (two training seeds). The seed's split of speakers is the same for
#    every choice of synthesizers, so no arm trains on a test speaker of any other.
# 2. Every run scored on the test split of each synthesizer alone, and on every clip of a corpus
#    of Pico alone, a synthesizer the first two arms never heard.
# 3. The shipped models (espeak-ng and flite) on the test split of each synthesizer drawn with
#    their own seed (6), whose speakers they never trained on, and on every clip of Pico.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-synthesizers}
seed=21
# The shipped models' corpora's seed (`curriculum::SEED`): its test speakers are theirs.
shipped_seed=6
voices=600
# 84 test clips per class: about 1,000 per corpus, for intervals of about ±3 points.
per_class=840
arms=(espeak-ng,flite espeak-ng,flite,mbrola,rhvoice espeak-ng,flite,mbrola,rhvoice,pico)
synthesizers=(espeak-ng flite mbrola rhvoice pico)
# Pico's two speakers are both in the training split with seeds 21 and 6, so it has no test split
# (synth refuses one); every clip of it is scored instead.
tested=(espeak-ng flite mbrola rhvoice)
training_seeds=(1 2)
mkdir -p "$work/shipped"

corpus() { # OUT SYNTHESIZERS SEED [synth arguments...]
  local out=$1 chosen=$2 seed=$3; shift 3
  voice_corpus "$out" "$chosen" "$seed" $per_class $voices "$@"
}

score() { # MODEL DATA SPLIT OUT: skipped when the split has no clip
  [ -f "$4" ] && return
  grep -q ",$3," "$2/manifest.csv" || return 0
  "$tempokd" eval --model "$1" --data "$2" --split "$3" --json > "$4.part" && mv "$4.part" "$4"
}

for synthesizer in "${tested[@]}"; do
  corpus "$work/test-$synthesizer" "$synthesizer" $seed --splits test
  corpus "$work/shipped-test-$synthesizer" "$synthesizer" $shipped_seed --splits test
done
# Pico's speakers, as spoken.
corpus "$work/pico-all" pico $seed --augment none --splits train

for arm in "${arms[@]}"; do
  name=${arm//,/+}
  data="$work/data-1s-$name"
  corpus "$data" "$arm" $seed
  for training_seed in "${training_seeds[@]}"; do
    run="$work/tc-resnet8-$name-seed$training_seed"
    [ -f "$run/training.json" ] ||
      "$tempokd" train-student --arch tc-resnet8 --data "$data" --out "$run" --steps 6000 \
        --batch 32 --eval-every 500 --seed "$training_seed" > "$run.log" 2>&1
    for synthesizer in "${tested[@]}"; do
      score "$run" "$work/test-$synthesizer" test "$run/test-$synthesizer.json"
    done
    score "$run" "$work/pico-all" train "$run/pico-all-train.json"
  done
done

for model in static/models/*/; do
  name=$(basename "$model")
  for synthesizer in "${tested[@]}"; do
    score "$model" "$work/shipped-test-$synthesizer" test "$work/shipped/$name-$synthesizer.json"
  done
  score "$model" "$work/pico-all" train "$work/shipped/$name-pico-all-train.json"
done

python3 scripts/voices/synthesizers.py "$work" "$seed $shipped_seed $voices $per_class" \
  "${training_seeds[*]}" "${synthesizers[*]}" "${tested[*]}" "${arms[@]}" \
  > docs/voices/synthesizers.md
echo "wrote docs/voices/synthesizers.md"
