#!/usr/bin/env bash
# Times the default teacher's training: its two corpora, then its two stages with the commands of
# static/models/teacher/README.md, into target/timing (the shipped model is not touched), and
# scores the result on the test split at 4 s. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
data=target/timing/data
out=target/timing
mkdir -p "$out"
"$tempokd" synth --out "$data/words-1s" --length 1 --per-class 2000 --voices 600 --seed 6 --augment all
"$tempokd" synth --out "$data/mixed" --length 1,2,4,6,8 --per-class 800 --voices 600 --seed 6 --augment all
started=$(date +%s)
"$tempokd" train-teacher --data "$data/words-1s" --out "$out/teacher-1s" --steps 3000 --batch 16 \
  --lr 0.0005 --warmup 200 --eval-every 250 --seed 6 --hidden 192 --layers 4 --heads 4 --conv-channels 64
halfway=$(date +%s)
"$tempokd" train-teacher --data "$data/mixed" --out "$out/teacher" --steps 1250 --batch 8 \
  --lr 0.0005 --warmup 50 --eval-every 250 --seed 6 --init "$out/teacher-1s"
finished=$(date +%s)
minutes() { awk -v s="$1" 'BEGIN { printf "%.1f", s / 60 }'; }
echo "stage 1 (1 s clips): $(minutes $((halfway - started))) min"
echo "stage 2 (mixed lengths): $(minutes $((finished - halfway))) min"
echo "both stages: $(minutes $((finished - started))) min"
"$tempokd" eval --model "$out/teacher" --data "$data/mixed" --length 4
