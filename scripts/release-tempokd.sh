# Sourced by the experiment scripts, from the repository root: sets `tempokd` to the binary
# named by $TEMPOKD, or builds the release CLI (cached in $CARGO_TARGET_DIR) and names that.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tempokd/target}"
tempokd=${TEMPOKD:-}
if [ -z "$tempokd" ]; then
  cargo build --release -p tempokd-cli
  tempokd="$CARGO_TARGET_DIR/release/tempokd"
fi

# keep OUT COMMAND...: runs COMMAND with its standard output in OUT, unless OUT is there already
# (the experiment scripts resume so); a run cut short leaves no OUT for the next to take as done.
keep() {
  local out=$1
  shift
  [ -f "$out" ] || { "$@" > "$out.tmp" && mv "$out.tmp" "$out"; }
}

# voice_corpus OUT SYNTHESIZERS SEED CLIPS_PER_CLASS VOICES [synth arguments...]: the voice
# experiments' 1 s corpus, made unless OUT already holds one.
voice_corpus() {
  local out=$1 chosen=$2 seed=$3 clips=$4 voices=$5; shift 5
  [ -f "$out/manifest.csv" ] ||
    "$tempokd" synth --out "$out" --length 1 --per-class "$clips" --voices "$voices" \
      --synthesizers "$chosen" --seed "$seed" "$@"
}

# ablation_arm RUN DATA SEED: the ablations' student, TC-ResNet8 for 6,000 steps of 32 clips
# without KD, trained on DATA into RUN (unless there already) and scored on DATA's test split.
ablation_arm() {
  local run=$1 data=$2 seed=$3
  [ -f "$run/training.json" ] ||
    "$tempokd" train-student --arch tc-resnet8 --data "$data" --out "$run" --steps 6000 \
      --batch 32 --eval-every 500 --seed "$seed" > "$run.log" 2>&1
  keep "$run/test.json" "$tempokd" eval --model "$run" --data "$data" --split test --json
}
