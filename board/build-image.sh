#!/usr/bin/env bash
# Builds a bootable Debian 12 (bookworm) arm64 SD card image for a chorus box, without
# Docker and without loop devices:
#   debootstrap --foreign, second stage under qemu-user binfmt, raspi-firmware and
#   linux-image-arm64 from Debian (non-free-firmware), Wi-Fi firmware and supplicant,
#   chorus's Debian package (scripts/make-deb: binary, units, sysusers entry, udev rules,
#   chorus.toml, the Pirate Audio device tree of board/dt and its kernel hooks, the
#   Wi-Fi set-up) installed with dpkg in the chroot, and chorus.txt on the boot
#   partition; then
#   mkfs.vfat + mcopy (boot), mke2fs -d (root), sfdisk, dd conv=notrunc.
#
# Usage (root, on Debian 12 x86_64 or arm64):
#   scripts/cross-build                 # builds target/aarch64-unknown-linux-gnu/release/chorus
#   sudo board/build-image.sh           # writes target/image/chorus-pi-arm64.img
#   board/qemu-boot.sh                  # optional: boot it in qemu
#
# The slow part (debootstrap, then kernel + initramfs under emulation: ~20 min) is cached
# in target/image/base-rootfs.tar and reused while BASE_PACKAGES, EXTRA_PACKAGES and
# MIRROR stay the same; later runs take about a minute. --rebuild-base forces a rebuild.
#
# Environment:
#   CHORUS_BIN       the arm64 binary (default: target/aarch64-unknown-linux-gnu/release/chorus),
#                    packaged by scripts/make-deb into target/deb/ unless CHORUS_DEB is set
#   CHORUS_DEB       an already built chorus_<version>_arm64.deb to install instead
#   IMAGE_MB         image size in MiB, a power of two (qemu -M raspi3b insists); default 2048
#   MIRROR           Debian mirror (default http://deb.debian.org/debian)
#   EXTRA_PACKAGES   more Debian packages for the image, e.g. "openssh-server"
#   AUTHORIZED_KEYS  a file of SSH public keys for root (with openssh-server in EXTRA_PACKAGES)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=scripts/prereqs.sh
source scripts/prereqs.sh

REBUILD_BASE=false
case "${1:-}" in
    "") ;;
    --rebuild-base) REBUILD_BASE=true ;;
    *) echo "usage: $0 [--rebuild-base]" >&2; exit 2 ;;
esac

SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CHORUS_BIN=${CHORUS_BIN:-target/aarch64-unknown-linux-gnu/release/chorus}
CHORUS_DEB=${CHORUS_DEB:-}
VERSION=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
IMAGE_MB=${IMAGE_MB:-2048}
EXTRA_PACKAGES=${EXTRA_PACKAGES:-}
AUTHORIZED_KEYS=${AUTHORIZED_KEYS:-}
# Installed by debootstrap: init, device manager, networking (systemd-networkd is part of
# systemd), libasound2 for the `alsa` feature, alsa-utils to test the DAC by hand, fdisk to
# grow the root partition later.
BASE_PACKAGES="systemd-sysv udev kmod dbus iproute2 netbase libasound2 alsa-utils fdisk"
# Installed with the kernel: dtc for the Pirate Audio device tree (board/dt/chorus-dtb
# redoes it at every kernel upgrade), Wi-Fi for the Pi 3, 3 B+, 4 and Zero 2 W
# (non-free-firmware). The radio firmware comes from bookworm-backports: bookworm's own
# package (20230210) has no board file for the Zero 2 W, whose radio then stays off.
BOARD_PACKAGES="device-tree-compiler wpasupplicant firmware-brcm80211/$SUITE-backports"
# The per-board radio files the Wi-Fi of each supported Pi loads (brcmfmac asks for the
# one named after the device tree's model before the generic one).
WIFI_FILES="brcmfmac43430-sdio.raspberrypi,3-model-b.txt
brcmfmac43430-sdio.raspberrypi,model-zero-2-w.txt
brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt
brcmfmac43455-sdio.raspberrypi,4-model-b.txt
brcmfmac43430-sdio.bin
brcmfmac43455-sdio.bin"
WORK=$REPO/target/image
ROOTFS=$WORK/rootfs
BASE_TAR=$WORK/base-rootfs.tar
BASE_KEY=$WORK/base-rootfs.key
IMAGE=$WORK/chorus-pi-arm64.img
QEMU_DIR=$WORK/qemu                 # kernel, initrd and dtb for board/qemu-boot.sh
BOOT_START_MB=4                     # partition 1 starts at 4 MiB (SD erase-block aligned)
BOOT_MB=256

