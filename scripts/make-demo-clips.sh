#!/usr/bin/env bash
# Writes the demo clips the page offers (static/clips): a keyword spoken by espeak-ng or flite,
# placed inside pink noise, and clips.json with each keyword's window in seconds.
# Needs Debian's espeak-ng, flite and sox. Deterministic (sox -R). Run from the repository root.
set -euo pipefail
out=static/clips
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# file, engine, word, total length (s), keyword offset (s), title
clips=(
  "yes-2s.wav espeak-ng yes 2 0.7 yes (2 s, espeak-ng)"
  "stop-4s.wav flite stop 4 2.3 stop (4 s, flite)"
  "left-8s.wav espeak-ng left 8 5.6 left (8 s, espeak-ng)"
)
index="["
for entry in "${clips[@]}"; do
  read -r file engine word length offset title <<<"$entry"
  case "$engine" in
    espeak-ng) espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "$word" ;;
    flite) flite -voice slt -t "$word" -o "$tmp/raw.wav" ;;
  esac
  # Trim leading and trailing silence, so the window is the spoken word.
  sox -R "$tmp/raw.wav" -r 16000 -c 1 "$tmp/word.wav" \
    silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse norm -3
  word_s=$(soxi -D "$tmp/word.wav")
  sox -R -n -r 16000 -c 1 "$tmp/noise.wav" synth "$length" pinknoise vol 0.03
  sox -R "$tmp/word.wav" "$tmp/placed.wav" pad "$offset"
  sox -R -m -v 1 "$tmp/noise.wav" -v 1 "$tmp/placed.wav" -b 16 "$out/$file" trim 0 "$length"
  end=$(python3 -c "print(round($offset + $word_s, 3))")
  [ "$index" = "[" ] || index+=","
  index+=$'\n  '"{\"file\": \"$file\", \"title\": \"$title\", \"label\": \"$word\", \"start_s\": $offset, \"end_s\": $end}"
done
printf '%s\n]\n' "$index" > "$out/clips.json"
cat "$out/clips.json"
