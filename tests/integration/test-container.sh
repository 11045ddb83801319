#!/usr/bin/env bash
# A real container with its own PID, mount, UTS, IPC and network namespaces (built by hand like
# LXC/nspawn/runc build theirs: tests/integration/ct-init.sh), its root file system a btrfs
# subvolume entered with pivot_root, host bind mounts (/usr read-only, a shared directory), its
# mounts slaves of a shared host mount. Inside: Debian's redis-server as root with an AOF
# (appendfsync always) on the root file system, listening on TCP 127.0.0.1:6379 in the
# container's network namespace, and a client that appends 1, 2, 3, ... over ONE TCP
# connection, checking every answer.
#
# ckptd must discover all that (inspect), checkpoint it (freeze-and-dump, TcpEstablished=yes,
# nftables network lock: the namespace has only lo, but TCP connections whose delayed ACKs must
# not land while CRIU reads their queues) and roll it back: afterwards Redis's memory
# is exactly 1..N and keeps growing, the client is still on the same connection (same CLIENT
# ID; it never reconnects), and the AOF on disk replays to exactly 1..M (memory and disk
# agree). Twice to the same pair, to a pair of a restored container, and back through a
# safety pair. Then what cannot be checkpointed is refused before freezing, with the reason:
# established TCP with TcpEstablished=no, an extra network interface, a root file system on no
# configured volume, a device held open, a raw socket, a unix socket connected to the host.
# A second container with a network namespace but no TCP connection is dumped with the network
# lock skipped.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"

MNT=$(t_btrfs_loop 512)
mount --make-shared "$MNT" # like a systemd host: container mounts become slaves of host mounts
t_btrfs_subvol "$MNT/ct"
t_btrfs_subvol "$MNT/other"
ct_make_rootfs "$MNT/ct"
ct_install_redis_workload "$MNT/ct"
SHARE=$T/share
mkdir -p "$SHARE"
cg=$(t_cgroup_create v2 ct)
ct_start "$cg" "$MNT/ct" --net --bind "$SHARE:/srv/share" -- /usr/bin/bash /workload.sh >/dev/null

write_config() { # [extra lines for [Checkpoint]] via stdin
	t_write_container ct "$cg" "${VOLUME:-$MNT/ct}" <<EOF
[Checkpoint]
$(cat)
EOF
}
echo "TcpEstablished=yes" | write_config
t_daemon_start

ct_wait_appender "$cg"

# ---- inspect ---------------------------------------------------------------------------------
json=$(t_ctl_json inspect ct)
echo "$json" | jq -c '{namespaces, root, mounts: [.mounts[] | {mountpoint, host_path, propagation}], propagation, network: {interfaces: .network.interfaces, tcp: [.network.tcp[] | .state]}, criu, problems}'
jq -e '.namespaces.own | index("mnt") and index("uts") and index("ipc") and index("net") and index("pid")' \
	<<<"$json" >/dev/null || t_fail "inspect: the container's own namespaces not found"
t_assert_eq "$(jq -r .root.host_path <<<"$json")" "$MNT/ct" "inspect: root file system host path"
t_assert_eq "$(jq -r .root.volume <<<"$json")" "$MNT/ct" "inspect: root file system volume"
t_assert_eq "$(jq -r .root.fstype <<<"$json")" btrfs "inspect: root file system type"
t_assert_eq "$(jq -r '.mounts[] | select(.mountpoint == "/usr") | .host_path' <<<"$json")" /usr "inspect: /usr from the host"
t_assert_eq "$(jq -r '.mounts[] | select(.mountpoint == "/srv/share") | .host_path' <<<"$json")" "$SHARE" \
	"inspect: /srv/share from the host"
t_assert_eq "$(jq -r '.mounts | map(.mountpoint) | sort | join(",")' <<<"$json")" "/srv/share,/usr" \
	"inspect: host mounts (proc, tmpfs, devpts, mqueue, sysfs are the container's own)"
t_assert_eq "$(jq -r .propagation.slave_of_host <<<"$json")" true "inspect: slave of the shared host mount"
t_assert_eq "$(jq -r '.network.interfaces | map(.name) | join(",")' <<<"$json")" lo "inspect: interfaces"
jq -e '.network.tcp | map(select(.state == "LISTEN" and .local == "127.0.0.1:6379")) | length == 1' \
	<<<"$json" >/dev/null || t_fail "inspect: Redis listening on 127.0.0.1:6379 not found"
jq -e '.network.tcp | map(select(.state == "ESTABLISHED")) | length == 2' \
	<<<"$json" >/dev/null || t_fail "inspect: the appender's connection (both ends) not found"
