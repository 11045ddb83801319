#!/usr/bin/env bash
# Bad input never crashes or blocks the daemon: malformed, oversized and unknown protocol
# messages get a Varlink error; unprivileged clients are refused (read-only for ReadGroup);
# broken config files are reported with file, line and key while other containers work; bad
# names are refused; the daemon answers list/status while a dump is running; generic Varlink
# clients can read the interface description.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 256)
t_btrfs_subvol "$MNT/vol"
RAW=$TESTS_DIR/integration/varlink-raw.py

cg=$(t_cgroup_create v2 proto)
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/proto.data" >/dev/null
t_write_container good "$cg" "$MNT/vol" </dev/null
printf '[Container]\nCgroup=%s\nVolume=%s\n[Checkpoint]\nFreezeTimeoutSec=soon\n' "$cg" "$MNT/vol" \
	>"$T/etc/containers.d/broken.conf"
printf '[Container]\nCgroup=%s\nVolume=%s\n' "$cg" "$MNT/vol" >"$T/etc/containers.d/.hidden.conf"
printf '[Daemon]\nReadGroup=ckptdtest\n' | t_write_daemon_conf
getent group ckptdtest >/dev/null || groupadd -r ckptdtest
defer groupdel ckptdtest
t_daemon_restart

# Config errors: file, line and key; the good container still works.
out=$(t_ctl containers)
echo "$out"
t_assert_contains "$out" "broken.conf:5"
t_assert_contains "$out" "FreezeTimeoutSec"
t_assert_contains "$(t_ctl status)" "broken.conf:5"
t_ctl freeze-and-dump good >/dev/null
set +e; out=$(t_ctl freeze-and-dump broken 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "freeze-and-dump of a broken config"
t_assert_contains "$out" "FreezeTimeoutSec"

# Names outside [A-Za-z0-9_.-]{1,64} or starting with a dot are refused, by client and daemon.
for bad in .hidden 'a/b' "$(printf 'x%.0s' {1..65})" ''; do
	set +e; t_ctl list "$bad" >/dev/null 2>&1; rc=$?; set -e
	t_assert_eq "$rc" 2 "ckptctl list '$bad'"
	reply=$(printf '{"method":"io.ckptd.Manager.List","parameters":{"container":"%s"}}\0' "$bad" |
		"$RAW" "$CKPTD_SOCKET" 1)
	t_assert_contains "$reply" InvalidContainerName
done

# Malformed and unknown messages: a Varlink error each, and the connection still works after.
reply=$(printf 'not json\0{"method":"io.ckptd.Manager.Nope"}\0{"method":"com.example.X"}\0[1,2]\0{"method":"io.ckptd.Manager.Show","parameters":{"container":"good","id":"1"}}\0{"method":"io.ckptd.Manager.Status","parameters":{},"bogus":1}\0{"method":"io.ckptd.Manager.Status"}\0' |
	"$RAW" "$CKPTD_SOCKET" 7)
echo "$reply"
t_assert_eq "$(grep -c ProtocolError <<<"$reply")" 3 "protocol errors for garbage, an array and an unknown key"
t_assert_contains "$reply" "org.varlink.service.MethodNotFound"
t_assert_contains "$reply" "org.varlink.service.InterfaceNotFound"
t_assert_contains "$reply" '"parameter":"id"'
t_assert_contains "$reply" '"version"'

# Oversized: refused with an error, connection closed, the daemon unharmed.
reply=$(python3 -c 'import sys; sys.stdout.buffer.write(b"{\"method\":\"" + b"x" * 200000 + b"\"}\0")' | "$RAW" "$CKPTD_SOCKET")
t_assert_contains "$reply" "too large"
# A client that connects and says nothing does not block others.
exec 7< <(python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(5)' "$CKPTD_SOCKET")
t_ctl status >/dev/null

# The interface description for generic clients.
reply=$(printf '{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.ckptd.Manager"}}\0' |
	"$RAW" "$CKPTD_SOCKET" 1)
t_assert_contains "$reply" 'method FreezeAndDump('

# Unprivileged clients: refused; members of ReadGroup may read but not write.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CKPTCTL" --socket "$CKPTD_SOCKET" list 2>&1) && rc=0 || rc=$?
t_assert_eq "$rc" 1 "unprivileged list"
t_assert_contains "$out" "ermission"
gid=$(getent group ckptdtest | cut -d: -f3)
setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$CKPTCTL" --socket "$CKPTD_SOCKET" list >/dev/null ||
	t_fail "ReadGroup member cannot list"
out=$(setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$CKPTCTL" --socket "$CKPTD_SOCKET" \
	freeze-and-dump good 2>&1) && rc=0 || rc=$?
t_assert_eq "$rc" 1 "ReadGroup member freeze-and-dump"
t_assert_contains "$out" "ermission"

# A second job on the same container is refused; list/status answer during the dump.
CKPTD_TEST_HOLD_FROZEN_MSEC=3000 t_daemon_restart
t_ctl freeze-and-dump good >/dev/null &
job=$!
for _ in $(seq 300); do t_cgroup_frozen "$cg" && break; sleep 0.01; done
start=$(date +%s%N)
t_ctl list good >/dev/null
t_ctl_json status | jq -e '.jobs | length == 1' >/dev/null || t_fail "status does not show the running job"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000 ] || t_fail "list/status blocked by a running dump"
set +e; out=$(t_ctl freeze-and-dump good 2>&1); rc=$?; set -e
t_assert_eq "$rc" 1 "second job on the same container"
t_assert_contains "$out" "already"
wait "$job"
t_cgroup_frozen "$cg" && t_fail "cgroup left frozen"

# SIGHUP reloads the configuration: the repaired file is picked up, the good one still works.
printf '[Container]\nCgroup=%s\nVolume=%s\n' "$cg" "$MNT/vol" >"$T/etc/containers.d/broken.conf"
kill -HUP "$CKPTD_PID"
for _ in $(seq 100); do
	t_ctl_json containers | jq -e '.[] | select(.name == "broken") | .config == "ok"' >/dev/null && break
	sleep 0.05
done
t_ctl_json containers | jq -e '.[] | select(.name == "broken") | .config == "ok"' >/dev/null ||
	t_fail "SIGHUP did not reload the repaired configuration"
t_assert_eq "$(t_ctl_json status | jq '.config_errors | length')" 0 "config errors after the repair"
t_ctl freeze-and-dump good >/dev/null
t_pass
