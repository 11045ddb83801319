#!/usr/bin/env bash
# ReadGroup= by number (a GID with no name works), the caller's groups as they were when it
# connected (SO_PEERGROUPS), and read-only callers never take a job slot or a container that
# root's jobs need: with MaxParallelJobs=1, readers looping `verify` on the very container do
# not make root's freeze-and-dump fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
t_btrfs_subvol "$MNT/vol"
PY=$T_PYTHON

# A GID that no group name stands for.
gid=
for g in $(seq 47110 47200); do
	getent group "$g" >/dev/null || { gid=$g; break; }
done
[ -n "$gid" ] || t_fail "no free GID between 47110 and 47200"
as_reader() { setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$@"; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# A workload with 256 MiB of memory: its images take a while to verify.
cg=$(t_cgroup_create v2 readers)
t_start_in_cgroup "$cg" "$PY" -c 'import time; b = bytes(range(256)) * (1 << 20); time.sleep(1e6)' >/dev/null
t_write_container web "$cg" "$MNT/vol" </dev/null
printf '[Daemon]\nReadGroup=%s\nMaxParallelJobs=1\n' "$gid" | t_write_daemon_conf
t_daemon_start
t_assert_eq "$(t_ctl_json status | jq '.config_errors | length')" 0 "config errors with ReadGroup=$gid"

# Members of GID $gid may read, not write; others may do nothing.
as_reader "$CKPTCTL" --socket "$CKPTD_SOCKET" list >/dev/null || t_fail "a member of ReadGroup=$gid cannot list"
out=$(as_reader "$CKPTCTL" --socket "$CKPTD_SOCKET" freeze-and-dump web 2>&1) && rc=0 || rc=$?
t_assert_eq "$rc" 1 "freeze-and-dump by a ReadGroup member"
t_assert_contains "$out" "ermission"
out=$(as_nobody "$CKPTCTL" --socket "$CKPTD_SOCKET" list 2>&1) && rc=0 || rc=$?
t_assert_eq "$rc" 1 "list by a caller outside ReadGroup"
t_assert_contains "$out" "ermission"

t_ctl freeze-and-dump web >/dev/null
as_reader "$CKPTCTL" --socket "$CKPTD_SOCKET" verify web 1 >/dev/null || t_fail "a ReadGroup member cannot verify"

# Three readers verify pair 1 in a loop, keeping the read-only slot busy.
mkdir -m 0777 "$T/readers"
readers=()
for i in 1 2 3; do
	as_reader bash -c 'n=0; while [ ! -e "$1/stop" ]; do
		"$2" --socket "$3" verify web 1 >/dev/null 2>&1 && n=$((n + 1)); done; echo "$n" >"$1/ok.$4"' \
		_ "$T/readers" "$CKPTCTL" "$CKPTD_SOCKET" "$i" &
	readers+=($!)
done
defer touch "$T/readers/stop"
t_wait_until 30 sh -c '"$1" --socket "$2" --json status | grep -q verify' _ "$CKPTCTL" "$CKPTD_SOCKET" ||
	t_fail "the readers' verify jobs do not show in status"
for round in 1 2 3; do
	out=$(t_ctl freeze-and-dump web 2>&1) || t_fail "root's freeze-and-dump (round $round) failed while ReadGroup members verify: $out"
done
touch "$T/readers/stop"
wait "${readers[@]}"
verified=$(cat "$T"/readers/ok.* | paste -sd+ | bc)
echo "readers verified $verified times meanwhile"
[ "$verified" -ge 3 ] || t_fail "the readers verified only $verified times: the test did not overlap"
t_cgroup_frozen "$cg" && t_fail "container left frozen"
t_pass
