# Stage 2 of the VM's init in --systemd mode (run-in-vm.sh): run by vpcri-vm-command.service
# under systemd as PID 1 (the unit vpcri-vm.target pulls in, nothing else), with the initramfs's
# busybox (sh). Runs the command from the share, writes its exit status there and powers off.
share=/run/vm
busybox=/run/vm-init/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

read -r uptime _ </proc/uptime
echo "$uptime" >$share/boot-seconds
bash $share/command.sh </dev/null
echo $? >$share/status
$busybox sync
echo o >/proc/sysrq-trigger
$busybox sleep 60
