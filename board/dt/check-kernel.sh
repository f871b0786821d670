#!/usr/bin/env bash
# Checks the Pirate Audio device tree against the kernel Debian ships for the image:
# downloads the current linux-image-*-arm64 package, merges board/dt into its Pi 3, Pi 3 B+,
# Pi 4 and Zero 2 W trees with chorus-dtb, and verifies that each merged tree compiles
# and holds the nodes, and that every driver those nodes need is in that kernel (built in,
# or a module that exists and whose alias matches the node's compatible, so udev loads it).
#
# Then it boots the merged Pi 3 B tree in qemu (raspi3b) and checks that the drivers
# bind: the sound card, /dev/spidev0.1, the pins and the GPIO 25 hog.
#
# Usage (root, Debian 12, any architecture): board/dt/check-kernel.sh
# Environment:
#   KERNEL_PACKAGE  check this package instead of what linux-image-arm64 depends on
#   WORK            scratch and download cache (default target/dt-check)
#   CHORUS_DT_BOOT  0 skips the qemu boot (about 30 s)
# Prints one PASS or FAIL line per check; exit status 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/prereqs.sh
source scripts/prereqs.sh

WORK=${WORK:-$PWD/target/dt-check}
failures=0
pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
die() { echo "FAIL  $*"; echo "check-kernel: stopped" >&2; exit 1; }

# ---------------------------------------------------------------- the kernel package
chorus_need_apt device-tree-compiler kmod
if ! dpkg --print-foreign-architectures | grep -qx arm64 && [[ $(dpkg --print-architecture) != arm64 ]]; then
    [[ $(id -u) -eq 0 ]] || die "arm64 is not a dpkg architecture here; as root: dpkg --add-architecture arm64 && apt-get update"
    dpkg --add-architecture arm64
    apt-get update -qq
fi
pkg=${KERNEL_PACKAGE:-}
if [[ -z $pkg ]]; then
    pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[^:]*-arm64\).*/\1/p' | head -n 1)
    if [[ -z $pkg ]]; then
        apt-get update -qq
        pkg=$(apt-cache depends linux-image-arm64:arm64 |
            sed -n 's/^ *Depends: \(linux-image-[^:]*-arm64\).*/\1/p' | head -n 1)
    fi