t_assert_eq "$(jq -c .criu <<<"$json")" \
	"{\"root\":\"$MNT/ct\",\"external_mounts\":true,\"external_sharing\":true,\"external_masters\":true,\"network_lock\":\"nftables\",\"tcp_established\":true,\"mntns_compat_mode\":false,\"manage_cgroups\":\"ignore\",\"private_procfs\":false}" \
	"inspect: CRIU options"
t_assert_eq "$(jq -r .checkpointable <<<"$json")" true "inspect: checkpointable"
out=$(t_ctl inspect ct)
echo "$out"
t_assert_contains "$out" "Checkpointable: yes"
t_assert_contains "$out" "Root fs: $MNT/ct (btrfs"
t_assert_contains "$out" "network lock nftables, tcp-established"

# ---- checkpoint, rollback, consistency -------------------------------------------------------
client=$(ct_appender_id "$cg")
[ -n "$client" ] || t_fail "the appender's connection is not in CLIENT LIST"

# The list in the pair's snapshot of the root file system (its AOF replayed): 1..K.
pair_aof_len() { ct_aof_replay "$MNT/.ckptd/ct/$1/ct/var/lib/redis/aof" | ct_assert_sequence "AOF in pair $1"; }

check_rolled_back() { ct_check_rolled_back "$cg" "$MNT/ct/var/lib/redis/aof" "$1" "$2" "$client"; }

pair=$(t_ctl_json freeze-and-dump ct)
p1=$(jq -r .id <<<"$pair")
echo "pair $p1: frozen $(jq -r .frozen_usec <<<"$pair") us, timings $(jq -c .timings <<<"$pair")"
t_assert_eq "$(jq -r .discovery.criu.network_lock <<<"$pair")" nftables "pair.json: network lock"
t_assert_eq "$(jq -r .discovery.criu.root <<<"$pair")" "$MNT/ct" "pair.json: restore root"
t_assert_eq "$(jq -r .tcp_established <<<"$pair")" true "pair.json: tcp_established"
[ ! -e "$T/state/containers/ct/pairs/$p1/dump.criu.conf" ] || t_fail "network lock skipped with TCP connections"
k1=$(pair_aof_len "$p1")
sleep 1
before=$(ct_redis "$cg" LLEN l)
[ "$before" -gt "$k1" ] || t_fail "the list did not grow after the checkpoint ($k1 -> $before)"

out=$(t_ctl_json rollback ct "$p1")
echo "$out"
safety=$(jq -r .safety_pair <<<"$out")
[ "$safety" != null ] || t_fail "no safety pair was taken"
check_rolled_back "$k1" "$before"

# Twice to the same pair (its snapshot stayed intact).
sleep 0.5
before=$(ct_redis "$cg" LLEN l)
t_ctl rollback ct "$p1" --no-safety-pair
check_rolled_back "$k1" "$before"

# A checkpoint of the restored container, and a rollback to it.
sleep 0.3
p2=$(t_ctl_json freeze-and-dump ct | jq -r .id)
k2=$(pair_aof_len "$p2")
sleep 0.8
before=$(ct_redis "$cg" LLEN l)
t_ctl rollback ct "$p2" --no-safety-pair
check_rolled_back "$k2" "$before"

# Back to the state before the first rollback, through its safety pair (a pair of a container
# whose state is later than pair p1, taken inside the rollback).
ks=$(pair_aof_len "$safety")
before=$(ct_redis "$cg" LLEN l)
t_ctl rollback ct "$safety" --no-safety-pair
n=$(ct_redis "$cg" LRANGE l 0 -1 | ct_assert_sequence "memory after the undo")
[ "$n" -ge "$ks" ] || t_fail "undo through safety pair $safety: $n items, fewer than its $ks"
t_assert_eq "$(ct_appender_id "$cg")" "$client" "the appender's connection after the undo"
ct_assert_grows "$cg"
t_assert_eq "$(t_ctl_json verify ct "$p1" | jq -r .ok)" true "verify pair $p1"

# ---- a network namespace without TCP: no network lock ------------------------------------------
t_btrfs_subvol "$MNT/quiet"
ct_make_rootfs "$MNT/quiet"
cgq=$(t_cgroup_create v2 quiet)
ct_start "$cgq" "$MNT/quiet" --net -- /usr/bin/bash -c \
	'while :; do date +%s%N >>/var/log/ticks; sleep 0.05; done' >/dev/null
t_wait_until 5 test -s "$MNT/quiet/var/log/ticks" || t_fail "the quiet container did not start"
t_write_container quiet "$cgq" "$MNT/quiet" </dev/null
kill -HUP "$CKPTD_PID" # reload: the new container
t_wait_until 5 eval 't_ctl_json containers | jq -e "map(.name) | index(\"quiet\")" >/dev/null' ||
	t_fail "ckptd did not load the second container"