log() { printf '\n==== %s  (t+%ds)\n' "$*" "$SECONDS"; }
die() { echo "build-image: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot, binfmt_misc)"
if [[ -n $CHORUS_DEB ]]; then
    [[ -f $CHORUS_DEB ]] || die "CHORUS_DEB=$CHORUS_DEB is not a file"
else
    [[ -f $CHORUS_BIN ]] || die "no $CHORUS_BIN; run scripts/cross-build first (or set CHORUS_BIN or CHORUS_DEB)"
fi
((IMAGE_MB >= 1024 && (IMAGE_MB & (IMAGE_MB - 1)) == 0)) \
    || die "IMAGE_MB=$IMAGE_MB must be a power of two, at least 1024"
[[ -z $AUTHORIZED_KEYS || -f $AUTHORIZED_KEYS ]] || die "AUTHORIZED_KEYS=$AUTHORIZED_KEYS is not a file"
ROOT_MB=$((IMAGE_MB - BOOT_START_MB - BOOT_MB))

# binutils-aarch64-linux-gnu: scripts/make-deb strips the arm64 binary; dtc: the device
# trees are merged (and so checked) on this host too.
chorus_need_apt debootstrap qemu-user-static mtools dosfstools fdisk e2fsprogs \
    binutils-aarch64-linux-gnu device-tree-compiler

# ---------------------------------------------------------------- cleanup on exit
MOUNTED=()
BINFMT_REGISTERED=false
BINFMT_MOUNTED=false
cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
    done
    rm -f "$ROOTFS/usr/sbin/policy-rc.d"
    if $BINFMT_REGISTERED && [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        echo -1 >/proc/sys/fs/binfmt_misc/qemu-aarch64 || true
    fi
    if $BINFMT_MOUNTED; then
        umount /proc/sys/fs/binfmt_misc 2>/dev/null || true
    fi
}
trap cleanup EXIT

# Lets the x86_64 host run the rootfs's arm64 programs (not needed on an arm64 host).
binfmt_register() {
    [[ $(uname -m) == aarch64 ]] && return 0
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        BINFMT_MOUNTED=true
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
        BINFMT_REGISTERED=true
    fi
}

chroot_mounts() {
    mount -t proc proc "$ROOTFS/proc"
    MOUNTED+=("$ROOTFS/proc")
    mount -t sysfs sysfs "$ROOTFS/sys"
    MOUNTED+=("$ROOTFS/sys")
    mount --bind /dev "$ROOTFS/dev"
    MOUNTED+=("$ROOTFS/dev")
    mount --bind /dev/pts "$ROOTFS/dev/pts"
    MOUNTED+=("$ROOTFS/dev/pts")
}

chroot_umounts() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount "${MOUNTED[i]}"; done
    MOUNTED=()
}

# Never rm -rf a rootfs with the host's /dev or /proc still mounted inside it.
remove_rootfs() {
    if findmnt -rn -o TARGET | grep -q "^$ROOTFS/"; then
        die "something is still mounted under $ROOTFS; unmount it first (findmnt | grep $ROOTFS)"
    fi
    rm -rf "$ROOTFS"
}

