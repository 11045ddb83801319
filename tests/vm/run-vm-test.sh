#!/usr/bin/env bash
# tests/vm/run-vm-test.sh GUEST_SCRIPT — runs GUEST_SCRIPT as root inside a qemu guest with a Debian 12
# kernel that has device-mapper (this host's kernel has none), and the project's own ckptd, ckptctl
# and cryo. Used by the meson suite `lvm` (tests/vm/meson.build).
#
# The guest: Debian 12's linux-image-*-amd64 (downloaded with apt-get download, unpacked, never
# installed), booted with an initramfs only: static busybox as /init, the host's own lvm, dmsetup,
# thin_check, mkfs.ext4, mkfs.btrfs, btrfs, criu (Debian 12's 3.17, which works on the guest's 6.1
# kernel), unshare and jq, copied with the shared libraries ldd names (host and guest are both
# Debian 12). Two virtual disks: vda for LVM, vdb for btrfs. No network, no udev.
#
# Cached under $CKPTD_VM_CACHE (default /var/cache/ckptd-test): the kernel and the modules the guest
# needs, and the base initramfs (rebuilt when one of the copied host files changes). Per run only a
# small archive with the project's binaries and the scripts is built and appended.
#
# Output: the guest's kernel console and the test's own output (second serial port) are written
# to logs under the build directory and printed at the end. qemu runs under `timeout`: it is
# killed after $CKPTD_VM_TIMEOUT seconds (default 900), whatever happens inside.
# Acceleration: KVM when /dev/kvm exists and a probe guest boots with it within 20 s (a nested
# "PVM" KVM can hang a Debian kernel forever); otherwise TCG (software emulation).
#
# Environment (set by meson): CKPTD CKPTCTL CRYO (the built binaries), BUILD_DIR; MEMW (optional:
# the memw workload, copied in too). CKPTD_VM_MEMORY (MiB, default 2048), CKPTD_VM_BTRFS_SIZE (the
# second disk, default 512M), CKPTD_VM_PARAMS (optional: shell assignments the guest script finds
# in /ckptd-test/params, e.g. the benchmark's sizes).
# Exit: 0 the guest script passed; 1 it failed or the guest did not finish; 77 not root.
set -euo pipefail

GUEST_SCRIPT=${1:?usage: run-vm-test.sh GUEST_SCRIPT}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CKPTD_VM_CACHE:-/var/cache/ckptd-test}
TIMEOUT=${CKPTD_VM_TIMEOUT:-900}
MEM=${CKPTD_VM_MEMORY:-2048}
NAME=$(basename "$GUEST_SCRIPT" .sh)
LOGDIR=${BUILD_DIR:-/tmp}/meson-logs
BASE_FORMAT=4 # bump when what goes into the base image changes

# Kernel modules the guest loads, in this order (dependencies are added before each).
MODULES=(virtio_pci virtio_blk dm-mod dm-snapshot dm-thin-pool ext4 btrfs crc32c_generic loop
	unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag nfnetlink nf_tables tun veth)
# Host programs copied into the guest (with their libraries).
PROGRAMS=(/usr/sbin/lvm /usr/sbin/dmsetup /usr/sbin/pdata_tools /usr/sbin/mke2fs /usr/sbin/e2fsck
	/usr/sbin/mkfs.btrfs /usr/bin/btrfs /usr/sbin/criu /usr/bin/unshare /usr/bin/jq /usr/bin/flock)

