# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# (SC2034: T_RC & co. are for the tests; SC2119/SC2120: optional arguments)
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib.sh — helpers for ckptd's integration tests (tests/integration/test-*.sh), which meson runs
# as root with CKPTD, CKPTCTL, CRYO, STALL, TESTS_DIR and BUILD_DIR in the environment:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#   t_require_root
#   T=$(t_tmpdir)                       # the daemon's files live in $T (etc/, state/, ckptd.sock)
#   MNT=$(t_btrfs_loop 256)
#   t_btrfs_subvol "$MNT/vol"
#   cg=$(t_cgroup_create v2 web)
#   t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/data" >/dev/null
#   t_write_container web "$cg" "$MNT/vol" </dev/null
#   t_daemon_start
#   t_ctl freeze-and-dump web
#   t_pass
#
# Cleanup. Every helper that creates something registers its removal with `defer`; at exit
# (normal, t_fail, a failing command under set -e) the library
#   1. stops ckptd (SIGTERM, then SIGKILL) and, if the test failed, prints the tail of its log;
#   2. thaws, kills and removes every cgroup made by t_cgroup_create (so no workload keeps a
#      mount busy);
#   3. runs the `defer` stack in reverse order (umount, losetup -d, rm, your own entries).
# Each step may fail without stopping the others. The stack is kept in files, so `defer` works
# from $(...) and pipelines too: `MNT=$(t_btrfs_loop 256)` is fine.
# On SIGTERM/SIGINT/SIGHUP (meson's timeout sends SIGTERM to the test's process group and
# SIGKILL 0.5 s later) the cleanup runs in a new session, detached, logging to
# /tmp/ckptd-test.PID.cleanup.log; there only the library's functions and external commands
# are available, not functions defined in the test. If a test was killed outright, the next
# test that sources this file (as root) finishes its cleanup first.
#
# Sourcing sets T (a fresh t_tmpdir; tests may replace it), `set -E` and an ERR trap that
# names the command, file:line and call chain where set -e stops the test, and (as root)
# removes leftovers of earlier runs whose shell is gone: their stack, and their cgroups
# ROOT/ckptd-test.PID (see t__sweep_stale: CRIU restores can recreate those).
#
# Rules: never `trap ... EXIT` in a test (use defer); call t_daemon_* in the test's main shell
# (not inside $(...) or a pipeline: they set CKPTD_PID); beware `local x=$(cmd)`, which hides
# cmd's failure from set -e.
#
# Environment: CKPTD_STATE_DIR / CKPTD_CONFIG_DIR override $T/state / $T/etc for one
# t_daemon_start (e.g. `CKPTD_STATE_DIR=$SMALL/state t_daemon_restart`); T_DAEMON_STOP_TIMEOUT
# (default 10 s); T_DAEMON_STRICT=0 accepts a non-zero exit status of ckptd on SIGTERM at the
# end of the test; T_WORKLOAD_OUTPUT=FILE appends the workloads' stdout/stderr to FILE instead
# of /dev/null (the file must not change size across a checkpoint and restore: CRIU checks it).

# ----------------------------------------------------------------------------------------------
# Internals

