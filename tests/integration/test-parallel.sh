#!/usr/bin/env bash
# Different containers are checkpointed in parallel, each job in its own thread; the daemon
# keeps serving meanwhile; MaxParallelJobs caps how many run at once. The workloads stay in the
# host's PID namespace: dumps of tasks without a procfs of their own are serialized on purpose
# (test-parallel-procfs.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
for n in a b c; do
	t_btrfs_subvol "$MNT/$n"
	cg=$(t_cgroup_create v2 "par-$n")
	T_WORKLOAD_PIDNS=host t_start_in_cgroup "$cg" "$CRYO" "$MNT/$n/data" >/dev/null
	t_write_container "par-$n" "$cg" "$MNT/$n" </dev/null
done
printf '[Daemon]\nMaxParallelJobs=2\n' | t_write_daemon_conf
# Each window is held open 1.5 s, so the jobs overlap for certain.
CKPTD_TEST_HOLD_FROZEN_MSEC=1500 t_daemon_restart

t_ctl freeze-and-dump par-a >"$T/a.out" 2>&1 &
ja=$!
t_ctl freeze-and-dump par-b >"$T/b.out" 2>&1 &
jb=$!
cga=$(t_ctl_json containers | jq -r '.[] | select(.name == "par-a") | .cgroup')
cgb=$(t_ctl_json containers | jq -r '.[] | select(.name == "par-b") | .cgroup')
both=0
for _ in $(seq 300); do
	if t_cgroup_frozen "$cga" && t_cgroup_frozen "$cgb"; then both=1; break; fi
	sleep 0.01
done
t_assert_eq "$both" 1 "both containers frozen at the same time (parallel jobs)"
t_assert_eq "$(t_ctl_json status | jq '.jobs | length')" 2 "jobs listed by status"
set +e; out=$(t_ctl freeze-and-dump par-c 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "a third job beyond MaxParallelJobs=2"
t_assert_contains "$out" "2"
wait "$ja" || t_fail "par-a: $(cat "$T/a.out")"
wait "$jb" || t_fail "par-b: $(cat "$T/b.out")"
for n in a b; do
	t_assert_eq "$(t_ctl_json list "par-$n" | jq length)" 1 "pairs of par-$n"
done
t_ctl freeze-and-dump par-c >/dev/null
t_pass
