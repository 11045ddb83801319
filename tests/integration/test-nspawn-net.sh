#!/usr/bin/env bash
# systemd-nspawn machines with a private network, checkpointed and rolled back again and again:
# one with --network-bridge=BR (the test's own bridge, fixed MAC), one with --network-veth (the
# host end ve-NAME routed, with an address on the host). Each runs the Redis workload of
# container-lib.sh (AOF with appendfsync always on the machine's root, a btrfs subvolume; a
# client inside appending 1, 2, 3, ... over one TCP connection), Redis listening on 127.0.0.1
# and on the machine's veth address.
#
# Before a machine's first dump ckptd prepares its mount namespace (nspawn.h): it mounts the
# network namespace's sysfs at /run/.ckptd-sysfs (nspawn binds only subdirectories of it, which
# CRIU cannot checkpoint) and makes the mounts below the root private (CRIU's compat mount
# engine restores nspawn's shared mounts stacked on themselves, and the next restore fails).
# inspect shows the plan, the first pair records what was done, later pairs find it done.
#
# Cycles of freeze-and-dump -> rollback to that pair (the first with a safety pair, which is a
# checkpoint of the running machine too): after each, Redis's memory and AOF agree (1..N), the
# inner client is still on its connection, the host reaches Redis over the veth again, the host
# end is back in its bridge (or has its address back and is up), the machine's boot id is the
# one it had (CRIU alone restores it empty), the first rollback created nspawn's propagation
# directory again. And the safety rule: a symlink planted at /run/.ckptd-sysfs inside a
# machine makes the preparation fail (nothing mounted through it, nothing frozen); removed, the
# checkpoint works.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v systemd-nspawn >/dev/null || t_fail "systemd-nspawn is not installed (tools/setup installs systemd-container)"
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"
command -v ip >/dev/null || t_fail "ip (iproute2) is not installed (tools/setup installs it)"

S=$$
BR=cknb$S           # the bridge
MB=cknb$S           # the machine on the bridge (its host end: vb-$MB)
MV=cknv$S           # the machine with --network-veth (its host end: ve-$MV)
A=$(((S >> 8) % 250 + 1)) B=$((S % 250))
NET=10.$A.$B        # .1/26 bridge, .2/26 machine b; .65/26 host end of machine v, .66/26 machine v
BR_MAC=$(printf '02:c5:%02x:%02x:%02x:01' $(((S >> 16) & 255)) $(((S >> 8) & 255)) $((S & 255)))
CYCLES_BRIDGE=${CKPTD_TEST_CYCLES:-5}
CYCLES_VETH=${CKPTD_TEST_CYCLES:-3}

ip link add "$BR" type bridge
defer sh -c "ip link del $BR 2>/dev/null || true"
ip link set "$BR" address "$BR_MAC"
ip addr add "$NET.1/26" dev "$BR"
ip link set "$BR" up

MNT=$(t_btrfs_loop 768)
for m in "$MB" "$MV"; do
	t_btrfs_subvol "$MNT/$m"
	ct_make_rootfs "$MNT/$m"
	cp /usr/lib/os-release "$MNT/$m/etc/os-release"
	defer rm -rf "/run/systemd/nspawn/propagate/$m" # made again by the rollbacks (nspawn removes it)
done
ct_install_redis_workload "$MNT/$MB" 6379 "$NET.2"
ct_install_redis_workload "$MNT/$MV" 6379 "$NET.66"

