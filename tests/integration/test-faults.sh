#!/usr/bin/env bash
# Fault injection on the real kernel. Whatever fails, the container is never left frozen and a
# half-made pair is never listed:
#  - kill -9 of ckptd while the container is frozen (the window held open by the test knob
#    CKPTD_TEST_HOLD_FROZEN_MSEC, CRIU waiting) and at an arbitrary moment of a long dump ->
#    the restarted ckptd waits for the orphaned criu to release the tasks, thaws the container
#    before serving and removes the half pair; criu is not killed with the daemon (mid-dump that
#    could crash the tasks it seized) but exits by itself;
#  - MaxFrozenSec exceeded -> CRIU stopped, thawed, partial pair removed;
#  - a criu that fails; FreezeTimeoutSec exceeded (error names the tasks); images that do not
#    fit the state directory's filesystem (ENOSPC), each with a clear error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
t_btrfs_subvol "$MNT/vol"
HERE=$TESTS_DIR/integration

assert_clean() { # NAME CGROUP
	t_cgroup_frozen "$2" && t_fail "cgroup $2 left frozen"
	t_assert_eq "$(t_ctl_json list "$1" | jq length)" 0 "pairs listed for $1"
	[ -z "$(ls -A "$MNT/.ckptd/$1" 2>/dev/null)" ] || t_fail "snapshots left behind: $(ls "$MNT/.ckptd/$1")"
	[ -z "$(ls -A "$T/state/containers/$1/pairs" 2>/dev/null)" ] || t_fail "pair directories left behind"
	! compgen -G "$T/state/journal/$1-*.json" >/dev/null || t_fail "intent record left behind: $(ls "$T/state/journal")"
}

out=
alive() { # true while one of $criu_pids runs (a zombie does not count: reaping orphans is slow here)
	local p
	for p in $criu_pids; do t__alive "$p" && return 0; done
	return 1
}
expect_failure() { # PATTERN ARGS...: the ckptctl call must exit 1 and print PATTERN ($out keeps it)
	local pattern=$1 rc; shift
	set +e; out=$(t_ctl "$@" 2>&1); rc=$?; set -e
	echo "$out"
	t_assert_eq "$rc" 1 "exit code of ckptctl $*"
	t_assert_contains "$out" "$pattern"
}

