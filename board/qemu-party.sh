#!/usr/bin/env bash
# Party check for the SD image from board/build-image.sh: boots two boxes from it in qemu
# (-M virt, one virtual Ethernet cable between them) and checks from outside, on their
# serial consoles, that they find each other, form a party when one is told to host, and
# that the other fetches the host's song and plays it in step.
#
#   sudo board/build-image.sh && sudo board/qemu-party.sh
#
# (root only because build-image.sh leaves target/image to root, and to install missing
# Debian packages; nothing here needs root otherwise.)
# The image is not modified. A sparse copy of it (target/image/qemu-party/party.img) gets
# the test-only files of board/qemu-party/ written into its root file system with
# debugfs: a WAV song for the host, a drop-in that makes chorus play into a WAV recording
# (the virt machine has no sound card), and a unit that hosts or joins and reports the
# box's `chorus ctl status --json` on the serial console every 2 s. Both boxes boot that
# copy with -snapshot (their writes are thrown away); the kernel command line says which
# one hosts (chorus_party.role=host) and which one joins (chorus_party.role=member).
#
# Passes when, within TIMEOUT seconds of starting qemu:
#   1. chorus.service is active on both boxes, with two different box ids;
#   2. each box lists the other as a neighbour;
#   3. both are in the same party, one as host and one as member, two boxes in all;
#   4. the member has the host's song in its cache, byte for byte (SHA-256);
#   5. the member plays it: the song is current, the state "playing", the schedule's
#      position advances at least 10 s, within 25 % of the member's own clock, and its
#      WAV recording grows.
#
# Environment: IMAGE (default target/image/chorus-pi-arm64.img), TIMEOUT (default 420),
# SONG_SECONDS (the test song's length, default 90), PORT (first of the two UDP ports on
# 127.0.0.1 that carry the virtual cable, default 47710). Serial logs:
# target/image/qemu-party/{host,member}.log.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/prereqs.sh
source scripts/prereqs.sh

IMAGE=${IMAGE:-target/image/chorus-pi-arm64.img}
QEMU_DIR=target/image/qemu
WORK=target/image/qemu-party
TIMEOUT=${TIMEOUT:-420}
SONG_SECONDS=${SONG_SECONDS:-90}
PORT=${PORT:-47710}
PARTY_IMG=$WORK/party.img
SONG=$WORK/qemu-party-tone.wav
ROLES=(host member)
# How far the member's playback position must advance, and how closely it must follow
# the member's own clock while doing so (the schedule runs in real time).
ADVANCE_MS=10000

die() { echo "qemu-party: $*" >&2; exit 1; }
# qemu never powers off by itself: whatever happens, the boxes stop with this script.
pids=()
# shellcheck disable=SC2317  # called by the trap, which shellcheck 0.9 does not follow
stop_boxes() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_boxes EXIT
now() { echo "$SECONDS"; }

for f in "$IMAGE" "$QEMU_DIR/vmlinuz" "$QEMU_DIR/initrd.img"; do
    [[ -f $f ]] || die "$f missing: run board/build-image.sh first"
done
# e2fsprogs provides debugfs, fdisk sfdisk.
chorus_need_apt e2fsprogs fdisk jq python3
chorus_need_qemu_system
mkdir -p "$WORK"

