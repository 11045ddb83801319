#!/usr/bin/env bash
# Hostile clients cannot hurt a container. An unprivileged flood (hundreds of connections held
# open) against a ckptd whose RLIMIT_NOFILE is 200, during a freeze-and-dump: the dump
# completes or fails cleanly, the container is thawed, root's status answers, the daemon does
# not spin, and all but MaxConnectionsPerUser of the flood's connections are closed at once.
# A caller without access is disconnected after its error. Clients that do not read their
# replies are dropped at the per-client cap, and all of them together at the total cap.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 256)
t_btrfs_subvol "$MNT/vol"
HOSTILE=$TESTS_DIR/integration/hostile-client.py
PY=$T_PYTHON # /usr/bin/python3 where there is one: unprivileged clients can run it
RAW=$TESTS_DIR/integration/varlink-raw.py
FLOOD=400

cg=$(t_cgroup_create v2 hostile)
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/web.data" >/dev/null
t_write_container web "$cg" "$MNT/vol" </dev/null
: | t_write_daemon_conf

# ckptd runs with at most 200 descriptors (soft and hard), as if its limit were small.
REAL_CKPTD=$CKPTD
CKPTD=$T/ckptd-limited
printf '#!/bin/sh\nexec prlimit --nofile=200:200 %q "$@"\n' "$REAL_CKPTD" >"$CKPTD"
chmod +x "$CKPTD"
CKPTD_TEST_HOLD_FROZEN_MSEC=5000 t_daemon_start
t_assert_eq "$(awk '/Max open files/ {print $4}' "/proc/$CKPTD_PID/limits")" 200 "ckptd's RLIMIT_NOFILE"

cpu_ticks() { # utime + stime of ckptd (all threads), in clock ticks
	local stat
	read -r stat <"/proc/$CKPTD_PID/stat"
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}

# flood_during_dump MAX_KEPT WHY: a freeze-and-dump of web (its window held open 5 s) with
# $FLOOD unprivileged connections arriving and held during the window.
flood_during_dump() {
	local max_kept=$1 why=$2 job rc=0 flood before used hz counts kept out
	rm -rf "$T/flood"
	mkdir -m 0777 "$T/flood"
	t_ctl freeze-and-dump web >"$T/dump.out" 2>&1 &
	job=$!
	t_wait_until 30 t_cgroup_frozen "$cg" || t_fail "the dump did not freeze the container"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$HOSTILE" flood "$CKPTD_SOCKET" "$FLOOD" "$T/flood/ready" "$T/flood/stop" >"$T/flood.out" 2>&1 &
	flood=$!
	t_wait_until 60 test -e "$T/flood/ready" || t_fail "the flood did not get its connections within 60 s"
	cat "$T/flood/ready"
	t_cgroup_frozen "$cg" || t_fail "the frozen window ended before the flood was in place; the test proves nothing"

	# Root is served while the flood holds its connections, and ckptd does not spin.
	timeout 1 "$CKPTCTL" --socket "$CKPTD_SOCKET" status >/dev/null ||
		t_fail "root's 'ckptctl status' did not answer within 1 s during the flood"
	before=$(cpu_ticks)
	sleep 2
	used=$(($(cpu_ticks) - before))
	hz=$(getconf CLK_TCK)
	echo "ckptd used $used ticks (of $hz per second) in 2 s of flood"
	[ "$used" -lt $((hz / 2)) ] || t_fail "ckptd used $used/$hz s of CPU in 2 s during the flood (spinning?)"
	timeout 1 "$CKPTCTL" --socket "$CKPTD_SOCKET" status >/dev/null ||
		t_fail "root's 'ckptctl status' did not answer within 1 s during the flood (second try)"

	# The dump ends while the flood still holds: completed, or failed cleanly; thawed either way.
	wait "$job" || rc=$?
	cat "$T/dump.out"
	t_cgroup_frozen "$cg" && t_fail "the container was left frozen"
	if [ "$rc" != 0 ]; then
		out=$(cat "$T/dump.out")
		t_assert_not_contains "$out" "Success" "a failed dump's message"
		t_assert_contains "$out" "thawed" "a failed dump's state"
	fi
	touch "$T/flood/stop"
	wait "$flood" || t_fail "the flood client failed: $(cat "$T/flood.out")"
	counts=$(cat "$T/flood.out")
	echo "flood: $counts"
	kept=${counts#open=}
	kept=${kept%% *}
	[ "$kept" -le "$max_kept" ] || t_fail "ckptd kept $kept of the flood's $FLOOD connections open ($why)"
	# And the next dump is not refused ("already frozen").
	t_ctl freeze-and-dump web >/dev/null
	if t_cgroup_frozen "$cg"; then t_fail "the container was left frozen after the next dump"; fi
}

flood_during_dump 16 "MaxConnectionsPerUser=16"
# Without connection caps, the descriptors kept for jobs are what stops the flood: of 200, at
# least 100 stay for jobs (32 + 20 per slot, at most half the limit).
printf '[Daemon]\nMaxConnections=10000\nMaxConnectionsPerUser=10000\n' | t_write_daemon_conf
CKPTD_TEST_HOLD_FROZEN_MSEC=5000 t_daemon_restart
flood_during_dump 100 "fewer than 100 descriptors would be left for jobs"
refusals=$(grep -c "Refused a connection" "$CKPTD_LOG" || true)
[ "$refusals" -le 40 ] || t_fail "the refusals were logged $refusals times: not rate-limited"

# A caller without access gets its error, then the connection is closed.
reply=$(printf '{"method":"io.ckptd.Manager.Status"}\0{"method":"io.ckptd.Manager.Status"}\0' |
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$RAW" "$CKPTD_SOCKET" 2)
echo "$reply"
t_assert_eq "$(grep -c PermissionDenied <<<"$reply")" 1 "errors sent to a caller without access"
t_assert_contains "$reply" EOF "a caller without access is disconnected"

# A client that never reads: dropped once 8 MiB of replies wait for it (about 12 MiB asked).
# It reads once ckptd has said so (or after 30 s: before, ckptd kept 16 MiB for each client).
"$PY" "$HOSTILE" noread "$CKPTD_SOCKET" 3600 "$T/go.1" >"$T/noread.one" &
client=$!
t_wait_until 30 grep -q "over the limit per client" "$CKPTD_LOG" || true
touch "$T/go.1"
wait "$client"
out=$(cat "$T/noread.one")
echo "one client not reading: $out"
t_assert_not_contains "$out" "end=ALL" "a client that does not read 12 MiB of replies was kept"
t_assert_not_contains "$out" "end=TIMEOUT" "a client that does not read 12 MiB of replies was kept"
# Twelve such clients under the per-client cap (about 7 MiB each): together over the total cap.
pids=()
for i in $(seq 12); do
	"$PY" "$HOSTILE" noread "$CKPTD_SOCKET" 2100 "$T/go.12" >"$T/noread.$i" &
	pids+=($!)
done
t_wait_until 60 grep -q "over the limit of all clients" "$CKPTD_LOG" || true
touch "$T/go.12"
wait "${pids[@]}"
cat "$T"/noread.*
dropped=$(cat "$T"/noread.[0-9]* | grep -vc "end=ALL" || true)
[ "$dropped" -ge 1 ] || t_fail "12 clients with about 85 MiB of unread replies were all kept (total cap 64 MiB)"
timeout 1 "$CKPTCTL" --socket "$CKPTD_SOCKET" status >/dev/null || t_fail "status after the clients were dropped"
t_pass
