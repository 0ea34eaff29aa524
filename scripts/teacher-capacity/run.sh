#!/usr/bin/env bash
# What holds the teacher back on 1 s clips: training time or its size. Experiments on the
# default models' corpora (as scripts/teacher-effects/run.sh makes them), each set beside the
# shipped teacher's own stages in stages/, which are deterministic on one machine:
#
# - longer at a low rate: the shipped warm restart (stages/teacher-1s-restart) trained 3,000
#   steps more at a tenth of its rate (5e-5, then 5e-6 for the last fifth), with and without
#   effects drawn afresh at every step (`--fresh-effects all`);
# - a larger teacher: the first stage (4,000 steps of 16 clips from random weights, the very
#   settings of stages/teacher-1s) with twice the convolution channels (128), or a wider
#   transformer (256); then the larger front end through the rest of the curriculum: its warm
#   restart (the settings of stages/teacher-1s-restart) and its mixed-length stage (those of
#   stages/teacher); and the larger front end's first stage with dropout (0.1).
#
# Every run is scored on the validation split as it trains and, at the end, on the test corpus's
# 1 s clips (underlying voices no run trains on); the mixed-length stage and the shipped teacher
# on the test corpus at every length. Writes docs/teacher-capacity/results.md;
# resumable (a finished run or score is kept, a stopped run goes on from its last scoring).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
defaults=${DEFAULTS_WORK:-target/default-models}
work=${TEACHER_CAPACITY_WORK:-target/teacher-capacity}
mkdir -p "$work"
for corpus in words-1s mixed test; do
  [ -f "$defaults/data/$corpus/manifest.csv" ] || {
    echo "no $defaults/data/$corpus: make the default models' corpora first" \
      "(scripts/teacher-effects/run.sh writes them, or \`tempokd defaults\`)" >&2
    exit 1
  }
done

# run NAME ARGS...: one teacher run on the 1 s corpus into $work/NAME, scored on the test
# corpus's 1 s clips.
run() {
  local name=$1
  shift
  local out="$work/$name"
  [ -f "$out/training.json" ] ||
    "$tempokd" train-teacher --data "$defaults/data/words-1s" --out "$out" --batch 16 \
      --eval-every 250 --resume "$@" > "$out.log" 2>&1
  keep "$work/$name-test-1s.json" "$tempokd" eval --model "$out" \
    --data "$defaults/data/test" --split test --length 1 --json
}

anneal=(--init stages/teacher-1s-restart --steps 3000 --lr 0.00005 --lr-after 0.000005
  --warmup 50 --seed 8)
# Two at a time: this machine has two cores and a run keeps about one busy.
run anneal-plain "${anneal[@]}" &
run anneal-fresh "${anneal[@]}" --fresh-effects all &
wait

first=(--steps 4000 --lr 0.0005 --warmup 200 --seed 6 --layers 4 --heads 4)
run conv-128 "${first[@]}" --hidden 192 --conv-channels 128 &
run hidden-256 "${first[@]}" --hidden 256 --conv-channels 64 &
wait

# The larger front end on through the curriculum: its warm restart (the settings of
# stages/teacher-1s-restart), then its mixed-length stage (those of stages/teacher), scored like
# the shipped teacher at every length.
mixed=$work/conv-128-mixed
curriculum() {
  run conv-128-restart --init "$work/conv-128" --steps 6000 --lr 0.0005 --warmup 100 --seed 7
  [ -f "$mixed/training.json" ] ||
    "$tempokd" train-teacher --data "$defaults/data/mixed" --out "$mixed" --batch 8 \
      --eval-every 250 --resume --init "$work/conv-128-restart" --steps 2000 --lr 0.0005 \
      --warmup 50 --seed 6 > "$mixed.log" 2>&1
  for length in 1 2 4 6 8; do
    for model in "$mixed" stages/teacher; do
      keep "$work/$(basename "$model")-test-${length}s.json" "$tempokd" eval --model "$model" \
        --data "$defaults/data/test" --split test --length "$length" --json
    done
  done
}
# Beside it, the 128-channel first stage again with every dropout rate at 0.1 (the shipped
# teacher trains without).
curriculum &
curriculum_job=$!
run conv-128-dropout "${first[@]}" --hidden 192 --conv-channels 128 --dropout 0.1 &
dropout_job=$!
wait "$curriculum_job"
wait "$dropout_job"

# The shipped stages, for comparison, on the same test clips.
for stage in teacher-1s teacher-1s-restart; do
  keep "$work/$stage-test-1s.json" "$tempokd" eval --model "stages/$stage" \
    --data "$defaults/data/test" --split test --length 1 --json
done

mkdir -p docs/teacher-capacity
python3 scripts/teacher-capacity/summarise.py "$work" > docs/teacher-capacity/results.md
echo "wrote docs/teacher-capacity/results.md"