# ---------------------------------------------------------------- the test copy
# A tone, so the song is a real one the decoder has to read; its hash is what the member
# must end up holding.
python3 - "$SONG" "$SONG_SECONDS" <<'PY'
import math, struct, sys, wave
path, seconds, rate = sys.argv[1], int(sys.argv[2]), 44100
with wave.open(path, "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)
    for s in range(seconds):
        w.writeframes(b"".join(
            struct.pack("<hh", int(8000 * math.sin(2 * math.pi * 440 * n / rate)),
                        int(8000 * math.sin(2 * math.pi * 660 * n / rate)))
            for n in range(s * rate, (s + 1) * rate)))
PY
song_sha=$(sha256sum "$SONG" | cut -d' ' -f1)

# The shipped configuration with a failure detector for an emulated CPU: heartbeats every
# second and a phi threshold of 30 tolerate the multi-second stalls of emulation, where
# the defaults (250 ms, 8) end the party's first song with a false host failover.
sed -e 's/^heartbeat_interval_ms = .*/heartbeat_interval_ms = 1000/' \
    -e 's/^phi_threshold = .*/phi_threshold = 30.0/' board/chorus.toml >"$WORK/qemu-party.toml"
[[ $(grep -cE '^(heartbeat_interval_ms = 1000|phi_threshold = 30.0)$' "$WORK/qemu-party.toml") == 2 ]] \
    || die "board/chorus.toml no longer has the [party] lines this script changes"

rm -f "$PARTY_IMG"
cp --sparse=always "$IMAGE" "$PARTY_IMG"
# The root file system is partition 2; debugfs opens it in place at its byte offset.
root_start=$(sfdisk --json "$PARTY_IMG" | jq '.partitiontable.partitions[1].start')
[[ $root_start =~ ^[0-9]+$ ]] || die "cannot find the root partition in $IMAGE"
root_fs="$PARTY_IMG?offset=$((root_start * 512))"
guest=board/qemu-party
units=/etc/systemd/system
wants=$units/multi-user.target.wants
files=(
    "755 $guest/guest.sh /usr/local/sbin/chorus-qemu-party"
    "644 $SONG /usr/local/share/chorus-qemu-party/qemu-party-tone.wav"
    "644 $guest/chorus-service.conf $units/chorus.service.d/qemu-party.conf"
    "644 $WORK/qemu-party.toml /etc/chorus/qemu-party.toml"
    "644 $guest/chorus-qemu-party-setup.service $units/chorus-qemu-party-setup.service"
    "644 $guest/chorus-qemu-party.service $units/chorus-qemu-party.service"
)
{
    echo "mkdir /usr/local/share/chorus-qemu-party"
    echo "mkdir $units/chorus.service.d"
    for entry in "${files[@]}"; do
        read -r mode src dest <<<"$entry"
        echo "write $src $dest"
        echo "sif $dest mode 0100$mode"
        echo "sif $dest uid 0"
        echo "sif $dest gid 0"
    done
    echo "symlink $wants/chorus-qemu-party-setup.service $units/chorus-qemu-party-setup.service"
    echo "symlink $wants/chorus-qemu-party.service $units/chorus-qemu-party.service"
} >"$WORK/debugfs.cmds"
debugfs -w -f "$WORK/debugfs.cmds" "$root_fs" >"$WORK/debugfs.log" 2>&1
for entry in "${files[@]}"; do
    read -r _ _ dest <<<"$entry"
    debugfs -R "stat $dest" "$root_fs" 2>/dev/null | grep -q 'Type: regular' \
        || die "debugfs did not write $dest (see $WORK/debugfs.log)"
done

# ---------------------------------------------------------------- two boxes, one cable
# Each box's virtio NIC sends its frames as UDP datagrams to the other's port: a
# point-to-point Ethernet segment with no host networking, root or multicast routes.
start_box() { # start_box INDEX
    local i=$1 role=${ROLES[$1]} mine=$((PORT + $1)) theirs=$((PORT + 1 - $1))
    qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1G -nographic -snapshot \
        -kernel "$QEMU_DIR/vmlinuz" -initrd "$QEMU_DIR/initrd.img" \
        -drive "file=$PARTY_IMG,format=raw,if=virtio" \
        -netdev "dgram,id=cable,local.type=inet,local.host=127.0.0.1,local.port=$mine,remote.type=inet,remote.host=127.0.0.1,remote.port=$theirs" \
        -device "virtio-net-pci,netdev=cable,mac=52:54:00:c0:00:0$((i + 1)),romfile=" \
        -append "root=/dev/vda2 rootwait console=ttyAMA0 chorus_party.role=$role" \
        </dev/null >"$WORK/$role.log" 2>&1 &
    pids+=($!)
}
start=$SECONDS
start_box 0
start_box 1
echo "qemu-party: two boxes booting (serial logs $WORK/host.log, $WORK/member.log)"

# ---------------------------------------------------------------- watching from outside
# The newest report line of a box: its fields (key=value) and its status JSON.
report() { # report ROLE -> the line, or nothing
    { grep -ao 'CHORUS-QEMU-PARTY .*' "$WORK/$1.log" 2>/dev/null || true; } | tr -d '\r' | tail -n 1
}
field() { # field LINE KEY
    local head=${1%% status=*}
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $head"
}
json() { # json LINE JQ_FILTER (empty when the status is not JSON yet)
    jq -r "$2" <<<"${1#* status=}" 2>/dev/null || true
}

declare -A passed=()
mark() { # mark MILESTONE: remember when it was first reached
    [[ -n ${passed[$1]:-} ]] || { passed[$1]=$(($(now) - start)); echo "qemu-party: t+${passed[$1]}s  $1"; }
}
MILESTONES=(
    "booted: both report lines on the serial consoles"
    "running: chorus.service active on both, distinct box ids"
    "neighbours: each box sees the other"
    "party: one host and one member in the same started party"
    "fetched: the member's cache holds the host's song, same SHA-256"
    "playing: the member plays the song, position and WAV advancing"
)
first_pos=""
why="not reached within TIMEOUT=${TIMEOUT}s"
while (($(now) - start < TIMEOUT)); do
    for i in "${!pids[@]}"; do
        kill -0 "${pids[i]}" 2>/dev/null && continue
        tail -n 20 "$WORK/${ROLES[i]}.log" >&2
        die "the ${ROLES[i]}'s qemu exited early (above: the end of $WORK/${ROLES[i]}.log)"
    done
    sleep 2
    h=$(report host)
    m=$(report member)
    [[ -n $h && -n $m ]] || continue
    mark "${MILESTONES[0]}"
    h_id=$(json "$h" .id)
    m_id=$(json "$m" .id)
    [[ $(field "$h" active) == active && $(field "$m" active) == active ]] || continue
    [[ -n $h_id && -n $m_id && $h_id != "$m_id" ]] || continue
    mark "${MILESTONES[1]}"
    [[ $(json "$h" "any(.neighbours[]; .id == \"$m_id\")") == true &&
        $(json "$m" "any(.neighbours[]; .id == \"$h_id\")") == true ]] || continue
    mark "${MILESTONES[2]}"
    party=$(json "$h" '.party | select(.role == "host" and .state == "started" and (.members | length) == 2) | .id')
    [[ -n $party && $(json "$m" '.party | "\(.id) \(.role) \(.host)"') == "$party member $h_id" ]] || continue
    mark "${MILESTONES[3]}"
    song=$(json "$h" '.playback.song // empty')
    [[ -n $song && ,$(field "$m" cache), =~ ,$song\.[a-z0-9]+:$song_sha, ]] || continue
    mark "${MILESTONES[4]}"
    state=$(json "$m" '.playback | "\(.song) \(.state) \(.missing_song) \(.position_ms)"')
    read -r m_song m_state m_missing m_pos <<<"$state"
    [[ $m_song == "$song" && $m_state == playing && $m_missing == false && $m_pos =~ ^[0-9]+$ ]] || continue
    # The uptime (the member's clock, centiseconds) and the WAV size at the first sight of
    # playback; later reports must have moved on as much as the clock did.
    up=$(field "$m" uptime)
    up_ms=$((10#${up/./} * 10))
    wav=$(field "$m" wav)
    if [[ -z $first_pos ]]; then
        read -r first_pos first_up first_wav <<<"$m_pos $up_ms $wav"
        continue
    fi
    ((m_pos - first_pos >= ADVANCE_MS)) || continue
    d_up=$((up_ms - first_up))
    d_pos=$((m_pos - first_pos))
    # 25 % either way: the member's schedule is the host's clock seen through its own,
    # and each report's time is only known to within half its query's duration, which
    # reached 3 s on a loaded machine (a stuck or runaway position is far outside).
    if ((d_pos * 4 < d_up * 3 || d_pos * 4 > d_up * 5)); then
        why="the member's position moved ${d_pos} ms in ${d_up} ms of its clock"
        break
    fi
    if ((wav <= first_wav)); then
        why="the member's WAV recording stopped at $wav bytes while playing"
        break
    fi
    mark "${MILESTONES[5]}"
    break
done

# ---------------------------------------------------------------- verdict
echo
echo "qemu-party: results (seconds since qemu started; TIMEOUT=$TIMEOUT)"
result=0
for m in "${MILESTONES[@]}"; do
    if [[ -n ${passed[$m]:-} ]]; then
        printf '  PASS  t+%3ss  %s\n' "${passed[$m]}" "$m"
    else
        printf '  FAIL          %s: %s\n' "$m" "$why"
        why="not reached: the step before failed"
        result=1
    fi
done
if ((result == 0)); then
    echo "qemu-party: PASS: member $m_id played host $h_id's song $song:" \
        "position +${d_pos} ms in ${d_up} ms of its clock, WAV +$((wav - first_wav)) bytes"
else
    for role in "${ROLES[@]}"; do
        echo "---- last lines of the $role's serial log"
        sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$WORK/$role.log" \
            | grep -av 'CHORUS-QEMU-PARTY' | tail -n 30
        echo "---- the $role's last report"
        report "$role" | cut -c1-3000
    done
    echo "qemu-party: FAIL" >&2
fi
exit "$result"
