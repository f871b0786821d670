# shellcheck shell=bash
# Prerequisites shared by .ci/run, scripts/test, scripts/demo and scripts/cross-build.
# Source it, then call `chorus_prereqs` (or the two halves below). It changes nothing
# that is already there: packages are installed only if missing, and only as root;
# as a normal user it prints the exact command to run and exits 1. It never removes or
# replaces a package: apt runs with --no-remove, so a package that conflicts with an
# installed one makes it fail with apt's message instead.

# Debian packages needed to build and test chorus: compilers and pkg-config for the
# -sys crates, iproute2 (`ip netns`) for the network-namespace tests, ALSA headers for
# the `alsa` feature, tmux for the test that drives the mock HAL like a person. Add new build or test dependencies here and nowhere else.
CHORUS_APT_PACKAGES="build-essential pkg-config iproute2 libasound2-dev tmux"

# chorus_need_apt PKG... : make sure the Debian packages PKG... are installed.
chorus_need_apt() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "prereqs: not a Debian system; make sure these (or their equivalents) are installed: $*" >&2
        return 0
    fi
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
            || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "prereqs: missing Debian packages: ${missing[*]}" >&2
        echo "prereqs: run this, then try again:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends --no-remove ${missing[*]}" >&2
        exit 1
    fi
    echo "prereqs: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}" </dev/null
}

# chorus_need_cargo : put rustup's cargo on PATH, or fail with instructions.
chorus_need_cargo() {
    local bin="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin"
    # Prefer rustup's toolchain over a distribution cargo: it honours rust-toolchain
    # files and can add components and targets.
    if [[ -x "$bin/cargo" ]]; then
        case ":$PATH:" in
            *":$bin:"*) ;;
            *) export PATH="$bin:$PATH" ;;
        esac
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "prereqs: cargo not found on PATH nor in $bin" >&2
        echo "prereqs: install Rust with rustup (https://rustup.rs), then try again:" >&2
        echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y" >&2
        exit 1
    fi
}

# chorus_prereqs : everything needed to build, test and run chorus on this machine.
chorus_prereqs() {
    # Word splitting of the list is intended.
    # shellcheck disable=SC2086
    chorus_need_apt $CHORUS_APT_PACKAGES
    chorus_need_cargo
}
