#!/bin/sh
# Start or stop a PipeWire null sink: a paced ALSA device without a sound card, for the
# real-ALSA test (tests/audio_alsa.rs). Clients must use the environment it prints:
#   eval "$(scripts/pipewire-null-sink.sh start)"   # prints the export lines
#   cargo test --test audio_alsa --features alsa
#   scripts/pipewire-null-sink.sh stop
# State lives under target/pw. As root it installs the Debian packages it needs that are
# missing (pipewire pipewire-bin wireplumber dbus alsa-utils libasound2-dev), never removing
# or replacing one. It never installs pipewire-alsa, which conflicts with pulseaudio: where
# that package is missing, its ALSA plugin is unpacked under target/pw and ALSA clients
# reach it through ALSA_CONFIG_PATH, which the start line exports too. The server is
# private (its own runtime dir, session bus and config, no sound card): the machine's own
# sound server, PulseAudio or PipeWire, is left alone.
set -eu
cd "$(dirname "$0")/.."
PW="$PWD/target/pw"
export XDG_RUNTIME_DIR="$PW/run" XDG_CONFIG_HOME="$PW/config"

# install_missing PKG... : as root, apt-get install those of PKG... not installed yet; as a
# user, fail only when the server's own programs are missing.
install_missing() {
    need=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
            || need="$need $pkg"
    done
    [ -z "$need" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        # A user can still run the server when its programs are there.
        for tool in pipewire wireplumber dbus-run-session; do
            if ! command -v "$tool" >/dev/null; then
                echo "pipewire-null-sink: needs root to install:$need" >&2
                exit 1
            fi
        done
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # --no-remove: apt refuses rather than remove a package that conflicts.
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends --no-remove $need </dev/null >&2
}

# alsa_config : prints the ALSA_CONFIG_PATH that routes ALSA's default device to PipeWire,
# or nothing when the installed pipewire-alsa already does.
alsa_config() {
    [ -e /usr/share/alsa/alsa.conf.d/50-pipewire.conf ] && return 0
    plug="$PW/alsa"
    if [ ! -e "$plug/asound.conf" ]; then
        rm -rf "$plug" && mkdir -p "$plug/deb"
        # The plugin of the installed PipeWire's version when the archive still has it.
        version=$(dpkg-query -W -f='${Version}' libpipewire-0.3-0)
        (cd "$plug/deb" && { apt-get download -qq "pipewire-alsa=$version" \
            || apt-get download -qq pipewire-alsa; }) >&2
        dpkg-deb -x "$plug"/deb/pipewire-alsa_*.deb "$plug/root"
        pcm=$(find "$plug/root" -name libasound_module_pcm_pipewire.so | head -n 1)
        conf="$plug/root/usr/share/alsa/alsa.conf.d"
        cat >"$plug/asound.conf.tmp" <<CONF
pcm_type.pipewire { lib "$pcm" }
ctl_type.pipewire { lib "$(dirname "$pcm")/libasound_module_ctl_pipewire.so" }
<$conf/50-pipewire.conf>
<$conf/99-pipewire-default.conf>
CONF
        mv "$plug/asound.conf.tmp" "$plug/asound.conf"
    fi
    echo "/usr/share/alsa/alsa.conf:$plug/asound.conf"
}

print_env() {
    echo "export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
    [ -z "$ALSA_PATH" ] || echo "export ALSA_CONFIG_PATH=$ALSA_PATH"
}

case "${1:-}" in
start)
    install_missing pipewire pipewire-bin wireplumber dbus alsa-utils libasound2-dev
    ALSA_PATH=$(alsa_config)
    if [ -f "$PW/pid" ] && kill -0 "$(cat "$PW/pid")" 2>/dev/null; then
        print_env
        exit 0
    fi
    mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/pipewire/pipewire.conf.d" \
        "$XDG_CONFIG_HOME/wireplumber/main.lua.d"
    chmod 700 "$XDG_RUNTIME_DIR"
    # No sound cards, cameras or Bluetooth for this server: they belong to the machine's
    # own sound server.
    cat >"$XDG_CONFIG_HOME/wireplumber/main.lua.d/51-chorus-no-devices.lua" <<'LUA'
alsa_monitor.enabled = false
v4l2_monitor.enabled = false
libcamera_monitor.enabled = false
LUA
    cat >"$XDG_CONFIG_HOME/pipewire/pipewire.conf.d/10-null-sink.conf" <<'CONF'
context.objects = [
  { factory = adapter
    args = { factory.name = support.null-audio-sink  node.name = "null-sink"
             media.class = "Audio/Sink"  audio.position = [ FL FR ]  audio.rate = 48000
             node.driver = true  priority.driver = 1000 } } ]
CONF
    # A timer drives this server, not a sound card's interrupt: on a virtual machine whose
    # idle CPUs halt, its wake-ups come milliseconds late and the stream's position jumps
    # by a quantum (measured: every real-ALSA test then failed on an idle machine and
    # passed on a busy one). While it runs, a request for zero wake-up latency (PM QoS, as
    # low-latency audio set-ups hold it) keeps idle CPUs ready; only root may make it.
    hold_latency='[ -w /dev/cpu_dma_latency ] && exec 3>/dev/cpu_dma_latency \
        && printf 00000000 >&3 && exec sleep 2147483647'
    # setsid: its own process group, so stop ends pipewire, wireplumber and the request.
    setsid dbus-run-session -- sh -c "{ $hold_latency; } & pipewire & sleep 0.5; exec wireplumber" \
        >"$PW/log" 2>&1 </dev/null &
    echo $! >"$PW/pid"
    # Ready when the socket exists and wireplumber has had a moment to link the sink.
    i=0
    while [ ! -S "$XDG_RUNTIME_DIR/pipewire-0" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 1
    print_env
    ;;
stop)
    if [ -f "$PW/pid" ]; then
        pid=$(cat "$PW/pid")
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        rm -f "$PW/pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
