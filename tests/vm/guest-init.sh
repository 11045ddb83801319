#!/bin/busybox sh
# /init of the test guest (tests/vm/run-vm-test.sh): mounts the kernel filesystems, loads the
# modules, then runs /ckptd-test/main with its output on the second serial port (ttyS1) and ends
# with the line "CKPTD-VM-EXIT <status>" there. The kernel console stays on ttyS0.
/bin/busybox --install -s /usr/bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null

out=/dev/ttyS1
t_kernel=$(cut -d' ' -f1 /proc/uptime)
for m in $(cat /usr/lib/modules-ckptd/modules.order); do
	insmod "/usr/lib/modules-ckptd/$m" 2>/dev/null || echo "guest: insmod $m failed" >$out
done
ip link set lo up
hostname ckptd-vm
# No udev: LVM makes /dev/VG/LV and /dev/mapper itself (see /etc/lvm/lvm.conf).
export DM_DISABLE_UDEV=1

echo "guest: Linux $(uname -r), $(grep -o 'ckptd_accel=[a-z]*' /proc/cmdline), /init started at $t_kernel s, modules loaded at $(cut -d' ' -f1 /proc/uptime) s (uptime)" >$out
sh /ckptd-test/main >$out 2>&1 </dev/null
rc=$?
echo "CKPTD-VM-EXIT $rc (uptime $(cut -d' ' -f1 /proc/uptime) s)" >$out
sync
poweroff -f
