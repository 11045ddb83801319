#!/usr/bin/env bash
# Containers whose root task has a PID namespace of its own but no procfs of that namespace
# (`unshare --pid --fork` in the host's mount namespace): CRIU's parasite mounts a private
# procfs at "proc.crtools" in the root task's working directory, so two such dumps at once
# collided there ("Can't create a directory (-17)", CI red). ckptd runs them one at a time,
# waiting outside the frozen window, so 25 rounds of two parallel dumps all succeed and the two
# containers are never frozen at the same time. A leftover proc.crtools (a killed CRIU) and a
# deleted working directory are refused before freezing, naming the path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
mkdir -p "$T/cwd"
cd "$T/cwd" # both root tasks share this working directory, as the colliding CI runs did
for n in a b; do
	t_btrfs_subvol "$MNT/$n"
	cg=$(t_cgroup_create v2 "pp-$n")
	t_start_in_cgroup "$cg" "$CRYO" "$MNT/$n/data" >/dev/null
	printf '[Retention]\nKeepLast=3\n' | t_write_container "pp-$n" "$cg" "$MNT/$n"
done
printf '[Daemon]\nMaxParallelJobs=2\n' | t_write_daemon_conf
t_daemon_start
t_assert_eq "$(t_ctl_json inspect pp-a | jq .criu.private_procfs)" true "inspect: no procfs of its own"

# The window is held open 300 ms: had both dumps run at once, both cgroups would be frozen
# together (test-parallel.sh proves that for containers that take CRIU's fast path).
cga=$(t_ctl_json containers | jq -r '.[] | select(.name == "pp-a") | .cgroup')
cgb=$(t_ctl_json containers | jq -r '.[] | select(.name == "pp-b") | .cgroup')
CKPTD_TEST_HOLD_FROZEN_MSEC=300 t_daemon_restart
t_ctl freeze-and-dump pp-a >"$T/a.out" 2>&1 &
ja=$!
t_ctl freeze-and-dump pp-b >"$T/b.out" 2>&1 &
jb=$!
both=0
while t__alive "$ja" || t__alive "$jb"; do
	if t_cgroup_frozen "$cga" && t_cgroup_frozen "$cgb"; then both=1; fi
	sleep 0.005
done
wait "$ja" || t_fail "pp-a: $(cat "$T/a.out")"
wait "$jb" || t_fail "pp-b: $(cat "$T/b.out")"
t_assert_eq "$both" 0 "both containers frozen at once (their dumps must be serialized)"

# Without the hold, as fast as they go: 25 rounds, 50 dumps, every one succeeds.
t_daemon_stop
t_daemon_start
for round in $(seq 25); do
	t_ctl freeze-and-dump pp-a >"$T/a.out" 2>&1 &
	ja=$!
	t_ctl freeze-and-dump pp-b >"$T/b.out" 2>&1 &
	jb=$!
	wait "$ja" || t_fail "round $round, pp-a: $(cat "$T/a.out")"
	wait "$jb" || t_fail "round $round, pp-b: $(cat "$T/b.out")"
done
for n in a b; do
	t_assert_eq "$(t_ctl_json list "pp-$n" | jq 'map(.id) | max')" 26 "pairs made for pp-$n"
	t_cgroup_frozen "$(t_ctl_json containers | jq -r ".[] | select(.name == \"pp-$n\") | .cgroup")" &&
		t_fail "pp-$n left frozen"
done

# A leftover of a killed CRIU in the working directory: refused before freezing, path named.
mkdir "$T/cwd/proc.crtools"
set +e; out=$(t_ctl freeze-and-dump pp-a 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "dump with a leftover proc.crtools"
t_assert_contains "$out" "$T/cwd/proc.crtools exists"
t_cgroup_frozen "$cga" && t_fail "pp-a frozen after a refused dump"
rmdir "$T/cwd/proc.crtools"
t_ctl freeze-and-dump pp-a >/dev/null
t_pass
