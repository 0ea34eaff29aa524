#!/usr/bin/env bash
# The six-synthesizer build's stages (stages/six-synthesizers, built sitting by sitting,
# stages/README.md): the teacher's stages and each student's first stage, beside the shipped
# build's (stages/), stage by stage, on test clips of 1 s
# whose speakers no stage of either trained on: the shipped build's test corpus (the five Debian
# synthesizers' test speakers), the six-synthesizer build's (the same speakers, other clips, and
# Kokoro's test speaker), and Kokoro's test speaker alone. Then the finished sets, model by model:
# the five-synthesizer set in $FIVE_MODELS (default: the set static/models held at commit
# $FIVE_SET_COMMIT, the last before the six-synthesizer set replaced it, taken from git) and the
# six-synthesizer set in $SIX_MODELS (default static/models), on the same three tests at L = 4
# and 8 s. Writes docs/voices/six-synthesizers.md from scores kept in
# target/voices-six (resumable); a stage or set not yet built is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-six}
five=target/default-models/data/test
six=target/six-synthesizers/data/test
for corpus in "$five" "$six"; do
  [ -f "$corpus/manifest.csv" ] || {
    echo "$corpus is missing: run the two builds' tempokd defaults (stages/README.md) first;" \
      "each makes its corpora before it trains" >&2
    exit 1
  }
done
mkdir -p "$work/scores"
groups=$(python3 scripts/voices/by_voice.py groups "$six/manifest.csv" "$work/groups")
kokoro=$(grep -m1 '^kokoro-' <<<"$groups")
# test_corpus five|six|kokoro: the folder of that test.
test_corpus() {
  case $1 in
    five) echo "$five" ;;
    six) echo "$six" ;;
    kokoro) echo "$work/groups/$kokoro" ;;
  esac
}

stages=(teacher-1s teacher-1s-restart teacher)
for arch in tc-resnet8 lstm-p crnn att-rnn mhatt-rnn; do stages+=("students/$arch/words-1s"); done
for stage in "${stages[@]}"; do
  [ -f "stages/six-synthesizers/$stage/model.safetensors" ] || continue
  for build in five six; do
    model=stages/$stage
    [ $build = six ] && model=stages/six-synthesizers/$stage
    for test in five six kokoro; do
      keep "$work/scores/$build-${stage//\//-}-$test.json" \
        "$tempokd" eval --model "$model" --data "$(test_corpus $test)" --split test --length 1 \
        --json
    done
  done
done

FIVE_SET_COMMIT=9100764
five_models=${FIVE_MODELS:-$work/five-set/static/models}
if [ -z "${FIVE_MODELS:-}" ] && [ ! -f "$five_models/index.json" ]; then
  mkdir -p "$work/five-set"
  git archive "$FIVE_SET_COMMIT" static/models | tar -x -C "$work/five-set"
fi
six_models=${SIX_MODELS:-static/models}
if [ -f "$six_models/index.json" ]; then
  for model in $(python3 -c 'import json, sys
print(" ".join(m["name"] for m in json.load(open(sys.argv[1]))["models"]))' \
      "$six_models/index.json"); do
    for build in five six; do
      folder=$five_models/$model
      [ $build = six ] && folder=$six_models/$model
      for test in five six kokoro; do
        for length in 4 8; do
          keep "$work/scores/set-$build-$model-$test-L$length.json" \
            "$tempokd" eval --model "$folder" --data "$(test_corpus $test)" --split test \
            --length $length --json
        done
      done
    done
  done
fi

python3 scripts/voices/six_synthesizers.py "$work" "$kokoro" > docs/voices/six-synthesizers.md
echo "wrote docs/voices/six-synthesizers.md"