for kind in v2 v1; do
	name="kill9-$kind"
	cg=$(t_cgroup_create "$kind" "$name")
	t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
	t_write_container "$name" "$cg" "$MNT/vol" </dev/null
	# ckptd holds the window open after the snapshot while CRIU waits for it (see ckptd(8)).
	CKPTD_TEST_HOLD_FROZEN_MSEC=60000 t_daemon_restart
	t_ctl freeze-and-dump "$name" >/dev/null 2>&1 &
	client=$!
	for _ in $(seq 500); do t_cgroup_frozen "$cg" && [ -d "$MNT/.ckptd/$name/1/vol" ] && break; sleep 0.01; done
	t_cgroup_frozen "$cg" || t_fail "$kind: the container never froze"
	[ -d "$MNT/.ckptd/$name/1/vol" ] || t_fail "$kind: no snapshot inside the window"
	if [ "$kind" = v1 ]; then
		# The v1 freezer's kernel-wide switch is kept on by an empty frozen cgroup of ckptd's own
		# while the container is frozen (adapters/freezer-warm.c); its name carries ckptd's pid.
		V1=$(t_cgroup_v1_freezer_root)
		warm=$(find "$V1" -maxdepth 1 -name "ckptd-warm.$CKPTD_PID.*" | head -1)
		[ -n "$warm" ] || t_fail "v1: no warm-up cgroup of ckptd $CKPTD_PID while the container is frozen"
		t_assert_eq "$(cat "$warm/freezer.state")" FROZEN "state of $warm"
		# Planted for the restart's clean-up, which must touch only a dead ckptd's empty one: one
		# named after a process that runs (this shell), and a dead pid's that holds a task.
		sleep 0 & dead=$!; wait "$dead"
		live_warm=$V1/ckptd-warm.$$.0 busy_warm=$V1/ckptd-warm.$dead.7
		mkdir "$live_warm" "$busy_warm"
		t__defer_to early t__cgroup_remove "$live_warm"
		t__defer_to early t__cgroup_remove "$busy_warm"
		sleep 600 </dev/null >/dev/null 2>&1 & sleeper=$!
		echo "$sleeper" >"$busy_warm/tasks"
		echo FROZEN >"$busy_warm/freezer.state"
	fi
	criu_pids=$(pgrep -P "$CKPTD_PID" -f 'criu: dump' || true) # CRIU rewrites its argv
	[ -n "$criu_pids" ] || t_fail "no criu running during the frozen window"
	t_daemon_kill9
	wait "$client" && t_fail "the client of a killed daemon reported success"
	alive() { local p; for p in $criu_pids; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
	# CRIU is not killed with the daemon (killed mid-dump it could crash the tasks it seized): it
	# finds the daemon gone when it waits for the answer to its notification, and exits itself.
	for _ in $(seq 250); do alive || break; sleep 0.02; done
	alive && t_fail "criu ($criu_pids) did not exit by itself 5 s after the daemon died"
	t_cgroup_frozen "$cg" || t_fail "$kind: the container should still be frozen after kill -9"
	t_daemon_restart
	assert_clean "$name" "$cg"
	grep -q "thawed cgroup $cg" "$CKPTD_LOG" || t_fail "recovery not logged"
	if [ "$kind" = v1 ]; then
		[ ! -d "$warm" ] || t_fail "the killed ckptd's warm-up cgroup $warm was not removed at the restart"
		[ -d "$live_warm" ] || t_fail "$live_warm (its pid runs) was removed"
		[ -d "$busy_warm" ] || t_fail "$busy_warm (it holds a task) was removed"
		t_assert_eq "$(cat "$busy_warm/freezer.state")" THAWED "state of $busy_warm after the restart"
		kill -0 "$sleeper" || t_fail "the task in $busy_warm was killed"
		kill "$sleeper"; wait "$sleeper" 2>/dev/null || true
		t__cgroup_remove "$live_warm"; t__cgroup_remove "$busy_warm"
	fi
	a=$(stat -c %s "$MNT/vol/$name.data"); sleep 0.3; b=$(stat -c %s "$MNT/vol/$name.data")
	[ "$b" -gt "$a" ] || t_fail "$kind: the workload does not run after recovery"
	t_check_pattern "$MNT/vol/$name.data" >/dev/null
	echo "$kind: recovered after kill -9 while frozen"
	t_cgroup_kill "$cg"
done

# kill -9 at an arbitrary moment of a long dump (400 MB): whatever CRIU was doing, after the
# restart the container runs, thawed, and no half pair is listed.
name=kill9-big
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$STALL" --mb 400 --report "$MNT/vol/big.report" >/dev/null
for _ in $(seq 400); do [ -s "$MNT/vol/big.report" ] && break; sleep 0.05; done
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
t_daemon_restart
t_ctl freeze-and-dump "$name" >/dev/null 2>&1 &
client=$!
for _ in $(seq 500); do [ -d "$MNT/.ckptd/$name/1/vol" ] && break; sleep 0.005; done
sleep 0.1
criu_pids=$(pgrep -P "$CKPTD_PID" -f 'criu: dump' || true)
[ -n "$criu_pids" ] || t_fail "no criu running 0.1 s into the dump of 400 MB"
t_daemon_kill9
# CRIU lives on until it has released the tasks (it was busy with their memory: killing it then
# could leave a task running parasite code); the next start waits for it.
alive || t_fail "criu ($criu_pids) died with the daemon in the middle of a dump"
wait "$client" || true
t_daemon_restart # waits for the orphaned criu before it thaws (logged when it had to wait)
assert_clean "$name" "$cg"
root=$(t_cgroup_pids "$cg" | while read -r p; do grep -qs $'^NSpid:.*\t1$' "/proc/$p/status" && echo "$p"; done)
kill -USR1 "$root"; sleep 0.2
grep -q max_gap_us "$MNT/vol/big.report" || t_fail "the big workload does not run after recovery"
t_cgroup_kill "$cg"

# MaxFrozenSec: a dump of 400 MB takes far longer than a 50 ms budget. CRIU is stopped, the
# container thawed, the partial pair removed, and the workload runs on unharmed.
name=budget
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$STALL" --mb 400 --report "$MNT/vol/budget.report" >/dev/null
for _ in $(seq 400); do [ -s "$MNT/vol/budget.report" ] && break; sleep 0.05; done
printf '[Checkpoint]\nMaxFrozenSec=50ms\n' | t_write_container "$name" "$cg" "$MNT/vol"
t_daemon_restart
expect_failure "MaxFrozenSec" freeze-and-dump "$name"
assert_clean "$name" "$cg"
root=$(t_cgroup_pids "$cg" | while read -r p; do grep -qs $'^NSpid:.*\t1$' "/proc/$p/status" && echo "$p"; done)
[ -n "$root" ] || t_fail "the workload died when CRIU was stopped"
rm -f "$MNT/vol/budget.report"; kill -USR1 "$root"; sleep 0.3
grep -q max_gap_us "$MNT/vol/budget.report" || t_fail "the workload does not tick after the aborted dump"
t_cgroup_kill "$cg"

# The same budget while ckptd itself holds the window (CRIU waiting): cut short just as well.
name=budget2
cg=$(t_cgroup_create v1 "$name")
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
printf '[Checkpoint]\nMaxFrozenSec=1\n' | t_write_container "$name" "$cg" "$MNT/vol"
CKPTD_TEST_HOLD_FROZEN_MSEC=20000 t_daemon_restart
start=$(date +%s%N)
expect_failure "MaxFrozenSec" freeze-and-dump "$name"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 5000 ] || t_fail "the budget did not cut the window short (${elapsed_ms} ms)"
assert_clean "$name" "$cg"
t_cgroup_kill "$cg"
t_daemon_restart

