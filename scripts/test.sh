#!/usr/bin/env bash
# Runs every test: native engine tests, engine and components in headless Chromium (wasm), and the
# end-to-end tests of the built page. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# Each stage's time is printed as it ends, and all of them at the end, so a slower stage shows.
stage_times=()
stage_started=$SECONDS
stage_name=""
stage() {
  if [ -n "$stage_name" ]; then
    stage_times+=("$(printf '%5d s  %s' $((SECONDS - stage_started)) "$stage_name")")
    say "$stage_name: $((SECONDS - stage_started)) s"
  fi
  stage_name="$1"; stage_started=$SECONDS
  [ -z "$stage_name" ] || say "$stage_name"
}
trap 'stage ""; printf "%s\n" "${stage_times[@]}"; echo "total: $SECONDS s"' EXIT

stage "installing tools"
install_build_tools
install_test_tools

# wasm-bindgen-test-runner drives Chromium through chromedriver with these flags (WebGPU included).
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT=300
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT=60

stage "formatting"
cargo fmt --all -- --check
stage "lints (clippy, every warning an error), natively and for the wasm build"
cargo clippy -p tempokd -p tempokd-cli --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown -p tempokd -p tempokd-app \
  --no-default-features --features tempokd/wgpu,tempokd-app/webgpu --lib --bins --tests -- -D warnings
# The CPU worker's build (no wgpu), which the line above does not see.
cargo clippy --target wasm32-unknown-unknown -p tempokd -p tempokd-app \
  --no-default-features --features tempokd-app/models --lib --bins -- -D warnings
stage "native tests (engine and CLI)"
cargo test -p tempokd -p tempokd-cli
# One invocation for both crates, so the wasm dependency graph is built once; WebGPU with burn's
# fusion, as the page's WebGPU worker runs it.
stage "engine (features, teacher, students, training, CPU and WebGPU tensors) and components in headless Chromium"
cargo test --target wasm32-unknown-unknown -p tempokd -p tempokd-app \
  --no-default-features --features tempokd/fusion \
  --test features --test device --test teacher --test students --test training --test hostile --test web
stage "the page's pure logic (saved-run format, worker messages), unit tests beside their code, in Node.js"
cargo test --target wasm32-unknown-unknown -p tempokd-app --no-default-features --features tempokd/fusion --lib
stage "end-to-end: building the page"
trunk build --offline
stage "end-to-end: driving the page in headless Chromium"
npm run --silent e2e
