#!/usr/bin/env bash
# The KD stage's learning rate, per architecture: the curriculum's second stage (mixed lengths,
# from the 1 s stage, 1,000 steps of 16 clips for a recurrent student) at each rate of RATES and
# each λ of LAMBDAS, for one student (the first argument, default att-rnn), from the default
# models' first stage of that student, on their mixed-length corpus, with their teacher, and with
# their seed unless RATES_SEED names another. Scored on the validation split (where a rate would
# be chosen) and on the test corpus's 4 s and 8 s clips (unseen underlying voices; the lengths of
# the targets). Writes
# docs/rates/STUDENT.md (STUDENT-seedN.md for another seed) and, over every run so far,
# docs/rates/README.md; resumable (a finished run or score is kept, so the shipped set's own runs
# at the curriculum's rate, stages/students/STUDENT/lambda-λ, can be copied in as
# seed6/STUDENT/rate-0.0005-lambda-λ instead of trained again, as the tables in docs/rates were).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
student=${1:-att-rnn}
defaults=${DEFAULTS_WORK:-target/default-models}
seed=${RATES_SEED:-6}
root=${RATES_WORK:-target/rates}
work=$root/seed$seed/$student
data="$defaults/data/mixed"
test_data="$defaults/data/test"
# The finished stages the shipped models were built from (stages/README.md).
teacher=stages/teacher
init=stages/students/$student/words-1s
case $student in
  tc-resnet8 | tc-resnet14) steps=3000 batch=32 ;;
  *) steps=1000 batch=16 ;;
esac
for needed in "$data/manifest.csv" "$test_data/manifest.csv" "$teacher/model.safetensors" \
  "$init/model.safetensors"; do
  [ -f "$needed" ] || { echo "missing $needed: run tempokd defaults --stages stages first" >&2; exit 1; }
done
# RATES and LAMBDAS (space-separated) choose other arms; the rate after three quarters of the
# steps is a tenth of the first, as in the curriculum. Beside the curriculum's rate, a lower one
# for the students with attention of their own (their accuracy fell mid-run at 5e-4), a higher
# one for the others (their curves were steady).
case $student in
  att-rnn | mhatt-rnn) other_rate=0.0001 ;;
  *) other_rate=0.001 ;;
esac
read -ra rates <<< "${RATES:-0.0005 $other_rate}"
read -ra lambdas <<< "${LAMBDAS:-0 0.1 0.25 0.5}"
mkdir -p "$work"
for rate in "${rates[@]}"; do
  after=$(python3 -c "print($rate / 10)")
  for lambda in "${lambdas[@]}"; do
    run="$work/rate-$rate-lambda-$lambda"
    guide=()
    [ "$lambda" = 0 ] || guide=(--teacher "$teacher")
    [ -f "$run/training.json" ] ||
      "$tempokd" train-student --arch "$student" --data "$data" --out "$run" --init "$init" \
        "${guide[@]}" --lambda "$lambda" --steps $steps --batch $batch --lr "$rate" \
        --lr-after "$after" --eval-every 100 --seed $seed > "$run.log" 2>&1
    keep "$run/validation.json" "$tempokd" eval --model "$run" --data "$data" --split validation --json
    for length in 4 8; do
      keep "$run/test-L$length.json" "$tempokd" eval --model "$run" --data "$test_data" \
        --split test --length $length --json
    done
  done
done
mkdir -p docs/rates
page=docs/rates/$student.md
[ "$seed" = 6 ] || page=docs/rates/$student-seed$seed.md
python3 scripts/rates/summarise.py "$work" "$student" "$steps" "$batch" "$seed" "${rates[*]}" \
  "${lambdas[@]}" > "$page"
python3 scripts/rates/overview.py "$root" > docs/rates/README.md
echo "wrote $page and docs/rates/README.md"
