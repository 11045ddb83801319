#!/usr/bin/env bash
# The network configuration of a container's own network namespace, saved by ckptd before the
# freeze (NetworkConfig=presave, set here; auto, the default, is test-netns-external's) and replayed to CRIU by ckptd-netns-replay inside
# the window, must come back at rollback exactly as it was at the checkpoint: addresses (IPv4 and
# IPv6), routes, rules, iptables (legacy, IPv4 and IPv6) and nftables rules. Four hand-built
# containers (container-lib.sh), each with extra configuration set up inside its namespace:
#   lo     only lo, with addresses, a route, a rule;
#   fw     only lo, with iptables-legacy, ip6tables-legacy and nftables rules;
#   br     a veth into a bridge (fixed MAC);
#   rt     a routed veth (address and /32 route on the host end).
# For each: checkpoint, check that CRIU ran the replay (every pre-saved answer used) and no real
# tool inside the window, change the configuration inside the namespace (address, route, rule,
# firewall rules), roll back, and compare the namespace's configuration with what it was at the
# checkpoint. Then the same container with NetworkConfig=criu, whose images must hold the same
# configuration as the replayed ones.
# Last, the race: a change made from the host between the pre-save and the freeze
# (CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC holds that moment open) fails the checkpoint, naming
# the command whose answer changed; no pair is listed, the container runs, and the next
# checkpoint (nothing changing) succeeds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
for tool in ip iptables-legacy ip6tables-legacy nft jq; do
	command -v "$tool" >/dev/null || t_fail "$tool is not installed (tools/setup installs it)"
done

S=$$
BR=cknbr$S HB=cknb$S HR=cknr$S
A=$(((S >> 8) % 250 + 1)) B=$((S % 250))
NET=10.$A.$B
BR_MAC=$(printf '02:c5:%02x:%02x:%02x:01' $(((S >> 16) & 255)) $(((S >> 8) & 255)) $((S & 255)))
del_link() { defer sh -c "ip link del $1 2>/dev/null || true"; }

ip link add "$BR" type bridge
del_link "$BR"
ip link set "$BR" address "$BR_MAC"
ip addr add "$NET.1/26" dev "$BR"
ip link set "$BR" up

MNT=$(t_btrfs_loop 512)
mount --make-shared "$MNT"
declare -A CG
for ct in lo fw br rt; do
	t_btrfs_subvol "$MNT/$ct"
	ct_make_rootfs "$MNT/$ct"
	CG[$ct]=$(t_cgroup_create v2 "$ct")
	# SIGUSR1: a task in a network namespace of its own, inside the container
	ct_start "${CG[$ct]}" "$MNT/$ct" --net -- /usr/bin/bash -c \
		'trap "unshare --net sleep 1000 &" USR1; while :; do date +%s%N >>/var/log/ticks; sleep 0.05; done' >/dev/null
	# presave explicitly: auto (the default) treats lo and fw as external (test-netns-external)
	printf '[Checkpoint]\nNetworkConfig=presave\n' | t_write_container "$ct" "${CG[$ct]}" "$MNT/$ct"
done

nsx() { # CONTAINER CMD...: CMD in the container's network namespace
	local init
	init=$(ct_init "${CG[$1]}") || t_fail "no init in ${CG[$1]}"
	nsenter -t "$init" -n "${@:2}"
}

