# Helpers for the guest test scripts (busybox sh). Note: busybox sh's `set -e` does not stop on a
# failing `! cmd` or `a && b`; the scripts test explicitly and call fail.

T0=$(cut -d' ' -f1 /proc/uptime)
CKPTD_LOG=/tmp/ckptd.log
export CKPTD_SOCKET=/run/ckptd/io.ckptd.Manager

say() { echo "[$(awk -v t="$T0" '{ printf "%6.1f", $1 - t }' /proc/uptime)] $*"; }
step() { echo; say "=== $*"; }

# fail MESSAGE: on stderr (also from inside $(...), whose caller must then `|| exit 1`)
fail() {
	{
		say "FAIL: $*"
		echo "--- last lines of the ckptd log:"
		tail -n 40 "$CKPTD_LOG" 2>/dev/null
		echo "--- lvs -a:"
		lvs -a -o lv_name,lv_attr,lv_size,origin,pool_lv,data_percent vg0 2>&1
	} >&2
	exit 1
}

# run CMD...: runs it, shows it, fails on a non-zero exit
run() {
	if ! "$@"; then
		fail "command failed: $*"
	fi
}

daemon_start() {
	mkdir -p /etc/ckptd/containers.d /var/lib/ckptd /run/ckptd
	ckptd --config-dir /etc/ckptd --state-dir /var/lib/ckptd --criu /usr/sbin/criu --log-level debug \
		>>"$CKPTD_LOG" 2>&1 </dev/null &
	DAEMON_PID=$!
	i=0
	while [ ! -S "$CKPTD_SOCKET" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "ckptd did not create its socket within 30 s"
		kill -0 $DAEMON_PID 2>/dev/null || fail "ckptd exited at start"
		sleep 0.1
	done
}

daemon_stop() {
	kill -TERM $DAEMON_PID 2>/dev/null
	wait $DAEMON_PID 2>/dev/null
}

mkdir -p /etc/ckptd/containers.d /var/lib/ckptd /run/ckptd

# container NAME CGROUP-NAME [KEY=VALUE...] VOLUME...: writes containers.d/NAME.conf; arguments
# with '=' are [Container] keys, the others volumes.
container() {
	name=$1
	cg=$2
	shift 2
	{
		echo "[Container]"
		echo "Cgroup=/sys/fs/cgroup/$cg"
		for a in "$@"; do
			case "$a" in
			*=*) echo "$a" ;;
			*) echo "Volume=$a" ;;
			esac
		done
		echo "[Checkpoint]"
		echo "MaxFrozenSec=120"
		echo "[Retention]"
		echo "KeepLast=0"
	} >"/etc/ckptd/containers.d/$name.conf"
}

# workload CGROUP-NAME FILE: cryo in its own PID namespace and session, in the cgroup
workload() {
	mkdir -p "/sys/fs/cgroup/$1"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare --pid --fork setsid cryo "$1" --interval-ms 5' \
		"/sys/fs/cgroup/$1" "$2" </dev/null >/dev/null 2>&1 &
	i=0
	while [ ! -s "$2" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "cryo did not start writing $2"
		sleep 0.1
	done
}

cgroup_kill() {
	echo 1 >"/sys/fs/cgroup/$1/cgroup.kill"
	i=0
	while [ -n "$(cat "/sys/fs/cgroup/$1/cgroup.procs")" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "cgroup $1 does not empty"
		sleep 0.1
	done
}

# the serial console is a terminal: no colours
jq() { command jq -M "$@"; }

is_mounted() { grep -q " $1 " /proc/mounts; }

size_of() { stat -c %s "$1"; }

# check_pattern FILE: byte i == 'a' + i % 26 for every i (no gap, duplicate, hole or NUL)
check_pattern() {
	[ -f "$1" ] || fail "$1 is missing"
	len=$(size_of "$1")
	[ "$len" -gt 0 ] || fail "$1 is empty"
	head -c "$len" "$1" >/tmp/pattern.have
	awk -v n="$len" 'BEGIN { s = "abcdefghijklmnopqrstuvwxyz"; while (n >= 26) { printf "%s", s; n -= 26 }
		printf "%s", substr(s, 1, n) }' >/tmp/pattern.want
	if ! cmp /tmp/pattern.have /tmp/pattern.want >/tmp/pattern.cmp 2>&1; then
		fail "$1 is not consistent: $(cat /tmp/pattern.cmp)"
	fi
	echo "$len"
}

assert_grows() {
	a=$(size_of "$1")
	sleep 1
	b=$(size_of "$1")
	[ "$b" -gt "$a" ] || fail "$1 does not grow ($a -> $b): the restored process is not writing"
}

# ctl ARGS...: ckptctl --json; the JSON on stdout, fails on error
ctl() {
	if ! ckptctl --json "$@" >/tmp/ctl.out 2>/tmp/ctl.err; then
		cat /tmp/ctl.err >&2
		fail "ckptctl $* failed"
	fi
	cat /tmp/ctl.out
}

# ctl_fails ARGS...: ckptctl must fail; its stderr on stdout
ctl_fails() {
	if ckptctl "$@" >/tmp/ctl.out 2>/tmp/ctl.err; then
		cat /tmp/ctl.out >&2
		fail "ckptctl $* succeeded, but should have failed"
	fi
	cat /tmp/ctl.err
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }

# timings PAIR-JSON: one line with the frozen window and its parts
timings() {
	echo "$1" | jq -r '"pair \(.id): frozen \(.frozen_usec) us = freeze \(.timings.freeze_usec) + snapshot \(.timings.snapshot_usec) + dump \(.timings.dump_usec) + thaw \(.timings.thaw_usec) (us); sync (before) \(.timings.sync_usec) us"'
}

lv_attr() { lvs --noheadings -o lv_attr "$1" 2>/dev/null | tr -d ' '; }
lv_exists() { lvs "$1" >/dev/null 2>&1; }
