#!/usr/bin/env bash
# Installs what building and testing chorus needs, only if missing. Sourced by
# .ci/run, scripts/test and scripts/demo.
set -euo pipefail

# Debian packages: compilers and pkg-config for -sys crates, iproute2 for the
# network-namespace tests, ALSA headers for the `alsa` feature.
CHORUS_APT_PACKAGES="build-essential pkg-config iproute2 libasound2-dev"

chorus_prereqs() {
    local missing=()
    for pkg in $CHORUS_APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) -eq 0 ]]; then
            echo "== installing ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
        else
            echo "missing packages; run: sudo apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null; then
        echo "cargo not found: install Rust with https://rustup.rs (rustup), then retry" >&2
        return 1
    fi
}