in_chroot() {
    chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

# ---------------------------------------------------------------- 1. base rootfs (cached)
mkdir -p "$WORK"
key="$SUITE $MIRROR | $BASE_PACKAGES | $BOARD_PACKAGES | $EXTRA_PACKAGES | raspi-firmware linux-image-arm64"
if $REBUILD_BASE || [[ ! -f $BASE_TAR || ! -f $BASE_KEY || $(cat "$BASE_KEY") != "$key" ]]; then
    log "debootstrap $SUITE arm64 (first stage)"
    remove_rootfs
    rm -f "$BASE_TAR" "$BASE_KEY"
    debootstrap --arch=arm64 --foreign --variant=minbase \
        --include="${BASE_PACKAGES// /,}" "$SUITE" "$ROOTFS" "$MIRROR"

    log "debootstrap second stage (emulated)"
    binfmt_register
    in_chroot /debootstrap/debootstrap --second-stage

    log "raspi-firmware and linux-image-arm64 (emulated; the slow part)"
    cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main non-free-firmware
deb $MIRROR $SUITE-updates main non-free-firmware
deb $MIRROR $SUITE-backports non-free-firmware
deb http://deb.debian.org/debian-security $SUITE-security main non-free-firmware
EOF
    # No daemons may start inside the build chroot.
    printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
    chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    # raspi-firmware's kernel hook writes /boot/firmware/{config.txt,cmdline.txt}. Its
    # defaults would probe the build host (findmnt /, /dev/tty*), so set them; the boot
    # partition is labelled RASPIFIRM and the root RASPIROOT, as in Debian's Pi images.
    # The firmware's pin settings go in raspi-firmware-custom, which the hook appends to
    # config.txt on every kernel or firmware upgrade.
    mkdir -p "$ROOTFS/boot/firmware" "$ROOTFS/etc/default"
    cat >"$ROOTFS/etc/default/raspi-firmware" <<'EOF'
# Set by chorus's board/build-image.sh; see /usr/share/doc/raspi-firmware.
ROOTPART=LABEL=RASPIROOT
CONSOLES="tty0 ttyS1,115200"
EOF
    cp board/dt/raspi-firmware-custom "$ROOTFS/etc/default/raspi-firmware-custom"
    apt_install=(apt-get install -y --no-install-recommends
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    chroot_mounts
    in_chroot apt-get update
    # initramfs-tools and its triggering dependencies first, the kernel alone second:
    # meant to leave one emulated mkinitramfs run instead of two.
    # shellcheck disable=SC2086
    in_chroot "${apt_install[@]}" raspi-firmware initramfs-tools zstd $BOARD_PACKAGES $EXTRA_PACKAGES
    in_chroot "${apt_install[@]}" linux-image-arm64
    in_chroot apt-get clean
    chroot_umounts
    rm -f "$ROOTFS/usr/sbin/policy-rc.d" "$ROOTFS/etc/resolv.conf"
    rm -rf "$ROOTFS"/var/lib/apt/lists/*

    log "caching the base rootfs in $BASE_TAR"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$ROOTFS" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    echo "$key" >"$BASE_KEY"
else
    log "reusing the cached base rootfs $BASE_TAR (--rebuild-base to refresh)"
    remove_rootfs
    mkdir -p "$ROOTFS"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$ROOTFS" -xf "$BASE_TAR"
fi

while read -r f; do
    [[ -e $ROOTFS/lib/firmware/brcm/$f ]] || die "the Wi-Fi firmware file brcm/$f is missing"
done <<<"$WIFI_FILES"

# ---------------------------------------------------------------- 2. chorus on top
log "installing chorus (its Debian package)"
if [[ -z $CHORUS_DEB ]]; then
    CHORUS_DEB=target/deb/chorus_${VERSION}_arm64.deb
    CARGO_TARGET_DIR=target scripts/make-deb arm64 "$CHORUS_BIN"
fi
# dpkg runs the package's maintainer scripts in the emulated chroot as on a box: the user
# and groups (systemd-sysusers), the music folder, chorus.service enabled. Nothing starts
# (no systemd runs in the chroot) and udev is left alone; the rules apply at boot.
binfmt_register
cp "$CHORUS_DEB" "$ROOTFS/tmp/chorus.deb"
chroot_mounts
in_chroot dpkg -i /tmp/chorus.deb
chroot_umounts
rm -f "$ROOTFS/tmp/chorus.deb"
[[ -L $ROOTFS/etc/systemd/system/multi-user.target.wants/chorus.service ]] \
    || die "the package's postinst did not enable chorus.service"

[[ -L $ROOTFS/etc/systemd/system/multi-user.target.wants/chorus-boot-config.service ]] \
    || die "the package's postinst did not enable chorus-boot-config.service"
# The package's postinst merged the device trees in the chroot and never fails a kernel
# upgrade over it; here a failure must stop the build, so merge again on this host.
board/dt/chorus-dtb --root "$ROOTFS"

# Enable units the way `systemctl enable` would, by symlink.
enable_unit() { # enable_unit UNIT_PATH_IN_IMAGE TARGET
    mkdir -p "$ROOTFS/etc/systemd/system/$2.wants"
    ln -sf "$1" "$ROOTFS/etc/systemd/system/$2.wants/$(basename "$1")"
}

# Wired network: DHCP when there is a router, link-local addresses (169.254/16, fe80::)
# when there is none, so boxes on a bare switch still see each other. Without a router
# there is no default route either, and the kernel would find no interface for chorus's
# multicast group (joining it fails with "No such device"): the multicast route sends
# it out of this port whenever the port has a link. It wins over the Wi-Fi's
# (25-wireless.network), as it is the lower metric.
cat >"$ROOTFS/etc/systemd/network/20-wired.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
LinkLocalAddressing=yes

[Route]
Destination=224.0.0.0/4
Metric=1024
EOF
enable_unit /lib/systemd/system/systemd-networkd.service multi-user.target
enable_unit /lib/systemd/system/systemd-networkd.socket sockets.target

# Every card gets its own machine id on first boot, and from it a host name
# chorus-xxxx, which is also the box's default name at a party.
echo uninitialized >"$ROOTFS/etc/machine-id"
# dbus's postinst left the build chroot's id in /var/lib/dbus/machine-id, and systemd
# copies that file into an uninitialized /etc/machine-id on first boot: every card would
# share one machine id, so one host name and one DHCP client id (a router would give
# all boxes the same address). Pointing it at /etc/machine-id, as systemd expects,
# leaves systemd to draw a random id on each card.
ln -sf /etc/machine-id "$ROOTFS/var/lib/dbus/machine-id"
echo chorus >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
cat >"$ROOTFS/etc/systemd/system/chorus-hostname.service" <<'EOF'
[Unit]
Description=Give this box a unique host name on first boot
ConditionFirstBoot=yes
DefaultDependencies=no
After=systemd-remount-fs.service
Before=network-pre.target chorus.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'n="chorus-$(cut -c1-4 /etc/machine-id)"; echo "$n" >/etc/hostname; hostname "$n"'

[Install]
WantedBy=sysinit.target
EOF
enable_unit /etc/systemd/system/chorus-hostname.service sysinit.target

cat >"$ROOTFS/etc/fstab" <<'EOF'
LABEL=RASPIROOT  /               ext4  rw,noatime                 0 1
LABEL=RASPIFIRM  /boot/firmware  vfat  rw,noatime,umask=0077      0 2
EOF

if [[ -n $AUTHORIZED_KEYS ]]; then
    install -D -m 600 "$AUTHORIZED_KEYS" "$ROOTFS/root/.ssh/authorized_keys"
    chmod 700 "$ROOTFS/root/.ssh"
fi

# ---------------------------------------------------------------- 3. partitions
log "boot partition (FAT32, RASPIFIRM)"
BOOTDIR=$ROOTFS/boot/firmware
for f in bootcode.bin start.elf config.txt cmdline.txt bcm2837-rpi-3-b.dtb; do
    [[ -f $BOOTDIR/$f ]] || die "$BOOTDIR/$f missing: did raspi-firmware's hooks run?"
done
compgen -G "$BOOTDIR/vmlinuz-*" >/dev/null || die "no kernel in $BOOTDIR"
# raspi-firmware-custom was in place before the hook ran, so its lines should be in
# config.txt already (a base cached before they changed has older ones); check rather
# than trust.
grep -qxF 'gpio=5,6,16,20,24=ip,pu' "$BOOTDIR/config.txt" \
    || { echo; cat board/dt/raspi-firmware-custom; } >>"$BOOTDIR/config.txt"
install -m 644 board/chorus.txt "$BOOTDIR/chorus.txt"

rm -rf "$QEMU_DIR"
mkdir -p "$QEMU_DIR"
cp "$BOOTDIR"/vmlinuz-* "$QEMU_DIR/vmlinuz"
cp "$BOOTDIR"/initrd.img-* "$QEMU_DIR/initrd.img"
cp "$BOOTDIR/bcm2837-rpi-3-b.dtb" "$QEMU_DIR/"

rm -f "$WORK/boot.vfat" "$WORK/root.ext4"
mkfs.vfat -F 32 -n RASPIFIRM -C "$WORK/boot.vfat" $((BOOT_MB * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$WORK/boot.vfat" "$BOOTDIR"/* ::/
# The files live on the FAT partition; the root only needs the empty mount point.
find "$BOOTDIR" -mindepth 1 -delete

log "root partition (ext4, RASPIROOT, ${ROOT_MB} MiB)"
used_mb=$(du -sm "$ROOTFS" | cut -f1)
((used_mb * 100 / ROOT_MB < 90)) || die "rootfs is ${used_mb} MiB, too big for ${ROOT_MB} MiB: raise IMAGE_MB"
mke2fs -q -t ext4 -L RASPIROOT -d "$ROOTFS" "$WORK/root.ext4" "${ROOT_MB}M"

log "image ${IMAGE_MB} MiB: partition table and partitions"
rm -f "$IMAGE"
truncate -s "${IMAGE_MB}M" "$IMAGE"
sector() { echo $(($1 * 2048)); } # MiB -> 512-byte sectors
sfdisk --quiet "$IMAGE" <<EOF
label: dos
unit: sectors
start=$(sector $BOOT_START_MB), size=$(sector $BOOT_MB), type=c, bootable
start=$(sector $((BOOT_START_MB + BOOT_MB))), size=$(sector $ROOT_MB), type=83
EOF
dd if="$WORK/boot.vfat" of="$IMAGE" bs=1M seek=$BOOT_START_MB conv=notrunc,fsync status=none
dd if="$WORK/root.ext4" of="$IMAGE" bs=1M seek=$((BOOT_START_MB + BOOT_MB)) conv=notrunc,fsync status=none
rm -f "$WORK/boot.vfat" "$WORK/root.ext4"

log "done"
sfdisk --list "$IMAGE"
echo
echo "image:      $IMAGE"
echo "qemu files: $QEMU_DIR (board/qemu-boot.sh)"
echo "flash with: sudo dd if=$IMAGE of=/dev/sdX bs=4M conv=fsync status=progress"
