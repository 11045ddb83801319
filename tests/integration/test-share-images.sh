#!/usr/bin/env bash
# Pairs share unchanged memory with the previous pair (issue 12): six pairs of a 256 MiB workload
# that rewrites 5 % of its pages between them, state directory on btrfs. The images of all six
# take at most 1.6 x one full image on disk; every pair is self-contained: pairs 1-4 are deleted in
# random order, pairs 5 and 6 still verify, and a rollback to each restores a process whose whole
# memory is what it wrote, and it runs on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/memw-lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 1400)
t_btrfs_subvol "$MNT/vol"
export CKPTD_STATE_DIR=$MNT/state
name=share
state=$T/memw.state
cg=$(t_cgroup_create v2 "$name")
t_write_container "$name" "$cg" "$MNT/vol" <<<$'[Checkpoint]\nFullImageEvery=8'
t_daemon_start
T_WORKLOAD_OUTPUT=$T/memw.log t_start_in_cgroup "$cg" "$MEMW" 256 5 "$state" >/dev/null
[[ $(memw_wait "$state" 60) == "ready "* ]] || t_fail "memw did not start"

for i in 1 2 3 4 5 6; do
	[ "$i" = 1 ] || [[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "memw did not rewrite"
	t_ctl freeze-and-dump "$name" >/dev/null
done
ids=$(t_ctl_json list "$name" | jq -r '.[].id' | xargs)
t_assert_eq "$ids" "1 2 3 4 5 6" "pair ids"
t_ctl list "$name"
t_ctl_json list "$name" | jq -r '.[] | "pair \(.id): persist \(.timings.persist_usec / 1000) ms"'

pairs=$CKPTD_STATE_DIR/containers/$name/pairs
full=$(t_ctl_json show "$name" 1 | jq .images.bytes)
for i in 2 3 4 5 6; do
	t_assert_eq "$(t_ctl_json show "$name" "$i" | jq .images.shared_from)" $((i - 1)) "pair $i shared from"
	t_assert_file_exists "$pairs/$i/blocks.idx"
done
added=$(t_ctl_json list "$name" | jq '[.[].images.added_bytes] | add')
btrfs filesystem sync "$MNT"
read -r _ excl shared _ < <(btrfs filesystem du -s --raw "$pairs" | tail -1)
disk=$((excl + shared))
echo "one full image $full bytes; six pairs: $disk bytes on disk, $added bytes added by ckptd's account"
[ "$disk" -le $((full * 16 / 10)) ] || t_fail "six pairs take $disk bytes on disk, more than 1.6 x $full"
[ "$added" -le $((full * 16 / 10)) ] || t_fail "six pairs added $added bytes, more than 1.6 x $full"
[ "$(t_ctl_json show "$name" 6 | jq .images.added_bytes)" -lt $((full / 5)) ] ||
	t_fail "pair 6 added more than a fifth of a full image"

out=$(t_ctl status)
echo "$out"
t_assert_contains "$out" "Image sharing: on"
t_assert_eq "$(t_ctl_json status | jq -r .storage.filesystem)" btrfs "state file system"
[ "$(t_ctl_json status | jq .storage.added_bytes)" = "$added" ] || t_fail "status's total differs from list's"

for i in $(shuf -e 1 2 3 4); do
	t_ctl delete "$name" "$i" >/dev/null
done
t_assert_eq "$(t_ctl_json list "$name" | jq -r '.[].id' | xargs)" "5 6" "pairs after the deletes"
# Status's totals follow the catalog (it keeps them only until a job changes it).
added56=$(t_ctl_json list "$name" | jq '[.[].images.added_bytes] | add')
[ "$(t_ctl_json status | jq .storage.added_bytes)" = "$added56" ] || t_fail "status's total did not follow the deletes"
t_assert_contains "$(t_ctl verify "$name" 5)" "OK"
t_assert_contains "$(t_ctl verify "$name" 6)" "OK"

for i in 6 5; do
	t_ctl rollback "$name" "$i" --no-safety-pair >/dev/null
	memw_verify "$cg" "$state" "after the rollback to pair $i"
	[[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "restored memw does not run on"
	memw_verify "$cg" "$state" "pair $i, after a rewrite"
done
t_pass
