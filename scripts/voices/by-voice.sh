#!/usr/bin/env bash
# Where on unseen voices the shipped models fail: every model in static/models scored on its own
# test split (the corpus its teacher's card names), clip by clip grouped by the voice that spoke
# it: each MBROLA, RHVoice and flite speaker alone, espeak-ng's timbres together (a few dozen
# clips each), and the clips with no voice (`_silence_`). Writes docs/voices/by-voice.md from
# scores kept in target/voices-by-voice (resumable: a finished score is reused).
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-by-voice}
lengths=(4 8)
card=static/models/teacher/README.md

# The test corpus is made by the very command on the teacher's card; one already made by it (in
# the folder the card names, e.g. by `tempokd defaults`) is reused.
command=$(grep -m1 -E '^tempokd synth .*--splits test' "$card") ||
  { echo "$card names no test corpus (a 'tempokd synth ... --splits test' line)" >&2; exit 1; }
test_dir=$(sed -E 's/.*--out ([^ ]+).*/\1/' <<<"$command")
if ! { [ -f "$test_dir/synth-command.txt" ] && [ "$(cat "$test_dir/synth-command.txt")" = "$command" ]; }; then
  # shellcheck disable=SC2086 # the card's command, word by word
  "$tempokd" ${command#tempokd }
fi

# One folder a group: the test rows of the group's voices, beside a link to the corpus's clips.
groups=$(python3 scripts/voices/by_voice.py groups "$test_dir/manifest.csv" "$work")
for group in $groups; do
  for model in static/models/*/; do
    name=$(basename "$model")
    for length in "${lengths[@]}"; do
      out="$work/scores/$name-$group-L$length.json"
      [ -f "$out" ] && continue
      mkdir -p "$work/scores"
      "$tempokd" eval --model "$model" --data "$work/$group" --length "$length" --json \
        > "$out.part" && mv "$out.part" "$out"
    done
  done
done

python3 scripts/voices/by_voice.py table "$test_dir/manifest.csv" "$work" "$command" \
  "${lengths[@]}" > docs/voices/by-voice.md
echo "wrote docs/voices/by-voice.md"
