# Sourced by six-synthesizers.sh and seven-synthesizers.sh, after scripts/release-tempokd.sh: two
# builds of the shipped set side by side, on test clips whose speakers neither build trained on
# (both split speakers by the same seed). Set before sourcing: `work`; `old` and `new`, the two
# builds' names; for each, `${build}_stages` (its kept stages), `${build}_test` (its test corpus)
# and `${build}_models` (its finished set; the sets are left out while the new one has no
# index.json, and the old one must then have each of its models); `alone`, the synthesizers whose
# test speakers in the new build's test corpus are also scored alone (the first: what the new build
# added). Every score is kept in $work/scores and skipped when there.

# var NAME: the value of the variable NAME (a build's stages, test corpus or models).
var() { echo "${!1}"; }

for build in "$old" "$new"; do
  [ -f "$(var "${build}_test")/manifest.csv" ] || {
    echo "$(var "${build}_test") is missing: run both builds' tempokd defaults (stages/README.md) first;" \
      "each makes its corpora before it trains" >&2
    exit 1
  }
done
mkdir -p "$work/scores"
for synthesizer in "${alone[@]}"; do
  python3 scripts/voices/by_voice.py synthesizer "$(var "${new}_test")/manifest.csv" \
    "$work/alone" "$synthesizer"
done

# test_corpus TEST: the folder of a test, a build's test corpus or a synthesizer's speakers alone.
test_corpus() {
  case $1 in
    "$old" | "$new") var "$1_test" ;;
    *) echo "$work/alone/$1" ;;
  esac
}

tests=("$old" "$new" "${alone[@]}")

# Each stage the new build has kept, of both builds, at 1 s.
score_stages() {
  local stages=(teacher-1s teacher-1s-restart teacher) arch stage build test
  for arch in tc-resnet8 lstm-p crnn att-rnn mhatt-rnn; do stages+=("students/$arch/words-1s"); done
  for stage in "${stages[@]}"; do
    [ -f "$(var "${new}_stages")/$stage/model.safetensors" ] || continue
    for build in "$old" "$new"; do
      for test in "${tests[@]}"; do
        keep "$work/scores/$build-${stage//\//-}-$test.json" \
          "$tempokd" eval --model "$(var "${build}_stages")/$stage" --data "$(test_corpus "$test")" \
          --split test --length 1 --json
      done
    done
  done
}

# Every model of the new build's finished set and the old build's model of the same name, at the
# lengths of the targets.
score_sets() {
  local index model build test length
  index=$(var "${new}_models")/index.json
  [ -f "$index" ] || return 0
  for model in $(python3 -c 'import json, sys
print(" ".join(m["name"] for m in json.load(open(sys.argv[1]))["models"]))' "$index"); do
    for build in "$old" "$new"; do
      for test in "${tests[@]}"; do
        for length in 4 8; do
          keep "$work/scores/set-$build-$model-$test-L$length.json" \
            "$tempokd" eval --model "$(var "${build}_models")/$model" \
            --data "$(test_corpus "$test")" --split test --length $length --json
        done
      done
    done
  done
}
