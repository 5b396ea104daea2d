#!/usr/bin/env bash
# Runs COMMAND in a throwaway VM booted with cgroup v2 only, and exits with its exit status.
#
#   tests/vm/run-in-vm.sh [--systemd] [--timeout SECONDS] [--memory MB] [--cpus N] [--] COMMAND [ARG...]
#
# --systemd: the guest's PID 1 is /lib/systemd/systemd (booting only vpcri-vm.target, whose one
# service runs COMMAND: tests/vm/systemd/), for the systemd cgroup driver. Otherwise a shell script.
#
# The guest is Debian's own kernel (linux-image-amd64) under qemu-system-x86_64 with this
# machine's root filesystem shared read-only over virtio-9p and a tmpfs overlay on top for
# writes: nothing is downloaded or installed, and the guest runs the very binaries of the build
# tree. A tiny initramfs, built here at each run from busybox-static and the kernel's modules,
# mounts that overlay and switch_roots into it; guest-init.sh then runs as PID 1 (cgroup2 alone
# at /sys/fs/cgroup, controllers enabled, loopback up), runs COMMAND in the caller's working
# directory with the caller's environment, and powers off. COMMAND's output comes back on the
# serial console (this script's stdout), its exit status through a writable 9p share.
#
# Exit status: COMMAND's; 124 if the VM ran past --timeout (qemu is then ended by its PID);
# 125 if the VM ended without reporting a status (boot failure, guest panic).
# Environment: VPCRI_VM_KERNEL (default: the newest /boot/vmlinuz-*), VPCRI_VM_ACCEL (qemu
# accelerators to try in turn, e.g. "kvm:tcg"; default "tcg"), VPCRI_VM_KEEP=1 keeps
# the work directory (initramfs, console log) for a post-mortem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
timeout_s=600 memory_mb=2048 cpus=2 init=script
while [ $# -gt 0 ]; do
  case "$1" in
    --systemd) init=systemd; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --memory) memory_mb=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "run-in-vm: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: $0 [--systemd] [--timeout SECONDS] [--memory MB] [--cpus N] [--] COMMAND [ARG...]" >&2
  exit 2
fi

