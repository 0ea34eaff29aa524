#!/usr/bin/env bash
# Writes the small compressed audio files the decoder tests read (engine/tests/fixtures/audio).
# WAV variants are generated inside the tests; these formats need real encoders.
# Needs Debian's sox, libsox-fmt-all, flac, vorbis-tools and lame. Run from the repository root.
set -euo pipefail
out=engine/tests/fixtures/audio
mkdir -p "$out"
# 0.6 s of a 440 Hz sine at -6 dBFS, faded in and out so lossy codecs add no clicks.
tone() { sox -n -r "$1" -c "$2" -b 16 "$3" synth 0.6 sine 440 gain -6 fade 0.01 0.6 0.01; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tone 44100 2 "$tmp/a.wav" && flac --silent --force -o "$out/tone-44100-stereo.flac" "$tmp/a.wav"
tone 22050 1 "$tmp/b.wav" && oggenc --quiet -q 4 -o "$out/tone-22050-mono.ogg" "$tmp/b.wav"
tone 48000 2 "$tmp/c.wav" && lame --quiet -b 128 "$tmp/c.wav" "$out/tone-48000-stereo.mp3"
tone 8000 1 "$tmp/d.wav" && lame --quiet -b 32 --resample 8 "$tmp/d.wav" "$out/tone-8000-mono.mp3"
ls -l "$out"
