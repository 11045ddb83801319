#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# selftest-lib.sh — exercises lib.sh on the real kernel. Not a meson test (not test-*.sh).
#   sudo tests/integration/selftest-lib.sh
# Uses $CRYO and $STALL if set, else builds tests/workloads/{cryo,stall}.c with gcc. ckptd and
# ckptctl are replaced by small fakes, so the daemon helpers are tested without the daemon.
#
# Runs itself in several modes and checks, after each run, that nothing is left behind: no
# mount, loop device, cgroup, process or temporary directory of that run.
#   inner-pass          everything works: loop btrfs, subvolume, v2 and v1 cgroups, cryo and
#                       stall in PID namespaces, freezing by hand, assertions, daemon helpers
#   inner-fail-assert   a failing assertion with frozen cgroups, a child cgroup, a daemon and
#                       a busy mount
#   inner-fail-errexit  a failing command under set -e, a failure inside $(...)
#   inner-daemon-dies   ckptd exits at start-up: the test fails with its log
#   inner-term          killed the way meson's timeout does (SIGTERM, SIGKILL 0.5 s later)
#   inner-killed        SIGKILL outright; the next test run that sources lib.sh cleans up
set -euo pipefail
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
MODE=${1:-outer}

record() { echo "$*" >>"$SELFTEST_RECORD"; }

# ---------------------------------------------------------------------------------------------
# Inner runs

inner_setup() { # a bit of everything, recorded for the leftover check
	T=$(t_tmpdir)
	record "mainpid $$"
	record "dir $T"
	record "libdir $T__LIB_DIR"
	MNT=$(t_btrfs_loop 256)
	record "mount $MNT"
	record "image ${MNT%/mnt}/image"
	record "dir ${MNT%/mnt}"
	t_btrfs_subvol "$MNT/vol"
	CG2=$(t_cgroup_create v2 self)
	CG1=$(t_cgroup_create v1 self)
	record "cgroup $CG2"
	record "cgroup $CG1"
	record "cgroup ${CG2%/*}"
	record "cgroup ${CG1%/*}"
	PID2=$(t_start_in_cgroup "$CG2" "$CRYO" "$MNT/vol/v2.data" "$MNT/vol/v2.lock" --interval-ms 2)
	PID1=$(t_start_in_cgroup "$CG1" "$CRYO" "$MNT/vol/v1.data" "$MNT/vol/v1.lock" --interval-ms 2)
	record "pid $PID2"
	record "pid $PID1"
	local p
	for p in $(t_cgroup_pids "$CG2") $(t_cgroup_pids "$CG1"); do record "pid $p"; done
	t_write_container web "$CG2" "$MNT/vol" </dev/null
	t_daemon_start
	record "pid $CKPTD_PID"
}

