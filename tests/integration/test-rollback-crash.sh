#!/usr/bin/env bash
# kill -9 of ckptd at 20 points of a rollback: right after each step is recorded in the journal
# (verify, safety-pair, stop, volumes, restore, check; held there by the test knob
# CKPTD_TEST_HOLD_ROLLBACK_STEP, see ckptd(8)) and at 14 random moments (CKPTD_TEST_RANDOM_KILLS). After every restart:
#  - the volume is valid and equals either the pair or the safety pair (a marker file says which);
#  - a rollback interrupted after it changed something is finished by the restarted ckptd (the
#    pair is intact), one that had changed nothing is not; the container runs, nothing needs
#    attention, the journal is empty, the pair and the safety pair are listed and verify, and the
#    undo command (a rollback to the safety pair) works.
# Then a rollback interrupted at 'volumes' whose pair is damaged meanwhile: not finished, reported
# by containers, status and show as needing attention with the exact undo command, across
# restarts and other jobs, until `ckptctl acknowledge`. Last: a cgroup holding only a stopped
# criu is reported as criu-left-over, not running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 1024)
t_btrfs_subvol "$MNT/vol"
name=rbc
cg=$(t_cgroup_create v2 "$name")
data=$MNT/vol/$name.data
marker=$MNT/vol/marker
printf '[Retention]\nKeepLast=100\n' | t_write_container "$name" "$cg" "$MNT/vol"
t_start_in_cgroup "$cg" "$CRYO" "$data" >/dev/null

grows() {
	local a b
	a=$(stat -c %s "$data"); sleep 0.3; b=$(stat -c %s "$data")
	[ "$b" -gt "$a" ]
}
holds() { # N STEP: the log shows the N-th hold at STEP
	[ "$(grep -c "holding the rollback at step '$2'" "$CKPTD_LOG")" -ge "$1" ]
}
no_jobs() { [ "$(t_ctl_json status | jq '.jobs | length')" = 0 ]; }
field() { t_ctl_json containers | jq -r --arg n "$name" ".[] | select(.name == \$n) | .$1"; }

points=(verify safety-pair stop volumes restore check)
for _ in $(seq "${CKPTD_TEST_RANDOM_KILLS:-14}"); do points+=(random); done
i=0
for point in "${points[@]}"; do
	i=$((i + 1))
	t_daemon_start
	grows || t_fail "round $i: the container does not run before the round"
	echo "P-$i" >"$marker"
	out=$(t_ctl_json freeze-and-dump "$name")
	pair=$(jq -r .id <<<"$out")
	echo "S-$i" >"$marker"
	sync
	t_daemon_stop
	if [ "$point" = random ]; then
		t_daemon_start
	else
		CKPTD_TEST_HOLD_ROLLBACK_STEP="$point" t_daemon_start
	fi
	before=$(grep -c "holding the rollback at step '$point'" "$CKPTD_LOG" || true)
	t_ctl rollback "$name" "$pair" >"$T/rollback.out" 2>&1 &
	client=$!
	if [ "$point" = random ]; then
		sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
		sleep "$((RANDOM % 2))"
	else
		t_wait_until 60 holds "$((before + 1))" "$point" || t_fail "round $i: the rollback never reached '$point'"
	fi
	t_daemon_kill9
	wait "$client" && finished=1 || finished=0
	t_daemon_start

	# A rollback interrupted after it changed something is finished (its pair is intact).
	t_wait_until 120 no_jobs || t_fail "round $i ($point): jobs still running 120 s after the restart"
	finishing=0
	grep -q "finishing the rollback to pair $pair interrupted" "$CKPTD_LOG" && finishing=1

	# The volume: all the pair's or all the safety pair's state, and a valid data file.
	state=$(cat "$marker")
	[ "$state" = "P-$i" ] || [ "$state" = "S-$i" ] || t_fail "round $i ($point): marker says '$state'"
	t_check_pattern "$data" >/dev/null
	t_cgroup_frozen "$cg" && t_fail "round $i ($point): cgroup left frozen"
	json=$(t_ctl_json list "$name")
	safety=$(jq -r --arg t "safety pair before rollback to $pair" '.[] | select(.tag == $t) | .id' <<<"$json")
	t_assert_contains "$(t_ctl verify "$name" "$pair")" OK
	[ -z "$safety" ] || t_assert_contains "$(t_ctl verify "$name" "$safety")" OK
	attention=$(field attention)
	echo "round $i ($point): client finished=$finished finishing=$finishing marker=$state safety=${safety:-none}" \
		"state=$(field state) attention=$attention"
	t_assert_eq "$attention" null "round $i ($point): attention (the pair is intact: the rollback is finished)"
	t_assert_eq "$(field state)" running "round $i ($point): state"
	grows || t_fail "round $i ($point): reported running, but the workload does not run"
	! compgen -G "$T/state/journal/$name-*.json" >/dev/null || t_fail "round $i: journal not empty: $(ls "$T/state/journal")"
	case $point in
	verify | safety-pair)
		t_assert_eq "$state" "S-$i" "round $i: marker after an interruption that changed nothing"
		t_assert_eq "$finishing" 0 "round $i: finished a rollback that had changed nothing"
		;;
	random)
		[ "$state" = "P-$i" ] || [ "$finished" = 0 ] || t_fail "round $i: reported done, volume not rolled back"
		[ "$state" = "P-$i" ] || [ "$finishing" = 0 ] || t_fail "round $i: finished, volume not rolled back"
		;;
	*)
		t_assert_eq "$finishing" 1 "round $i ($point): the interrupted rollback was finished"
		t_assert_eq "$state" "P-$i" "round $i ($point): marker after finishing"
		[ -n "$safety" ] || t_fail "round $i ($point): no safety pair"
		;;
	esac
	# The undo command of the report works: back to the safety pair (odd rounds).
	if [ -n "$safety" ] && [ $((i % 2)) = 1 ]; then
		t_ctl rollback "$name" "$safety" --no-safety-pair >/dev/null
		t_assert_eq "$(cat "$marker")" "S-$i" "round $i: marker after the undo"
		t_assert_eq "$(field state)" running "round $i: state after the undo"
		grows || t_fail "round $i: the workload does not run after the undo"
	fi
	t_daemon_stop
