#!/usr/bin/env bash
# Builds the page and serves it on http://127.0.0.1:8080. The build is the one the end-to-end tests
# check (dev profile with optimised dependencies); pass --release for a wasm-opt'ed build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
install_build_tools
say "building and serving on http://127.0.0.1:8080"
exec trunk serve --offline --address 127.0.0.1 --port 8080 "$@"
