#!/usr/bin/env bash
# Fresh effects for the teacher: the curriculum's three teacher stages (engine/cli/src/
# curriculum.rs, the shipped sizes) trained twice on the default models' corpora, once on the
# clips as the corpus made them and once with every effect (speed, formants, room, microphone,
# clipping) drawn afresh for every clip at every step (`train-teacher --fresh-effects all`).
# Each arm's stage starts from that arm's stage before it. Both arms are scored on the
# validation split at each stage and, at the end, on the test corpus at every length (underlying
# voices no stage trains on; the teacher after its two stages on 1 s clips too, on the 1 s
# clips). Writes docs/teacher-effects/results.md; resumable (a finished
# stage or score is kept).
#
# The arm without fresh effects runs the very commands of the shipped teacher's stages, which are
# deterministic on one machine: TEACHER_EFFECTS_REUSE_STAGES=1 takes its stages from the
# repository's stages/ instead of training them again, once its first stage, trained here, is
# byte for byte the one kept there (else it stops).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
defaults=${DEFAULTS_WORK:-target/default-models}
work=${TEACHER_EFFECTS_WORK:-target/teacher-effects}
synthesizers=espeak-ng,flite,mbrola,rhvoice,pico
mkdir -p "$work" "$defaults/data"

# The default models' corpora, each with the command `tempokd defaults` records for it (so
# `defaults` takes them up in the same folder).
corpus() {
  local name=$1 lengths=$2 per_class=$3 augment=$4 splits=${5:-}
  local dir="$defaults/data/$name"
  local args=(--length "$lengths" --per-class "$per_class" --voices 600
    --synthesizers "$synthesizers" --seed 6 --augment "$augment")
  [ -n "$splits" ] && args+=(--splits "$splits")
  if [ ! -f "$dir/manifest.csv" ]; then
    "$tempokd" synth --out "$dir" "${args[@]}" > "$work/synth-$name.log"
    echo "tempokd synth --out $dir ${args[*]}" > "$dir/synth-command.txt"
  fi
}
corpus words-1s 1 2000 all
corpus mixed 1,2,4,6,8 800 all
corpus test 1,2,4,6,8 4200 none test

shape=(--hidden 192 --layers 4 --heads 4 --conv-channels 64)
# stage ARM NAME DATA STEPS BATCH WARMUP SEED [INIT]: one teacher stage of ARM into $work/ARM/NAME.
stage() {
  local arm=$1 name=$2 data=$3 steps=$4 batch=$5 warmup=$6 seed=$7 init=${8:-}
  local out="$work/$arm/$name"
  [ -f "$out/training.json" ] && return
  local effects=none
  [ "$arm" = fresh-effects ] && effects=all
  local from=("${shape[@]}")
  [ -n "$init" ] && from=(--init "$work/$arm/$init")
  mkdir -p "$work/$arm"
  "$tempokd" train-teacher --data "$defaults/data/$data" --out "$out" --steps "$steps" \
    --batch "$batch" --lr 0.0005 --warmup "$warmup" --eval-every 250 --seed "$seed" \
    --fresh-effects "$effects" --resume "${from[@]}" > "$out.log" 2>&1
}

for arm in as-made fresh-effects; do
  stage "$arm" teacher-1s words-1s 4000 16 200 6
  if [ "$arm" = as-made ] && [ "${TEACHER_EFFECTS_REUSE_STAGES:-0}" = 1 ]; then
    cmp -s "$work/$arm/teacher-1s/model.safetensors" stages/teacher-1s/model.safetensors || {
      echo "the first stage trained here differs from stages/teacher-1s: train every stage" >&2
      exit 1
    }
    for kept in teacher-1s-restart teacher; do
      [ -d "$work/$arm/$kept" ] || cp -r "stages/$kept" "$work/$arm/$kept"
    done
  fi
  stage "$arm" teacher-1s-restart words-1s 6000 16 100 7 teacher-1s
  stage "$arm" teacher mixed 2000 8 50 6 teacher-1s-restart
done
for arm in as-made fresh-effects; do
  # The teacher after its stages on 1 s clips, on the test corpus's 1 s clips.
  keep "$work/$arm/test-restart-1s.json" "$tempokd" eval --model "$work/$arm/teacher-1s-restart" \
    --data "$defaults/data/test" --split test --length 1 --json
  for length in 1 2 4 6 8; do
    keep "$work/$arm/test-${length}s.json" "$tempokd" eval --model "$work/$arm/teacher" \
      --data "$defaults/data/test" --split test --length "$length" --json
  done
done

mkdir -p docs/teacher-effects
python3 scripts/teacher-effects/summarise.py "$work" > docs/teacher-effects/results.md
echo "wrote docs/teacher-effects/results.md"