log() { printf 'vm: %s\n' "$*" >&2; }
die() { printf 'vm: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { log "needs root"; exit 77; }
for v in CKPTD CKPTCTL CRYO; do
	[ -x "${!v:-}" ] || die "\$$v is not set to a built binary (run through meson test)"
done
missing=()
for p in qemu-system-x86_64 busybox cpio depmod modprobe dpkg-deb apt-get timeout flock "${PROGRAMS[@]}"; do
	command -v "$p" >/dev/null || missing+=("$p")
done
[ -e /usr/sbin/thin_check ] || missing+=(thin_check)
busybox --list >/dev/null 2>&1 && ! ldd "$(command -v busybox)" >/dev/null 2>&1 || missing+=("static busybox (busybox-static)")
[ ${#missing[@]} -eq 0 ] || die "missing on this host: ${missing[*]} (run tools/setup)"

mkdir -p "$CACHE" "$LOGDIR"
exec 8>"$CACHE/.lock"
flock -w 600 8 || die "another VM test holds $CACHE/.lock"

WORK=$(mktemp -d /var/tmp/ckptd-vm.XXXXXX)
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill -KILL "$QEMU_PID" 2>/dev/null || true
	rm -rf -- "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Kernel and modules (cached per kernel version)
# ---------------------------------------------------------------------------------------------
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

PKG=$(kernel_package || true)
if [ -z "$PKG" ]; then
	# The package lists may be missing (a fresh machine whose packages were all installed).
	[ -n "$(ls "$CACHE"/kernel/*/done 2>/dev/null | head -n1)" ] ||
		{ log "apt-get update (no package lists)"; apt-get update -q >/dev/null || true; }
	PKG=$(kernel_package || true)
fi
if [ -z "$PKG" ]; then
	# No lists and no network: use the newest cached kernel, if any.
	KDIR=$(ls -d "$CACHE"/kernel/*/ 2>/dev/null | sort -V | tail -n1)
	KDIR=${KDIR%/}
	[ -n "$KDIR" ] && [ -e "$KDIR/done" ] || die "cannot resolve linux-image-amd64 and no kernel is cached in $CACHE/kernel"
else
	KVER=${PKG#linux-image-}
	KDIR=$CACHE/kernel/$KVER
fi

if [ ! -e "$KDIR/done" ]; then
	t0=$(date +%s)
	KVER=${KDIR##*/}
	log "fetching and unpacking $PKG (once; cached in $KDIR)"
	rm -rf -- "$KDIR"
	mkdir -p "$WORK/deb" "$KDIR/modules"
	chmod 0777 "$WORK/deb" # apt downloads as _apt
	(cd "$WORK/deb" && apt-get download -q "$PKG" >/dev/null 2>&1) ||
		{ apt-get update -q >/dev/null 2>&1 || true; (cd "$WORK/deb" && apt-get download -q "$PKG" >/dev/null); } ||
		die "apt-get download $PKG failed"
	mkdir "$WORK/k"
	dpkg-deb -x "$WORK"/deb/*.deb "$WORK/k"
	cp "$WORK/k/boot/vmlinuz-$KVER" "$KDIR/vmlinuz"
	depmod -b "$WORK/k" "$KVER"
	: >"$KDIR/modules.order"
	for m in "${MODULES[@]}"; do
		modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$KDIR/modules/"
		basename "$ko" >>"$KDIR/modules.order"
	done
	rm -rf -- "$WORK/k" "$WORK/deb"
	touch "$KDIR/done"
	log "kernel $KVER ready ($(($(date +%s) - t0)) s)"
fi
KVER=${KDIR##*/}

# ---------------------------------------------------------------------------------------------
# Root filesystem: a base archive (cached) + a per-run archive
# ---------------------------------------------------------------------------------------------

# copy_with_libs ROOT FILE...: FILE and every library ldd names, at the same paths below ROOT
# (merged /usr: everything under ROOT/usr, with /bin /sbin /lib /lib64 as symlinks).
copy_with_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		for lib in "$f" $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
			local real dst
			real=$(readlink -f "$lib")
			dst=$root/usr/${lib#/usr/}
			[ -e "$dst" ] && continue
			mkdir -p "$(dirname "$dst")"
			cp "$real" "$dst"
		done
	done
}

base_key() {
	{
		echo "$BASE_FORMAT $KVER"
		for p in "${PROGRAMS[@]}" "$(command -v busybox)"; do
			stat -L -c '%n %s %Y' "$p"
			{ ldd "$p" 2>/dev/null || true; } | awk '/=> \// { print $3 }' | xargs -r stat -L -c '%n %s %Y'
		done
	} | sha256sum | cut -c1-16
}

BASE=$CACHE/base-$(base_key).cpio
if [ ! -e "$BASE" ]; then
	log "building the base image $BASE"
	R=$WORK/base
	mkdir -p "$R"/usr/{bin,sbin,lib,lib64} "$R"/{dev,proc,sys,run,tmp,mnt,srv,etc/lvm,var/lib,root}
	ln -s usr/bin "$R/bin"
	ln -s usr/sbin "$R/sbin"
	ln -s usr/lib "$R/lib"
	ln -s usr/lib64 "$R/lib64"
	cp "$(command -v busybox)" "$R/usr/bin/busybox"
	copy_with_libs "$R" "${PROGRAMS[@]}"
	for c in lvs vgs pvs lvcreate lvremove lvrename lvchange lvconvert lvextend vgcreate pvcreate vgchange; do
		ln -sf lvm "$R/usr/sbin/$c"
	done
	for c in thin_check thin_dump thin_repair thin_restore cache_check; do
		ln -sf pdata_tools "$R/usr/sbin/$c"
	done
	ln -sf mke2fs "$R/usr/sbin/mkfs.ext4"
	mkdir -p "$R/usr/lib/modules-ckptd"
	cp "$KDIR"/modules/*.ko "$KDIR/modules.order" "$R/usr/lib/modules-ckptd/"
	# No udev in the guest: LVM makes the device nodes itself.
	cat >"$R/etc/lvm/lvm.conf" <<-'EOF'
		devices {
			obtain_device_list_from_udev = 0
			use_devicesfile = 0
			scan = [ "/dev" ]
			# only the virtual disk: every lvm command scans its devices, and under software
			# emulation each scanned device costs
			global_filter = [ "a|^/dev/vda$|", "r|.*|" ]
		}
		activation {
			udev_sync = 0
			udev_rules = 0
			monitoring = 0
		}
		global {
			use_lvmpolld = 0
		}
	EOF
	echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
	echo 'root:x:0:' >"$R/etc/group"
	(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$BASE.tmp"
	mv "$BASE.tmp" "$BASE"
	# Older base images of other host states are useless now.
	find "$CACHE" -maxdepth 1 -name 'base-*.cpio' ! -path "$BASE" -delete
	rm -rf -- "$R"
	log "base image: $(du -h "$BASE" | cut -f1)"
fi

# Per run: the project's binaries, the scripts, the test.
R=$WORK/run
mkdir -p "$R/usr/local/bin" "$R/ckptd-test"
cp "$CKPTD" "$CKPTCTL" "$CRYO" ${MEMW:+"$MEMW"} "$R/usr/local/bin/"
copy_with_libs "$R" "$CKPTD" "$CKPTCTL" "$CRYO" ${MEMW:+"$MEMW"}
printf '%s\n' "${CKPTD_VM_PARAMS:-}" >"$R/ckptd-test/params"
cp "$HERE/guest-init.sh" "$R/init"
cp "$HERE/guest-lib.sh" "$GUEST_SCRIPT" "$R/ckptd-test/"
chmod 0755 "$R/init" "$R/ckptd-test/"*
ln -s "$(basename "$GUEST_SCRIPT")" "$R/ckptd-test/main"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$WORK/run.cpio"
cat "$BASE" "$WORK/run.cpio" >"$WORK/initrd"

# Disks: sparse, fresh every run.
truncate -s 2G "$WORK/lvm.img"
truncate -s "${CKPTD_VM_BTRFS_SIZE:-512M}" "$WORK/btrfs.img"

# ---------------------------------------------------------------------------------------------
# Boot
# ---------------------------------------------------------------------------------------------
ACCEL=(-accel tcg,thread=multi -cpu max)
ACCEL_NAME=tcg
if [ -e /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	# A probe: the real kernel, an init that only says hello. A nested/PVM KVM may hang it.
	P=$WORK/probe
	mkdir -p "$P/bin"
	cp "$(command -v busybox)" "$P/bin/busybox"
	printf '#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs devtmpfs /dev\n/bin/busybox echo CKPTD-KVM-PROBE-OK >/dev/ttyS0\n/bin/busybox poweroff -f\n' >"$P/init"
	chmod 0755 "$P/init"
	mkdir -p "$P/dev" && (cd "$P" && find . -mindepth 1 | cpio -o -H newc --quiet -R 0:0) >"$WORK/probe.cpio"
	timeout -k 2 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -display none -no-reboot \
		-serial "file:$WORK/probe.log" -kernel "$KDIR/vmlinuz" -initrd "$WORK/probe.cpio" \
		-append "console=ttyS0 panic=-1 quiet" >/dev/null 2>&1 || true
	if grep -q CKPTD-KVM-PROBE-OK "$WORK/probe.log" 2>/dev/null; then
		ACCEL=(-accel kvm -cpu host)
		ACCEL_NAME=kvm
	else
		log "/dev/kvm is there but a guest does not boot with it in 20 s: using TCG"
	fi
fi

CONSOLE=$LOGDIR/vm-$NAME-console.log
OUT=$LOGDIR/vm-$NAME.log
: >"$CONSOLE"
: >"$OUT"
log "booting Linux $KVER under $ACCEL_NAME (at most $TIMEOUT s); logs: $OUT $CONSOLE"
t_boot=$(date +%s.%N)
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${ACCEL[@]}" -smp 2 -m "$MEM" \
	-nodefaults -display none -no-reboot -monitor none \
	-serial "file:$CONSOLE" -serial "file:$OUT" \
	-kernel "$KDIR/vmlinuz" -initrd "$WORK/initrd" \
	-append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init ckptd_accel=$ACCEL_NAME" \
	-drive "file=$WORK/lvm.img,if=virtio,format=raw,cache=unsafe" \
	-drive "file=$WORK/btrfs.img,if=virtio,format=raw,cache=unsafe" \
	</dev/null &
QEMU_PID=$!
wait "$QEMU_PID"
rc=$?
QEMU_PID=
set -e
t_end=$(date +%s.%N)

cat "$OUT"
status=$(sed -n 's/^CKPTD-VM-EXIT \([0-9]*\).*/\1/p' "$OUT" | tail -n1)
echo "vm: qemu exited with $rc after $(awk -v a="$t_boot" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }') s ($ACCEL_NAME)"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "vm: the guest did not finish within $TIMEOUT s and was killed; last console lines:"
	tail -n 40 "$CONSOLE"
	exit 1
fi
if [ "$status" != 0 ]; then
	echo "vm: the guest test failed (exit status '${status:-none}'); last console lines:"
	tail -n 40 "$CONSOLE"
	exit 1
fi
exit 0
