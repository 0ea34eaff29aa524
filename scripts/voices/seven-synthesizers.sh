#!/usr/bin/env bash
# The seven-synthesizer build's stages (stages/seven-synthesizers, built sitting by sitting,
# stages/README.md), beside the six-synthesizer build's (stages/six-synthesizers), stage by stage,
# on test clips of 1 s whose speakers no stage of either trained on: the six-synthesizer build's
# test corpus, the seven-synthesizer build's (the same speakers, other clips, and four of Kokoro's
# English speakers), those four English speakers alone and Kokoro's Japanese-made test speaker
# alone. Then the finished sets, model by model: the six-synthesizer set in $SIX_MODELS (default
# static/models) and the seven-synthesizer set in $SEVEN_MODELS (default the build's own models
# folder), on the same tests at L = 4 and 8 s. Writes docs/voices/seven-synthesizers.md from
# scores kept in target/voices-seven (resumable); a stage or set not yet built is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TEMPOKD names a tempokd binary to use instead of building one.
source scripts/release-tempokd.sh
work=${VOICES_WORK:-target/voices-seven}
old=six
six_stages=stages/six-synthesizers
six_test=target/six-synthesizers/data/test
six_models=${SIX_MODELS:-static/models}
new=seven
seven_stages=stages/seven-synthesizers
seven_test=target/seven-synthesizers/data/test
seven_models=${SEVEN_MODELS:-target/seven-synthesizers/models}
alone=(kokoro-english kokoro)
source scripts/voices/set-comparison.sh

score_stages
score_sets
python3 scripts/voices/seven_synthesizers.py "$work" > docs/voices/seven-synthesizers.md
echo "wrote docs/voices/seven-synthesizers.md"