# A criu that fails.
name=failing
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
printf '[Daemon]\nCriu=%s\n' "$HERE/criu-fail.sh" | t_write_daemon_conf
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
t_daemon_restart
expect_failure "criu-fail.sh exited with status 1" freeze-and-dump "$name"
assert_clean "$name" "$cg"

# CRIU fails at restore time: the report names the step and the state (container stopped,
# volumes rolled back), the safety pair is intact and undoes the rollback.
: | t_write_daemon_conf
name=norestore
cg=$(t_cgroup_create v2 "$name")
# PreDump=no: no dirty-tracking check and no pre-dump pass among the counted CRIU runs
t_write_container "$name" "$cg" "$MNT/vol" <<<$'[Checkpoint]\nPreDump=no'
t_daemon_restart
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
sleep 0.3
t_ctl freeze-and-dump "$name" >/dev/null
sleep 0.3
printf '[Daemon]\nCriu=%s\n' "$HERE/criu-fail-at.sh" | t_write_daemon_conf
# Runs: 1 the daemon's version query, 2 the safety pair's dump, 3 the restore.
CRIU_COUNTER=$T/criu-runs CRIU_FAIL_AT=3 t_daemon_restart
expect_failure "step 'restore' failed" rollback "$name" 1
t_assert_contains "$out" "volumes rolled back to pair 1"
t_assert_contains "$out" "safety pair 2 holds the state before the rollback"
t_assert_eq "$(t_ctl_json list "$name" | jq -r 'map(.id) | join(",")')" "1,2" "pairs after the failed rollback"
t_assert_contains "$(t_ctl verify "$name" 2)" "OK"
t_assert_contains "$(t_ctl verify "$name" 1)" "OK"
t_cgroup_frozen "$cg" && t_fail "cgroup left frozen after a failed restore"
# The failed rollback is reported, with its undo command, until the user acts (across restarts).
attention() { t_ctl_json containers | jq -r --arg n "$name" '.[] | select(.name == $n) | .attention'; }
t_assert_contains "$(attention)" "rollback to 1 failed at step 'restore'"
t_assert_contains "$(attention)" "undo: ckptctl rollback $name 2;"
: | t_write_daemon_conf
t_daemon_restart
t_assert_contains "$(t_ctl containers)" "$name needs attention: rollback to 1 failed"
t_ctl rollback "$name" 2 --no-safety-pair >/dev/null
t_assert_eq "$(attention)" null "attention after the undo"
[ "$(stat -c %s "$MNT/vol/$name.data")" -ge "$(stat -c %s "$MNT/.ckptd/$name/2/vol/$name.data")" ] ||
	t_fail "undo through the safety pair did not bring the later state back"
t_check_pattern "$MNT/vol/$name.data" >/dev/null
t_cgroup_kill "$cg"

# FreezeTimeoutSec: a task blocked in the kernel (D state) never freezes under cgroup v2 - here
# one writing to a filesystem frozen with fsfreeze. ckptd gives up after the timeout, thaws,
# and the error names the task.
: | t_write_daemon_conf
name=stuck
cg=$(t_cgroup_create v2 "$name")
STUCK=$(t_btrfs_loop 160)
t_start_in_cgroup "$cg" bash -c "while :; do echo x >>'$STUCK/log'; sleep 0.01; done" >/dev/null
printf '[Checkpoint]\nFreezeTimeoutSec=1\n' | t_write_container "$name" "$cg" "$MNT/vol"
t_daemon_restart
sleep 0.2
fsfreeze --freeze "$STUCK"
defer fsfreeze --unfreeze "$STUCK"
sleep 0.2
expect_failure "did not freeze within FreezeTimeoutSec" freeze-and-dump "$name"
t_assert_contains "$out" "state D" # the stuck task is named
fsfreeze --unfreeze "$STUCK"
assert_clean "$name" "$cg"
t_cgroup_kill "$cg"

# Images that do not fit: the state directory on a btrfs too small for 300 MB of memory.
name=big
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$STALL" --mb 300 --report "$MNT/vol/stall.report" >/dev/null
for _ in $(seq 300); do [ -s "$MNT/vol/stall.report" ] && break; sleep 0.05; done
SMALL=$(t_btrfs_loop 160)
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
CKPTD_STATE_DIR="$SMALL/state" t_daemon_restart
expect_failure "not enough space in $SMALL/state" freeze-and-dump "$name"
t_cgroup_frozen "$cg" && t_fail "cgroup left frozen after ENOSPC"
t_cgroup_kill "$cg"
t_pass
