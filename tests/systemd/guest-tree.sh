#!/usr/bin/env bash
# guest-tree.sh: prints the path of a minimal Debian 12 tree that boots with systemd and can
# run ckptd (its runtime libraries included), building it with debootstrap the first time.
#
# The tree is cached under /var/cache/ckptd-test/nspawn/ (override: $CKPTD_TEST_CACHE), keyed by
# the package list, and never modified by the tests: they boot an overlay of it. Concurrent runs
# wait for each other on a lock. A half-built tree is never used (built beside, then renamed).
# Built with mmdebstrap when it is installed (≈ 1.5 min here: apt downloads in parallel and
# dpkg runs with unsafe I/O), else debootstrap (≈ 3.5-6.5 min here). Mirror:
# $CKPTD_DEBIAN_MIRROR, else the tool's default.
set -euo pipefail

CACHE=${CKPTD_TEST_CACHE:-/var/cache/ckptd-test/nspawn}
SUITE=bookworm
# systemd as PID 1 (+ dbus for systemctl/journalctl), and what ckptd and ckptctl link against
# (criu: Debian 12's package is the one shipping libcriu.so.2; its binary is not used, the
# tests copy the host's CRIU >= 4.2 prefix in); systemd-container: systemd-machined and a nested
# systemd-nspawn for the Machine= test.
PACKAGES=systemd,systemd-sysv,dbus,systemd-container,libjansson4,libinih1,libbtrfsutil1,libssl3,libprotobuf-c1,libarchive13,criu
# Housekeeping that would only add noise and CPU load to a short test boot.
MASK=(apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer
	console-getty.service systemd-timesyncd.service)

key=$(printf '%s\n' "$SUITE" "$PACKAGES" "${MASK[*]}" | sha256sum | cut -c1-12)
tree="$CACHE/$SUITE-$key"

mkdir -p "$CACHE"
exec 9>"$CACHE/.guest-tree.lock"
if ! flock -w 900 9; then
	echo "guest-tree: timed out waiting for the lock on $CACHE/.guest-tree.lock" >&2
	exit 1
fi
if [ -e "$tree/.complete" ]; then
	echo "$tree"
	exit 0
fi

if command -v mmdebstrap >/dev/null; then
	tool=mmdebstrap
elif command -v debootstrap >/dev/null; then
	tool=debootstrap
else
	echo "guest-tree: neither mmdebstrap nor debootstrap is installed (tools/setup installs them)" >&2
	exit 1
fi
new="$tree.new"
rm -rf "$new"
echo "guest-tree: $tool $SUITE into $new (once, then cached; 1.5-6 min)" >&2
args=(--variant=minbase "--include=$PACKAGES" "$SUITE" "$new")
[ -n "${CKPTD_DEBIAN_MIRROR:-}" ] && args+=("$CKPTD_DEBIAN_MIRROR")
if ! timeout 900 "$tool" "${args[@]}" >"$CACHE/bootstrap.log" 2>&1; then
	echo "guest-tree: $tool failed; last lines of $CACHE/bootstrap.log:" >&2
	tail -n 20 "$CACHE/bootstrap.log" >&2
	rm -rf "$new"
	exit 1
fi
for unit in "${MASK[@]}"; do
	ln -sf /dev/null "$new/etc/systemd/system/$unit"
done
# A machine-id makes the journal persistent-capable and silences first-boot logic.
systemd-machine-id-setup --root="$new" >/dev/null 2>&1 || true
rm -rf "$new/var/cache/apt/archives/"*.deb
touch "$new/.complete"
mv "$new" "$tree"
# Trees for other package lists are stale now.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "$SUITE-*" ! -name "$(basename "$tree")" \
	-exec rm -rf {} + 2>/dev/null || true
echo "$tree"
