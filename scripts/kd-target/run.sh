#!/usr/bin/env bash
# The teacher's map as a KD target: the first-frame rollout as it is, without the query frame's
# own mass (renormalised), sharper (T = 0.5) or softer (T = 2), and both changes together, each
# distilled into TC-ResNet8 (the cheapest student) at λ = 0.25 with two training seeds, from
# the default models' 1 s stage on their mixed-length corpus and with their teacher (run
# `tempokd defaults` first, at least to its teacher). Scored on the validation split (where
# the choice is made) and the test split. Writes docs/kd-target/results.md; resumable.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
defaults=${DEFAULTS_WORK:-target/default-models}
work=${KD_TARGET_WORK:-target/kd-target}
data="$defaults/data/mixed"
teacher="$defaults/teacher"
init="$defaults/students/tc-resnet8/words-1s"
for needed in "$data/manifest.csv" "$teacher/model.safetensors" "$init/model.safetensors"; do
  [ -f "$needed" ] || { echo "missing $needed: run tempokd defaults first" >&2; exit 1; }
done
arms=(no-kd rollout without-query-frame T0.5 T2 without-query-frame+T0.5)
training_seeds=(1 2)
mkdir -p "$work"
for arm in "${arms[@]}"; do
  flags=(--lambda 0.25 --teacher "$teacher")
  case $arm in
    no-kd) flags=(--lambda 0) ;;
    rollout) ;;
    without-query-frame) flags+=(--target-without-query-frame) ;;
    T0.5) flags+=(--target-temperature 0.5) ;;
    T2) flags+=(--target-temperature 2) ;;
    without-query-frame+T0.5) flags+=(--target-without-query-frame --target-temperature 0.5) ;;
  esac
  for seed in "${training_seeds[@]}"; do
    run="$work/$arm-seed$seed"
    [ -f "$run/training.json" ] ||
      "$tempokd" train-student --arch tc-resnet8 --data "$data" --out "$run" --init "$init" \
        --steps 3000 --batch 32 --lr 0.0005 --lr-after 0.00005 --eval-every 250 \
        --seed "$seed" "${flags[@]}" > "$run.log" 2>&1
    for split in validation test; do
      [ -f "$run/$split.json" ] ||
        "$tempokd" eval --model "$run" --data "$data" --split $split --json > "$run/$split.json"
    done
  done
done
mkdir -p docs/kd-target
python3 scripts/kd-target/summarise.py "$work" "${training_seeds[*]}" "${arms[@]}" \
  > docs/kd-target/results.md
echo "wrote docs/kd-target/results.md"
