#!/usr/bin/env bash
# kill -9 of ckptd at 24 random moments (CKPTD_TEST_RANDOM_KILLS) of a freeze-and-dump (before, inside and after the
# frozen window; every third round with the window held open 300 ms so that more kills land in
# it). After every restart: the container is thawed and runs, the data file is valid, no
# half-made pair is listed, every listed pair verifies, no snapshot directory exists for an id
# that is not listed, and the journal is empty.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 1024)
t_btrfs_subvol "$MNT/vol"
name=dkc
cg=$(t_cgroup_create v2 "$name")
data=$MNT/vol/$name.data
printf '[Retention]\nKeepLast=100\n' | t_write_container "$name" "$cg" "$MNT/vol"
t_start_in_cgroup "$cg" "$CRYO" "$data" >/dev/null

grows() {
	local a b
	a=$(stat -c %s "$data"); sleep 0.2; b=$(stat -c %s "$data")
	[ "$b" -gt "$a" ]
}
no_jobs() { [ "$(t_ctl_json status | jq '.jobs | length')" = 0 ]; }

for i in $(seq "${CKPTD_TEST_RANDOM_KILLS:-24}"); do
	if [ $((i % 3)) = 0 ]; then
		CKPTD_TEST_HOLD_FROZEN_MSEC=300 t_daemon_start
	else
		t_daemon_start
	fi
	t_ctl freeze-and-dump "$name" >"$T/dump.out" 2>&1 &
	client=$!
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	t_daemon_kill9
	wait "$client" && finished=1 || finished=0
	t_daemon_start
	t_wait_until 60 no_jobs || t_fail "round $i: jobs still running after the restart"

	t_cgroup_frozen "$cg" && t_fail "round $i: cgroup left frozen after the restart"
	grows || t_fail "round $i: the workload does not run after the restart"
	t_check_pattern "$data" >/dev/null
	listed=$(t_ctl_json list "$name" | jq -r '.[] | select(.state == "complete") | .id' | sort -n)
	damaged=$(t_ctl_json list "$name" | jq -r '[.[] | select(.state != "complete")] | length')
	t_assert_eq "$damaged" 0 "round $i: damaged or incomplete pairs listed"
	for id in $listed; do
		t_assert_contains "$(t_ctl verify "$name" "$id")" OK
	done
	for d in "$MNT/.ckptd/$name"/*; do
		[ -e "$d" ] || continue
		grep -qx "${d##*/}" <<<"$listed" || t_fail "round $i: snapshot directory $d of an unlisted pair"
	done
	! compgen -G "$T/state/journal/$name-*.json" >/dev/null || t_fail "round $i: journal not empty: $(ls "$T/state/journal")"
	echo "round $i: client finished=$finished, pairs listed: $(echo $listed)"
	t_daemon_stop
done
t_pass