done

# A rollback whose pair is no longer intact is not finished: it is reported, with the exact undo
# command, across restarts and other jobs, until `acknowledge`.
# An interrupted rollback survives further restarts and other jobs; `acknowledge` clears it.
CKPTD_TEST_HOLD_ROLLBACK_STEP=volumes t_daemon_restart
before_volumes=$(grep -c "holding the rollback at step 'volumes'" "$CKPTD_LOG" || true)
pair=$(t_ctl_json freeze-and-dump "$name" | jq -r .id)
t_ctl rollback "$name" "$pair" >/dev/null 2>&1 &
client=$!
t_wait_until 60 holds "$((before_volumes + 1))" volumes || t_fail "the rollback never reached 'volumes'"
t_daemon_kill9
wait "$client" || true
img=$(find "$T/state/containers/$name/pairs/$pair/images" -name 'pstree.img')
echo x >>"$img" # the pair is damaged now: its checksum no longer matches
t_daemon_start
t_wait_until 120 no_jobs || t_fail "jobs still running 120 s after the restart"
grep -q "finishing the rollback to pair $pair interrupted" "$CKPTD_LOG" || t_fail "no attempt to finish"
attention=$(field attention)
t_assert_contains "$attention" "rollback to $pair interrupted at step 'volumes' (0 of 1 volume(s) rolled back)"
safety=$(t_ctl_json list "$name" | jq -r --arg t "safety pair before rollback to $pair" '.[] | select(.tag == $t) | .id')
[ -n "$safety" ] || t_fail "no safety pair listed"
t_assert_contains "$attention" "undo: ckptctl rollback $name $safety;"
t_assert_contains "$(t_ctl status)" "$name needs attention: rollback to $pair"
t_assert_contains "$(t_ctl show "$name" "$pair")" "needs attention"
t_assert_ne "$(field state)" running "state of a stopped container"
compgen -G "$T/state/journal/$name-rollback-$pair-*.json" >/dev/null || t_fail "journal entry gone"
t_ctl freeze-and-dump "$name" >/dev/null 2>&1 || true # another job does not clear it
t_daemon_restart
t_wait_until 120 no_jobs || t_fail "jobs still running 120 s after the restart"
t_assert_contains "$(field attention)" "interrupted at step 'volumes'"
t_assert_contains "$(t_ctl acknowledge "$name")" "1 interrupted or failed rollback(s) acknowledged"
t_assert_eq "$(field attention)" null "attention after acknowledge"

# A cgroup that holds only a stopped CRIU (what an interrupted restore can leave) is not running.
t_cgroup_kill "$cg"
cp /bin/sleep "$T/criu"
T_WORKLOAD_PIDNS=host t_start_in_cgroup "$cg" "$T/criu" 600 >/dev/null
t_wait_until 10 test -n "$(t_cgroup_pids "$cg")" || t_fail "no task in the cgroup"
for p in $(t_cgroup_pids "$cg"); do kill -STOP "$p"; done
t_assert_eq "$(field state)" criu-left-over "state of a cgroup holding a stopped criu"
t_cgroup_kill "$cg"
t_assert_eq "$(field state)" empty "state of an empty cgroup"
t_pass
