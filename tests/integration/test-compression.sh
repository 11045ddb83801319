#!/usr/bin/env bash
# What the images take on disk after the state file system compressed them (issue 12): on a btrfs
# mounted with compress-force=zstd:1 a compressible workload's pair records disk_bytes below its
# bytes, and a pair that shares blocks with the previous one counts only the extents it wrote;
# remounted without compression, disk_bytes is what the pair added. Status adds them up. (The
# state directory on ext4, where the field is absent: test-share-images-fallback.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/memw-lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 400)
t_btrfs_subvol "$MNT/vol"
SMNT=$(t_btrfs_loop 600)
mount -o remount,compress-force=zstd:1 "$SMNT"
export CKPTD_STATE_DIR=$SMNT/state
name=compress
state=$T/memw.state
cg=$(t_cgroup_create v2 "$name")
# Pairs 1 (full) and 2 share-chain on the compressing mount, 3 shares with 2, 4 is full again.
t_write_container "$name" "$cg" "$MNT/vol" <<<$'[Checkpoint]\nFullImageEvery=3'
t_daemon_start
T_WORKLOAD_OUTPUT=$T/memw.log t_start_in_cgroup "$cg" "$MEMW" 64 5 "$state" text >/dev/null
[[ $(memw_wait "$state" 60) == "ready "* ]] || t_fail "memw did not start"

images() { t_ctl_json show "$name" "$1" | jq -r ".images.$2"; }
dump() {
	[[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "memw did not rewrite"
	t_ctl freeze-and-dump "$name" >/dev/null
}
# near A B: A within 5 % + 256 KiB of B
near() { local d=$(($1 - $2)); [ "${d#-}" -le $(($2 / 20 + 262144)) ]; }

t_ctl freeze-and-dump "$name" >/dev/null
dump
t_assert_eq "$(t_ctl_json status | jq -r .storage.compression)" "zstd:1 (compress-force)" "compression"
bytes=$(images 1 bytes) disk=$(images 1 disk_bytes)
echo "pair 1: $bytes bytes, $disk on disk"
[ "$disk" -lt $((bytes * 8 / 10)) ] || t_fail "pair 1 takes $disk of $bytes bytes on a compressing btrfs"
t_assert_eq "$(images 2 shared_from)" 1 "pair 2 shared from"
disk1=$disk added=$(images 2 added_bytes) disk=$(images 2 disk_bytes)
echo "pair 2: $added bytes added, $disk on disk"
# Its rewritten pages are scattered 4 KiB extents, which btrfs cannot store in less than a sector:
# about what it added, and nothing of what it shares with pair 1.
near "$disk" "$added" || [ "$disk" -lt "$added" ] || t_fail "pair 2 took $disk on disk for $added bytes added"
[ "$disk" -lt $((disk1 / 4)) ] || t_fail "pair 2's $disk bytes on disk count what it shares with pair 1"
t_assert_contains "$(t_ctl show "$name" 2)" "On disk"

mount -o remount,compress=no "$SMNT"
t_assert_eq "$(t_ctl_json status | jq -r .storage.compression)" none "compression after the remount"
dump
dump
t_assert_eq "$(images 3 shared_from)" 2 "pair 3 shared from"
t_assert_eq "$(images 4 shared_from)" null "pair 4 (a full one) shared from"
for i in 3 4; do
	added=$(images "$i" added_bytes) disk=$(images "$i" disk_bytes)
	echo "pair $i: $added bytes added, $disk on disk"
	near "$disk" "$added" || t_fail "pair $i without compression: $disk bytes on disk, $added added"
done
t_ctl list "$name"

total=$(t_ctl_json list "$name" | jq '[.[].images.disk_bytes] | add')
t_assert_eq "$(t_ctl_json status | jq .storage.disk_bytes)" "$total" "status's disk bytes"
out=$(t_ctl status)
echo "$out"
t_assert_contains "$out" "On disk: "

t_ctl rollback "$name" 2 --no-safety-pair >/dev/null
memw_verify "$cg" "$state" "after the rollback to pair 2 (compressed)"
t_pass
