#!/usr/bin/env bash
# Boot check for the SD image from board/build-image.sh, in qemu.
# Boots a throw-away snapshot of the image (the image file is not modified), watches the
# serial console for MARKER, prints the chorus lines of the log, and stops qemu (which
# never powers off by itself). Exit 0 when the marker appeared within TIMEOUT seconds.
#
#   board/qemu-boot.sh            # -M raspi3b: the Pi 3 SoC, SD card; ~30 s to userspace
#   board/qemu-boot.sh virt       # -M virt: generic arm64, virtio disk, no network; ~10 s
#
# Environment: IMAGE (default target/image/chorus-pi-arm64.img), TIMEOUT (default 300),
# MARKER (extended regex, default "login:"). The serial log stays in target/image/qemu/serial.log.
# raspi3b has no Pirate Audio, so chorus runs without its DAC, buttons and display here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/prereqs.sh
source scripts/prereqs.sh

MODE=${1:-raspi3b}
IMAGE=${IMAGE:-target/image/chorus-pi-arm64.img}
QEMU_DIR=target/image/qemu
TIMEOUT=${TIMEOUT:-300}
MARKER=${MARKER:-login:}
LOG=$QEMU_DIR/serial.log

for f in "$IMAGE" "$QEMU_DIR/vmlinuz" "$QEMU_DIR/initrd.img" "$QEMU_DIR/bcm2837-rpi-3-b.dtb"; do
    [[ -f $f ]] || { echo "qemu-boot: $f missing: run board/build-image.sh first" >&2; exit 1; }
done
chorus_need_qemu_system

case "$MODE" in
    raspi3b)
        # The SD card size must be a power of two (build-image.sh makes it so).
        qemu=(qemu-system-aarch64 -M raspi3b -m 1G -nographic -snapshot
            -kernel "$QEMU_DIR/vmlinuz" -initrd "$QEMU_DIR/initrd.img"
            -dtb "$QEMU_DIR/bcm2837-rpi-3-b.dtb"
            -sd "$IMAGE"
            -append "root=/dev/mmcblk0p2 rootwait console=ttyAMA0,115200")
        ;;
    virt)
        qemu=(qemu-system-aarch64 -M virt -cpu cortex-a72 -m 1G -nographic -snapshot -nic none
            -kernel "$QEMU_DIR/vmlinuz" -initrd "$QEMU_DIR/initrd.img"
            -drive "file=$IMAGE,format=raw,if=virtio"
            -append "root=/dev/vda2 rootwait console=ttyAMA0")
        ;;
    *) echo "usage: $0 [raspi3b|virt]" >&2; exit 2 ;;
esac

echo "qemu-boot: ${qemu[*]}"
echo "qemu-boot: waiting up to ${TIMEOUT}s for /$MARKER/ on the serial console ($LOG)"
"${qemu[@]}" </dev/null >"$LOG" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

result=1
for ((i = 0; i < TIMEOUT; i++)); do
    if grep -qE "$MARKER" "$LOG"; then
        result=0
        break
    fi
    kill -0 "$pid" 2>/dev/null || break   # qemu exited early
    sleep 1
done
sleep 2   # let the last lines arrive
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

# Strip the console's escape sequences before showing the interesting lines.
clean() { sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$LOG"; }
echo "---- chorus lines of the serial log"
clean | grep -i chorus || echo "(none)"
if ((result == 0)); then
    echo "qemu-boot: booted: /$MARKER/ seen after ~${i}s"
else
    echo "---- last lines of the serial log"
    clean | tail -n 40
    echo "qemu-boot: /$MARKER/ not seen within ${TIMEOUT}s" >&2
fi
exit "$result"
