#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ct-init.sh ROOT [--bind SRC:DST[:ro]]... -- CMD [ARG...]
#
# PID 1 of a container built by hand the way LXC, nspawn and runc build one (tests only; see
# container-lib.sh, which starts it with `unshare --pid --mount --uts --ipc [--net] --fork`):
# mounts become slaves of the host's, ROOT (a btrfs subvolume) is bound onto itself and gets a
# tmpfs /dev with device nodes, devpts, /dev/shm, mqueue, read-only sysfs and the host bind
# mounts asked for; then pivot_root into it, the old root is detached, /proc mounted, the
# host name set and lo brought up. Standard input and output are reopened inside (/dev/null of
# the container's own /dev: an fd on a host file would tie the container to the host), and CMD
# replaces this shell as PID 1, with a clean environment.
set -euo pipefail

root=${1:?usage: ct-init.sh ROOT [--bind SRC:DST[:ro]]... -- CMD [ARG...]}
shift
binds=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	case $1 in
	--bind) binds+=("$2"); shift 2 ;;
	*) echo "ct-init.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "${1:-}" = -- ] || { echo "ct-init.sh: missing -- CMD" >&2; exit 2; }
shift

mount --make-rslave /
mount --bind "$root" "$root"

mount -t tmpfs -o mode=0755,size=1m,nosuid tmpfs "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r name major minor <<<"$node"
	mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
done
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777,size=16m,nosuid,nodev tmpfs "$root/dev/shm"
mount -t mqueue mqueue "$root/dev/mqueue"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

for b in ${binds[@]+"${binds[@]}"}; do
	IFS=: read -r src dst opt <<<"$b"
	mkdir -p "$root$dst"
	mount --bind "$src" "$root$dst"
	[ "$opt" != ro ] || mount -o remount,bind,ro "$root$dst"
done

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
mount -t proc -o nosuid,nodev,noexec proc /proc # before umount: libmount reads /proc/self/mountinfo
umount -l /.oldroot
rmdir /.oldroot
hostname ckptd-ct
ip link set lo up

exec </dev/null >/dev/null 2>&1
for fd in /proc/self/fd/*; do # nothing inherited from the host beyond this point
	fd=${fd##*/}
	if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then eval "exec $fd>&-"; fi
done
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/root "$@"
