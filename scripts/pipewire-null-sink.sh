#!/bin/sh
# Start or stop a PipeWire null sink: a paced ALSA device without a sound card, for the
# real-ALSA test (tests/audio_alsa.rs). Clients must use the same XDG_RUNTIME_DIR:
#   eval "$(scripts/pipewire-null-sink.sh start)"   # prints the export line
#   cargo test --test audio_alsa --features alsa
#   scripts/pipewire-null-sink.sh stop
# State lives under target/pw. Installs the Debian packages it needs when run as root.
set -eu
cd "$(dirname "$0")/.."
PW="$PWD/target/pw"
export XDG_RUNTIME_DIR="$PW/run" XDG_CONFIG_HOME="$PW/config"

case "${1:-}" in
start)
    if [ -f "$PW/pid" ] && kill -0 "$(cat "$PW/pid")" 2>/dev/null; then
        echo "export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
        exit 0
    fi
    if ! command -v pipewire >/dev/null || ! command -v wireplumber >/dev/null \
        || [ ! -e /usr/share/alsa/alsa.conf.d/50-pipewire.conf ]; then
        # pipewire-alsa conflicts with the pulseaudio package: one or the other.
        if [ "$(id -u)" -ne 0 ]; then
            echo "pipewire-null-sink: needs root to install pipewire pipewire-alsa wireplumber dbus" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends pipewire pipewire-bin pipewire-alsa \
            wireplumber dbus libasound2-dev alsa-utils </dev/null >&2
    fi
    mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/pipewire/pipewire.conf.d"
    chmod 700 "$XDG_RUNTIME_DIR"
    cat >"$XDG_CONFIG_HOME/pipewire/pipewire.conf.d/10-null-sink.conf" <<'CONF'
context.objects = [
  { factory = adapter
    args = { factory.name = support.null-audio-sink  node.name = "null-sink"
             media.class = "Audio/Sink"  audio.position = [ FL FR ]  audio.rate = 48000
             node.driver = true  priority.driver = 1000 } } ]
CONF
    # setsid: its own process group, so stop can end pipewire and wireplumber together.
    setsid dbus-run-session -- sh -c 'pipewire & sleep 0.5; exec wireplumber' \
        >"$PW/log" 2>&1 </dev/null &
    echo $! >"$PW/pid"
    # Ready when the socket exists and wireplumber has had a moment to link the sink.
    i=0
    while [ ! -S "$XDG_RUNTIME_DIR/pipewire-0" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 1
    echo "export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
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
