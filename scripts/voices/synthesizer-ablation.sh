# Sourced by kokoro.sh, gnuspeech.sh, kokoro-share.sh, kokoro-english.sh and kokoro-accented.sh,
# after scripts/release-tempokd.sh: what a change to the synthesizers of a corpus buys on voices no
# model trained on. Set before sourcing: `work`, `voices`, `seed`, `per_class`, `shipped_seed`,
# `arms` (the corpora compared), `tested` (the synthesizers whose test split each run is scored on),
# `training_seeds`, and for score_shipped `added` (the synthesizer the shipped models are scored
# on). Every step is kept in $work and skipped when its output is there.

mkdir -p "$work/shipped"

corpus() { # OUT SYNTHESIZERS SEED CLIPS_PER_CLASS [synth arguments...]
  local out=$1 chosen=$2 seed=$3 clips=$4; shift 4
  voice_corpus "$out" "$chosen" "$seed" "$clips" $voices "$@"
}

# Each tested synthesizer's test split alone, and every clip of Pico, whose two speakers are in
# training with this seed.
test_corpora() {
  local synthesizer
  for synthesizer in "${tested[@]}"; do
    corpus "$work/test-$synthesizer" "$synthesizer" $seed $per_class --splits test
  done
  corpus "$work/pico-all" pico $seed $per_class --augment none --splits train
}

# Every shipped model on every clip of a corpus of the added synthesizer alone (200 per class,
# as spoken).
score_shipped() {
  local model name split
  corpus "$work/$added-all" "$added" $shipped_seed 200 --augment none
  for model in static/models/*/; do
    name=$(basename "$model")
    for split in train validation test; do
      keep "$work/shipped/$name-$added-$split.json" \
        "$tempokd" eval --model "$model" --data "$work/$added-all" --split $split --json
    done
  done
}

# train_arm ARM TRAINING_SEED: TC-ResNet8 trained on the arm's corpus, scored on each tested
# synthesizer's test split and on every clip of Pico. An arm is a list of synthesizers, each
# with a factor on its share of the voices where it has one (`kokoro=3`: synth's --emphasis).
train_arm() {
  local arm=$1 training_seed=$2 synthesizer
  local data="$work/data-1s-${arm//,/+}" run="$work/tc-resnet8-${arm//,/+}-seed$training_seed"
  local chosen emphasis
  chosen=$(sed 's/=[^,]*//g' <<< "$arm")
  emphasis=$(tr ',' '\n' <<< "$arm" | grep = | paste -sd, || true)
  corpus "$data" "$chosen" $seed $per_class ${emphasis:+--emphasis "$emphasis"}
  ablation_arm "$run" "$data" "$training_seed"
  for synthesizer in "${tested[@]}"; do
    keep "$run/test-$synthesizer.json" \
      "$tempokd" eval --model "$run" --data "$work/test-$synthesizer" --split test --json
  done
  keep "$run/pico-all-train.json" \
    "$tempokd" eval --model "$run" --data "$work/pico-all" --split train --json
}

# Every arm trained and scored once per training seed; every arm's first seed before any arm's
# second, so a sitting cut short leaves a comparison.
train_arms() {
  local training_seed arm
  for training_seed in "${training_seeds[@]}"; do
    for arm in "${arms[@]}"; do
      train_arm "$arm" "$training_seed"
    done
  done
}

# report NAME: the report, by scripts/voices/NAME.py (with `_` for `-`), into docs/voices/NAME.md.
report() {
  python3 "scripts/voices/${1//-/_}.py" "$work" "$seed $shipped_seed $voices $per_class" \
    "${training_seeds[*]}" "${tested[*]}" "${arms[@]}" > "docs/voices/$1.md"
  echo "wrote docs/voices/$1.md"
}
