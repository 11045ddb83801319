# shellcheck shell=bash
# shellcheck disable=SC2013 # the children files hold pids separated by spaces
# Sourced by tests in tests/systemd/ after common.sh: boots a guest tree (guest-tree.sh) with
# systemd-nspawn --boot and stops it again (the same steps as test-timer.sh; facts in
# shared/notes/systemd-guest.md).
#   guest_boot ROOT MACHINE CGROUP [NSPAWN-OPTION...]: boots ROOT, waits for "running" (or
#     "degraded"); sets nspawn_pid, leader (the guest's systemd) and G (nsenter into the guest,
#     with a timeout). The nspawn process goes into host cgroups named CGROUP first.
#   guest_stop: halts the guest (SIGTERM to nspawn; SIGKILL to its PID 1 after 10 s) and removes
#     the host cgroups. Call it from the test's cleanup.
# --register=no --keep-unit: no machined on the host; SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: a pure
# cgroup2 in the guest; SYSTEMD_SECCOMP=0, SYSTEMD_NSPAWN_API_VFS_WRITABLE=1, --capability=all:
# CRIU inside.

G=()
nspawn_pid=""
leader=""
GUEST_CGROUP=""

guest_cgroup_dirs() {
	[ -n "$GUEST_CGROUP" ] || return 0
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		echo "/sys/fs/cgroup/$GUEST_CGROUP"
	else
		[ -d /sys/fs/cgroup/unified ] && echo "/sys/fs/cgroup/unified/$GUEST_CGROUP"
		[ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/$GUEST_CGROUP"
	fi
	return 0
}

guest_boot() {
	local root=$1 machine=$2 d
	GUEST_CGROUP=$3
	shift 3
	for d in $(guest_cgroup_dirs); do mkdir -p "$d"; done
	(
		for d in $(guest_cgroup_dirs); do echo "$BASHPID" >"$d/cgroup.procs"; done
		exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 \
			systemd-nspawn -q --boot --register=no --keep-unit --console=read-only --capability=all \
			-D "$root" -M "$machine" "$@"
	) </dev/null >"$TMP/console.log" 2>&1 &
	nspawn_pid=$!
	local c
	for _ in $(seq 200); do
		for c in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
			[ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && leader=$c
		done
		[ -n "$leader" ] && break
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$leader" ] || fail "no systemd in the guest within 10 s; console: $(tail -n 20 "$TMP/console.log")"
	G=(timeout 60 nsenter -t "$leader" -a)
	local state=""
	for _ in $(seq 100); do
		state=$("${G[@]}" systemctl is-system-running --wait 2>&1) || true
		case $state in running | degraded) break ;; esac
		sleep 0.1
	done
	case $state in
	running) ;;
	degraded) info "guest degraded: $("${G[@]}" systemctl --failed --no-legend --plain | tr '\n' ' ')" ;;
	*) fail "guest did not reach running: '$state'; console: $(tail -n 20 "$TMP/console.log")" ;;
	esac
}

guest_stop() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		if ! timeout 10 tail --pid="$nspawn_pid" -f /dev/null; then
			echo "$TEST_NAME: the guest did not halt within 10 s; killing it" >&2
			local pid1
			for pid1 in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
				kill -KILL "$pid1" 2>/dev/null || true
			done
			timeout 10 tail --pid="$nspawn_pid" -f /dev/null || kill -KILL "$nspawn_pid" 2>/dev/null || true
		fi
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	local d
	for d in $(guest_cgroup_dirs); do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] && echo "$TEST_NAME: could not remove cgroup $d" >&2
	done
	return 0
}
