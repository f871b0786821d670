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

# chorus_need_qemu_system : make sure `qemu-system-aarch64` runs, for the scripts that boot
# the Pi's kernel or the SD image. Installs Debian's qemu-system-arm when apt can add it
# without removing anything. When it cannot (a machine with qemu-utils from
# bookworm-backports, whose Breaks keeps bookworm's qemu-system-common out), it unpacks
# Debian's qemu-system-arm and the libraries it needs under target/qemu-system instead,
# installs nothing, and puts a wrapper for qemu-system-aarch64 first on PATH.
chorus_need_qemu_system() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 && return 0
    local dir=${CARGO_TARGET_DIR:-$PWD/target}/qemu-system triplet pkgs
    if [[ ! -x $dir/bin/qemu-system-aarch64 ]]; then
        # Both ways below read apt's package lists, which a fresh machine may not have yet.
        [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq
        if ! command -v apt-get >/dev/null 2>&1 \
            || apt-get install -s -qq --no-install-recommends --no-remove qemu-system-arm >/dev/null 2>&1; then
            chorus_need_apt qemu-system-arm
            return 0
        fi
        triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
        echo "prereqs: apt cannot install qemu-system-arm here without removing a package;" \
            "unpacking Debian's package under $dir instead (nothing is installed)"
        # Every package apt would install, read from its simulation (which, unlike the
        # real install, goes ahead with the removal it would need).
        pkgs=$(apt-get install -s --no-install-recommends qemu-system-arm 2>/dev/null | awk '/^Inst /{print $2}')
        [[ -n $pkgs ]] || { echo "prereqs: apt does not know qemu-system-arm; run apt-get update" >&2; exit 1; }
        rm -rf "$dir" && mkdir -p "$dir/debs" "$dir/root" "$dir/bin"
        # Word splitting of the package list is intended.
        # shellcheck disable=SC2086
        (cd "$dir/debs" && apt-get download -qq $pkgs >"$dir/download.log" 2>&1) \
            || { cat "$dir/download.log" >&2; echo "prereqs: apt-get download failed" >&2; exit 1; }
        local deb
        for deb in "$dir"/debs/*.deb; do
            dpkg-deb -x "$deb" "$dir/root" || { echo "prereqs: cannot unpack $deb" >&2; exit 1; }
        done
        cat >"$dir/bin/qemu-system-aarch64" <<WRAPPER
#!/bin/sh
# Debian's qemu-system-aarch64 unpacked by scripts/prereqs.sh, run with its own libraries.
LD_LIBRARY_PATH="$dir/root/usr/lib/$triplet:$dir/root/lib/$triplet\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
    exec "$dir/root/usr/bin/qemu-system-aarch64" -L "$dir/root/usr/share/qemu" "\$@"
WRAPPER
        chmod 755 "$dir/bin/qemu-system-aarch64"
    fi
    export PATH="$dir/bin:$PATH"
    qemu-system-aarch64 --version | head -1 | sed 's/^/prereqs: /' \
        || { echo "prereqs: the unpacked qemu-system-aarch64 in $dir does not run" >&2; exit 1; }
}
