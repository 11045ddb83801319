#!/usr/bin/env bash
# Validation and error reporting around a dump:
#  - a zombie child in the tree (exited, not reaped, so no longer in the cgroup) is no stray:
#    the dump succeeds (it was refused as "belongs to the process tree but not to the cgroup");
#  - two containers on one cgroup or one volume: one job at a time, the refusal names the other;
#  - StagingDir= defaults to a directory of this state directory's own under /run/ckptd;
#  - a full file system while CRIU writes the images (Staging=disk): the error says so, names
#    the file system, keeps CRIU's log where the message says, and leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)

# --- zombie ---------------------------------------------------------------------------------
t_btrfs_subvol "$MNT/z"
cg=$(t_cgroup_create v2 val-zombie)
root=$(t_start_in_cgroup "$cg" bash -c 'sleep 0.3 & exec "$0" "$1"' "$CRYO" "$MNT/z/data")
zombie=
for _ in $(seq 300); do
	for c in $(cat /proc/"$root"/task/*/children 2>/dev/null); do
		[ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] && zombie=$c
	done
	[ -n "$zombie" ] && [ "$(cat "/proc/$root/comm")" = cryo ] && break
	sleep 0.01
done
[ -n "$zombie" ] || t_fail "no zombie child under the workload's root task $root"
t_write_container val-zombie "$cg" "$MNT/z" </dev/null
t_daemon_start
out=$(t_ctl freeze-and-dump val-zombie 2>&1) || t_fail "dump with a zombie child refused: $out"
t_assert_eq "$(t_ctl_json list val-zombie | jq length)" 1 "pairs of val-zombie"

# --- shared cgroup / volume -----------------------------------------------------------------
# Configured under two names, a cgroup or volume gets one job at a time: a second job would kill
# the tasks or swap the volume under the first one's CRIU.
t_btrfs_subvol "$MNT/s"
cgs=$(t_cgroup_create v2 val-shared)
t_start_in_cgroup "$cgs" "$CRYO" "$MNT/s/data" >/dev/null
rm -f "$T/etc/containers.d/val-zombie.conf"
t_write_container val-a "$cgs" "$MNT/s" </dev/null
t_write_container val-b "$cgs" "$MNT/z" </dev/null   # same cgroup as val-a
t_write_container val-c "$cg" "$MNT/s" </dev/null    # same volume as val-a
CKPTD_TEST_HOLD_FROZEN_MSEC=3000 t_daemon_restart
t_ctl freeze-and-dump val-a >"$T/a.out" 2>&1 &
job=$!
for _ in $(seq 500); do t_cgroup_frozen "$cgs" && break; sleep 0.01; done
t_cgroup_frozen "$cgs" || t_fail "val-a's dump never froze: $(cat "$T/a.out")"
set +e; out=$(t_ctl freeze-and-dump val-b 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "dump of val-b while val-a's job runs on the same cgroup"
t_assert_contains "$out" "running on 'val-a', which is configured on the same Cgroup=$cgs"
set +e; out=$(t_ctl freeze-and-dump val-c 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "dump of val-c while val-a's job runs on the same volume"
t_assert_contains "$out" "running on 'val-a', which is configured on the same Volume=$MNT/s"
wait "$job" || t_fail "val-a: $(cat "$T/a.out")"
t_assert_eq "$(t_ctl_json list val-b | jq length)" 0 "pairs of val-b"
t_ctl freeze-and-dump val-b >/dev/null # alone, it works
rm -f "$T/etc/containers.d/val-c.conf" "$T/etc/containers.d/val-a.conf"

# --- pair ids used up ---------------------------------------------------------------------------
# The id after 2^63-1 cannot be written as a JSON integer: refused, named, nothing frozen.
t_daemon_restart
echo 9223372036854775807 >"$T/state/containers/val-b/last-id"
set +e; out=$(t_ctl freeze-and-dump val-b 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "dump with every pair id used"
t_assert_contains "$out" "the pair ids of container val-b are used up"
t_cgroup_frozen "$cgs" && t_fail "val-b frozen after a refused dump"
t_assert_eq "$(t_ctl_json list val-b | jq '[.[].id | select(. < 0)] | length')" 0 "negative ids listed"
rm -f "$T/etc/containers.d/val-b.conf"

# --- staging directory of this state directory ------------------------------------------------
printf '[Checkpoint]\nStaging=memory\n' | t_write_container val-zombie "$cg" "$MNT/z"
CKPTD_TEST_HOLD_FROZEN_MSEC=2000 t_daemon_restart
t_ctl freeze-and-dump val-zombie >"$T/stg.out" 2>&1 &
job=$!
staged=
for _ in $(seq 500); do
	staged=$(ls -d /run/ckptd/staging-*/val-zombie-2 2>/dev/null || true)
	[ -n "$staged" ] && break
	sleep 0.01
done
wait "$job" || t_fail "staged dump: $(cat "$T/stg.out")"
[ -n "$staged" ] || t_fail "no staging directory /run/ckptd/staging-*/val-zombie-2 during the dump"
[ -e /run/ckptd/staging/val-zombie-2 ] && t_fail "the default state directory's staging was used"

# --- a full file system while CRIU writes -------------------------------------------------------
t_daemon_stop
small=$T/small
mkdir -p "$small"
mount -t tmpfs -o size=48m tmpfs "$small"
t__defer_to main umount -l "$small"
rm -f "$T/etc/containers.d/val-zombie.conf" # a new state dir: a new name, so no id of the old one is reused
printf '[Checkpoint]\nStaging=disk\n' | t_write_container val-full "$cg" "$MNT/z"
CKPTD_STATE_DIR=$small/state CKPTD_TEST_HOLD_FROZEN_MSEC=1500 t_daemon_start
t_ctl freeze-and-dump val-full >"$T/full.out" 2>&1 &
job=$!
for _ in $(seq 500); do t_cgroup_frozen "$cg" && break; sleep 0.01; done
t_cgroup_frozen "$cg" || t_fail "the dump never froze the container: $(cat "$T/full.out")"
dd if=/dev/zero of="$small/filler" bs=1M 2>/dev/null || true
set +e; wait "$job"; rc=$?; set -e
out=$(cat "$T/full.out")
echo "dump onto a full file system: $out"
t_assert_eq "$rc" 1 "dump onto a full file system"
t_assert_contains "$out" "no space left on the file system of $small/state"
t_assert_contains "$out" "kept as $small/state/containers/val-full/failed-dump.log"
t_assert_file_exists "$small/state/containers/val-full/failed-dump.log"
t_cgroup_frozen "$cg" && t_fail "container left frozen after ENOSPC"
t_assert_eq "$(t_ctl_json list val-full | jq length)" 0 "pairs listed after the failed dump"
[ -e "$MNT/.ckptd/val-full/1" ] && t_fail "the partial pair's snapshot stayed"
rm -f "$small/filler"
t_daemon_stop
t_pass
