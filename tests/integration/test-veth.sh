#!/usr/bin/env bash
# Containers wired to the host by a veth pair, as LXC, Incus, Podman and nspawn wire theirs:
# hand-built containers (container-lib.sh: own PID, mount, UTS, IPC and network namespaces,
# rootfs a btrfs subvolume) running Redis (AOF, fsync always) on 127.0.0.1 and on the veth's
# address, with a client inside appending 1, 2, 3, ... over one TCP connection.
#
#   - veth into a bridge (the test's own, with a fixed MAC): 5 cycles (CKPTD_TEST_CYCLES) of freeze-and-dump ->
#     rollback. Afterwards the host end (a new device, same name) is back in the bridge and up,
#     the host reaches Redis over the veth again, the inner client is still on its connection,
#     memory and AOF agree (1..N); a host connection open across the rollback is reset.
#   - routed veth (no bridge, an address and a /32 route on the host end) and a second veth
#     into the bridge in the same container: 5 cycles; the routed host end gets its address,
#     MTU and route back and comes up, the other is back in the bridge.
#   - a macvlan in the container: refused before freezing, with the interface named.
#   - the bridge gone at rollback: a clear error naming it, and the container untouched.
# Every interface, bridge and address is unique to this run and removed at exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"
command -v ip >/dev/null || t_fail "ip (iproute2) is not installed (tools/setup installs it)"

S=$$
BR=ckbr$S     # the bridge
HB=ckvb$S     # host end of the bridged container's veth
HR=ckvr$S     # host end of the routed container's veth
HS=ckvs$S     # host end of the routed container's second veth, into the bridge
MV=ckmv$S     # a macvlan on the bridge, moved into a container
A=$(((S >> 8) % 250 + 1)) B=$((S % 250))
NET=10.$A.$B  # .1/26 bridge, .2/26 bridged container; .65/26 host end, .66/26 routed container
BR_MAC=$(printf '02:c4:%02x:%02x:%02x:01' $(((S >> 16) & 255)) $(((S >> 8) & 255)) $((S & 255)))

del_link() { defer sh -c "ip link del $1 2>/dev/null || true"; }

ip link add "$BR" type bridge
del_link "$BR"
ip link set "$BR" address "$BR_MAC" # else its MAC changes with its lowest port
ip addr add "$NET.1/26" dev "$BR"
ip link set "$BR" up

MNT=$(t_btrfs_loop 512)
mount --make-shared "$MNT"
for ct in ctb ctr; do
	t_btrfs_subvol "$MNT/$ct"
	ct_make_rootfs "$MNT/$ct"
done
ct_install_redis_workload "$MNT/ctb" 6379 "$NET.2"
ct_install_redis_workload "$MNT/ctr" 6379 "$NET.66" "$NET.200" "$NET.3"
cgb=$(t_cgroup_create v2 ctb)
cgr=$(t_cgroup_create v2 ctr)
ct_start "$cgb" "$MNT/ctb" --net -- /usr/bin/bash /workload.sh >/dev/null
ct_start "$cgr" "$MNT/ctr" --net -- /usr/bin/bash /workload.sh >/dev/null

# A veth pair: HOST-IF on the host, eth0 with CT-ADDR in the container.
add_veth() { # CGROUP HOST-IF CT-ADDR/PREFIX [CT-IF]
	local init ctif=${4:-eth0}
	init=$(ct_init "$1")
	ip link add "$2" type veth peer name "$ctif" netns "$init"
	del_link "$2"
	nsenter -t "$init" -n ip addr add "$3" dev "$ctif"
	nsenter -t "$init" -n ip link set "$ctif" up
}
add_veth "$cgb" "$HB" "$NET.2/26"
ip link set "$HB" master "$BR" up
add_veth "$cgr" "$HR" "$NET.66/26"
nsenter -t "$(ct_init "$cgr")" -n ip addr add "$NET.200/32" dev eth0
ip addr add "$NET.65/26" dev "$HR"
ip link set "$HR" mtu 1400 up
ip route add "$NET.200/32" dev "$HR" # a routed container's address outside the link's prefix
add_veth "$cgr" "$HS" "$NET.3/26" eth1  # and a second veth, into the bridge
ip link set "$HS" master "$BR" up