fi
[[ -n $pkg ]] || die "cannot tell which kernel linux-image-arm64 installs (apt-cache depends)"
kernel=${pkg#linux-image-}
mkdir -p "$WORK/debs"
deb=$(find "$WORK/debs" -name "${pkg}_*_arm64.deb" | sort -V | tail -n 1)
if [[ -z $deb ]]; then
    # apt warns that root downloads unsandboxed into a directory _apt cannot write; harmless.
    (cd "$WORK/debs" && { apt-get download -q "$pkg:arm64" 2>&1 | grep -v 'unsandboxed'; }) || true
    deb=$(find "$WORK/debs" -name "${pkg}_*_arm64.deb" | sort -V | tail -n 1)
fi
[[ -n $deb ]] || die "apt-get download $pkg:arm64 gave no package"
pass "kernel package $(basename "$deb")"
root=$WORK/root
rm -rf "$root"
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
config=$root/boot/config-$kernel
modules=$root/lib/modules/$kernel
[[ -f $config && -d $modules ]] || die "$deb has no boot/config-$kernel or lib/modules/$kernel"

# ---------------------------------------------------------------- the merged trees
out=$WORK/merged
rm -rf "$out"
if board/dt/chorus-dtb --root "$root" --kernel "$kernel" --out "$out" >"$WORK/merge.log" 2>&1; then
    pass "chorus-dtb merged the trees of $kernel"
else
    cat "$WORK/merge.log"
    fail "chorus-dtb could not merge the trees of $kernel"
fi
# Running it again must change nothing.
sums() { (cd "$out" && sha256sum ./*.dtb 2>/dev/null) || true; }
before=$(sums)
board/dt/chorus-dtb --root "$root" --kernel "$kernel" --out "$out" >/dev/null 2>&1 || true
after=$(sums)
if [[ -n $before && $before == "$after" ]]; then pass "chorus-dtb is idempotent"; else fail "chorus-dtb gave different trees on a second run"; fi

# expect DTB PATH PROPERTY VALUE [TYPE]: fdtget's value of the property equals VALUE.
expect() {
    local dtb=$1 node=$2 prop=$3 want=$4 type=${5:-s} got
    got=$(fdtget -t "$type" "$dtb" "$node" "$prop" 2>/dev/null) || got="(missing)"
    if [[ $got == "$want" ]]; then return 0; fi
    echo "      $node $prop: got '$got', want '$want'"
    return 1
}

# phandle_of DTB PATH: the node's phandle, or nothing.
phandle_of() { fdtget -t u "$1" "$2" phandle 2>/dev/null || true; }

check_tree() {
    local board=$1 dtb=$out/$1.dtb ok=true gpio=/soc/gpio@7e200000 i2s=/soc/i2s@7e203000
    local spi=/soc/spi@7e204000
    [[ -f $dtb ]] || { fail "$board: no merged tree"; return; }
    if dtc -q -I dtb -O dts -o /dev/null "$dtb"; then pass "$board: merged tree decompiles"; else fail "$board: merged tree is not a valid DTB"; fi
    # I2S on, with DMA and its pins muxed.
    expect "$dtb" $i2s status okay || ok=false
    fdtget "$dtb" $i2s dmas >/dev/null 2>&1 || { echo "      $i2s has no dmas"; ok=false; }
    expect "$dtb" $i2s pinctrl-0 "$(phandle_of "$dtb" $gpio/chorus-i2s)" u || ok=false
    expect "$dtb" $gpio/chorus-i2s brcm,pins "18 19 21" u || ok=false
    expect "$dtb" $gpio/chorus-i2s brcm,function 4 u || ok=false
    # The sound card: simple-audio-card from the I2S to the no-control codec.
    expect "$dtb" /chorus-sound compatible simple-audio-card || ok=false
    expect "$dtb" /chorus-sound simple-audio-card,name PirateAudio || ok=false
    expect "$dtb" /chorus-sound/simple-audio-card,cpu sound-dai "$(phandle_of "$dtb" $i2s)" u || ok=false
    expect "$dtb" /chorus-sound/simple-audio-card,codec sound-dai "$(phandle_of "$dtb" /pirate-audio-dac)" u || ok=false
    expect "$dtb" /pirate-audio-dac compatible linux,spdif-dit || ok=false
    if $ok; then pass "$board: I2S, DMA, pinmux 18/19/21 and the PirateAudio card"; else fail "$board: sound nodes"; fi
    ok=true
    expect "$dtb" $spi status okay || ok=false
    expect "$dtb" $spi pinctrl-0 "$(phandle_of "$dtb" $gpio/chorus-spi0)" u || ok=false
    expect "$dtb" $gpio/chorus-spi0 brcm,pins "7 10 11" u || ok=false
    expect "$dtb" $spi/display@1 compatible rohm,dh2228fv || ok=false
    expect "$dtb" $spi/display@1 reg 1 u || ok=false
    if $ok; then pass "$board: SPI0 on, spidev on CE1 (/dev/spidev0.1)"; else fail "$board: display nodes"; fi
    ok=true
    expect "$dtb" $gpio pinctrl-0 "$(phandle_of "$dtb" $gpio/chorus-buttons)" u || ok=false
    expect "$dtb" $gpio/chorus-buttons brcm,pins "5 6 16 20 24" u || ok=false
    expect "$dtb" $gpio/chorus-buttons brcm,pull 2 u || ok=false
    fdtget "$dtb" $gpio/chorus-dac-enable-hog gpio-hog >/dev/null 2>&1 || { echo "      no gpio-hog"; ok=false; }
    fdtget "$dtb" $gpio/chorus-dac-enable-hog output-high >/dev/null 2>&1 || { echo "      hog not output-high"; ok=false; }
    expect "$dtb" $gpio/chorus-dac-enable-hog gpios "25 0" u || ok=false
    if $ok; then pass "$board: button pull-ups 5 6 16 20 24, GPIO 25 held high"; else fail "$board: button and DAC-enable nodes"; fi
}

for board in bcm2837-rpi-3-b bcm2711-rpi-4-b bcm2837-rpi-zero-2-w; do check_tree "$board"; done
# Shipped by some kernels only; checked when it is there.
for board in bcm2837-rpi-3-b-plus bcm2837-rpi-3-a-plus; do
    [[ -f $root/usr/lib/linux-image-$kernel/broadcom/$board.dtb ]] && check_tree "$board"
done

# ---------------------------------------------------------------- the drivers
# built_in SYMBOL: the kernel has it compiled in.
built_in() { grep -qx "CONFIG_$1=y" "$config"; }

# need_module SYMBOL MODULE COMPATIBLE: a driver for COMPATIBLE (empty: none needed) is
# built in, or MODULE.ko exists with a matching alias and its dependencies exist too.
need_module() {
    local symbol=$1 module=$2 compatible=$3 ko dep
    if built_in "$symbol"; then
        if [[ -n $compatible ]] && ! grep -aqF "$compatible" "$root/boot/vmlinuz-$kernel"; then
            fail "CONFIG_$symbol=y but the kernel image does not mention $compatible"
            return
        fi
        pass "CONFIG_$symbol=y ($module built in${compatible:+, matches $compatible})"
        return
    fi
    grep -qx "CONFIG_$symbol=m" "$config" || { fail "CONFIG_$symbol is not set: no $module in $kernel"; return; }
    ko=$(find "$modules" -name "$module.ko*" | head -n 1)
    [[ -n $ko ]] || { fail "CONFIG_$symbol=m but $module.ko is not in the package"; return; }
    if [[ -n $compatible ]] && ! modinfo -F alias "$ko" | grep -qx "of:N\*T\*C${compatible}"; then
        fail "$module.ko has no alias for $compatible: udev would not load it"
        return
    fi
    for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
        [[ -n $(find "$modules" -name "$dep.ko*" | head -n 1) ]] || grep -q "/$dep.ko\$" "$modules/modules.builtin" \
            || { fail "$module.ko needs $dep, which is missing"; return; }
    done
    pass "CONFIG_$symbol=m: $module.ko${compatible:+ (loaded for $compatible)}"
}

need_module PINCTRL_BCM2835 pinctrl-bcm2835 ""          # pinmux, pulls, the GPIO 25 hog
need_module GPIO_CDEV gpio-cdev ""                      # /dev/gpiochip0
need_module GPIO_CDEV_V1 gpio-cdev-v1 ""                # the ABI chorus speaks
need_module DMA_BCM2835 bcm2835-dma brcm,bcm2835-dma
need_module SND_BCM2835_SOC_I2S snd-soc-bcm2835-i2s brcm,bcm2835-i2s
need_module SND_SIMPLE_CARD snd-soc-simple-card simple-audio-card
need_module SND_SOC_SPDIF snd-soc-spdif-tx linux,spdif-dit
need_module SPI_BCM2835 spi-bcm2835 brcm,bcm2835-spi
need_module SPI_SPIDEV spidev rohm,dh2228fv

# ---------------------------------------------------------------- booting a merged tree
# The Pi 3 B tree boots Debian's kernel in qemu's raspi3b machine (the only one of the
# three boards this qemu emulates) with a small initramfs: it loads modules the way udev
# does (each device's modalias), then reports the sound card, the spidev node, the pin
# settings and the GPIO 25 hog. qemu has no I2S or SPI peripherals behind them, so this
# proves the kernel takes the tree and binds every driver, not that sound plays.
# make_initramfs DIR: DIR/initramfs.gz with busybox, the drivers and their dependencies,
# and an /init that loads modules by modalias and prints what the checks read.
make_initramfs() {
    local dir=$1 bb i
    bb=$(find "$WORK/debs" -name 'busybox-static_*_arm64.deb' | head -n 1)
    if [[ -z $bb ]]; then
        (cd "$WORK/debs" && { apt-get download -q busybox-static:arm64 2>&1 | grep -v 'unsandboxed'; }) || true
        bb=$(find "$WORK/debs" -name 'busybox-static_*_arm64.deb' | head -n 1)
    fi
    [[ -n $bb ]] || { fail "qemu: no busybox-static:arm64 package"; return 1; }
    rm -rf "$dir"
    mkdir -p "$dir/x" "$dir/initramfs/bin" "$dir/initramfs/lib/modules/$kernel"
    dpkg-deb -x "$bb" "$dir/x"
    cp "$dir/x/bin/busybox" "$dir/initramfs/bin/"
    depmod -b "$root" "$kernel"
    cp "$modules"/modules.* "$dir/initramfs/lib/modules/$kernel/"
    for i in snd-soc-bcm2835-i2s snd-soc-simple-card snd-soc-spdif-tx spi-bcm2835; do
        modprobe -d "$root" -S "$kernel" --show-depends "$i" | awk '{print $2}'
    done | sort -u | while read -r i; do
        install -D -m 644 "$i" "$dir/initramfs/${i#"$root"/}"
    done
    cat >"$dir/initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
for d in /sys/bus/platform/devices/* /sys/bus/spi/devices/*; do
    [ -f "$d/modalias" ] && modprobe -q "$(cat "$d/modalias")" 2>/dev/null
done
sleep 3
echo "=== modules"; cut -d' ' -f1 /proc/modules
echo "=== cards"; cat /proc/asound/cards; ls -1 /dev/snd
echo "=== spidev"; ls -1 /dev/spidev*
echo "=== pins"; cat /sys/kernel/debug/pinctrl/pinctrl-handles
echo "=== gpio"; cat /sys/kernel/debug/gpio
echo "=== DONE"
poweroff -f
INIT
    chmod 755 "$dir/initramfs/init"
    mkdir -p "$dir/initramfs/proc" "$dir/initramfs/sys" "$dir/initramfs/dev"
    (cd "$dir/initramfs" && find . | cpio -o -H newc --quiet | gzip -1 >"$dir/initramfs.gz")
}

boot_check() {
    local dir=$WORK/boot log qemu_pid i
    chorus_need_apt cpio
    chorus_need_qemu_system
    make_initramfs "$dir" || return
    log=$dir/serial.log
    qemu-system-aarch64 -M raspi3b -m 1G -nographic -no-reboot \
        -kernel "$root/boot/vmlinuz-$kernel" -dtb "$out/bcm2837-rpi-3-b.dtb" \
        -initrd "$dir/initramfs.gz" -append "console=ttyAMA0,115200 rdinit=/init loglevel=4" \
        </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    # qemu's raspi3b never powers off: wait for the marker, then stop it.
    for ((i = 0; i < 180; i++)); do
        grep -q '^=== DONE' "$log" 2>/dev/null && break
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 1
    done
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    tr -d '\r' <"$log" >"$log.txt"
    log=$log.txt
    if ! grep -q '^=== DONE' "$log"; then
        tail -n 30 "$log"
        fail "qemu raspi3b: the merged Pi 3 B tree did not boot to the check (log: $log)"
        return
    fi
    pass "qemu raspi3b: Debian's kernel boots the merged Pi 3 B tree"
    local absent="" m
    for m in snd_soc_bcm2835_i2s snd_soc_simple_card snd_soc_spdif_tx spi_bcm2835; do
        sed -n '/^=== modules/,/^=== cards/p' "$log" | grep -qx "$m" || absent+=" $m"
    done
    if [[ -z $absent ]]; then pass "qemu: loading by modalias (as udev does) brings in every driver"; else fail "qemu: not loaded:$absent"; fi
    if grep -q '\[PirateAudio *\]: simple-card' "$log" && grep -qE '^pcmC[0-9]+D0p$' "$log"; then
        pass "qemu: ALSA card PirateAudio with a playback device"
    else
        fail "qemu: no PirateAudio card with a playback device"
    fi
    if grep -qx '/dev/spidev0.1' "$log"; then pass "qemu: /dev/spidev0.1 exists"; else fail "qemu: no /dev/spidev0.1"; fi
    # pinctrl-handles: each device's pin settings; config 0x280 is the bcm2835 pull-up.
    local i2s spi pulls
    i2s=$(sed -n '/^device: .*\.i2s /,/^device:/p' "$log" | grep -cE 'group: gpio(18|19|21) .*function: alt0')
    spi=$(sed -n '/^device: .*\.spi /,/^device:/p' "$log" | grep -cE 'group: gpio(7|10|11) .*function: alt0')
    pulls=$(sed -n '/^device: .*\.gpio /,/^device:/p' "$log" | grep -cE 'pin gpio(5|6|16|20|24) .*config 00000280')
    if ((i2s == 3 && spi == 3)); then pass "qemu: pins 18 19 21 on I2S, 7 10 11 on SPI0"; else fail "qemu: pinmux I2S $i2s/3, SPI $spi/3"; fi
    if ((pulls == 5)); then pass "qemu: pull-ups set on GPIO 5 6 16 20 24"; else fail "qemu: $pulls/5 pull-ups set"; fi
    if grep -qE 'GPIO25 .*\|pirate-audio-dac-ena\) out hi' "$log"; then pass "qemu: GPIO 25 held high"; else fail "qemu: GPIO 25 is not held high"; fi
}

if [[ ${CHORUS_DT_BOOT:-1} == 0 ]]; then
    echo "SKIP  qemu boot of the merged Pi 3 B tree (CHORUS_DT_BOOT=0)"
else
    boot_check
fi

echo
if ((failures)); then
    echo "check-kernel: $failures check(s) FAILED for $kernel"
    exit 1
fi
echo "check-kernel: all checks passed for $kernel"