kernel=${VPCRI_VM_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
busybox=/bin/busybox  # busybox-static's: the initramfs has no libc
for need in "$kernel" "$moddir/modules.dep" "$busybox"; do
  if [ ! -e "$need" ]; then
    echo "run-in-vm: missing $need (bash .ci/install-deps --vm installs linux-image-amd64, busybox-static, qemu-system-x86)" >&2
    exit 125
  fi
done
# Software emulation by default: KVM is not there on CI (nor usable nested on its machines).
VPCRI_VM_ACCEL=${VPCRI_VM_ACCEL:-tcg}

work=$(mktemp -d /tmp/vpcri-vm.XXXXXX)
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -TERM "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  if [ "${VPCRI_VM_KEEP:-0}" = 1 ]; then echo "run-in-vm: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The kernel, uncompressed: qemu boots an ELF vmlinux straight at its PVH entry point, which
# spares the guest decompressing vmlinuz under software emulation (about 15 s of every boot).
# Extracted once per kernel into VPCRI_VM_CACHE (default /var/tmp/vpcri-vm-cache).
cache=${VPCRI_VM_CACHE:-/var/tmp/vpcri-vm-cache}
vmlinux=$cache/vmlinux-$kver-$(stat -c %s-%Y "$kernel")
if [ ! -s "$vmlinux" ]; then
  mkdir -p "$cache"
  python3 "$here/extract-vmlinux.py" "$kernel" "$vmlinux.tmp.$$" && mv "$vmlinux.tmp.$$" "$vmlinux" ||
    { rm -f "$vmlinux.tmp.$$"; vmlinux=$kernel; }
fi

# The initramfs: busybox, the modules that reach the 9p root (and virtio_blk, loop: block
# devices the device tests aim at; nothing loads modules on demand there), stage 1 of the init.
initrd=$work/initramfs
mkdir -p "$initrd"/{bin,dev,proc,sys,lower,rw,newroot,modules}
cp "$busybox" "$initrd/bin/busybox"
modules=$(for m in virtio_pci 9pnet_virtio 9p overlay virtio_blk loop; do
            modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
          done | awk '!seen[$0]++')
for m in $modules; do
  cp "$m" "$initrd/modules/"
  echo "${m##*/}" >>"$initrd/modules/order"
done
cp "$here/initramfs-init.sh" "$initrd/init"
cp "$here/guest-init.sh" "$here/guest-systemd.sh" "$initrd/"
mkdir -p "$initrd/systemd-units"
cp "$here"/systemd/*.target "$here"/systemd/*.service "$initrd/systemd-units/"
chmod +x "$initrd/init"
(cd "$initrd" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"

# What the guest runs: the command, where, and with which environment.
share=$work/share
mkdir -p "$share"
{
  export -p | grep -v -E '^declare -x (BASHOPTS|SHELLOPTS|BASH_[A-Z_]*|PPID|UID|EUID|TERM|OLDPWD|_)='
  printf 'cd %q\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$share/command.sh"

# A small disk (/dev/vda in the guest): a block device of the "host" for the device attacks
# (tests/security/devices_test.cc) to aim at, holding a recognisable first sector.
disk=$work/disk.img
{ printf 'vpcri-vm scratch disk\n'; head -c 1048576 /dev/zero; } >"$disk"

accel_args=()
IFS=: read -r -a accels <<<"$VPCRI_VM_ACCEL"
for a in "${accels[@]}"; do accel_args+=(-accel "$a"); done

# loglevel=4: kernel warnings and errors reach the console, the boot chatter does not.
# no_timer_check: on a loaded host the emulated CPU falls behind the timer the kernel checks
# at boot, which then panics ("IO-APIC + timer doesn't work").
append="console=ttyS0 loglevel=${VPCRI_VM_LOGLEVEL:-4} no_timer_check panic=-1 rdinit=/init systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
if [ "$init" = systemd ]; then
  # Only vpcri-vm.target; systemd's own messages at notice level and above on the console.
  append+=" vpcri.init=systemd systemd.log_level=${VPCRI_VM_SYSTEMD_LOGLEVEL:-notice} systemd.firstboot=0"
fi
started_ms=$(( $(date +%s%N) / 1000000 ))
nice -n 19 qemu-system-x86_64 \
  "${accel_args[@]}" -cpu max -smp "$cpus" -m "$memory_mb" \
  -nodefaults -no-user-config -display none -no-reboot \
  -serial stdio -monitor none \
  -kernel "$vmlinux" -initrd "$work/initramfs.cpio" -append "$append" \
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=vmshare,path=$share,security_model=none" \
  -device virtio-9p-pci,fsdev=vmshare,mount_tag=vmshare \
  -drive "file=$disk,format=raw,if=virtio" \
  -device virtio-rng-pci \
  </dev/null &
qemu_pid=$!

# The watchdog is this loop: qemu is ended by its PID when the time is up.
status=
deadline=$(( $(date +%s) + timeout_s ))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "run-in-vm: timed out after ${timeout_s}s; stopping qemu (pid $qemu_pid)" >&2
    kill -TERM "$qemu_pid" 2>/dev/null || true
    status=124
    break
  fi
  sleep 0.5
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
elapsed_ms=$(( $(date +%s%N) / 1000000 - started_ms ))
elapsed=$(printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))

if [ -z "$status" ]; then
  if [ -s "$share/status" ]; then
    status=$(cat "$share/status")
  else
    echo "run-in-vm: the VM ended without reporting an exit status" >&2
    status=125
  fi
fi
boot=$(cat "$share/boot-seconds" 2>/dev/null || echo "?")
echo "run-in-vm: exit status $status; VM wall time ${elapsed}s (command started ${boot}s after kernel start; accel $VPCRI_VM_ACCEL)" >&2
exit "$status"
