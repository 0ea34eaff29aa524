#!/usr/bin/env bash
# The teacher's last stage (clips of every length) at a gentler rate. As shipped (2,000 steps of
# 8 clips at 5e-4, then 5e-5 for the last fifth) it scored 63-72 % on validation until its rate
# fell, and named fewer 1 s test clips right than the warm restart it started from, in both the
# six- and the seven-synthesizer build. Here the same stage from the same warm restarts, with the
# same seed, clips and steps, at a fifth of the rate (1e-4, then 1e-5), for both builds. Every
# teacher, the warm restarts and the last stages at 5e-4 too, is scored on both builds' test
# corpora at 1, 4 and 8 s (underlying voices no run trains on). (The students' second stage was
# measured at other rates in scripts/rates/.) Writes docs/last-stage-rate/results.md; resumable
# (a finished run or score is kept, a stopped run goes on from its last scoring).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${LAST_STAGE_RATE_WORK:-target/last-stage-rate}
builds=(six seven)
gentle_rate=(--lr 0.0001 --lr-after 0.00001)
for build in "${builds[@]}"; do
  for corpus in mixed test; do
    [ -f "target/$build-synthesizers/data/$corpus/manifest.csv" ] || {
      echo "no target/$build-synthesizers/data/$corpus: run the $build-synthesizer set's" \
        "tempokd defaults (stages/README.md) first" >&2
      exit 1
    }
  done
done
mkdir -p "$work/scores"
# The last stages at 5e-4 as kept before the curriculum moved to the gentler rate (the
# six-synthesizer one shipped until then).
earlier_commit=9e6e8f6
earlier=$work/earlier
for build in "${builds[@]}"; do
  [ -f "$earlier/stages/$build-synthesizers/teacher/model.safetensors" ] || {
    mkdir -p "$earlier"
    git archive "$earlier_commit" "stages/$build-synthesizers/teacher" | tar -x -C "$earlier"
  }
done

# teacher BUILD: the build's last teacher stage at the gentler rate, into $work/BUILD-gentle.
teacher() {
  local build=$1 out="$work/$1-gentle"
  [ -f "$out/training.json" ] ||
    "$tempokd" train-teacher --data "target/$build-synthesizers/data/mixed" --out "$out" \
      --init "stages/$build-synthesizers/teacher-1s-restart" --steps 2000 --batch 8 \
      "${gentle_rate[@]}" --warmup 50 --eval-every 250 --seed 6 --resume > "$out.log" 2>&1
}
# Two at a time: this machine has two cores and a run keeps about one busy.
runs=()
for build in "${builds[@]}"; do
  teacher "$build" &
  runs+=($!)
done
# One by one, so a run that failed stops the script here (its log says why).
for run in "${runs[@]}"; do wait "$run"; done

# The new runs first: what decides is scored soonest.
for stage in gentle teacher teacher-1s-restart; do
  for model_build in "${builds[@]}"; do
    model=stages/$model_build-synthesizers/$stage name=$model_build-$stage
    [ "$stage" = teacher ] && model=$earlier/$model
    [ "$stage" = gentle ] && model=$work/$model_build-gentle
    for test_build in "${builds[@]}"; do
      for length in 1 4 8; do
        keep "$work/scores/$name-$test_build-L$length.json" "$tempokd" eval --model "$model" \
          --data "target/$test_build-synthesizers/data/test" --split test --length "$length" --json
      done
    done
  done
done
mkdir -p docs/last-stage-rate
python3 scripts/last-stage-rate/summarise.py "$work" > docs/last-stage-rate/results.md
echo "wrote docs/last-stage-rate/results.md"
