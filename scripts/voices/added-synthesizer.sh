# Sourced by kokoro.sh and gnuspeech.sh, after scripts/release-tempokd.sh: what one synthesizer
# added to a corpus buys on voices no model trained on. Set before sourcing: `work`, `voices`,
# `seed`, `per_class`, `shipped_seed`, `added` (the synthesizer's name), `arms` (without it, then
# with it), `tested` (the synthesizers whose test split each run is scored on) and
# `training_seeds`. Every step is kept in $work and skipped when its output is there.

mkdir -p "$work/shipped"

corpus() { # OUT SYNTHESIZERS SEED CLIPS_PER_CLASS [synth arguments...]
  local out=$1 chosen=$2 seed=$3 clips=$4; shift 4
  voice_corpus "$out" "$chosen" "$seed" "$clips" $voices "$@"
}

# Each tested synthesizer's test split alone; every clip of Pico, whose two speakers are in
# training with this seed; every clip of the added synthesizer alone (200 per class, as spoken).
test_corpora() {
  local synthesizer
  for synthesizer in "${tested[@]}"; do
    corpus "$work/test-$synthesizer" "$synthesizer" $seed $per_class --splits test
  done
  corpus "$work/pico-all" pico $seed $per_class --augment none --splits train
  corpus "$work/$added-all" "$added" $shipped_seed 200 --augment none
}

# Every shipped model on every clip of the added synthesizer.
score_shipped() {
  local model name split
  for model in static/models/*/; do
    name=$(basename "$model")
    for split in train validation test; do
      keep "$work/shipped/$name-$added-$split.json" \
        "$tempokd" eval --model "$model" --data "$work/$added-all" --split $split --json
    done
  done
}

# train_arm ARM TRAINING_SEED: TC-ResNet8 trained on the arm's corpus, scored on each tested
# synthesizer's test split and on every clip of Pico.
train_arm() {
  local arm=$1 training_seed=$2 synthesizer
  local data="$work/data-1s-${arm//,/+}" run="$work/tc-resnet8-${arm//,/+}-seed$training_seed"
  corpus "$data" "$arm" $seed $per_class
  ablation_arm "$run" "$data" "$training_seed"
  for synthesizer in "${tested[@]}"; do
    keep "$run/test-$synthesizer.json" \
      "$tempokd" eval --model "$run" --data "$work/test-$synthesizer" --split test --json
  done
  keep "$run/pico-all-train.json" \
    "$tempokd" eval --model "$run" --data "$work/pico-all" --split train --json
}

# The report, by scripts/voices/$added.py, into docs/voices/$added.md.
report() {
  python3 "scripts/voices/$added.py" "$work" "$seed $shipped_seed $voices $per_class" \
    "${training_seeds[*]}" "${tested[*]}" "${arms[@]}" > "docs/voices/$added.md"
  echo "wrote docs/voices/$added.md"
}