t_write_container ctb "$cgb" "$MNT/ctb" <<<$'[Checkpoint]\nTcpEstablished=yes'
t_write_container ctr "$cgr" "$MNT/ctr" <<<$'[Checkpoint]\nTcpEstablished=yes'
t_daemon_start
ct_wait_appender "$cgb"
ct_wait_appender "$cgr"

# redis-cli from the host, over the veth.
host_redis() { redis-cli --raw -h "$1" -p 6379 "${@:2}"; }
host_reaches() { [ "$(host_redis "$1" PING 2>/dev/null)" = PONG ]; }
t_assert_eq "$(host_redis "$NET.2" PING)" PONG "the host reaches the bridged container"
t_assert_eq "$(host_redis "$NET.66" PING)" PONG "the host reaches the routed container"
t_assert_eq "$(host_redis "$NET.200" PING)" PONG "the host reaches the routed container's /32"
t_assert_eq "$(host_redis "$NET.3" PING)" PONG "the host reaches the routed container's second veth"

# ---- inspect -----------------------------------------------------------------------------------
json=$(t_ctl_json inspect ctb)
echo "$json" | jq -c '{network: .network.veths, criu, problems}'
t_assert_eq "$(jq -r .checkpointable <<<"$json")" true "inspect: a container with a veth into a bridge is checkpointable"
t_assert_eq "$(jq -c '[.network.veths[] | {container_if, host_if, bridge}]' <<<"$json")" \
	"[{\"container_if\":\"eth0\",\"host_if\":\"$HB\",\"bridge\":\"$BR\"}]" "inspect: the veth pair"
t_assert_eq "$(jq -r '.network.veths[0].container_addresses[0].address' <<<"$json")" "$NET.2" "inspect: the container's address"
t_assert_eq "$(jq -r '.criu.network_lock' <<<"$json")" nftables "inspect: network lock of a namespace with a veth"
t_assert_eq "$(jq -c '.criu.external_veths' <<<"$json")" "[\"veth[eth0]:$HB@$BR\"]" "inspect: the CRIU mapping"
out=$(t_ctl inspect ctb)
echo "$out"
t_assert_contains "$out" "eth0 <-> $HB in bridge $BR"
t_assert_contains "$out" "connections inside the container survive a rollback"
json=$(t_ctl_json inspect ctr)
t_assert_eq "$(jq -c '[.network.veths[] | {container_if, host_if, bridge, mtu, up}] | sort_by(.container_if)' <<<"$json")" \
	"[{\"container_if\":\"eth0\",\"host_if\":\"$HR\",\"bridge\":null,\"mtu\":1400,\"up\":true},{\"container_if\":\"eth1\",\"host_if\":\"$HS\",\"bridge\":\"$BR\",\"mtu\":1500,\"up\":true}]" \
	"inspect: the routed veth and the second veth"
t_assert_eq "$(jq -r .checkpointable <<<"$json")" true "inspect: a container with two veths is checkpointable"
json=$(jq '.network.veths |= map(select(.container_if == "eth0"))' <<<"$json")
t_assert_eq "$(jq -c '[.network.veths[0].addresses[] | "\(.address)/\(.prefixlen)"]' <<<"$json")" "[\"$NET.65/26\"]" \
	"inspect: the host end's address"
t_assert_eq "$(jq -c '[.network.veths[0].routes[] | "\(.dst)/\(.prefixlen)"]' <<<"$json")" "[\"$NET.200/32\"]" \
	"inspect: the route through the host end"

# ---- cycles --------------------------------------------------------------------------------------
pair_aof_len() { ct_aof_replay "$MNT/.ckptd/$1/$2/$1/var/lib/redis/aof" | ct_assert_sequence "AOF in pair $1/$2"; }

