#!/usr/bin/env bash
# NetworkConfig=auto|external: a network namespace that ckptd proves it can rebuild (a scratch
# namespace replayed from ckptd's own save has the same fingerprint: links, addresses, routes of
# every table, rules, iptables legacy, nftables, every sysctl under /proc/sys/net) is left out of
# CRIU's dump (--external net[INODE]:KEY) and rebuilt by ckptd at rollback (inherit-fd).
#   ext  only lo, with IPv4/IPv6 addresses, routes in main and table 100, rules, iptables-legacy,
#        ip6tables-legacy, iptables-nft and nftables rules, and an established TCP connection
#        between two of its tasks (TcpEstablished=yes): external mode (the default, auto);
#        CRIU forked no tool and read no namespace; the pair carries the configuration in its
#        images (checksummed); rollback brings back the checkpoint's state and undoes a later
#        change, and the TCP connection carries data again.
#   sc   only lo, with net.ipv4.ip_forward=1 (a sysctl a new namespace does not have): auto falls
#        back to the pre-save, naming the sysctl; the rollback is still right.
#   vt   a veth with NetworkConfig=external: refused before the freeze, naming the link; not
#        frozen, no pair listed.
#   race a sysctl changed from the host between the proof and the freeze: the pair fails after
#        the thaw, naming it; nothing listed; the container runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
for tool in ip iptables-legacy ip6tables-legacy iptables-nft nft sysctl jq; do
	command -v "$tool" >/dev/null || t_fail "$tool is not installed (tools/setup installs it)"
done

S=$$
HV=cknx$S
del_link() { defer sh -c "ip link del $1 2>/dev/null || true"; }

MNT=$(t_btrfs_loop 512)
mount --make-shared "$MNT"
declare -A CG
for ct in ext sc vt; do
	t_btrfs_subvol "$MNT/$ct"
	ct_make_rootfs "$MNT/$ct"
	CG[$ct]=$(t_cgroup_create v2 "netext-$ct")
done
# ext: a TCP connection over lo between two of its tasks, counting its round trips (it waits
# for lo to come up; a broken connection ends the counting)
cat >"$MNT/ext/tcp.py" <<'EOF'
import socket, time
while True:
    try:
        srv = socket.socket(); srv.bind(("127.0.0.1", 7777)); srv.listen(1)
        c = socket.create_connection(("127.0.0.1", 7777)); a, _ = srv.accept(); break
    except OSError:
        time.sleep(0.05)
n = 0
while True:
    c.sendall(b"ping"); assert a.recv(4) == b"ping"
    n += 1
    with open("/var/log/tcp.count", "w") as f:
        f.write("%d\n" % n)
    time.sleep(0.02)
EOF
ct_start "${CG[ext]}" "$MNT/ext" --net -- /usr/bin/bash -c \
	'/usr/bin/python3 -S /tcp.py & while :; do date +%s%N >>/var/log/ticks; sleep 0.05; done' >/dev/null
for ct in sc vt; do
	ct_start "${CG[$ct]}" "$MNT/$ct" --net -- /usr/bin/bash -c \
		'while :; do date +%s%N >>/var/log/ticks; sleep 0.05; done' >/dev/null
done
printf '[Checkpoint]\nTcpEstablished=yes\n' | t_write_container ext "${CG[ext]}" "$MNT/ext"
t_write_container sc "${CG[sc]}" "$MNT/sc" </dev/null
printf '[Checkpoint]\nNetworkConfig=external\n' | t_write_container vt "${CG[vt]}" "$MNT/vt"

nsx() { # CONTAINER CMD...: CMD in the container's network namespace
	local init
	init=$(ct_init "${CG[$1]}") || t_fail "no init in ${CG[$1]}"
	nsenter -t "$init" -n "${@:2}"
}

