#!/usr/bin/env bash
# Unseen voices: what the effects on training clips buy, and how the shipped models do on voices
# they never heard. Writes docs/voices/results.md from runs kept in target/voices (resumable:
# a finished corpus or run is reused).
#
# 1. Ablation: TC-ResNet8 trained on 1 s corpora that differ only in the effects applied to their
#    training clips (none; all; the speaker's; the channel's; all but formants; all but speed),
#    twice each (two training seeds),
#    scored on their common test split, whose underlying voices no training clip has.
#    Each run is also scored on those test clips through every effect.
# 2. The shipped models (static/models) on the test split of the same voices at L = 1 s and 4 s
#    (VOICES_SHIPPED=0 leaves this out).
#
# The voices are seed 21's of espeak-ng and flite unless VOICES_SEED and VOICES_SYNTHESIZERS say
# otherwise; VOICES_RESULTS names the file written. The shipped models' voices, all five
# synthesizers, ablation only:
#   VOICES_SEED=6 VOICES_SYNTHESIZERS=espeak-ng,flite,mbrola,rhvoice,pico VOICES_SHIPPED=0 \
#     VOICES_WORK=target/voices-five VOICES_RESULTS=docs/voices/results-five-synthesizers.md \
#     scripts/voices/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices}
seed=${VOICES_SEED:-21}
synthesizers=${VOICES_SYNTHESIZERS:-espeak-ng,flite}
results=${VOICES_RESULTS:-docs/voices/results.md}
voices=600
# 84 test clips per class: about 1,000 per corpus, for intervals of about ±3 points.
per_class=840
arms=(none all speed,formant room,mic,clip speed,room,mic,clip formant,room,mic,clip)
training_seeds=(1 2)
mkdir -p "$work"

# The same test clips with every effect drawn as for training: unseen voices through rooms,
# microphones and clipping.
through="$work/test-1s-effects"
[ -f "$through/manifest.csv" ] ||
  "$tempokd" synth --out "$through" --length 1 --per-class $per_class --voices $voices \
    --seed "$seed" --synthesizers "$synthesizers" --augment all --augment-splits test --splits test

for arm in "${arms[@]}"; do
  name=${arm//,/+}
  data="$work/data-1s-$name"
  [ -f "$data/manifest.csv" ] ||
    "$tempokd" synth --out "$data" --length 1 --per-class $per_class --voices $voices \
      --seed "$seed" --synthesizers "$synthesizers" --augment "$arm"
  for training_seed in "${training_seeds[@]}"; do
    run="$work/tc-resnet8-$name-seed$training_seed"
    ablation_arm "$run" "$data" "$training_seed"
    keep "$run/test-effects.json" "$tempokd" eval --model "$run" --data "$through" --split test \
      --json
  done
done

# The test split alone, at 4 s, for the shipped models (its clips are those a whole corpus with
# these settings would hold, so its voices are the ablation's test voices).
if [ "${VOICES_SHIPPED:-1}" != 0 ]; then
  test4="$work/test-4s"
  [ -f "$test4/manifest.csv" ] ||
    "$tempokd" synth --out "$test4" --length 4 --per-class $per_class --voices $voices \
      --seed "$seed" --synthesizers "$synthesizers" --splits test
  for model in static/models/*/; do
    name=$(basename "$model")
    for length in 1 4; do
      data="$work/data-1s-none"; [ $length = 4 ] && data="$test4"
      out="$work/shipped/$name-L$length.json"
      mkdir -p "$work/shipped"
      keep "$out" "$tempokd" eval --model "$model" --data "$data" --split test --json
    done
  done
fi

python3 scripts/voices/summarise.py "$work" "$seed" "$synthesizers" "${training_seeds[*]}" "${arms[@]}" \
  > "$results"
echo "wrote $results"
