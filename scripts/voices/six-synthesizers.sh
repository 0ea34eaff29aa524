#!/usr/bin/env bash
# The six-synthesizer build's stages (stages/six-synthesizers, built sitting by sitting,
# stages/README.md): the teacher's stages and each student's first stage, beside the
# five-synthesizer build's (stages/), stage by stage, on test clips of 1 s whose speakers no stage
# of either trained on: the five-synthesizer build's test corpus (the five Debian synthesizers'
# test speakers), the six-synthesizer build's (the same speakers, other clips, and Kokoro's test
# speaker), and Kokoro's test speaker alone. Then the finished sets, model by model: the
# five-synthesizer set in $FIVE_MODELS (default: the set static/models held at commit
# $FIVE_SET_COMMIT, the last before the six-synthesizer set replaced it, taken from git) and the
# six-synthesizer set in $SIX_MODELS (default static/models), on the same three tests at L = 4
# and 8 s. Writes docs/voices/six-synthesizers.md from scores kept in target/voices-six
# (resumable); a stage or set not yet built is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-six}
old=five
five_stages=stages
five_test=target/default-models/data/test
FIVE_SET_COMMIT=9100764
five_models=${FIVE_MODELS:-$work/five-set/static/models}
if [ -z "${FIVE_MODELS:-}" ] && [ ! -f "$five_models/index.json" ]; then
  mkdir -p "$work/five-set"
  git archive "$FIVE_SET_COMMIT" static/models | tar -x -C "$work/five-set"
fi
new=six
six_stages=stages/six-synthesizers
six_test=target/six-synthesizers/data/test
six_models=${SIX_MODELS:-static/models}
alone=(kokoro)
source scripts/voices/set-comparison.sh

score_stages
score_sets
python3 scripts/voices/six_synthesizers.py "$work" > docs/voices/six-synthesizers.md
echo "wrote docs/voices/six-synthesizers.md"
