# Stage 2 of the VM's init (run-in-vm.sh), PID 1 in the host's root filesystem, run by the
# initramfs's busybox (sh): runs the command from the share in a leaf cgroup of its own, writes
# its exit status to the share and powers the VM off.
share=/run/vm
busybox=/run/vm-init/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

read -r uptime _ </proc/uptime
echo "$uptime" >$share/boot-seconds

# The command runs in a leaf cgroup, as a service would on a systemd node: the root cgroup is
# exempt from the rules (no processes beside enabled controllers) that every other one obeys.
$busybox mkdir /sys/fs/cgroup/vm-command
$busybox sh -c 'echo $$ >/sys/fs/cgroup/vm-command/cgroup.procs && exec bash "$1"' vm-command $share/command.sh \
  </dev/null
echo $? >$share/status
$busybox sync
echo o >/proc/sysrq-trigger
$busybox sleep 60