# nspawn_start MACHINE CGROUP [NSPAWN-OPTION...]: the machine's supervisor in CGROUP (nspawn puts
# itself into CGROUP/supervisor and the machine into CGROUP/payload), /workload.sh as PID 1.
nspawn_start() {
	local machine=$1 cg=$2 mirror
	shift 2
	# On a hybrid host nspawn mirrors its cgroups into the name=systemd v1 hierarchy: remove that
	# copy too (after lib.sh has emptied them).
	mirror=/sys/fs/cgroup/systemd/${cg#"$(t_cgroup_v2_root)"/}
	mirror=${mirror%/*}
	# shellcheck disable=SC2016 # $1 is sh's
	defer sh -c '[ ! -d "$1" ] || find "$1" -depth -type d -exec rmdir {} +' sh "$mirror"
	(
		trap - ERR EXIT
		echo "$BASHPID" >"$cg/cgroup.procs"
		exec setsid systemd-nspawn --quiet --register=no --keep-unit --machine="$machine" \
			--directory="$MNT/$machine" --bind-ro=/usr "$@" \
			/usr/bin/bash -c 'exec </dev/null >/dev/null 2>&1; exec "$@"' sh /usr/bin/bash /workload.sh \
			</dev/null >>"$T/nspawn-$machine.log" 2>&1
	) &
	disown $! 2>/dev/null || true
	t_wait_until 10 ct_init "$cg/payload" >/dev/null ||
		t_fail "the nspawn machine $machine did not start: $(tail -5 "$T/nspawn-$machine.log")"
}

cgb=$(t_cgroup_create v2 nspawn-bridge)
cgv=$(t_cgroup_create v2 nspawn-veth)
nspawn_start "$MB" "$cgb" --network-bridge="$BR"
nspawn_start "$MV" "$cgv" --network-veth
in_machine() { local cg=$1; shift; nsenter -t "$(ct_init "$cg")" -n "$@"; }
in_machine "$cgb" ip addr add "$NET.2/26" dev host0
in_machine "$cgb" ip link set host0 up
in_machine "$cgv" ip addr add "$NET.66/26" dev host0
in_machine "$cgv" ip link set host0 up
ip addr add "$NET.65/26" dev "ve-$MV"
ip link set "ve-$MV" up
t_assert_eq "$(ip -j link show "vb-$MB" | jq -r '.[0].master')" "$BR" "nspawn put vb-$MB into $BR"

t_write_container "$MB" "$cgb/payload" "$MNT/$MB" <<<$'[Checkpoint]\nTcpEstablished=yes'
t_write_container "$MV" "$cgv/payload" "$MNT/$MV" <<<$'[Checkpoint]\nTcpEstablished=yes'
t_daemon_start
ct_wait_appender "$cgb/payload"
ct_wait_appender "$cgv/payload"

host_redis() { redis-cli --raw -h "$1" -p 6379 "${@:2}"; }
host_reaches() { [ "$(host_redis "$1" PING 2>/dev/null)" = PONG ]; }
boot_id() { cat "/proc/$(ct_init "$1")/root/proc/sys/kernel/random/boot_id"; }
t_wait_until 10 host_reaches "$NET.2" || t_fail "the host does not reach machine $MB over the bridge"
t_wait_until 10 host_reaches "$NET.66" || t_fail "the host does not reach machine $MV over ve-$MV"
boot_b=$(boot_id "$cgb/payload")
boot_v=$(boot_id "$cgv/payload")
if [ ${#boot_b} != 36 ] || [ ${#boot_v} != 36 ]; then t_fail "nspawn gave the machines no boot id ($boot_b, $boot_v)"; fi

# ---- inspect: the preparation planned, nothing done yet ------------------------------------------
json=$(t_ctl_json inspect "$MB")
echo "$json" | jq -c '{nspawn, preparation, boot_id, veths: .network.veths, criu, problems}'
t_assert_eq "$(jq -r .checkpointable <<<"$json")" true "inspect: the bridged machine is checkpointable (after the preparation)"
t_assert_eq "$(jq -r .nspawn.machine <<<"$json")" "$MB" "inspect: the nspawn machine's name"
t_assert_eq "$(jq -r .preparation.sysfs_dir <<<"$json")" /run/.ckptd-sysfs "inspect: the sysfs to mount"
t_assert_eq "$(jq -r '.preparation.make_private | sort | join(" ")' <<<"$json")" "/dev /proc /run /sys /tmp /usr" \
	"inspect: the mounts to make private"
t_assert_eq "$(jq -r .boot_id.content <<<"$json")" "$boot_b" "inspect: the boot id"
t_assert_eq "$(jq -c .criu.external_veths <<<"$json")" "[\"veth[host0]:vb-$MB@$BR\"]" "inspect: the CRIU veth mapping"
t_assert_eq "$(jq -r .criu.mntns_compat_mode <<<"$json")" true "inspect: the compat mount engine"
out=$(t_ctl inspect "$MB")
echo "$out"
t_assert_contains "$out" "mount the network namespace's sysfs at /run/.ckptd-sysfs"
t_assert_contains "$out" "Boot id: $boot_b"
json=$(t_ctl_json inspect "$MV")
t_assert_eq "$(jq -c '[.network.veths[] | {container_if, host_if, bridge, up}]' <<<"$json")" \
	"[{\"container_if\":\"host0\",\"host_if\":\"ve-$MV\",\"bridge\":null,\"up\":true}]" "inspect: the routed veth of $MV"
grep -q ckptd-sysfs "/proc/$(ct_init "$cgb/payload")/mountinfo" && t_fail "inspect changed the machine's mounts"

# ---- the safety rule: a symlink at ckptd's mount point --------------------------------------------
# The preparation opens every component without following a symlink: it fails, naming the path,
# and mounts nothing anywhere (least of all on what the symlink points to).
initv=$(ct_init "$cgv/payload")
nsenter -t "$initv" -m ln -s /etc /run/.ckptd-sysfs
clientv=$(ct_appender_id "$cgv/payload")
t_run t_ctl freeze-and-dump "$MV"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "exit status of a checkpoint whose sysfs mount point is a symlink"
t_assert_contains "$T_ERR" "cannot mount the network namespace's sysfs at /run/.ckptd-sysfs inside the container"
t_assert_contains "$T_ERR" "the container was not frozen"
grep -E ' (/etc|/run/.ckptd-sysfs) ' "/proc/$initv/mountinfo" && t_fail "the preparation mounted something through the symlink"
t_assert_eq "$(t_ctl_json list "$MV" | jq length)" 0 "pairs after the failed preparation"
t_assert_eq "$(ct_appender_id "$cgv/payload")" "$clientv" "the appender's connection after the failed preparation"
nsenter -t "$initv" -m rm /run/.ckptd-sysfs
# The steps before the failing one stay done, and inspect says so.
json=$(t_ctl_json inspect "$MV")
t_assert_eq "$(jq -c '.preparation | [.sysfs_dir, .make_private, .prepared]' <<<"$json")" \
	'["/run/.ckptd-sysfs",[],["the mounts below the root are private"]]' "inspect: $MV partly prepared"

# ---- cycles -------------------------------------------------------------------------------------------
pair_aof_len() { ct_aof_replay "$MNT/.ckptd/$1/$2/$1/var/lib/redis/aof" | ct_assert_sequence "AOF in pair $1/$2"; }

cycle() { # MACHINE CGROUP ADDR BOOT-ID ROUND [BRIDGE]
	local m=$1 cg=$2/payload addr=$3 boot=$4 round=$5 br=${6:-} pair id k before out client link hif safety=()
	hif=$([ -n "$br" ] && echo "vb-$m" || echo "ve-$m")
	client=$(ct_appender_id "$cg")
	[ -n "$client" ] || t_fail "$m: the appender's connection is not in CLIENT LIST"
	pair=$(t_ctl_json freeze-and-dump "$m")
	id=$(jq -r .id <<<"$pair")
	echo "$m round $round, pair $id: frozen $(jq -r .frozen_usec <<<"$pair") us, timings $(jq -c .timings <<<"$pair")"
	if [ "$round" = 1 ]; then
		# (the veth machine's mounts were made private by the attempt with the symlink)
		t_assert_eq "$(jq -r '.discovery.preparation.done_now | length' <<<"$pair")" "$([ -n "$br" ] && echo 7 || echo 1)" \
			"$m: pair.json: the preparation done by the first checkpoint"
		t_assert_contains "$(jq -r '.discovery.preparation.done_now[]' <<<"$pair")" \
			"mounted the network namespace's sysfs at /run/.ckptd-sysfs"
	else
		t_assert_eq "$(jq -r '.discovery.preparation.done_now // "none"' <<<"$pair")" none \
			"$m: pair.json: nothing prepared again in round $round"
	fi
	t_assert_eq "$(jq -r '.discovery.preparation.prepared | length' <<<"$pair")" 2 "$m: pair.json: the machine is prepared"
	t_assert_eq "$(jq -r .discovery.boot_id.content <<<"$pair")" "$boot" "$m: pair.json: the boot id"
	k=$(pair_aof_len "$m" "$id")
	sleep 0.6
	before=$(ct_redis "$cg" LLEN l)
	[ "$before" -gt "$k" ] || t_fail "$m: the list did not grow after the checkpoint ($k -> $before)"
	safety=(--no-safety-pair)
	[ "$round" != 2 ] || safety=() # a checkpoint of the restored machine inside the rollback, too
	out=$(t_ctl_json rollback "$m" "$id" "${safety[@]}")
	echo "$m rollback: timings $(jq -c .timings <<<"$out"), warnings $(jq -c .warnings <<<"$out")"
	if [ "$round" = 1 ]; then
		t_assert_contains "$(jq -r '.warnings[]' <<<"$out")" "created /run/systemd/nspawn/propagate/$m on the host again"
	fi
	t_assert_not_contains "$(jq -r '.warnings[]' <<<"$out")" "boot_id"
	ct_check_rolled_back "$cg" "$MNT/$m/var/lib/redis/aof" "$k" "$before" "$client"
	t_assert_eq "$(boot_id "$cg")" "$boot" "$m: the machine's boot id after rollback $round"
	[ -e "/proc/$(ct_init "$cg")/root/sys/class/net/host0" ] || t_fail "$m: /sys/class/net inside lacks host0"
	link=$(ip -j -d link show "$hif")
	jq -e '.[0].flags | index("UP")' <<<"$link" >/dev/null || t_fail "$m: the host end $hif is not up: $link"
	if [ -n "$br" ]; then
		t_assert_eq "$(jq -r '.[0].master' <<<"$link")" "$br" "$m: the bridge of $hif"
		t_assert_eq "$(cat "/sys/class/net/$br/address")" "$BR_MAC" "the bridge's MAC"
	else
		t_assert_eq "$(ip -j addr show dev "$hif" | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(",")')" \
			"$NET.65/26" "$m: the address of $hif"
	fi
	t_wait_until 10 host_reaches "$addr" || t_fail "$m: the host cannot reach Redis at $addr after rollback $round"
}

for ((i = 1; i <= CYCLES_BRIDGE; i++)); do
	echo "---- --network-bridge, round $i"
	cycle "$MB" "$cgb" "$NET.2" "$boot_b" "$i" "$BR"
done
for ((i = 1; i <= CYCLES_VETH; i++)); do
	echo "---- --network-veth, round $i"
	cycle "$MV" "$cgv" "$NET.66" "$boot_v" "$i"
done

# Back to the first pair after all that: still restorable, boot id and all.
client=$(ct_appender_id "$cgb/payload")
before=$(ct_redis "$cgb/payload" LLEN l)
k=$(pair_aof_len "$MB" 1)
t_ctl rollback "$MB" 1 --no-safety-pair >/dev/null
ct_check_rolled_back "$cgb/payload" "$MNT/$MB/var/lib/redis/aof" "$k" "$before" "$client"
t_assert_eq "$(boot_id "$cgb/payload")" "$boot_b" "$MB: the boot id after a rollback to pair 1"
# inspect of the restored, prepared machine: nothing left to do, what was found done.
out=$(t_ctl inspect "$MB")
echo "$out" | grep -E "Preparation|: done|Boot id"
t_assert_contains "$out" "done: the network namespace's sysfs is mounted at /run/.ckptd-sysfs (by ckptd)"
t_assert_contains "$out" "done: the mounts below the root are private"
t_assert_not_contains "$out" "at the first checkpoint"
t_pass
