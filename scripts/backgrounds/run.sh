#!/usr/bin/env bash
# Backgrounds: what the newer noise kinds (mains hum, babble, music-like tones) on training clips
# buy over the stationary noises alone (white, pink, brown). Writes docs/backgrounds/results.md
# from runs kept in target/backgrounds (resumable: a finished corpus or run is reused).
#
# TC-ResNet8 trained on 1 s corpora that differ only in the backgrounds of their training clips,
# twice each (two training seeds), scored on their common validation and test splits, whose clips
# carry all six kinds and whose underlying voices no training clip has (the shipped models'
# voices: --voices 600 --seed 6, all five synthesizers), overall and by the test clip's
# background.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${BACKGROUNDS_WORK:-target/backgrounds}
seed=6
voices=600
# 84 test clips per class: about 1,000 per corpus, for intervals of about ±3 points.
per_class=840
arms=(white,pink,brown white,pink,brown,hum,babble,tones)
training_seeds=(1 2)
mkdir -p "$work"

for arm in "${arms[@]}"; do
  name=${arm//,/+}
  data="$work/data-1s-$name"
  [ -f "$data/manifest.csv" ] ||
    "$tempokd" synth --out "$data" --length 1 --per-class $per_class --voices $voices \
      --seed $seed --training-backgrounds "$arm" > "$data.log"
done

# The test clips of each background apart, as folders of their own manifest (the clips are the
# same files in every arm's corpus).
python3 scripts/backgrounds/by_background.py "$work/data-1s-${arms[-1]//,/+}" "$work/test-by-background"

for arm in "${arms[@]}"; do
  name=${arm//,/+}
  data="$work/data-1s-$name"
  for training_seed in "${training_seeds[@]}"; do
    run="$work/tc-resnet8-$name-seed$training_seed"
    ablation_arm "$run" "$data" "$training_seed"
    for folder in "$work"/test-by-background/*/; do
      kind=$(basename "$folder")
      keep "$run/test-$kind.json" "$tempokd" eval --model "$run" --data "$folder" --json
    done
  done
done

python3 scripts/backgrounds/summarise.py "$work" "${training_seeds[*]}" "${arms[@]}" \
  > docs/backgrounds/results.md
echo "wrote docs/backgrounds/results.md"
