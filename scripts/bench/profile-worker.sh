#!/usr/bin/env bash
# Where the page's CPU worker spends its time while a student trains: Chromium's sampling
# profiler on the worker for SECONDS of training, printed as the share of samples per function
# (its own time, then with what it calls). Function names are needed, and wasm-opt strips them,
# so this builds the CPU worker in release without wasm-opt and puts it into a copy of a release
# dist (the page and the other files as `trunk build --release` left them).
#
#   trunk build --release --offline --dist target/dist-release
#   scripts/bench/profile-worker.sh [STUDENT (tc-resnet8)] [SECONDS (20)]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
install_build_tools
student="${1:-tc-resnet8}"
seconds="${2:-20}"
release=target/dist-release
[ -f "$release/index.html" ] || { echo "no release build in $release: run trunk build --release --offline --dist $release" >&2; exit 1; }
say "building the CPU worker in release, names kept"
cargo build --release --target wasm32-unknown-unknown -p tempokd-app --bin tempokd-cpu-worker --features models
dist=target/dist-profile
rm -rf "$dist"
cp -r "$release" "$dist"
wasm-bindgen --target no-modules --no-typescript --out-dir "$dist" --out-name tempokd-cpu-worker \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/tempokd-cpu-worker.wasm"
say "profiling $student for $seconds s of training"
TEMPOKD_DIST="$dist" node scripts/bench/profile-worker.mjs "$student" "$seconds"