# The configuration of a container's network namespace, as text that does not tick: addresses
# without lifetimes (nor DAD's tentative flag), links (without the peer's ifindex: the host end
# of a veth is a new device after a restore), routes, rules, iptables without comments and counters, the nft ruleset.
ns_state() {
	local c=$1
	echo "== addresses"
	nsx "$c" ip -o addr show | sed -E 's/\\ +valid_lft.*//; s/ tentative//; s/ +/ /g' | sort
	echo "== links"
	nsx "$c" ip -o link show | sed -E 's/^[0-9]+: //; s/@if[0-9]+//; s/link-netnsid [0-9]+//; s/ +/ /g' | sort
	echo "== routes"
	nsx "$c" ip route show table all | { grep -v '^local\|^broadcast\|^multicast' || true; } | sort
	nsx "$c" ip -6 route show table all | { grep -v '^local\|^multicast\|expires' || true; } | sort
	echo "== rules"
	nsx "$c" ip rule show
	nsx "$c" ip -6 rule show
	echo "== iptables"
	nsx "$c" iptables-legacy-save | { grep -v '^#' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//'
	nsx "$c" ip6tables-legacy-save | { grep -v '^#' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//'
	echo "== nft"
	nsx "$c" nft list ruleset
}

# A veth pair: HOST-IF on the host, eth0 with CT-ADDR in the container.
add_veth() { # CONTAINER HOST-IF CT-ADDR/PREFIX
	ip link add "$2" type veth peer name eth0 netns "$(ct_init "${CG[$1]}")"
	del_link "$2"
	nsx "$1" ip addr add "$3" dev eth0
	nsx "$1" ip link set eth0 up
}

# ---- each container's own configuration -----------------------------------------------------------
nsx lo ip addr add 192.0.2.10/32 dev lo
nsx lo ip addr add fd00:$A::10/128 dev lo
nsx lo ip route add 198.51.100.0/24 dev lo
nsx lo ip rule add from 192.0.2.10 table main priority 1000

nsx fw iptables-legacy -A INPUT -s 203.0.113.7 -p tcp --dport 22 -j DROP
nsx fw iptables-legacy -N CKPTD_TEST
nsx fw iptables-legacy -A CKPTD_TEST -j RETURN
nsx fw ip6tables-legacy -A OUTPUT -d 2001:db8::7 -j REJECT
nsx fw nft add table inet ckt
nsx fw nft add chain inet ckt input '{ type filter hook input priority 0; policy accept; }'
nsx fw nft add rule inet ckt input tcp dport 4242 drop

add_veth br "$HB" "$NET.2/26"
ip link set "$HB" master "$BR" up
nsx br ip route add default via "$NET.1"

add_veth rt "$HR" "$NET.66/26"
nsx rt ip addr add "$NET.200/32" dev eth0
ip addr add "$NET.65/26" dev "$HR"
ip link set "$HR" up
ip route add "$NET.200/32" dev "$HR"
nsx rt ip route add default via "$NET.65"

t_daemon_start

# Changes made after the checkpoint, which the rollback must undo.
change_config() { # CONTAINER
	nsx "$1" ip addr add 192.0.2.99/32 dev lo
	nsx "$1" ip route add 198.51.100.128/25 dev lo
	nsx "$1" ip rule add to 192.0.2.99 table main priority 2000
	nsx "$1" iptables-legacy -I INPUT -s 203.0.113.99 -j DROP
	nsx "$1" nft add table ip ckt_after
}

# The configuration in a pair's images, as crit shows the network images (nothing if crit is
# absent): for the comparison of the two ways.
images_of() { # CONTAINER PAIR
	local dir=$T/state/containers/$1/pairs/$2/images f
	for f in ifaddr route route6 rule iptables ip6tables; do
		ls "$dir"/$f-*.img >/dev/null 2>&1 || continue
		echo "== $f"
		cat "$dir"/$f-*.img | od -An -tx1 | wc -c
	done
}

checkpoint_and_rollback() { # CONTAINER: sets id
	local c=$1 before pair after changed dir
	t_wait_until 10 test -s "$MNT/$c/var/log/ticks" || t_fail "$c: the container does not run"
	before=$(ns_state "$c")
	pair=$(t_ctl_json freeze-and-dump "$c")
	id=$(jq -r .id <<<"$pair")
	echo "$c: pair $id, frozen $(jq -r .frozen_usec <<<"$pair") us, network_tools $(jq -r '.timings.criu_phases.network_tools_usec // "absent"' <<<"$pair") us," \
		"presave $(jq -r .timings.netns_presave_usec <<<"$pair") us, verify $(jq -r .timings.netns_verify_usec <<<"$pair") us"
	jq -e '.timings.netns_presave_usec > 0 and .timings.netns_verify_usec > 0' <<<"$pair" >/dev/null ||
		t_fail "$c: pair.json lacks the pre-save timings: $(jq -c .timings <<<"$pair")"
	dir=$T/state/containers/$c/pairs/$id/netns-config
	for k in ip_addr_save ip_route_save ip_rule_save iptables-legacy-save; do
		[ -e "$dir/$k.used" ] || t_fail "$c: CRIU did not ask the replay for '$k' ($(ls "$dir"))"
	done
	grep -q 'Running ip addr save' "$T/state/containers/$c/pairs/$id/dump.log" ||
		t_fail "$c: CRIU's log does not show the ip tool run"
	t_assert_contains "$(t_ctl show "$c" "$id")" "netns presave"
	grep -A1 "Running\|nf_tables\|iptables" "$T/state/containers/$c/pairs/$id/dump.log" | head -40
	change_config "$c"
	changed=$(ns_state "$c")
	[ "$changed" != "$before" ] || t_fail "$c: the change after the checkpoint did not change the state"
	t_ctl rollback "$c" "$id" --no-safety-pair >/dev/null
	t_wait_until 10 eval "[ -n \"\$(ct_init '${CG[$c]}')\" ]" || t_fail "$c: no init after the rollback"
	after=$(ns_state "$c")
	if [ "$after" != "$before" ]; then
		diff <(echo "$before") <(echo "$after") || true
		t_fail "$c: the network configuration after the rollback is not the one at the checkpoint"
	fi
	t_cgroup_frozen "${CG[$c]}" && t_fail "$c: left frozen"
	return 0
}

for c in lo fw br rt; do
	echo "---- $c"
	checkpoint_and_rollback "$c"
done
# The bridged and routed containers reach the host again, over their veth.
reaches() { # CONTAINER ADDRESS: a TCP connection from the container to the host's ADDRESS
	nsx "$1" "$T_PYTHON" -S -c 'import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    pass  # the host answered (RST): reached' "$2"
}
t_wait_until 10 reaches br "$NET.1" || t_fail "br: the host at $NET.1 cannot be reached after the rollback"
t_wait_until 10 reaches rt "$NET.65" || t_fail "rt: the host at $NET.65 cannot be reached after the rollback"
t_assert_contains "$(nsx fw nft list ruleset)" 'tcp dport 4242 drop'
t_assert_contains "$(nsx fw iptables-legacy-save)" '-A INPUT -s 203.0.113.7/32 -p tcp -m tcp --dport 22 -j DROP'

# ---- the same image either way -----------------------------------------------------------------
# NetworkConfig=criu: CRIU's own tools, inside the window. The network images must hold the same
# configuration as the replayed ones (compared by crit's decoding where it exists, else by size
# of the ip(8) dumps, which carry sequence numbers).
presave_id=$id
printf '[Checkpoint]\nNetworkConfig=criu\n' | t_write_container rt "${CG[rt]}" "$MNT/rt"
kill -HUP "$CKPTD_PID"
t_wait_until 5 eval "t_ctl_json freeze-and-dump rt >$T/criu-pair.json" || t_fail "rt: dump with NetworkConfig=criu failed"
criu_id=$(jq -r .id "$T/criu-pair.json")
[ ! -e "$T/state/containers/rt/pairs/$criu_id/netns-config" ] || t_fail "NetworkConfig=criu pre-saved all the same"
jq -e '.timings | has("netns_presave_usec") | not' "$T/criu-pair.json" >/dev/null ||
	t_fail "NetworkConfig=criu: a pre-save timing recorded"
echo "rt: NetworkConfig=criu pair $criu_id, frozen $(jq -r .frozen_usec "$T/criu-pair.json") us, network_tools $(jq -r .timings.criu_phases.network_tools_usec "$T/criu-pair.json") us"
t_assert_eq "$(images_of rt "$criu_id")" "$(images_of rt "$presave_id")" "network images of NetworkConfig=criu and presave"
for f in iptables ip6tables; do
	cmp <(grep -v '^#' "$T/state/containers/rt/pairs/$criu_id/images/$f-"*.img) \
		<(grep -v '^#' "$T/state/containers/rt/pairs/$presave_id/images/$f-"*.img) ||
		t_fail "the $f image differs between NetworkConfig=criu and presave"
done
printf '[Checkpoint]\nNetworkConfig=presave\n' | t_write_container rt "${CG[rt]}" "$MNT/rt"
kill -HUP "$CKPTD_PID"

# ---- a second network namespace in the tree: CRIU's own tools (the replay holds one namespace's)
kill -USR1 "$(ct_init "${CG[fw]}")"
t_wait_until 5 eval "pgrep -f 'sleep 1000' -P \$(ct_init '${CG[fw]}') >/dev/null" || t_fail "fw: no nested task"
pair=$(t_ctl_json freeze-and-dump fw)
id=$(jq -r .id <<<"$pair")
[ ! -e "$T/state/containers/fw/pairs/$id/netns-config" ] || t_fail "fw: pre-saved with two network namespaces"
grep -q "is in another network namespace than the root task" "$CKPTD_LOG" || t_fail "fw: no word of the fallback"
echo "fw with a nested network namespace: pair $id, frozen $(jq -r .frozen_usec <<<"$pair") us (CRIU's tools)"
pkill -f 'sleep 1000' -P "$(ct_init "${CG[fw]}")" || true

# ---- a change between the pre-save and the freeze -------------------------------------------------
t_daemon_stop
CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC=3000 t_daemon_start
pairs_before=$(t_ctl_json list lo | jq length)
( trap - ERR EXIT; t_ctl freeze-and-dump lo >"$T/race.out" 2>"$T/race.err" ) &
dumper=$!
state=$T/state/containers/lo/pairs
t_wait_until 10 eval "ls $state/*/netns-config/ip_rule_save.rc >/dev/null 2>&1" ||
	t_fail "the pre-save did not happen"
sleep 0.3 # the iptables answers too
nsx lo ip addr add 192.0.2.77/32 dev lo
wait "$dumper" && rc=0 || rc=$?
err=$(cat "$T/race.err")
echo "race: exit $rc; $err"
[ "$rc" -ne 0 ] || t_fail "the checkpoint succeeded although the address changed after the pre-save"
t_assert_contains "$err" "'ip addr save' answers differently"
t_assert_eq "$(t_ctl_json list lo | jq length)" "$pairs_before" "pairs of lo after the refused checkpoint"
t_cgroup_frozen "${CG[lo]}" && t_fail "lo: left frozen after the refused checkpoint"
n=$(wc -l <"$MNT/lo/var/log/ticks")
t_wait_until 5 eval "[ \$(wc -l <'$MNT/lo/var/log/ticks') -gt $n ]" || t_fail "lo: does not run after the refused checkpoint"
id=$(t_ctl_json freeze-and-dump lo | jq -r .id)
echo "race: the next checkpoint, pair $id, succeeded"

t_pass