t_assert_eq "$(t_ctl_json inspect quiet | jq -r '.criu.network_lock, .checkpointable' | tr '\n' ' ')" "skip true " \
	"inspect: network lock of a network namespace without TCP"
pq=$(t_ctl_json freeze-and-dump quiet | jq -r .id)
grep -qx "network-lock skip" "$T/state/containers/quiet/pairs/$pq/dump.criu.conf" || t_fail "network lock not skipped"
snap=$MNT/.ckptd/quiet/$pq/quiet/var/log/ticks
sleep 0.3
t_ctl rollback quiet "$pq" --no-safety-pair >/dev/null
# shellcheck disable=SC2016 # expanded by eval
t_wait_until 5 eval '[ "$(wc -l <"$MNT/quiet/var/log/ticks")" -gt "$(wc -l <"$snap")" ]' ||
	t_fail "the quiet container does not run after the rollback"
head -n "$(wc -l <"$snap")" "$MNT/quiet/var/log/ticks" | cmp -s - "$snap" ||
	t_fail "the quiet container's file does not continue from the pair's snapshot"
t_cgroup_kill "$cgq"

# ---- refused before freezing -----------------------------------------------------------------
assert_refused() { ct_assert_refused "$cg" ct "$1"; }

# Established TCP without TcpEstablished=yes.
echo "TcpEstablished=no" | write_config
t_daemon_restart
assert_refused "TCP connection 127.0.0.1:"
assert_refused "set TcpEstablished=yes to checkpoint it"
echo "TcpEstablished=yes" | write_config
t_daemon_restart

# A network interface besides lo.
init=$(ct_init "$cg")
nsenter -t "$init" -n ip link add ckv0 type veth peer name ckv1
assert_refused "network interface ckv0 (veth)"
nsenter -t "$init" -n ip link del ckv0

# The root file system on no configured volume (and RootDirectory= overriding that).
echo "TcpEstablished=yes" | VOLUME=$MNT/other write_config
t_daemon_restart
assert_refused "the root file system $MNT/ct (btrfs"
assert_refused "is on none of the configured volumes"
printf 'TcpEstablished=yes\n[Container]\nRootDirectory=%s\n' "$MNT/ct" | VOLUME=$MNT/other write_config
t_daemon_restart
t_assert_eq "$(t_ctl_json inspect ct | jq -r '.checkpointable, .criu.root, .root.from' | tr '\n' ' ')" \
	"true $MNT/ct RootDirectory= " "inspect with RootDirectory="
echo "TcpEstablished=yes" | write_config
t_daemon_restart

# Things held open inside: started by PID 1 on SIGUSR1 (/hold.sh), stopped on SIGUSR2.
hold() { # SCRIPT-TEXT: run it inside, wait until PID 1 has a child running it
	local init
	printf '%s\n' "$1" >"$MNT/ct/hold.sh"
	init=$(ct_init "$cg")
	kill -USR1 "$init"
	t_wait_until 5 hold_running || t_fail "/hold.sh did not start in the container"
	sleep 0.3
}
# shellcheck disable=SC2317 # called through t_wait_until
hold_running() { pgrep -f -P "$(ct_init "$cg")" 'hold.sh|sleep 1000|holder' >/dev/null; }
unhold() {
	kill -USR2 "$(ct_init "$cg")"
	t_wait_until 5 eval '! hold_running' || t_fail "/hold.sh did not stop"
	ct_assert_grows "$cg"
}

hold 'mknod /dev/loop-control c 10 237 2>/dev/null; exec 7<>/dev/loop-control; exec sleep 1000'
assert_refused "holds the device /dev/loop-control (char 10:237) open"
unhold

hold 'exec /usr/bin/python3 -c "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); time.sleep(1000)" holder'
assert_refused "a RAW socket, which CRIU cannot checkpoint"
unhold

# A unix socket connected to a listener on the host, through the shared directory.
"$T_PYTHON" -S -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' "$SHARE/host.sock" </dev/null >/dev/null 2>&1 &
listener=$!
defer kill "$listener"
t_wait_until 5 test -S "$SHARE/host.sock" || t_fail "host listener did not start"
hold 'exec /usr/bin/python3 -c "import socket, time; s = socket.socket(socket.AF_UNIX); s.connect(\"/srv/share/host.sock\"); time.sleep(1000)" holder'
assert_refused "unix socket connected to a peer outside the container"
unhold

# All clear again: a checkpoint goes through.
t_ctl freeze-and-dump ct >/dev/null
t_pass
