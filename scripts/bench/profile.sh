#!/usr/bin/env bash
# Where one of the page's threads spends its time while a student trains on the CPU: Chromium's
# sampling profiler on the training workers (`worker`) or on the page's own thread (`page`, with
# every stretch of 50 ms or more on its own) for SECONDS of training, or on the page's own thread
# while live mode listens with every model (`live`, STUDENT unused), printed as the share of
# samples per function (its own time, then with what it calls). Function names are needed, and
# wasm-opt strips them, so this builds the page and the CPU worker in release without wasm-opt
# and puts them into a copy of a release dist (the other files as `trunk build --release` left
# them).
#
#   trunk build --release --offline --dist target/dist-release
#   scripts/bench/profile.sh [THREAD (worker)] [STUDENT (tc-resnet8)] [SECONDS (20)]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
install_build_tools
thread="${1:-worker}"
student="${2:-tc-resnet8}"
seconds="${3:-20}"
release=target/dist-release
[ -f "$release/index.html" ] || { echo "no release build in $release: run trunk build --release --offline --dist $release" >&2; exit 1; }
say "building the page and the CPU worker in release, names kept"
cargo build --release --target wasm32-unknown-unknown -p tempokd-app --bin tempokd-app
cargo build --release --target wasm32-unknown-unknown -p tempokd-app --bin tempokd-cpu-worker --features models
dist=target/dist-profile
rm -rf "$dist"
cp -r "$release" "$dist"
built="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release"
wasm-bindgen --target web --no-typescript --out-dir "$dist" --out-name tempokd-app "$built/tempokd-app.wasm"
# The page's script is new, so the subresource-integrity hashes Trunk wrote no longer fit it.
sed -i 's/ integrity="[^"]*"//g' "$dist/index.html"
wasm-bindgen --target no-modules --no-typescript --out-dir "$dist" --out-name tempokd-cpu-worker \
  "$built/tempokd-cpu-worker.wasm"
if [ "$thread" = live ]; then
  say "profiling the page's thread while live mode listens for $seconds s"
else
  say "profiling the $thread thread while $student trains for $seconds s"
fi
TEMPOKD_DIST="$dist" node scripts/bench/profile.mjs "$thread" "$student" "$seconds"
