#!/bin/busybox sh
# Stage 1 of the VM's init (run-in-vm.sh), PID 1 in the initramfs: makes the guest a
# cgroup-v2-only node and hands over to stage 2 (guest-init.sh) in the host's root filesystem.
# - the host's root over virtio-9p, read-only, with a tmpfs overlay on top for writes;
# - the share at /run/vm (the command, and where its exit status goes);
# - cgroup2 alone at /sys/fs/cgroup with cpu, cpuset, io, memory and pids enabled at the root;
# - /proc, /sys, /dev (pts, shm, mqueue), a tmpfs /tmp, bpffs, loopback up.
# Everything here is busybox from the initramfs: every program run from the 9p root is paged
# in over 9p under software emulation, which costs most of a second each.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  echo "vm stage 1: $*" >&2
  echo o >/proc/sysrq-trigger  # power off: the host sees no status and reports a failed boot
  sleep 60
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
cmdline=$(cat /proc/cmdline)
while read -r module; do
  insmod "/modules/$module" || fail "insmod $module"
done </modules/order

# cache=loose: the host's files do not change under a test run, and every page read over 9p
# under software emulation is slow, so the guest may keep what it read.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower || fail "mount the host's root"
mount -t tmpfs -o mode=0755 overlay-rw /rw || fail "mount tmpfs"
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount the overlay root"

new=/newroot
mount -t tmpfs -o mode=0755,nosuid,nodev run $new/run || fail "mount /run"
mkdir -p $new/run/vm $new/run/vm-init
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vmshare $new/run/vm || fail "mount the share"
cp /bin/busybox /guest-init.sh /guest-systemd.sh $new/run/vm-init/
for fs in proc sys dev; do
  mount --move "/$fs" "$new/$fs" || fail "move /$fs"
done

mount -t cgroup2 -o nsdelegate cgroup2 $new/sys/fs/cgroup || fail "mount cgroup2"
for controller in cpu cpuset io memory pids; do
  echo "+$controller" >$new/sys/fs/cgroup/cgroup.subtree_control || fail "enable the $controller controller"
done
mount -t bpf bpf $new/sys/fs/bpf || fail "mount bpffs"
mkdir -p $new/dev/pts $new/dev/shm $new/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $new/dev/pts || fail "mount devpts"
ln -sf pts/ptmx $new/dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm $new/dev/shm || fail "mount /dev/shm"
mount -t mqueue mqueue $new/dev/mqueue || fail "mount mqueue"
ln -sf /proc/self/fd $new/dev/fd
ln -sf /proc/self/fd/0 $new/dev/stdin
ln -sf /proc/self/fd/1 $new/dev/stdout
ln -sf /proc/self/fd/2 $new/dev/stderr
# /tmp is a tmpfs of its own, not the root overlay: container rootfs overlays need an upper
# directory on a filesystem overlayfs accepts as upper, which overlayfs itself is not.
mount -t tmpfs -o mode=1777,nosuid,nodev tmp $new/tmp || fail "mount /tmp"
ip link set lo up || fail "loopback up"
hostname vpcri-vm

case " $cmdline " in
  *" vpcri.init=systemd "*)
    # systemd as PID 1 (run-in-vm.sh --systemd): it finds /proc, /sys, /dev, /run and cgroup2
    # mounted and keeps them; the units it boots come from the initramfs.
    mkdir -p $new/etc/systemd/system
    cp /systemd-units/* $new/etc/systemd/system/ || fail "install the VM's systemd units"
    # The build machine's root may be a container's (/.dockerenv): systemd would then think it
    # runs in one, ignore the kernel's command line and boot graphical.target.
    rm -f $new/.dockerenv $new/run/.containerenv
    exec switch_root $new /lib/systemd/systemd --unit=vpcri-vm.target --show-status=0 --log-target=console ;;
esac
exec switch_root $new /run/vm-init/busybox sh /run/vm-init/guest-init.sh
