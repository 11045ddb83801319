#!/usr/bin/env bash
# Hung storage must not delay anything else (issue 10): container A's `delete` blocks in the
# storage layer (A's btrfs is frozen with fsfreeze, so deleting its snapshot waits in the
# kernel, as an `lvm` call that hangs would), while container B is frozen by its own
# freeze-and-dump with MaxFrozenSec=1 and the window held open (CKPTD_TEST_HOLD_FROZEN_MSEC).
#  - B is thawed on time: MaxFrozenSec is enforced by B's job, not by the event loop that A's
#    storage work would stall;
#  - `ckptctl status` answers at once during A's hang (checked < 1 s, the time is printed);
#  - A's delete completes once its file system is thawed, and B's pair was not kept.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT_A=$(t_btrfs_loop 256)
MNT_B=$(t_btrfs_loop 256)
t_btrfs_subvol "$MNT_A/vol"
t_btrfs_subvol "$MNT_B/vol"
# A's file system is thawed before a failure is reported (the library stops ckptd first, which
# cannot exit while a thread of it waits on the frozen file system), and at the latest 20 s
# after it was frozen, whatever happens to this shell.
defer fsfreeze -u "$MNT_A"
fail() { fsfreeze -u "$MNT_A" 2>/dev/null || true; t_fail "$@"; }

cg_a=$(t_cgroup_create v2 hung-a)
cg_b=$(t_cgroup_create v2 hung-b)
t_start_in_cgroup "$cg_a" "$CRYO" "$MNT_A/vol/a.data" >/dev/null
t_start_in_cgroup "$cg_b" "$CRYO" "$MNT_B/vol/b.data" >/dev/null
t_write_container hung-a "$cg_a" "$MNT_A/vol" </dev/null
printf '[Checkpoint]\nMaxFrozenSec=1\n' | t_write_container hung-b "$cg_b" "$MNT_B/vol"

t_daemon_start
t_ctl freeze-and-dump hung-a >/dev/null || t_fail "the first dump of hung-a failed"
t_daemon_stop
# From here on every dump holds its window open for 8 s: only MaxFrozenSec ends it early.
CKPTD_TEST_HOLD_FROZEN_MSEC=8000 t_daemon_start

# The same call with nothing going on, for comparison (a client's own start-up is in both).
t0=$(t__now_us)
t_ctl status >/dev/null
echo "status answered in $((($(t__now_us) - t0) / 1000)) ms with nothing going on"

# B: frozen, its window held open.
t_ctl freeze-and-dump hung-b >"$T/b.out" 2>&1 &
b_client=$!
for _ in $(seq 1000); do t_cgroup_frozen "$cg_b" && break; sleep 0.005; done
t_cgroup_frozen "$cg_b" || t_fail "hung-b never froze"
frozen_at=$(t__now_us)

# A: its storage hangs; the delete of its pair blocks in the kernel until fsfreeze -u.
fsfreeze -f "$MNT_A"
(trap - ERR EXIT; sleep 20; fsfreeze -u "$MNT_A" 2>/dev/null) </dev/null >/dev/null 2>&1 &
disown $!
t_ctl delete hung-a 1 >"$T/a.out" 2>&1 &
a_client=$!
sleep 0.2 # the delete has reached the frozen file system

# status answers while A's delete hangs.
t0=$(t__now_us)
timeout 10 "$CKPTCTL" --socket "$CKPTD_SOCKET" status >/dev/null || fail "status did not answer during A's hang"
status_us=$(($(t__now_us) - t0))
echo "status answered in $((status_us / 1000)).$(((status_us % 1000) / 100)) ms during A's hung delete"
[ "$status_us" -lt 1000000 ] || fail "status took ${status_us} µs during A's hung delete"

# B is thawed by MaxFrozenSec=1 while A still hangs.
while t_cgroup_frozen "$cg_b"; do
	[ $(($(t__now_us) - frozen_at)) -lt 3000000 ] || break
	sleep 0.01
done
thawed_us=$(($(t__now_us) - frozen_at))
t_cgroup_frozen "$cg_b" && fail "hung-b is still frozen $((thawed_us / 1000)) ms after it froze (MaxFrozenSec=1)"
echo "hung-b thawed $((thawed_us / 1000)) ms after the test saw it frozen (MaxFrozenSec=1)"
kill -0 "$a_client" 2>/dev/null || fail "A's delete did not hang (the test proves nothing): $(cat "$T/a.out")"

wait "$b_client" && fail "hung-b's dump succeeded although it ran over MaxFrozenSec"
grep -q MaxFrozenSec "$T/b.out" || fail "hung-b's dump failed for another reason: $(cat "$T/b.out")"
t_assert_eq "$(t_ctl_json list hung-b | jq length)" 0 "pairs of hung-b"

# A's storage comes back: its delete completes.
fsfreeze -u "$MNT_A"
wait "$a_client" || t_fail "A's delete failed: $(cat "$T/a.out")"
t_assert_eq "$(t_ctl_json list hung-a | jq length)" 0 "pairs of hung-a"
t_pass