# The namespace's configuration as text that does not tick (lifetimes, counters, comments out).
ns_state() {
	local c=$1
	echo "== links"
	nsx "$c" ip -d -o link show | sed -E 's/^[0-9]+: //'
	echo "== addresses"
	nsx "$c" ip -o addr show | sed -E 's/\\ +valid_lft.*//; s/ +/ /g' | sort
	echo "== routes"
	nsx "$c" ip -4 route show table all | sort
	nsx "$c" ip -6 route show table all | sort
	echo "== rules"
	nsx "$c" ip -4 rule show
	nsx "$c" ip -6 rule show
	echo "== iptables"
	nsx "$c" iptables-legacy-save | { grep -v '^#' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//'
	nsx "$c" ip6tables-legacy-save | { grep -v '^#' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//'
	echo "== nft"
	nsx "$c" nft list ruleset
	echo "== sysctl"
	nsx "$c" sysctl net 2>/dev/null | { grep -v nf_conntrack_count || true; }
}

# ---- each container's configuration ------------------------------------------------------------
for c in ext sc; do nsx "$c" ip link set lo up; done
nsx ext ip addr add 192.0.2.10/32 dev lo
nsx ext ip addr add 198.18.0.1/24 dev lo
nsx ext ip addr add fd00:5::10/64 dev lo
nsx ext ip route add 198.51.100.0/24 dev lo
nsx ext ip route add 203.0.113.0/24 via 198.18.0.2 table 100
nsx ext ip -6 route add fd00:7::/64 dev lo table 100
nsx ext ip rule add from 192.0.2.10 table 100 priority 1000
nsx ext ip -6 rule add from fd00:5::10 table 100 priority 1001
nsx ext iptables-legacy -A INPUT -s 203.0.113.7 -p tcp --dport 22 -j DROP
nsx ext iptables-legacy -N CKPTD_TEST
nsx ext iptables-legacy -A CKPTD_TEST -j RETURN
nsx ext ip6tables-legacy -A OUTPUT -d 2001:db8::7 -j REJECT
nsx ext iptables-nft -A OUTPUT -d 198.51.100.9 -j DROP 2>/dev/null
nsx ext nft add table inet ckt
nsx ext nft add chain inet ckt input '{ type filter hook input priority 0; policy accept; }'
nsx ext nft add rule inet ckt input tcp dport 4242 drop
nsx sc ip addr add 192.0.2.20/32 dev lo
nsx sc sysctl -qw net.ipv4.ip_forward=1

ip link add "$HV" type veth peer name eth0 netns "$(ct_init "${CG[vt]}")"
del_link "$HV"

t_daemon_start

change_config() { # CONTAINER: what the rollback must undo
	nsx "$1" ip addr add 192.0.2.99/32 dev lo
	nsx "$1" ip route add 198.51.100.128/25 dev lo
	nsx "$1" ip rule add to 192.0.2.99 table main priority 2000
	nsx "$1" iptables-legacy -I INPUT -s 203.0.113.99 -j DROP
	nsx "$1" nft add table ip ckt_after
	nsx "$1" sysctl -qw net.ipv4.tcp_syn_retries=3
}

rollback_and_compare() { # CONTAINER PAIR EXPECTED-STATE
	t_ctl rollback "$1" "$2" --no-safety-pair >/dev/null
	t_wait_until 10 eval "[ -n \"\$(ct_init '${CG[$1]}')\" ]" || t_fail "$1: no init after the rollback"
	local after
	after=$(ns_state "$1")
	if [ "$after" != "$3" ]; then
		diff <(echo "$3") <(echo "$after") || true
		t_fail "$1: the network configuration after the rollback of pair $2 is not the checkpoint's"
	fi
	t_cgroup_frozen "${CG[$1]}" && t_fail "$1: left frozen"
	local n
	n=$(wc -l <"$MNT/$1/var/log/ticks")
	t_wait_until 5 eval "[ \$(wc -l <'$MNT/$1/var/log/ticks') -gt $n ]" || t_fail "$1: does not run after the rollback"
}

# ---- inspect says what a checkpoint would use, and why not external --------------------------------
t_assert_contains "$(t_ctl inspect sc)" "presave (NetworkConfig=auto), not external: sysctl net.ipv4.conf.all.accept_redirects differs"
t_assert_eq "$(t_ctl_json inspect vt | jq -r .network.config.mode)" refused "inspect's mode of vt"

# ---- ext: external --------------------------------------------------------------------------------
t_wait_until 10 test -s "$MNT/ext/var/log/ticks" || t_fail "ext: the container does not run"
t_wait_until 10 test -s "$MNT/ext/var/log/tcp.count" || t_fail "ext: its TCP connection does not run"
before=$(ns_state ext)
pair=$(t_ctl_json freeze-and-dump ext)
id=$(jq -r .id <<<"$pair")
cfg=$(jq -c .discovery.network.config <<<"$pair")
echo "ext: pair $id, frozen $(jq -r .frozen_usec <<<"$pair") us, network_tools $(jq -r '.timings.criu_phases.network_tools_usec // "absent"' <<<"$pair") us, config $cfg"
jq -e '.mode == "external" and .requested == "auto" and (has("reason") | not) and .proof_usec > 0 and .verify_usec > 0' \
	<<<"$cfg" >/dev/null || t_fail "ext: not external: $cfg"
pdir=$T/state/containers/ext/pairs/$id
! grep -q 'Running ip \|iptables-save\|Dumping netns ids' "$pdir/dump.log" ||
	t_fail "ext: CRIU read the network namespace itself: $(grep 'Running ip \|iptables-save\|Dumping netns ids' "$pdir/dump.log")"
grep -q 'netns is external' "$pdir/dump.log" || t_fail "ext: CRIU's log does not say the namespace is external"
jq -e '.images.sha256 | has("ckptd-netns-external")' <<<"$pair" >/dev/null ||
	t_fail "ext: the configuration is not among the pair's checksummed images"
t_assert_eq "$(t_ctl_json list ext | jq -r ".[] | select(.id == $id) | .discovery.network.config.mode")" external \
	"the mode in list's JSON"
# an export carries it (among the images: import checks each against its checksum)
t_ctl export ext "$id" -o "$T/ext.export" 2>/dev/null
grep -aq "ckptd-netns-external 1" "$T/ext.export" || t_fail "ext: the export lacks the network configuration"
rm -f "$T/ext.export"
change_config ext
t_assert_contains "$(nsx ext ip -o addr show dev lo)" 192.0.2.99/32
rollback_and_compare ext "$id" "$before"
# the connection came back with it (restored into the rebuilt namespace) and carries data
n=$(cat "$MNT/ext/var/log/tcp.count")
t_wait_until 10 eval "[ \$(cat '$MNT/ext/var/log/tcp.count') -gt $((n + 5)) ]" ||
	t_fail "ext: the TCP connection does not carry data after the rollback (count stays at $n)"
t_assert_contains "$(nsx ext ss -Htn state established)" "127.0.0.1:7777"
grep -q 'network namespace rebuilt from the pair' "$CKPTD_LOG" || t_fail "ext: no word of the rebuilt namespace"
t_assert_contains "$(nsx ext nft list ruleset)" 'tcp dport 4242 drop'
t_assert_contains "$(nsx ext ip route show table 100)" '203.0.113.0/24 via 198.18.0.2'
echo "ext: the rollback of pair $id gave the checkpoint's network back"

# ---- sc: a sysctl a new namespace does not have: the pre-save --------------------------------------
before=$(ns_state sc)
pair=$(t_ctl_json freeze-and-dump sc)
id=$(jq -r .id <<<"$pair")
cfg=$(jq -c .discovery.network.config <<<"$pair")
echo "sc: pair $id, frozen $(jq -r .frozen_usec <<<"$pair") us, config $cfg"
jq -e '.mode == "presave" and .requested == "auto"' <<<"$cfg" >/dev/null || t_fail "sc: not presave: $cfg"
# (ip_forward turns accept_redirects off too, which comes first: the other differences are named)
t_assert_contains "$(jq -r .reason <<<"$cfg")" "sysctl net.ipv4.conf.all.accept_redirects differs (0 in the container, 1 in the replay)"
t_assert_contains "$(jq -r .reason <<<"$cfg")" "net.ipv4.ip_forward"
grep -q "not treated as external.*net.ipv4.ip_forward" "$CKPTD_LOG" || t_fail "sc: the fallback is not logged"
change_config sc
rollback_and_compare sc "$id" "$before"
t_assert_eq "$(nsx sc sysctl -n net.ipv4.ip_forward)" 1 "sc: ip_forward after the rollback"

# ---- vt: NetworkConfig=external with a veth: refused before the freeze -----------------------------
out=$(t_ctl freeze-and-dump vt 2>&1) && t_fail "vt: NetworkConfig=external with a veth was not refused: $out"
echo "vt: $out"
t_assert_contains "$out" "link eth0 (veth) cannot be re-created by replay"
t_assert_contains "$out" "not frozen"
t_assert_eq "$(t_ctl_json list vt | jq length)" 0 "pairs of vt"
t_cgroup_frozen "${CG[vt]}" && t_fail "vt: left frozen"

# ---- race: the host changes a sysctl between the proof and the freeze -------------------------------
t_daemon_stop
CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC=2500 t_daemon_start
pairs_before=$(t_ctl_json list ext | jq length)
( trap - ERR EXIT; t_ctl freeze-and-dump ext >"$T/race.out" 2>"$T/race.err" ) &
dumper=$!
t_wait_until 20 grep -q "CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC" "$CKPTD_LOG" || t_fail "the hold did not come"
nsx ext sysctl -qw net.ipv4.tcp_syn_retries=4
wait "$dumper" && rc=0 || rc=$?
err=$(cat "$T/race.err")
echo "race: exit $rc; $err"
[ "$rc" -ne 0 ] || t_fail "the checkpoint succeeded although a sysctl changed after the proof"
t_assert_contains "$err" "sysctl net.ipv4.tcp_syn_retries differs"
t_assert_eq "$(t_ctl_json list ext | jq length)" "$pairs_before" "pairs of ext after the refused checkpoint"
t_cgroup_frozen "${CG[ext]}" && t_fail "ext: left frozen after the refused checkpoint"
n=$(wc -l <"$MNT/ext/var/log/ticks")
t_wait_until 5 eval "[ \$(wc -l <'$MNT/ext/var/log/ticks') -gt $n ]" || t_fail "ext: does not run after the refused checkpoint"

t_pass