# A connection from the host held open across a rollback: afterwards it must be dead.
host_conn_start() { # ADDR: in the background ($!); the result lands in $T/conn.result
	rm -f "$T/conn.go" "$T/conn.result"
	"$T_PYTHON" -S -c '
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 6379), timeout=10)
s.sendall(b"PING\r\n")
assert s.recv(64) == b"+PONG\r\n"
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2] + ".go"):
    time.sleep(0.05)
try:
    s.sendall(b"PING\r\n")
    r = s.recv(64)
    out = "answered %r" % r if r else "EOF"
except OSError as e:
    out = "error %s" % e.strerror
open(sys.argv[2] + ".result", "w").write(out)' "$1" "$T/conn" </dev/null >/dev/null 2>&1 &
}

cycle() { # CONTAINER CGROUP HOST-IF CT-ADDR [BRIDGE]; sets id (the pair)
	local ct=$1 cg=$2 hif=$3 addr=$4 br=${5:-} pair k before out client conn link
	client=$(ct_appender_id "$cg")
	[ -n "$client" ] || t_fail "$ct: the appender's connection is not in CLIENT LIST"
	host_redis "$addr" SET "from-host" "$(date +%s%N)" >/dev/null
	rm -f "$T/conn.ready"
	host_conn_start "$addr"
	conn=$!
	t_wait_until 10 test -e "$T/conn.ready" || t_fail "$ct: the host connection did not start"
	pair=$(t_ctl_json freeze-and-dump "$ct")
	id=$(jq -r .id <<<"$pair")
	echo "$ct pair $id: frozen $(jq -r .frozen_usec <<<"$pair") us, timings $(jq -c .timings <<<"$pair")"
	t_assert_eq "$(jq -r '.discovery.network.veths[] | select(.container_if == "eth0") | .host_if' <<<"$pair")" "$hif" \
		"pair.json: the veth's host end"
	t_assert_eq "$(jq -r '.discovery.network.veths[] | select(.container_if == "eth0") | .bridge' <<<"$pair")" "${br:-null}" \
		"pair.json: the veth's bridge"
	k=$(pair_aof_len "$ct" "$id")
	sleep 0.8
	before=$(ct_redis "$cg" LLEN l)
	[ "$before" -gt "$k" ] || t_fail "$ct: the list did not grow after the checkpoint ($k -> $before)"
	out=$(t_ctl_json rollback "$ct" "$id" --no-safety-pair)
	echo "$ct rollback: timings $(jq -c .timings <<<"$out"), warnings $(jq -c .warnings <<<"$out")"
	ct_check_rolled_back "$cg" "$MNT/$ct/var/lib/redis/aof" "$k" "$before" "$client"
	# The host end: there again, up, in its bridge (or with its address and MTU).
	link=$(ip -j -d link show "$hif")
	t_assert_eq "$(jq -r '.[0].linkinfo.info_kind' <<<"$link")" veth "$ct: the host end $hif after the rollback"
	jq -e '.[0].flags | index("UP")' <<<"$link" >/dev/null || t_fail "$ct: the host end $hif is not up: $link"
	if [ -n "$br" ]; then
		t_assert_eq "$(jq -r '.[0].master' <<<"$link")" "$br" "$ct: the bridge of $hif"
		t_assert_eq "$(cat "/sys/class/net/$br/address")" "$BR_MAC" "the bridge's MAC"
	else
		t_assert_eq "$(jq -r '.[0].master // "none"' <<<"$link")" none "$ct: the master of the routed $hif"
		t_assert_eq "$(jq -r '.[0].mtu' <<<"$link")" 1400 "$ct: the MTU of $hif"
		t_assert_eq "$(ip -j addr show dev "$hif" | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(",")')" \
			"$NET.65/26" "$ct: the address of $hif"
		t_assert_eq "$(ip -j route show "$NET.200/32" | jq -r '.[0].dev')" "$hif" "$ct: the route to $NET.200/32"
		t_wait_until 10 host_reaches "$NET.200" ||
			t_fail "$ct: the host cannot reach Redis at $NET.200 (routed /32) after the rollback"
	fi
	# The host reaches Redis over the veth again; its old connection was reset.
	t_wait_until 10 host_reaches "$addr" ||
		t_fail "$ct: the host cannot reach Redis at $addr after the rollback"
	: >"$T/conn.go"
	t_wait_until 20 test -e "$T/conn.result" || t_fail "$ct: the host connection did not finish"
	wait "$conn" || true
	echo "$ct: the host's connection across the rollback: $(cat "$T/conn.result")"
	[ "$(cat "$T/conn.result")" != "answered b'+PONG\\r\\n'" ] ||
		t_fail "$ct: a connection from the host survived the rollback (documented: it is reset)"
}

