#!/usr/bin/env bash
# Writes the small compressed audio files the decoder tests read (engine/tests/fixtures/audio).
# WAV variants are generated inside the tests; these formats need real encoders.
#
# - tone-*: a 440 Hz tone in FLAC, Ogg/Vorbis and MP3 (sox, flac, oggenc, lame).
# - yes.*: the demo clip static/clips/yes-2s.wav in every format people record in, each beside
#   `NAME.ref.wav`, the reference decoder's output (16-bit): Opus in Ogg (opusenc; opusdec) and
#   in WebM, stereo and written to a pipe as a browser's MediaRecorder does, with no sizes or
#   cues (ffmpeg
#   with libopus both ways), AAC in M4A (ffmpeg), AIFF, μ-law and A-law WAV (ffmpeg),
#   Ogg/Vorbis (oggenc; oggdec) and MP3 (lame both ways).
#
# Needs Debian's sox, libsox-fmt-all, flac, vorbis-tools, lame, opus-tools and ffmpeg. Run from
# the repository root.
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

speech=static/clips/yes-2s.wav
ffmpeg=(ffmpeg -nostdin -loglevel error -y)
# References are written as 16-bit PCM WAV, whatever the decoder's own output.
reference() { "${ffmpeg[@]}" "$@" -c:a pcm_s16le "$out/$name.ref.wav"; }

name=yes.opus
opusenc --quiet --bitrate 24 "$speech" "$out/$name"
# opusdec dithers its 16-bit output; its float output is rounded to 16 bits here, without dither.
opusdec --quiet --float --rate 48000 "$out/$name" "$tmp/opus.wav"
reference -i "$tmp/opus.wav"

name=yes.webm
"${ffmpeg[@]}" -i "$speech" -ar 48000 -ac 2 -c:a libopus -b:a 32k -f webm pipe:1 > "$out/$name"
reference -c:a libopus -i "$out/$name"

name=yes.m4a
"${ffmpeg[@]}" -i "$speech" -c:a aac -b:a 48k "$out/$name"
reference -i "$out/$name"

name=yes.aiff
"${ffmpeg[@]}" -i "$speech" -c:a pcm_s16be "$out/$name"
reference -i "$out/$name"

for law in mulaw alaw; do
  name=yes-$law.wav
  "${ffmpeg[@]}" -i "$speech" -c:a "pcm_$law" "$out/$name"
  reference -i "$out/$name"
done

name=yes.ogg
oggenc --quiet -q 2 -o "$out/$name" "$speech"
oggdec --quiet -o "$out/$name.ref.wav" "$out/$name"

name=yes.mp3
lame --quiet -b 48 "$speech" "$out/$name"
lame --quiet --decode "$out/$name" "$out/$name.ref.wav"

ls -l "$out"
