#!/usr/bin/env bash
# One ckptd per state directory: a second ckptd started on the same state directory while the
# first one holds a container frozen (the window held open by CKPTD_TEST_HOLD_FROZEN_MSEC) exits
# at once, non-zero, naming the running daemon's pid; it neither thaws the container nor touches
# the in-flight pair, and the first one's dump completes and is listed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 256)
t_btrfs_subvol "$MNT/vol"
name=locked
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
t_write_container "$name" "$cg" "$MNT/vol" </dev/null

CKPTD_TEST_HOLD_FROZEN_MSEC=4000 t_daemon_start
t_ctl freeze-and-dump "$name" >"$T/dump.out" 2>&1 &
client=$!
t_wait_until 20 t_cgroup_frozen "$cg" || t_fail "the container never froze"
t_wait_until 10 test -d "$MNT/.ckptd/$name/1/vol" || t_fail "no snapshot inside the window"
t_assert_eq "$(cat "$T/state/lock")" "$CKPTD_PID" "pid in the lock file"

# The second daemon has its own socket: only the state directory is shared.
t_run timeout 20 "$CKPTD" --config-dir "$T/etc" --state-dir "$T/state" --socket "$T/second.sock" --log-level debug
echo "second ckptd: status $T_RC: $T_ERR"
case $T_RC in 0 | 124) t_fail "the second ckptd did not exit with an error (status $T_RC)" ;; esac
t_assert_contains "$T_ERR" "in use by another ckptd (pid $CKPTD_PID"
t_assert_contains "$T_ERR" "$T/state"
t_cgroup_frozen "$cg" || t_fail "the second ckptd thawed the first one's container"
[ -d "$T/state/containers/$name/pairs/1" ] || t_fail "the second ckptd removed the in-flight pair"
[ ! -e "$T/second.sock" ] || t_fail "the second ckptd created its socket"

wait "$client" || t_fail "the first daemon's dump failed: $(cat "$T/dump.out")"
t_cgroup_frozen "$cg" && t_fail "container left frozen"
t_assert_eq "$(t_ctl_json list "$name" | jq -r 'map(.id) | join(",")')" 1 "pairs listed"
t_assert_contains "$(t_ctl verify "$name" 1)" OK

# The lock goes with the daemon: a restart on the same directory works.
t_daemon_restart
t_assert_eq "$(cat "$T/state/lock")" "$CKPTD_PID" "pid in the lock file after restart"
t_pass
