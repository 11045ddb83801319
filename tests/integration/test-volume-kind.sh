#!/usr/bin/env bash
# The backend of a volume is chosen by what the volume is: a Volume= on tmpfs or ext4 is refused
# before the container is frozen, with a message naming the path, its file system and what ckptd
# can snapshot (the btrfs backend used to claim every absolute path and fail later, in its own
# words). A btrfs subvolume beside it still works.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 256)

tmp=$T/tmpfs
mkdir "$tmp"
defer umount "$tmp"
mount -t tmpfs -o size=16m tmpfs "$tmp"
mkdir "$tmp/data"

ext=$T/ext4
mkdir "$ext"
truncate -s 32M "$T/ext4.img"
mkfs.ext4 -q -F "$T/ext4.img" >/dev/null 2>&1 || t_fail "mkfs.ext4 failed"
defer t__umount_loop "$ext" "$T/ext4.img"
mount -o loop "$T/ext4.img" "$ext"
mkdir "$ext/data"

t_btrfs_subvol "$MNT/ok"
cg=$(t_cgroup_create v2 kind-ct)
root=$(t_start_in_cgroup "$cg" "$CRYO" "$MNT/ok/data")
t_write_container kind-tmpfs "$cg" "$tmp/data" </dev/null
t_write_container kind-ext4 "$cg" "$MNT/ok" "$ext/data" </dev/null
t_daemon_start

for c in kind-tmpfs:"$tmp/data":tmpfs kind-ext4:"$ext/data":ext4; do
	IFS=: read -r name path fs <<<"$c"
	set +e; out=$(t_ctl freeze-and-dump "$name" 2>&1); rc=$?; set -e
	t_assert_ne "$rc" 0 "dump of $name (a Volume= on $fs)"
	t_assert_contains "$out" "$path is on $fs; ckptd can snapshot btrfs subvolumes and LVM logical volumes"
	t_assert_contains "$out" "nothing changed"
	t_assert_eq "$(t_ctl_json list "$name" | jq length)" 0 "pairs of $name"
	[ "$(grep -c '^frozen 1' "$cg/cgroup.events" || true)" = 0 ] || t_fail "$name: the cgroup is frozen"
done
t__alive "$root" || t_fail "the workload died"

# The btrfs volume alone works.
t_write_container kind-ext4 "$cg" "$MNT/ok" </dev/null
t_daemon_restart
t_ctl freeze-and-dump kind-ext4 >/dev/null || t_fail "dump of a btrfs volume failed"
t_assert_eq "$(t_ctl_json list kind-ext4 | jq length)" 1 "pairs of kind-ext4"
t_pass
