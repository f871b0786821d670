#!/bin/bash
# Test-only: the in-guest half of board/qemu-party.sh, installed on a throw-away copy of
# the image (never in the shipped one). Its role comes from the kernel command line,
# chorus_party.role=host or chorus_party.role=member, so both boxes boot the same copy.
#
#   guest.sh setup    before chorus starts: the host gets the test song in its music folder
#   guest.sh report   after chorus starts: acts once as the role says (the host hosts as
#                     soon as it sees a neighbour, the member joins the first invitation,
#                     as a JOIN press would), then prints one report line every 2 s
#
# A report line is "CHORUS-QEMU-PARTY " and fields key=value separated by spaces, the
# last one status=JSON (`chorus ctl status --json` on one line); board/qemu-party.sh reads
# them from the serial console and decides pass or fail outside the boxes.
set -u
state=/var/lib/chorus
songs=/usr/local/share/chorus-qemu-party
role=$(sed -n 's/.*chorus_party\.role=\([a-z]*\).*/\1/p' /proc/cmdline)

case "${1:-}" in
    setup)
        if [[ $role == host ]]; then
            install -d -m 0755 "$state/music"
            install -m 0644 "$songs"/*.wav "$state/music/"
        fi
        exit 0
        ;;
    report) ;;
    *)
        echo "usage: $0 setup|report" >&2
        exit 2
        ;;
esac

acted=none
declare -A sums=()
while :; do
    # The uptime halfway through the query goes with its answer: a query takes up to a
    # second or two on an emulated CPU.
    before=$(cut -d' ' -f1 /proc/uptime)
    status=$(chorus ctl status --json 2>&1 | tr -d '\n')
    uptime=$(awk -v a="$before" '{printf "%.2f", (a + $1) / 2}' /proc/uptime)
    # One action, taken once the box is ready for it; the outside checks what came of it.
    if [[ $acted == none ]]; then
        case "$role" in
            host)
                if [[ $status == *'"neighbours": ['* && $status != *'"neighbours": []'* ]]; then
                    acted=$(chorus ctl host 2>&1 | tr -s '\n ' ' ')
                    acted="host:${acted// /_}"
                fi
                ;;
            member)
                if [[ $status == *'"invitations": ['* && $status != *'"invitations": []'* ]]; then
                    acted=$(chorus ctl join 2>&1 | tr -s '\n ' ' ')
                    acted="join:${acted// /_}"
                fi
                ;;
        esac
    fi
    # The song cache as "name:sha256" pairs (a song is moved into songs/ once complete, so
    # each is hashed once: hashing is slow on an emulated CPU), and the size of the
    # recorded output.
    for f in "$state"/cache/songs/*; do
        [[ -f $f && -z ${sums[$f]:-} ]] && sums[$f]=$(sha256sum <"$f" | cut -d' ' -f1)
    done
    cache=""
    for f in "${!sums[@]}"; do cache+="${cache:+,}${f##*/}:${sums[$f]}"; done
    wav=$(stat -c %s "$state/qemu-party.wav" 2>/dev/null || echo 0)
    # For a failure's diagnosis: the IPv4 addresses, and where multicast would go.
    ipv4=$(ip -4 -o addr show | awk '$2 != "lo" {printf "%s%s/%s", sep, $2, $4; sep=","}')
    mroute=$(ip -4 route get 239.255.77.77 2>&1 | head -n 1 | tr -s ' ' '_')
    echo "CHORUS-QEMU-PARTY role=$role uptime=$uptime" \
        "hostname=$(hostname) ipv4=${ipv4:-none} mroute=$mroute" \
        "active=$(systemctl is-active chorus.service) acted=$acted wav=$wav" \
        "cache=${cache:-none} status=$status"
    sleep 2
done
