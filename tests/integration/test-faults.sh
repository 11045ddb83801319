#!/usr/bin/env bash
# Fault injection on the real kernel. Whatever fails, the container is never left frozen and a
# half-made pair is never listed:
#  - kill -9 of ckptd while the container is frozen (CRIU held mid-dump) -> the restarted
#    ckptd thaws it before serving and removes the half pair; no criu outlives the daemon;
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
	[ ! -e "$T/state/journal/$1.json" ] || t_fail "intent record left behind"
}

out=
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
	printf '[Daemon]\nCriu=%s\n' "$HERE/criu-slow.sh" | t_write_daemon_conf
	t_write_container "$name" "$cg" "$MNT/vol" </dev/null
	CRIU_SLOW_CGROUP=$cg CRIU_SLOW_HOLD=60 t_daemon_restart
	t_ctl freeze-and-dump "$name" >/dev/null 2>&1 &
	client=$!
	for _ in $(seq 500); do t_cgroup_frozen "$cg" && break; sleep 0.01; done
	t_cgroup_frozen "$cg" || t_fail "$kind: the container never froze"
	sleep 0.2
	t_daemon_kill9
	wait "$client" && t_fail "the client of a killed daemon reported success"
	sleep 0.2
	pgrep -f "criu swrk" >/dev/null && t_fail "a criu process outlived the daemon"
	t_cgroup_frozen "$cg" || t_fail "$kind: test broken, the container should still be frozen here"
	CRIU_SLOW_CGROUP=$cg CRIU_SLOW_HOLD=0 t_daemon_restart
	assert_clean "$name" "$cg"
	grep -q "thawed cgroup $cg" "$CKPTD_LOG" || t_fail "recovery not logged"
	echo "$kind: recovered after kill -9 while frozen"

	# MaxFrozenSec: CRIU held for 5 s, budget 1 s.
	printf '[Daemon]\nCriu=%s\n' "$HERE/criu-slow.sh" | t_write_daemon_conf
	printf '[Checkpoint]\nMaxFrozenSec=1\n' | t_write_container "$name" "$cg" "$MNT/vol"
	CRIU_SLOW_CGROUP=$cg CRIU_SLOW_HOLD=5 t_daemon_restart
	start=$(date +%s%N)
	expect_failure "MaxFrozenSec" freeze-and-dump "$name"
	elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$elapsed_ms" -lt 4000 ] || t_fail "the budget did not cut the window short (${elapsed_ms} ms)"
	assert_clean "$name" "$cg"
	t_cgroup_kill "$cg"
done

# A criu that fails.
name=failing
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
printf '[Daemon]\nCriu=%s\n' "$HERE/criu-fail.sh" | t_write_daemon_conf
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
t_daemon_restart
expect_failure "step 'dump' failed" freeze-and-dump "$name"
assert_clean "$name" "$cg"

# FreezeTimeoutSec: busy tasks cannot all freeze within 1 µs; the error names them.
: | t_write_daemon_conf
name=busy
cg=$(t_cgroup_create v2 "$name")
for _ in 1 2 3 4; do t_start_in_cgroup "$cg" bash -c 'while :; do :; done' >/dev/null; done
printf '[Checkpoint]\nFreezeTimeoutSec=1us\n' | t_write_container "$name" "$cg" "$MNT/vol"
t_daemon_restart
expect_failure "did not freeze within FreezeTimeoutSec" freeze-and-dump "$name"
t_assert_contains "$out" "state R" # the busy tasks are named
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