inner_pass() {
	local out cg kind a b pid n t0 i rep gap rc

	# --- assertions and helpers, on their failing side too
	t_assert_eq x x
	t_run t_assert_eq a b "deliberate"
	t_assert_eq "$T_RC" 1 "t_assert_eq a b fails"
	t_assert_contains "$T_ERR" "FAIL: deliberate: got 'a', expected 'b' (selftest-lib.sh:"
	t_run t_assert_contains "hello world" "xyz"
	t_assert_eq "$T_RC" 1 "t_assert_contains fails"
	t_assert_contains "$T_ERR" "does not contain 'xyz'"
	t_run t_assert_file_exists /nonexistent/file "must exist"
	t_assert_eq "$T_RC" 1 "t_assert_file_exists fails"
	t_assert_contains "$T_ERR" "must exist: /nonexistent/file does not exist"
	t_run t_skip "no reason"
	t_assert_eq "$T_RC" 77 "t_skip exits 77"
	t_run false
	t_assert_eq "$T_RC" 1 "t_run false"
	t_run sh -c 'echo out; echo err >&2; exit 5'
	t_assert_eq "$T_RC/$T_OUT/$T_ERR" "5/out/err" "t_run captures"
	t_0=${EPOCHREALTIME//[!0-9]/}
	if t_wait_until 1 false; then t_fail "t_wait_until false succeeded"; fi
	t_0=$(((${EPOCHREALTIME//[!0-9]/} - t_0) / 1000))
	{ [ "$t_0" -ge 1000 ] && [ "$t_0" -lt 1500 ]; } || t_fail "t_wait_until 1 false took $t_0 ms"
	t_run t_cgroup_create v3 x
	t_assert_eq "$T_RC" 1 "t_cgroup_create v3"

	# --- t_check_pattern
	local pdir
	pdir=$(t_tmpdir)
	record "dir $pdir"
	printf 'abcdefghijklmnopqrstuvwxyzabc' >"$pdir/good"
	t_assert_eq "$(t_check_pattern "$pdir/good")" 29 "pattern length"
	printf 'abcdefghijklmnopqrstuvwxyzabcc' >"$pdir/dup"
	t_run t_check_pattern "$pdir/dup"
	t_assert_eq "$T_RC" 1 "duplicate detected"
	t_assert_contains "$T_ERR" "offset 29 of 30 is 'c', expected 'd'"
	printf 'abc\0e' >"$pdir/hole"
	t_run t_check_pattern "$pdir/hole"
	t_assert_contains "$T_ERR" "offset 3 of 5 is a NUL byte (hole)"
	t_run t_check_pattern "$pdir/good" 100
	t_assert_contains "$T_ERR" "only 29 bytes, expected at least 100"
	: >"$pdir/empty"
	t_assert_eq "$(t_check_pattern "$pdir/empty")" 0 "empty file"

	# --- cryo by itself: SIGTERM -> 0; an existing lock file -> 3 after 200 letters
	"$CRYO" "$pdir/c.data" --interval-ms 1 &
	pid=$!
	sleep 0.2
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	t_assert_eq "$rc" 0 "cryo exits 0 on SIGTERM"
	t_check_pattern "$pdir/c.data" 50 >/dev/null
	touch "$pdir/c.lock"
	rc=0
	"$CRYO" "$pdir/c.data" "$pdir/c.lock" --interval-ms 0 2>"$pdir/c.err" || rc=$?
	t_assert_eq "$rc" 3 "cryo exits 3 on an existing lock file"
	t_assert_contains "$(<"$pdir/c.err")" "lock file already exists: $pdir/c.lock"
	t_assert_eq "$(t_check_pattern "$pdir/c.data")" 200 "cryo wrote 200 letters before the lock"
	rc=0
	"$CRYO" 2>/dev/null || rc=$?
	t_assert_eq "$rc" 2 "cryo without arguments"

	# --- cgroup roots
	t_assert_eq "$(stat -f -c %T "$(t_cgroup_v2_root)")" cgroup2fs "v2 root"
	t_assert_eq "$(stat -f -c %T "$(t_cgroup_v1_freezer_root)")" cgroupfs "v1 root"

	# --- btrfs
	t_assert_eq "$(stat -f -c %T "$MNT")" btrfs "loop mount is btrfs"
	btrfs subvolume show "$MNT/vol" >/dev/null || t_fail "$MNT/vol is not a subvolume"
	[ "$(losetup -n -O NAME -j "${MNT%/mnt}/image" | wc -l)" = 1 ] || t_fail "no loop device for the image"

	# --- names are unique
	cg=$(t_cgroup_create v2 self)
	t_assert_eq "$cg" "${CG2}-2" "second cgroup with the same name"
	record "cgroup $cg"

	# --- the workloads: root task = PID 1 of its namespace, session leader, stdio /dev/null
	for kind in v2 v1; do
		if [ "$kind" = v2 ]; then cg=$CG2 pid=$PID2; else cg=$CG1 pid=$PID1; fi
		t_assert_eq "$(t_cgroup_pids "$cg" | wc -l)" 2 "$kind: tasks (unshare + root)"
		t_assert_contains "$(t_cgroup_pids "$cg")" "$pid" "$kind: root task in the cgroup"
		t_assert_eq "$(awk '/^NSpid:/{print $NF}' "/proc/$pid/status")" 1 "$kind: PID in its namespace"
		t_assert_eq "$(cat "/proc/$pid/comm")" cryo "$kind: root task runs cryo"
		t_assert_eq "$(awk '{sub(/.*\) /, ""); print $4}' "/proc/$pid/stat")" "$pid" "$kind: session id"
		for i in 0 1 2; do
			t_assert_eq "$(readlink "/proc/$pid/fd/$i")" /dev/null "$kind: fd $i"
		done
		t_wait_until 5 test -e "$MNT/vol/$kind.lock" || t_fail "$kind: no lock file after 200 letters"

		t_cgroup_frozen "$cg" && t_fail "$kind: frozen before freezing"
		t_cgroup_freeze "$cg"
		echo "$kind: freeze by hand (bash, write to frozen): ${T_FREEZE_US} us"
		t_cgroup_frozen "$cg" || t_fail "$kind: not frozen"
		a=$(t_file_size "$MNT/vol/$kind.data")
		sleep 0.3
		b=$(t_file_size "$MNT/vol/$kind.data")
		t_assert_eq "$b" "$a" "$kind: file does not grow while frozen"
		t_cgroup_thaw "$cg"
		t_cgroup_frozen "$cg" && t_fail "$kind: still frozen after thaw"
		sleep 0.3
		b=$(t_file_size "$MNT/vol/$kind.data")
		[ "$b" -gt $((a + 50)) ] || t_fail "$kind: file does not grow after thaw ($a -> $b)"
		n=$(t_check_pattern "$MNT/vol/$kind.data")
		echo "$kind: $n letters, pattern intact"
	done

	# --- t_cgroup_kill empties a cgroup but keeps it; a failing start is reported
	cg=$(t_cgroup_create v1 killme)
	record "cgroup $cg"
	for i in 1 2; do t_start_in_cgroup "$cg" sleep 1000 >/dev/null; done
	t_assert_eq "$(t_cgroup_pids "$cg" | wc -l)" 4 "tasks before t_cgroup_kill"
	t_cgroup_freeze "$cg"
	t_cgroup_kill "$cg"
	t_assert_eq "$(t_cgroup_pids "$cg")" "" "tasks after t_cgroup_kill"
	[ -d "$cg" ] || t_fail "t_cgroup_kill removed the cgroup"
	t_run t_start_in_cgroup "$cg" /nonexistent/program
	t_assert_eq "$T_RC" 1 "starting a missing program"
	t_assert_contains "$T_ERR" "workload exited at once"

	# --- stall: ready, reports, a 300 ms freeze shows up as a gap, data file pattern
	cg=$(t_cgroup_create v2 stall)
	record "cgroup $cg"
	rep=$MNT/vol/stall.report
	pid=$(t_start_in_cgroup "$cg" "$STALL" --mb 64 --report "$rep" --data "$MNT/vol/stall.data")
	t_wait_until 10 grep -qx ready "$rep" 2>/dev/null || t_fail "stall never got ready"
	[ "$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")" -gt $((64 * 1024)) ] || t_fail "stall's RSS < 64 MB"
	sleep 0.3
	rm -f "$rep"
	kill -USR1 "$pid"
	t_wait_until 5 test -e "$rep" || t_fail "no report after SIGUSR1"
	out=$(<"$rep")
	[[ $out =~ ^max_gap_us=([0-9]+)\ ticks=([0-9]+)$ ]] || t_fail "bad report '$out'"
	echo "stall idle: $out"
	[ "${BASH_REMATCH[2]}" -gt 100 ] || t_fail "too few ticks: $out"
	t_cgroup_freeze "$cg"
	sleep 0.3
	t_cgroup_thaw "$cg"
	sleep 0.05
	rm -f "$rep"
	kill -USR1 "$pid"
	t_wait_until 5 test -e "$rep" || t_fail "no report after SIGUSR1"
	out=$(<"$rep")
	echo "stall with a 300 ms freeze: $out"
	[[ $out =~ ^max_gap_us=([0-9]+)\ ticks=([0-9]+)$ ]] || t_fail "bad report '$out'"
	gap=${BASH_REMATCH[1]}
	{ [ "$gap" -ge 300000 ] && [ "$gap" -lt 1000000 ]; } || t_fail "gap $gap us for a 300 ms freeze"
	t_check_pattern "$MNT/vol/stall.data" 300 >/dev/null

	# --- daemon helpers, with the fake ckptd and ckptctl
	t_assert_eq "$(<"$T/etc/containers.d/web.conf")" "$(printf '[Container]\nCgroup=%s\nVolume=%s' "$CG2" "$MNT/vol")" \
		"config without extra lines"
	t_write_container db "$CG1" "$MNT/vol" /srv/other <<-EOF
		RootPid=7
		[Checkpoint]
		MaxFrozenSec=5
	EOF
	t_assert_eq "$(<"$T/etc/containers.d/db.conf")" "$(printf '[Container]\nCgroup=%s\nVolume=%s\nVolume=/srv/other\nRootPid=7\n[Checkpoint]\nMaxFrozenSec=5' "$CG1" "$MNT/vol")" \
		"config with extra lines from a here-document"
	printf '[Checkpoint]\nMaxFrozenSec=1\n' | t_write_container piped "$CG1"
	t_assert_contains "$(<"$T/etc/containers.d/piped.conf")" "MaxFrozenSec=1" "extra lines from a pipe"
	printf '[Daemon]\nCriu=/bin/false\n' | t_write_daemon_conf
	t_assert_eq "$(<"$T/etc/ckptd.conf")" "$(printf '[Daemon]\nCriu=/bin/false')" "ckptd.conf"
	t_assert_eq "$(find "$T/etc/containers.d" -mindepth 1 ! -name '[!.]*.conf')" "" "temporary files in containers.d"

	t_assert_eq "$CKPTD_SOCKET" "$T/ckptd.sock" "CKPTD_SOCKET"
	t_assert_eq "$CKPTD_LOG" "$T/ckptd.log" "CKPTD_LOG"
	[ -S "$CKPTD_SOCKET" ] || t_fail "no socket"
	t_assert_contains "$(<"$CKPTD_LOG")" \
		"fake-ckptd: --config-dir $T/etc --state-dir $T/state --socket $T/ckptd.sock --log-level debug"
	t_assert_eq "$(t_ctl status)" "fake-ckptctl: --socket $T/ckptd.sock status" "t_ctl"
	t_assert_eq "$(t_ctl_json list web)" "fake-ckptctl: --socket $T/ckptd.sock --json list web" "t_ctl_json"
	t_assert_eq "$(stat -c %a "$T")" 755 "t_tmpdir mode (unprivileged clients reach the socket)"

	local old=$CKPTD_PID
	t_daemon_kill9
	t__alive "$old" && t_fail "ckptd survived t_daemon_kill9"
	[ -S "$CKPTD_SOCKET" ] || t_fail "the stale socket should stay after kill -9"
	CKPTD_STATE_DIR=$T/other FAKE_CKPTD_ARG=x t_daemon_restart --criu /bin/true
	record "pid $CKPTD_PID"
	t_assert_contains "$(tail -n 2 "$CKPTD_LOG")" "--state-dir $T/other --socket $T/ckptd.sock --log-level debug --criu /bin/true"
	t_assert_contains "$(tail -n 1 "$CKPTD_LOG")" "FAKE_CKPTD_ARG=x"
	[ -d "$T/other" ] || t_fail "CKPTD_STATE_DIR not created"
	t_daemon_restart # same arguments, default state dir again
	record "pid $CKPTD_PID"
	t_assert_contains "$(tail -n 1 "$CKPTD_LOG")" "--state-dir $T/state --socket $T/ckptd.sock --log-level debug --criu /bin/true"

	# A daemon that exits 1 on SIGTERM, one that ignores it.
	FAKE_CKPTD_MODE=exit1 t_daemon_restart
	record "pid $CKPTD_PID"
	rc=0
	t_daemon_stop || rc=$?
	t_assert_eq "$rc" 1 "t_daemon_stop returns ckptd's status"
	FAKE_CKPTD_MODE=ignore-term t_daemon_start
	record "pid $CKPTD_PID"
	t0=${EPOCHREALTIME//[!0-9]/}
	rc=0
	T_DAEMON_STOP_TIMEOUT=1 t_daemon_stop 2>/dev/null || rc=$?
	t_assert_eq "$rc" 137 "a daemon ignoring SIGTERM is killed"
	[ $((${EPOCHREALTIME//[!0-9]/} - t0)) -lt 3000000 ] || t_fail "t_daemon_stop took too long"
	t_daemon_start # left running: the cleanup stops it (exit 0 on SIGTERM)
	record "pid $CKPTD_PID"

	# A user's own defer entries run in reverse order, after the daemon is stopped.
	defer sh -c "echo second >>/tmp/ckptd-selftest-order.$$"
	defer sh -c "echo first >>/tmp/ckptd-selftest-order.$$"
	record "order /tmp/ckptd-selftest-order.$$"
	t_pass
}

inner_fail_common() {
	inner_setup
	# CRIU may create child cgroups; put a task in one, and freeze everything.
	mkdir "$CG2/sub"
	t_start_in_cgroup "$CG2/sub" sleep 1000 >/dev/null
	t_cgroup_freeze "$CG2"
	t_cgroup_freeze "$CG1"
	# A process (outside any test cgroup) keeps the mount busy for 1.5 s.
	(cd "$MNT/vol" && exec sleep 1.5) &
	record "pid $!"
	record ready
}

inner_fail_assert() {
	inner_fail_common
	t_assert_eq 1 2 "deliberate failure"
	echo "not reached"
}

inner_fail_errexit() {
	inner_fail_common
	local x
	# shellcheck disable=SC2034
	x=$(t_btrfs_loop 50) || echo "failure inside \$(...) seen: status $?"
	false
	echo "not reached"
}

inner_daemon_dies() {
	inner_setup
	t_daemon_stop
	FAKE_CKPTD_MODE=die t_daemon_start
	echo "not reached"
}

inner_wait_for_signal() {
	inner_setup
	record ready
	while :; do sleep 0.1; done
}

# ---------------------------------------------------------------------------------------------
# The outer run: runs the modes, checks for leftovers

check_no_leftovers() { # RECORD MODE
	local rec=$1 mode=$2 kind what root pid i
	while read -r kind what; do
		case $kind in
		mount) ! t__is_mounted "$what" || t_fail "$mode: $what still mounted" ;;
		image)
			for ((i = 0; i < 40; i++)); do
				[ -z "$(losetup -a | grep -F "$what" || true)" ] && break
				sleep 0.05
			done
			[ -z "$(losetup -a | grep -F "$what" || true)" ] || t_fail "$mode: loop device left: $(losetup -a | grep -F "$what")"
			[ ! -e "$what" ] || t_fail "$mode: image $what left"
			;;
		cgroup) [ ! -e "$what" ] || t_fail "$mode: cgroup $what left" ;;
		dir | libdir) [ ! -e "$what" ] || t_fail "$mode: directory $what left" ;;
		pid)
			t_wait_until 3 eval "! t__alive $what" || t_fail "$mode: process $what ($(cat "/proc/$what/comm")) left"
			;;
		mainpid)
			for root in "$(t_cgroup_v2_root)" "$(t_cgroup_v1_freezer_root)"; do
				[ ! -e "$root/ckptd-test.$what" ] || t_fail "$mode: $root/ckptd-test.$what left"
			done
			[ -z "$(find /tmp -maxdepth 1 -name "ckptd-test.$what.*" ! -name '*.cleanup.log')" ] ||
				t_fail "$mode: left in /tmp: $(find /tmp -maxdepth 1 -name "ckptd-test.$what.*")"
			grep -q "/tmp/ckptd-test\.$what\." /proc/self/mounts && t_fail "$mode: a mount of run $what is left"
			;;
		order) t_assert_eq "$(tr '\n' ' ' <"$what")" "first second " "$mode: order of defer entries"
			rm -f "$what" ;;
		ready) ;;
		esac
	done <"$rec"
	echo "ok: $mode left nothing behind"
}

run_inner() { # MODE EXPECTED_STATUS -> sets OUT, ERR, REC
	local mode=$1 want=$2 rc=0
	REC=$T/$mode.record
	OUT=$T/$mode.out
	ERR=$T/$mode.err
	: >"$REC"
	SELFTEST_RECORD=$REC bash "$SELF" "$mode" >"$OUT" 2>"$ERR" || rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$OUT" "$ERR" >&2
		t_fail "$mode: exit status $rc, expected $want"
	fi
	check_no_leftovers "$REC" "$mode"
}

start_detached() { # MODE: start in its own session (like meson), wait until ready; sets REC MAINPID
	local mode=$1
	REC=$T/$mode.record
	: >"$REC"
	SELFTEST_RECORD=$REC setsid bash "$SELF" "$mode" >"$T/$mode.out" 2>"$T/$mode.err" </dev/null &
	disown $!
	t_wait_until 30 grep -qx ready "$REC" || { cat "$T/$mode.err" >&2; t_fail "$mode never got ready"; }
	MAINPID=$(awk '$1 == "mainpid" {print $2}' "$REC")
}

outer() {
	t_require_root
	T=$(t_tmpdir)
	if [ -z "${CRYO:-}" ] || [ -z "${STALL:-}" ]; then
		for w in cryo stall; do
			gcc -O2 -Wall -Wextra -Werror -o "$T/$w" "$HERE/../workloads/$w.c"
		done
		export CRYO=$T/cryo STALL=$T/stall
	fi
	cat >"$T/fake-ckptd" <<-'EOF'
		#!/usr/bin/python3
		import os, signal, socket, sys, time
		args = sys.argv[1:]
		mode = os.environ.get("FAKE_CKPTD_MODE", "")
		extra = " FAKE_CKPTD_ARG=" + os.environ["FAKE_CKPTD_ARG"] if "FAKE_CKPTD_ARG" in os.environ else ""
		print("fake-ckptd: " + " ".join(args) + extra, flush=True)
		if mode == "die":
		    print("fake-ckptd: refusing to start", flush=True)
		    sys.exit(4)
		def term(sig, frame):
		    print("fake-ckptd: SIGTERM", flush=True)
		    os._exit(1 if mode == "exit1" else 0)
		signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "ignore-term" else term)
		path = args[args.index("--socket") + 1]
		try:
		    os.unlink(path)
		except FileNotFoundError:
		    pass
		time.sleep(0.2)  # the helper must wait for the socket, not for the process
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.bind(path)
		s.listen(16)
		while True:
		    c, _ = s.accept()
		    c.close()
	EOF
	printf '#!/bin/sh\necho "fake-ckptctl: $*"\n' >"$T/fake-ckptctl"
	chmod +x "$T/fake-ckptd" "$T/fake-ckptctl"
	export CKPTD=$T/fake-ckptd CKPTCTL=$T/fake-ckptctl

	local t0
	t0=${EPOCHREALTIME//[!0-9]/}
	run_inner inner-pass 0
	grep -E '^(v1|v2|stall)' "$OUT"
	t_assert_contains "$(<"$OUT")" "PASS: selftest-lib.sh"
	echo "inner-pass took $(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000)) ms"

	run_inner inner-fail-assert 1
	t_assert_contains "$(<"$ERR")" "FAIL: deliberate failure: got '1', expected '2' (selftest-lib.sh:"
	t_assert_contains "$(<"$ERR")" "---- last 60 lines of"
	t_assert_contains "$(<"$ERR")" "fake-ckptd: --config-dir"
	t_assert_not_contains "$(<"$OUT")" "not reached"

	run_inner inner-fail-errexit 1
	t_assert_contains "$(<"$OUT")" "failure inside \$(...) seen: status 1"
	t_assert_contains "$(<"$ERR")" "mkfs.btrfs on a 50 MB image failed"
	t_assert_contains "$(<"$ERR")" "ERROR: status 1 at selftest-lib.sh:"
	t_assert_contains "$(<"$ERR")" "in inner_fail_errexit, called from selftest-lib.sh:"
	t_assert_not_contains "$(<"$OUT")" "not reached"

	run_inner inner-daemon-dies 1
	t_assert_contains "$(<"$ERR")" "FAIL: ckptd exited during start-up (status 4)"
	t_assert_contains "$(<"$ERR")" "fake-ckptd: refusing to start"

	# meson's timeout: SIGTERM to the process group, SIGKILL 0.5 s later.
	start_detached inner-term
	kill -TERM -- "-$MAINPID"
	sleep 0.5
	kill -KILL -- "-$MAINPID" 2>/dev/null || true
	local log=/tmp/ckptd-test.$MAINPID.cleanup.log
	t_wait_until 30 grep -q "cleanup done" "$log" 2>/dev/null || t_fail "detached cleanup did not finish: $(cat "$log")"
	check_no_leftovers "$REC" inner-term
	rm -f "$log"

	# SIGKILL outright: everything stays until the next run of a test sources lib.sh.
	start_detached inner-killed
	kill -KILL -- "-$MAINPID"
	sleep 0.2
	t__is_mounted "$(awk '$1 == "mount" {print $2}' "$REC")" || t_fail "premise: the mount should be left"
	SELFTEST_RECORD=/dev/null bash "$SELF" inner-noop >/dev/null 2>"$T/noop.err" || t_fail "inner-noop failed: $(cat "$T/noop.err")"
	t_assert_contains "$(<"$T/noop.err")" "finishing the cleanup of an earlier test run"
	check_no_leftovers "$REC" inner-killed

	t_pass
}

case $MODE in
outer)
	. "$HERE/lib.sh"
	outer
	;;
inner-*)
	. "$HERE/lib.sh"
	t_require_root
	case $MODE in
	inner-pass) inner_setup && inner_pass ;;
	inner-fail-assert) inner_fail_assert ;;
	inner-fail-errexit) inner_fail_errexit ;;
	inner-daemon-dies) inner_daemon_dies ;;
	inner-term | inner-killed) inner_wait_for_signal ;;
	inner-noop) t_pass ;;
	*) echo "unknown mode $MODE" >&2; exit 2 ;;
	esac
	;;
*) echo "usage: $0" >&2; exit 2 ;;
esac