for i in $(seq "${CKPTD_TEST_CYCLES:-5}"); do
	echo "---- bridged veth, cycle $i"
	cycle ctb "$cgb" "$HB" "$NET.2" "$BR"
done
good=$id

# ---- CRIU not told where a veth goes ----------------------------------------------------------------
# It then puts both ends into the container, which is cut off, logs "Unknown peer net namespace"
# and reports success: ckptd must fail the restore. (A pair.json without the veth is the way to
# get there.)
id=$(t_ctl_json freeze-and-dump ctb | jq -r .id)
pj=$T/state/containers/ctb/pairs/$id/pair.json
[ -f "$pj" ] || t_fail "no $pj"
jq '.discovery.network.veths = []' "$pj" >"$pj.new"
mv "$pj.new" "$pj"
t_run t_ctl rollback ctb "$id" --no-safety-pair
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "exit status of a restore that left a veth unmapped"
t_assert_contains "$T_ERR" "criu did not know where to put a veth's peer"
t_assert_contains "$T_ERR" "Unknown peer net namespace"
# The container is stopped; a good pair brings it back, veth and all.
t_ctl rollback ctb "$good" --no-safety-pair >/dev/null
t_assert_eq "$(ip -j link show "$HB" | jq -r '.[0].master')" "$BR" "the bridge of $HB after the failed restore and a rollback"
t_wait_until 10 host_reaches "$NET.2" ||
	t_fail "the host cannot reach Redis at $NET.2 after the failed restore and a rollback"
ct_redis "$cgb" LRANGE l 0 -1 | ct_assert_sequence "Redis memory after the failed restore and a rollback" >/dev/null
ct_assert_grows "$cgb"
for i in $(seq "${CKPTD_TEST_CYCLES:-5}"); do
	echo "---- routed veth (and a second veth into the bridge), cycle $i"
	cycle ctr "$cgr" "$HR" "$NET.66"
	t_assert_eq "$(ip -j link show "$HS" | jq -r '.[0].master')" "$BR" "ctr: the bridge of its second veth's host end $HS"
	t_wait_until 10 host_reaches "$NET.3" ||
		t_fail "ctr: the host cannot reach Redis at $NET.3 (second veth) after the rollback"
done

# ---- refused before freezing: a macvlan ----------------------------------------------------------
ip link add "$MV" link "$BR" type macvlan mode bridge
del_link "$MV"
ip link set "$MV" netns "$(ct_init "$cgb")"
nsenter -t "$(ct_init "$cgb")" -n ip link set "$MV" name mv0
ct_assert_refused "$cgb" ctb "network interface mv0 (macvlan)"
nsenter -t "$(ct_init "$cgb")" -n ip link del mv0

# ---- the bridge gone at rollback -------------------------------------------------------------------
id=$(t_ctl_json freeze-and-dump ctb | jq -r .id)
init=$(ct_init "$cgb")
client=$(ct_appender_id "$cgb")
ip link del "$BR"
t_run t_ctl rollback ctb "$id" --no-safety-pair
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "exit status of a rollback whose bridge is gone"
t_assert_contains "$T_ERR" "bridge $BR does not exist"
t_assert_contains "$T_ERR" "nothing changed"
t_assert_eq "$(ct_init "$cgb")" "$init" "the container's init after the refused rollback"
t_assert_eq "$(ct_appender_id "$cgb")" "$client" "the appender's connection after the refused rollback"
t_cgroup_frozen "$cgb" && t_fail "the cgroup was left frozen"
ct_assert_grows "$cgb"
ip -j link show "$HB" >/dev/null || t_fail "the host end $HB is gone after the refused rollback"

t_pass