t__now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$((10#$t))"; }

# PID exists and is not a zombie.
t__alive() {
	local pid=$1 stat
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] && [ "${stat%% *}" != X ]
}

t__wait_dead() { # PID SECONDS
	local deadline=$(($(t__now_us) + ${2:-10} * 1000000))
	while t__alive "$1"; do
		[ "$(t__now_us)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

t__defer_to() { # STACK CMD...: append one entry, shell-quoted, to a stack file
	local stack=$1 line
	shift
	line=$(printf '%q ' "$@")
	printf '%s\n' "$line" >>"$T__LIB_DIR/defer.$stack"
}

t__main_shell_only() {
	[ "$BASHPID" = "$T__MAIN_PID" ] ||
		t_fail "$1 must be called in the test's main shell, not inside \$(...) or a pipeline"
}

t__location() { # the first caller outside this file
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
			echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "?"
}

t__on_err() { # STATUS LINE COMMAND (ERR trap): say where set -e is about to stop the test
	local i
	[[ $- == *e* ]] && [ "$BASHPID" = "$T__MAIN_PID" ] || return 0
	echo "ERROR: status $1 at ${BASH_SOURCE[1]##*/}:$2: $3" >&2
	for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
		echo "  in ${FUNCNAME[i]}, called from ${BASH_SOURCE[i + 1]##*/}:${BASH_LINENO[i]}" >&2
	done
}

t__starttime() { # PID -> field 22 of /proc/PID/stat (with the PID, identifies a process)
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split on purpose
	set -- $stat
	echo "${20}"
}

t__daemon_shutdown() { # STATUS MODE(main|detached): stop ckptd, print its log if failed; sets T__RC
	local rc=$1 mode=$2 pid='' start='' log='' drc=0
	[ -f "$T__LIB_DIR/daemon" ] && read -r pid start log <"$T__LIB_DIR/daemon"
	# A recorded PID that now names another process (reused) is left alone.
	[ -n "$pid" ] && [ "$(t__starttime "$pid")" != "$start" ] && pid=
	[ -n "$log" ] || { [ -f "$T__LIB_DIR/daemon.log" ] && read -r log <"$T__LIB_DIR/daemon.log"; }
	if [ "$rc" != 0 ] && [ -n "$log" ] && [ -f "$log" ]; then
		echo "---- last 60 lines of $log ----" >&2
		tail -n 60 "$log" >&2
		echo "---- end of $log ----" >&2
	fi
	if [ -n "$pid" ] && t__alive "$pid"; then
		if [ "$mode" = main ]; then
			CKPTD_PID=$pid
			t_daemon_stop || drc=$?
			if [ "$drc" != 0 ] && [ "$rc" = 0 ] && [ "${T_DAEMON_STRICT:-1}" != 0 ]; then
				echo "FAIL: ckptd exited with status $drc on SIGTERM at the end of the test" \
					"(T_DAEMON_STRICT=0 accepts this)" >&2
				[ -n "$log" ] && tail -n 30 "$log" >&2
				rc=1
			fi
		else
			kill -TERM "$pid" 2>/dev/null
			t__wait_dead "$pid" "${T_DAEMON_STOP_TIMEOUT:-10}" || kill -KILL "$pid" 2>/dev/null
		fi
	fi
	T__RC=$rc
}

t__run_cleanup() { # STATUS MODE: the whole cleanup; sets T__RC (the final status)
	local mode=$2 stack i lines
	t__daemon_shutdown "$1" "$mode"
	for stack in early main; do
		[ -f "$T__LIB_DIR/defer.$stack" ] || continue
		mapfile -t lines <"$T__LIB_DIR/defer.$stack"
		for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
			[ -n "${lines[i]}" ] || continue
			(
				trap - ERR EXIT
				set +eE
				eval "${lines[i]}"
			) >&2 || echo "warning: cleanup step failed (status $?): ${lines[i]}" >&2
		done
	done
	rm -rf -- "$T__LIB_DIR"
}

t__on_exit() {
	local rc=$?
	[ "$BASHPID" = "$T__MAIN_PID" ] || return "$rc"
	trap - EXIT ERR
	trap '' INT TERM HUP
	set +eE
	t__run_cleanup "$rc" main
	exit "$T__RC"
}

t__on_signal() { # SIGNUM
	local rc=$((128 + $1)) log=/tmp/ckptd-test.$T__MAIN_PID.cleanup.log
	trap - EXIT ERR INT TERM HUP
	echo "ckptd-test: signal $1, cleaning up detached (log: $log)" >&2
	setsid -f bash "$T__LIB_FILE" --cleanup "$T__LIB_DIR" "$rc" </dev/null >>"$log" 2>&1
	exit "$rc"
}

t__sweep_stale() { # finish the cleanup of earlier runs that were killed
	local d pid c _src mp type opts _rest
	for d in /tmp/ckptd-test.*.lib.*; do
		[ -d "$d" ] || continue
		pid=${d#/tmp/ckptd-test.}
		pid=${pid%%.*}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		t__alive "$pid" && continue
		c=
		[ -f "$d/cleaner" ] && read -r c <"$d/cleaner"
		[ -n "$c" ] && t__alive "$c" && continue
		echo "lib.sh: finishing the cleanup of an earlier test run that was killed ($d)" >&2
		bash "$T__LIB_FILE" --cleanup "$d" 1 >&2 || true
	done
	# Test cgroups of finished runs. Besides killed runs, CRIU makes these: a dump walks the
	# whole subtree of every cgroup the tasks are in, and a task of a v2 test sits in the root
	# of every v1 hierarchy (and vice versa), so its image lists every test cgroup that
	# existed then, and a restore recreates the missing ones (empty) seconds after their test
	# removed them.
	while read -r _src mp type opts _rest; do
		[ "$type" = cgroup2 ] || { [ "$type" = cgroup ] && [[ ,$opts, == *,freezer,* ]]; } || continue
		for d in "$mp"/ckptd-test.*; do
			[ -d "$d" ] || continue
			pid=${d##*/ckptd-test.}
			[[ $pid =~ ^[0-9]+$ ]] || continue
			t__alive "$pid" && continue
			t__cgroup_remove "$d" || true
		done
	done </proc/self/mounts
}

t__mktemp_dir() { # KIND -> a fresh 0755 directory under /tmp, removed at exit
	local d
	d=$(mktemp -d "/tmp/ckptd-test.$T__MAIN_PID.$1.XXXXXX") || t_fail "mktemp failed"
	chmod 0755 "$d"
	t__defer_to main t__rm_tree "$d"
	echo "$d"
}

t__rm_tree() {
	# --one-file-system: never descend into a file system that is still mounted below.
	rm -rf --one-file-system -- "$1"
}

# ----------------------------------------------------------------------------------------------
# Test results and assertions

# defer CMD [ARG...]: run CMD at exit (reverse order of registration; failures are tolerated).
defer() { t__defer_to main "$@"; }

# t_require_root: skip the test (exit 77) unless running as root.
t_require_root() { [ "$(id -u)" = 0 ] || t_skip "needs root"; }

# t_skip MSG: exit 77 (meson: skipped). Only for "not root"; anything else missing is a failure.
t_skip() { echo "SKIP: $*" >&2; exit 77; }

# t_fail MSG: print MSG with the test's file:line and exit 1.
t_fail() { echo "FAIL: $* ($(t__location))" >&2; exit 1; }

# t_pass: print PASS and exit 0 (cleanup still runs, and may still fail the test).
t_pass() { echo "PASS: ${0##*/}"; exit 0; }

# t_assert_eq ACTUAL EXPECTED [MSG]
t_assert_eq() {
	[ "$1" == "$2" ] || t_fail "${3:-values differ}: got '$1', expected '$2'"
}

# t_assert_ne A B [MSG]
t_assert_ne() {
	[ "$1" != "$2" ] || t_fail "${3:-values are equal}: both are '$1'"
}

# t_assert_file_exists PATH [MSG]
t_assert_file_exists() {
	[ -e "$1" ] || t_fail "${2:-file missing}: $1 does not exist"
}

# t_assert_contains TEXT NEEDLE [MSG]: TEXT (a string, e.g. "$out") contains NEEDLE.
t_assert_contains() {
	# shellcheck disable=SC2016
	[[ $1 == *"$2"* ]] || t_fail "${3:-text does not contain '$2'}: '${1:0:2000}'"
}

# t_assert_not_contains TEXT NEEDLE [MSG]
t_assert_not_contains() {
	# shellcheck disable=SC2016
	[[ $1 != *"$2"* ]] || t_fail "${3:-text contains '$2'}: '${1:0:2000}'"
}

# t_run CMD [ARG...]: run CMD without stopping on failure; sets T_RC, T_OUT, T_ERR (stdout and
# stderr without trailing newlines). Main shell only (it sets variables).
t_run() {
	local o e had_e=0
	[[ $- == *e* ]] && had_e=1
	o=$(mktemp "$T__LIB_DIR/out.XXXXXX")
	e=$(mktemp "$T__LIB_DIR/err.XXXXXX")
	set +e
	(
		trap - ERR
		set -e
		"$@"
	) >"$o" 2>"$e"
	T_RC=$?
	[ "$had_e" = 1 ] && set -e
	T_OUT=$(<"$o")
	T_ERR=$(<"$e")
	rm -f "$o" "$e"
	return 0
}

# t_wait_until SECONDS CMD [ARG...]: poll CMD every 20 ms until it succeeds; 1 on timeout.
t_wait_until() {
	local deadline=$(($(t__now_us) + $1 * 1000000))
	shift
	until "$@"; do
		[ "$(t__now_us)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

# t_file_size FILE: its size in bytes.
t_file_size() { stat -c %s -- "$1"; }

# t_tmpdir: a fresh directory under /tmp (mode 0755, so unprivileged clients reach a socket in
# it), removed at exit.
t_tmpdir() { t__mktemp_dir tmp; }

# t_check_pattern FILE [MIN_LEN]: every byte i of FILE is 'a' + i % 26 (cryo's and stall's
# pattern: no gap, duplicate or NUL); prints the length. Fails naming the first bad offset.
t_check_pattern() {
	local file=${1:?usage: t_check_pattern FILE [MIN_LEN]}
	"$T_PYTHON" -S - "$file" "${2:-0}" <<'EOF' || t_fail "pattern check of $file failed"
import sys
path, minlen = sys.argv[1], int(sys.argv[2])
try:
    data = open(path, "rb").read()
except OSError as e:
    sys.exit("t_check_pattern: %s" % e)
n = len(data)
alphabet = bytes(range(ord("a"), ord("a") + 26))
expect = (alphabet * (n // 26 + 1))[:n]
if data != expect:
    i = next(k for k in range(n) if data[k] != expect[k])
    got = data[i]
    what = "a NUL byte (hole)" if got == 0 else "%r" % chr(got)
    print("t_check_pattern: %s: offset %d of %d is %s, expected %r; around it: %r"
          % (path, i, n, what, chr(expect[i]), data[max(0, i - 30):i + 30]), file=sys.stderr)
    sys.exit(1)
if n < minlen:
    sys.exit("t_check_pattern: %s: only %d bytes, expected at least %d" % (path, n, minlen))
print(n)
EOF
}

# ----------------------------------------------------------------------------------------------
# btrfs on a loop device

# t_btrfs_loop SIZE_MB: sparse image + mkfs.btrfs + mount -o loop at a fresh mount point;
# prints the mount point. At exit: umount (retried for 5 s, then lazy), losetup -d, rm.
# btrfs needs at least 109 MB here.
t_btrfs_loop() {
	local size=${1:?usage: t_btrfs_loop SIZE_MB} dir img mnt
	dir=$(t__mktemp_dir btrfs)
	img=$dir/image
	mnt=$dir/mnt
	mkdir "$mnt"
	truncate -s "${size}M" "$img" || t_fail "cannot create $img"
	mkfs.btrfs -q "$img" >"$dir/mkfs.log" 2>&1 ||
		t_fail "mkfs.btrfs on a $size MB image failed: $(cat "$dir/mkfs.log")"
	t__defer_to main t__umount_loop "$mnt" "$img"
	mount -o loop "$img" "$mnt" || t_fail "cannot mount $img on $mnt"
	echo "$mnt"
}

t__is_mounted() { # PATH: something is mounted exactly there
	local _src mp _rest
	while read -r _src mp _rest; do
		[ "$mp" = "$1" ] && return 0
	done </proc/self/mounts
	return 1
}

t__umount_loop() { # MNT IMG
	local mnt=$1 img=$2 i dev
	for ((i = 0; i < 50 && ${#mnt} > 1; i++)); do
		t__is_mounted "$mnt" || break
		umount "$mnt" 2>/dev/null && continue
		sleep 0.1
	done
	if t__is_mounted "$mnt"; then
		echo "warning: $mnt still busy after 5 s; lazy umount" >&2
		while t__is_mounted "$mnt" && umount -l "$mnt"; do :; done
	fi
	for dev in $(losetup -n -O NAME -j "$img" 2>/dev/null); do
		losetup -d "$dev" 2>/dev/null || echo "warning: losetup -d $dev failed" >&2
	done
	return 0
}

# t_btrfs_subvol PATH: create a btrfs subvolume (removed with its file system).
t_btrfs_subvol() {
	btrfs -q subvolume create "${1:?usage: t_btrfs_subvol PATH}" >/dev/null ||
		t_fail "cannot create subvolume $1"
}

# ----------------------------------------------------------------------------------------------
# cgroups

# t_cgroup_v2_root: the cgroup2 mount point, from /proc/self/mounts.
t_cgroup_v2_root() {
	local _src mp type _rest first=
	while read -r _src mp type _rest; do
		[ "$type" = cgroup2 ] || continue
		[ "$mp" = /sys/fs/cgroup ] || [ "$mp" = /sys/fs/cgroup/unified ] && { echo "$mp"; return; }
		[ -n "$first" ] || first=$mp
	done </proc/self/mounts
	[ -n "$first" ] || t_fail "no cgroup2 file system is mounted"
	echo "$first"
}

# t_cgroup_v1_freezer_root: the mount point of the cgroup v1 hierarchy with the freezer.
t_cgroup_v1_freezer_root() {
	local _src mp type opts _rest
	while read -r _src mp type opts _rest; do
		[ "$type" = cgroup ] && [[ ,$opts, == *,freezer,* ]] && { echo "$mp"; return; }
	done </proc/self/mounts
	t_fail "no cgroup v1 freezer hierarchy is mounted"
}

# t_cgroup_create v2|v1 NAME: a new, uniquely named cgroup (v2 under the cgroup2 root, v1 in
# the freezer hierarchy), inside a per-test parent ROOT/ckptd-test.PID that holds no tasks; for
# v2 the controllers named in T_CGROUP_V2_CONTROLLERS (e.g. "memory pids") are enabled for it
# where the root offers them. Prints its path. At exit: thawed, every task killed, removed
# together with any child cgroups (CRIU may create some).
t_cgroup_create() {
	local kind=${1:?usage: t_cgroup_create v2|v1 NAME} name=${2:-test} root base cg c i
	[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || t_fail "bad cgroup name '$name'"
	case $kind in
	v2) root=$(t_cgroup_v2_root) ;;
	v1) root=$(t_cgroup_v1_freezer_root) ;;
	*) t_fail "usage: t_cgroup_create v2|v1 NAME" ;;
	esac
	base=$root/ckptd-test.$T__MAIN_PID
	if mkdir "$base" 2>/dev/null; then
		t__defer_to main t__cgroup_remove "$base"
		if [ "$kind" = v2 ]; then
			for c in ${T_CGROUP_V2_CONTROLLERS:-}; do
				echo "+$c" >"$base/cgroup.subtree_control" 2>/dev/null ||
					echo "note: controller $c not available under $root" >&2
			done
		fi
	fi
	[ -d "$base" ] || t_fail "cannot create $base"
	cg=$base/$name
	for ((i = 2; ; i++)); do
		mkdir "$cg" 2>/dev/null && break
		[ "$i" -lt 1000 ] || t_fail "cannot create a cgroup named $name in $base"
		cg=$base/$name-$i
	done
	t__defer_to early t__cgroup_remove "$cg"
	if [ "$kind" = v2 ]; then
		[ -e "$cg/cgroup.freeze" ] || t_fail "$cg has no cgroup.freeze (kernel < 5.2?)"
	else
		[ -e "$cg/freezer.state" ] || t_fail "$cg has no freezer.state"
	fi
	echo "$cg"
}

t__cgroup_procs_all() { # CGROUP: the tasks of it and of its descendants
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

t__cgroup_thaw_tree() {
	local d
	while read -r d; do
		if [ -e "$d/cgroup.freeze" ]; then
			echo 0 >"$d/cgroup.freeze" 2>/dev/null
		elif [ -e "$d/freezer.state" ]; then
			echo THAWED >"$d/freezer.state" 2>/dev/null
		fi
	done < <(find "$1" -type d 2>/dev/null) # parents first
	return 0
}

t__cgroup_kill_wait() { # CGROUP SECONDS: thaw, kill everything, wait until empty
	local cg=$1 deadline=$(($(t__now_us) + ${2:-10} * 1000000)) pids
	[ -d "$cg" ] || return 0
	t__cgroup_thaw_tree "$cg"
	[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
	while :; do
		pids=$(t__cgroup_procs_all "$cg")
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		if [ "$(t__now_us)" -ge "$deadline" ]; then
			echo "warning: tasks of $cg survive SIGKILL:" "${pids//$'\n'/ }" >&2
			return 1
		fi
		sleep 0.02
	done
}

t__cgroup_remove() { # CGROUP: kill, then rmdir it and its descendants (retried for 5 s)
	local cg=$1 d i
	[ -d "$cg" ] || return 0
	t__cgroup_kill_wait "$cg" 10
	for ((i = 0; i < 50; i++)); do
		while read -r d; do
			rmdir "$d" 2>/dev/null
		done < <(find "$cg" -depth -type d 2>/dev/null)
		[ -d "$cg" ] || return 0
		[ "$i" -lt 49 ] && sleep 0.1
	done
	echo "warning: cannot remove $cg" >&2
	return 1
}

# t_cgroup_kill CGROUP: thaw, kill every task (cgroup.kill, else SIGKILL each), wait until the
# cgroup and its descendants are empty (10 s). The cgroup stays.
t_cgroup_kill() {
	t__cgroup_kill_wait "${1:?usage: t_cgroup_kill CGROUP}" 10 ||
		t_fail "cannot empty $1: $(t__cgroup_procs_all "$1" | tr '\n' ' ')"
}

# t_cgroup_pids CGROUP: the PIDs in its cgroup.procs (not those of descendants), one a line.
t_cgroup_pids() { cat "${1:?usage: t_cgroup_pids CGROUP}/cgroup.procs"; }

# t_cgroup_frozen CGROUP: status 0 if frozen (v2: "frozen 1" in cgroup.events; v1:
# freezer.state is FROZEN), else 1. FREEZING is not frozen.
t_cgroup_frozen() {
	local cg=${1:?usage: t_cgroup_frozen CGROUP} k v
	if [ -e "$cg/cgroup.events" ]; then
		while read -r k v; do
			[ "$k" = frozen ] && { [ "$v" = 1 ]; return; }
		done <"$cg/cgroup.events"
		return 1
	elif [ -e "$cg/freezer.state" ]; then
		read -r v <"$cg/freezer.state" || true
		[ "$v" = FROZEN ]
	else
		t_fail "$cg is not a freezable cgroup"
	fi
}

# t_cgroup_freeze CGROUP [SECONDS]: freeze by hand and wait until frozen (default 10 s; on
# timeout: thaw, fail naming the tasks). Sets T_FREEZE_US (write to frozen, in µs; bash's own
# overhead included).
t_cgroup_freeze() {
	local cg=${1:?usage: t_cgroup_freeze CGROUP [SECONDS]} t0 deadline spins=0 p s
	# No forks in this loop ($(...) costs ≈ 1 ms): EPOCHREALTIME and builtin reads only.
	t0=${EPOCHREALTIME//[!0-9]/}
	deadline=$((t0 + ${2:-10} * 1000000))
	if [ -e "$cg/cgroup.freeze" ]; then
		echo 1 >"$cg/cgroup.freeze"
	else
		echo FROZEN >"$cg/freezer.state"
	fi
	until t_cgroup_frozen "$cg"; do
		((++spins))
		if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
			s=
			for p in $(t__cgroup_procs_all "$cg"); do
				s+=" $p($(cat "/proc/$p/comm" 2>/dev/null), $(awk '/^State:/{print $2}' "/proc/$p/status" 2>/dev/null))"
			done
			t__cgroup_thaw_tree "$cg"
			t_fail "$cg did not freeze within ${2:-10} s; tasks:$s"
		fi
		# v1: a cgroup stuck in FREEZING retries when FROZEN is written again.
		if [ -e "$cg/freezer.state" ] && [ $((spins % 500)) = 0 ]; then
			echo FROZEN >"$cg/freezer.state"
		fi
		# Spin on builtins first (no fork: measures well), then poll every ms.
		if [ "$spins" -gt 2000 ]; then sleep 0.001; fi
	done
	T_FREEZE_US=$((${EPOCHREALTIME//[!0-9]/} - t0))
}

# t_cgroup_thaw CGROUP: thaw and wait until no longer frozen.
t_cgroup_thaw() {
	local cg=${1:?usage: t_cgroup_thaw CGROUP} v i
	if [ -e "$cg/cgroup.freeze" ]; then
		echo 0 >"$cg/cgroup.freeze"
	else
		echo THAWED >"$cg/freezer.state"
	fi
	for ((i = 0; i < 500; i++)); do
		if [ -e "$cg/freezer.state" ]; then
			read -r v <"$cg/freezer.state" || true
			[ "$v" = THAWED ] && return 0
		else
			t_cgroup_frozen "$cg" || return 0
		fi
		sleep 0.01
	done
	t_fail "$cg did not thaw within 5 s"
}

# t_start_in_cgroup CGROUP CMD [ARG...]: start CMD in the background inside CGROUP, in its own
# PID namespace and session (`unshare --pid --fork setsid CMD`), stdio /dev/null (see
# T_WORKLOAD_OUTPUT). Prints the PID of the workload's root task (PID 1 of the new namespace)
# once it runs CMD. The outer `unshare` stays in the cgroup too (2 tasks).
# With T_WORKLOAD_PIDNS=host the workload stays in the host's PID namespace (`setsid CMD`, one
# task): CRIU's parasite then uses the host's /proc instead of mounting a private one.
t_start_in_cgroup() {
	local cg=${1:?usage: t_start_in_cgroup CGROUP CMD [ARG...]} out=${T_WORKLOAD_OUTPUT:-/dev/null}
	shift
	[ $# -gt 0 ] || t_fail "usage: t_start_in_cgroup CGROUP CMD [ARG...]"
	[ -e "$cg/cgroup.procs" ] || t_fail "not a cgroup: $cg"
	# Launchers that run before CMD replaces them: the task's comm while they are still there.
	local launch=(unshare --pid --fork) launchers='unshare|setsid'
	if [ "${T_WORKLOAD_PIDNS:-own}" = host ]; then
		launch=()
		launchers='bash|setsid'
	fi
	(
		trap - ERR EXIT
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 125
		exec ${launch[@]+"${launch[@]}"} setsid "$@" </dev/null >>"$out" 2>&1
	) &
	local upid=$! child='' c comm='' f deadline
	disown "$upid" 2>/dev/null || true # no "Killed" job report when cleanup kills it
	deadline=$(($(t__now_us) + 5000000))
	[ ${#launch[@]} -gt 0 ] || child=$upid
	while [ -z "$child" ]; do
		for f in /proc/"$upid"/task/*/children; do
			c=''
			read -r c _ 2>/dev/null <"$f" || true # no newline at the end: status 1
			[ -n "$c" ] && child=$c
		done
		[ -n "$child" ] && break
		t__alive "$upid" || t_fail "workload exited at once: $*"
		[ "$(t__now_us)" -lt "$deadline" ] || t_fail "workload's root task did not appear within 5 s: $*"
		sleep 0.01
	done
	# Wait until it is CMD (not still a launcher), best effort.
	while read -r comm 2>/dev/null <"/proc/$child/comm" && [[ $comm =~ ^($launchers)$ ]]; do
		[ "$(t__now_us)" -lt "$deadline" ] || break
		sleep 0.005
	done
	t__alive "$child" || t_fail "workload exited at once: $*"
	echo "$child"
}

# ----------------------------------------------------------------------------------------------
# The daemon and its client

# t_write_container NAME CGROUP [VOLUME...] [<<EOF extra lines EOF]: writes
# $T/etc/containers.d/NAME.conf ([Container] Cgroup= Volume=...), then stdin unless stdin is
# a terminal: pass </dev/null when there is nothing to add.
t_write_container() {
	local name=${1:?usage: t_write_container NAME CGROUP [VOLUME...]} cg=${2:?usage: t_write_container NAME CGROUP [VOLUME...]} dir v
	shift 2
	dir=${CKPTD_CONFIG_DIR:-$T/etc}/containers.d
	mkdir -p "$dir"
	{
		printf '[Container]\nCgroup=%s\n' "$cg"
		for v in "$@"; do printf 'Volume=%s\n' "$v"; done
		[ -t 0 ] || cat
	} >"$dir/.$name.conf.tmp"
	mv -f "$dir/.$name.conf.tmp" "$dir/$name.conf"
}

# t_write_daemon_conf [<<EOF lines EOF]: writes $T/etc/ckptd.conf from stdin (`: |` = empty).
t_write_daemon_conf() {
	local dir=${CKPTD_CONFIG_DIR:-$T/etc}
	mkdir -p "$dir"
	{ [ -t 0 ] || cat; } >"$dir/.ckptd.conf.tmp"
	mv -f "$dir/.ckptd.conf.tmp" "$dir/ckptd.conf"
}

t__socket_answers() {
	"$T_PYTHON" -S -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(1)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

# t_daemon_start [ARG...]: start "$CKPTD" --config-dir $T/etc --state-dir $T/state
# --socket $T/ckptd.sock --log-level debug ARG... in the background, output appended to
# $T/ckptd.log; waits (10 s) until the socket accepts connections. Sets CKPTD_PID, exports
# CKPTD_SOCKET and CKPTD_LOG. Main shell only.
t_daemon_start() {
	t__main_shell_only t_daemon_start
	if [ -z "${CKPTD:-}" ] || [ ! -x "$CKPTD" ]; then t_fail "CKPTD is not an executable: '${CKPTD:-}'"; fi
	[ -z "${CKPTD_PID:-}" ] || ! t__alive "$CKPTD_PID" || t_fail "ckptd is already running ($CKPTD_PID)"
	local conf=${CKPTD_CONFIG_DIR:-$T/etc} state=${CKPTD_STATE_DIR:-$T/state} deadline st
	mkdir -p "$conf/containers.d" "$state"
	export CKPTD_SOCKET=$T/ckptd.sock CKPTD_LOG=$T/ckptd.log
	echo "=== $(date +%T.%N) t_daemon_start: $CKPTD --config-dir $conf --state-dir $state" \
		"--socket $CKPTD_SOCKET --log-level debug $*" >>"$CKPTD_LOG"
	"$CKPTD" --config-dir "$conf" --state-dir "$state" --socket "$CKPTD_SOCKET" \
		--log-level debug "$@" </dev/null >>"$CKPTD_LOG" 2>&1 &
	CKPTD_PID=$!
	T__DAEMON_ARGS=("$@")
	echo "$CKPTD_PID $(t__starttime "$CKPTD_PID") $CKPTD_LOG" >"$T__LIB_DIR/daemon"
	echo "$CKPTD_LOG" >"$T__LIB_DIR/daemon.log"
	deadline=$(($(t__now_us) + 10000000))
	until [ -S "$CKPTD_SOCKET" ] && t__socket_answers "$CKPTD_SOCKET"; do
		if ! t__alive "$CKPTD_PID"; then
			st=0
			wait "$CKPTD_PID" 2>/dev/null || st=$?
			CKPTD_PID=
			t_fail "ckptd exited during start-up (status $st)" # the exit handler prints the log
		fi
		if [ "$(t__now_us)" -ge "$deadline" ]; then
			t_fail "ckptd's socket $CKPTD_SOCKET did not answer within 10 s"
		fi
		sleep 0.02
	done
}

# t_daemon_stop [SECONDS]: SIGTERM, wait (T_DAEMON_STOP_TIMEOUT, default 10 s), then SIGKILL.
# Returns ckptd's exit status (137 if it had to be killed). Main shell only.
t_daemon_stop() {
	t__main_shell_only t_daemon_stop
	local pid=${CKPTD_PID:-} timeout=${1:-${T_DAEMON_STOP_TIMEOUT:-10}} rc=0 killed=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! t__wait_dead "$pid" "$timeout"; then
		echo "warning: ckptd ($pid) still runs ${timeout} s after SIGTERM; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
		t__wait_dead "$pid" 5
		killed=1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	[ "$rc" = 127 ] && rc=0 # not our child: status unknown
	[ "$killed" = 1 ] && rc=137
	CKPTD_PID=
	: >"$T__LIB_DIR/daemon"
	return "$rc"
}

# t_daemon_kill9: SIGKILL ckptd and wait until it is gone (its socket file stays). Main shell.
t_daemon_kill9() {
	t__main_shell_only t_daemon_kill9
	[ -n "${CKPTD_PID:-}" ] || t_fail "t_daemon_kill9: ckptd is not running"
	kill -KILL "$CKPTD_PID" 2>/dev/null
	t__wait_dead "$CKPTD_PID" 5 || t_fail "ckptd ($CKPTD_PID) survives SIGKILL"
	wait "$CKPTD_PID" 2>/dev/null || true
	CKPTD_PID=
	: >"$T__LIB_DIR/daemon"
}

# t_daemon_restart [ARG...]: t_daemon_stop (fails if ckptd exits non-zero on SIGTERM) if it
# runs, then t_daemon_start with ARG... (default: the previous start's arguments). Main shell.
t_daemon_restart() {
	t__main_shell_only t_daemon_restart
	local rc=0
	if [ -n "${CKPTD_PID:-}" ]; then
		t_daemon_stop || rc=$?
		[ "$rc" = 0 ] || t_fail "ckptd exited with status $rc on SIGTERM (log: $CKPTD_LOG)"
	fi
	if [ $# -gt 0 ]; then
		t_daemon_start "$@"
	else
		t_daemon_start ${T__DAEMON_ARGS[@]+"${T__DAEMON_ARGS[@]}"}
	fi
}

# t_ctl ARG...: "$CKPTCTL" --socket "$CKPTD_SOCKET" ARG...
t_ctl() {
	[ -n "${CKPTCTL:-}" ] || t_fail "CKPTCTL is not set"
	if [ -n "${CKPTD_SOCKET:-}" ]; then
		"$CKPTCTL" --socket "$CKPTD_SOCKET" "$@"
	else
		"$CKPTCTL" "$@"
	fi
}

# t_ctl_json ARG...: t_ctl --json ARG...
t_ctl_json() { t_ctl --json "$@"; }

# ----------------------------------------------------------------------------------------------
# Start-up

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# Executed, not sourced: `bash lib.sh --cleanup LIBDIR STATUS` (detached or stale cleanup).
	if [ "${1:-}" != --cleanup ] || [ ! -d "${2:-}" ]; then
		echo "usage: lib.sh --cleanup DIR STATUS" >&2
		exit 2
	fi
	T__LIB_DIR=$2
	T__MAIN_PID=$BASHPID
	T__LIB_FILE=$(readlink -f "$0")
	T_PYTHON=python3
	echo "$BASHPID" >"$T__LIB_DIR/cleaner"
	echo "=== $(date +%T.%N) cleanup of $T__LIB_DIR"
	t__run_cleanup "${3:-1}" detached
	echo "=== $(date +%T.%N) cleanup done"
	exit 0
fi

T__MAIN_PID=$BASHPID
T__LIB_FILE=$(readlink -f "${BASH_SOURCE[0]}")
if [ -x /usr/bin/python3 ]; then T_PYTHON=/usr/bin/python3; else T_PYTHON=python3; fi
CKPTD_PID=
T__DAEMON_ARGS=()
[ "$(id -u)" = 0 ] && t__sweep_stale
T__LIB_DIR=$(mktemp -d "/tmp/ckptd-test.$T__MAIN_PID.lib.XXXXXX")
: >"$T__LIB_DIR/defer.early"
: >"$T__LIB_DIR/defer.main"
trap t__on_exit EXIT
trap 't__on_signal 15' TERM
trap 't__on_signal 2' INT
trap 't__on_signal 1' HUP
set -E
trap 't__on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR
T=$(t_tmpdir)
