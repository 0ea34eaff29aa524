#!/usr/bin/env bash
# The teacher's map as a KD target: the first-frame rollout as it is, without the query frame's
# own mass (renormalised), sharper (T = 0.5) or softer (T = 2), and both changes together, each
# distilled into one student (the first argument, default tc-resnet8, the cheapest) at
# λ = 0.25 with two training seeds, from the default models' 1 s stage of that student on their
# mixed-length corpus and with their teacher, for the steps of the curriculum's second stage
# (run `tempokd defaults` first, at least to its teacher and that student's first stage).
# Scored on the validation split (where the choice is made) and the test split. Writes
# docs/kd-target/STUDENT.md; resumable (a run newer than the teacher and the first stage is kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
student=${1:-tc-resnet8}
defaults=${DEFAULTS_WORK:-target/default-models}
work=${KD_TARGET_WORK:-target/kd-target}/$student
data="$defaults/data/mixed"
teacher="$defaults/teacher"
init="$defaults/students/$student/words-1s"
# The budget of the curriculum's second stage (engine/cli/src/curriculum.rs).
case $student in
  tc-resnet8 | tc-resnet14) steps=3000 batch=32 ;;
  *) steps=1000 batch=16 ;;
esac
for needed in "$data/manifest.csv" "$teacher/model.safetensors" "$init/model.safetensors"; do
  [ -f "$needed" ] || { echo "missing $needed: run tempokd defaults first" >&2; exit 1; }
done
# KD_TARGET_ARMS and KD_TARGET_SEEDS (space-separated) choose fewer runs.
read -ra arms <<< "${KD_TARGET_ARMS:-no-kd rollout without-query-frame T0.5 T2 without-query-frame+T0.5}"
read -ra training_seeds <<< "${KD_TARGET_SEEDS:-1 2}"
mkdir -p "$work"
for arm in "${arms[@]}"; do
  # Both settings spelt out in every arm: the command's defaults are one of the arms.
  flags=(--lambda 0.25 --teacher "$teacher")
  case $arm in
    no-kd) flags=(--lambda 0) ;;
    rollout) flags+=(--target-without-query-frame false --target-temperature 1) ;;
    without-query-frame) flags+=(--target-without-query-frame true --target-temperature 1) ;;
    T0.5) flags+=(--target-without-query-frame false --target-temperature 0.5) ;;
    T2) flags+=(--target-without-query-frame false --target-temperature 2) ;;
    without-query-frame+T0.5) flags+=(--target-without-query-frame true --target-temperature 0.5) ;;
  esac
  for seed in "${training_seeds[@]}"; do
    run="$work/$arm-seed$seed"
    # Stale once the first stage, or (with KD) the teacher, was made again.
    if ! [ "$run/training.json" -nt "$init/model.safetensors" ] ||
      { [ "$arm" != no-kd ] && ! [ "$run/training.json" -nt "$teacher/model.safetensors" ]; }; then
      "$tempokd" train-student --arch "$student" --data "$data" --out "$run" --init "$init" \
        --steps $steps --batch $batch --lr 0.0005 --lr-after 0.00005 --eval-every 100 \
        --seed "$seed" "${flags[@]}" > "$run.log" 2>&1
    fi
    for split in validation test; do
      if ! [ "$run/$split.json" -nt "$run/training.json" ]; then
        "$tempokd" eval --model "$run" --data "$data" --split $split --json > "$run/$split.json.part"
        mv "$run/$split.json.part" "$run/$split.json"
      fi
    done
  done
done
mkdir -p docs/kd-target
python3 scripts/kd-target/summarise.py "$work" "$student" "$steps" "$batch" \
  "${training_seeds[*]}" "${arms[@]}" > "docs/kd-target/$student.md"
echo "wrote docs/kd-target/$student.md"
