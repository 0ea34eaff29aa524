#!/usr/bin/env bash
# The six-synthesizer build's stages (stages/six-synthesizers, built sitting by sitting,
# stages/README.md): the teacher's and each student's first stage without KD, beside the shipped
# build's (stages/), stage by stage, on test clips of 1 s
# whose speakers no stage of either trained on: the shipped build's test corpus (the five Debian
# synthesizers' test speakers), the six-synthesizer build's (the same speakers, other clips, and
# Kokoro's test speaker), and Kokoro's test speaker alone. Writes docs/voices/six-synthesizers.md
# from scores kept in target/voices-six (resumable); a stage not yet built is left out.
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

stages=(teacher-1s teacher-1s-restart teacher)
for arch in tc-resnet8 lstm-p crnn att-rnn mhatt-rnn; do stages+=("students/$arch/words-1s"); done
for stage in "${stages[@]}"; do
  [ -f "stages/six-synthesizers/$stage/model.safetensors" ] || continue
  for build in five six; do
    model=stages/$stage
    [ $build = six ] && model=stages/six-synthesizers/$stage
    for test in five six kokoro; do
      case $test in
        five) data=$five ;;
        six) data=$six ;;
        kokoro) data=$work/groups/$kokoro ;;
      esac
      keep "$work/scores/$build-${stage//\//-}-$test.json" \
        "$tempokd" eval --model "$model" --data "$data" --split test --length 1 --json
    done
  done
done

python3 scripts/voices/six_synthesizers.py "$work" "$kokoro" > docs/voices/six-synthesizers.md
echo "wrote docs/voices/six-synthesizers.md"
