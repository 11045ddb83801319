#!/usr/bin/env bash
# A systemd-nspawn machine (--register=no --keep-unit: no systemd as PID 1 needed), its root a
# btrfs subvolume (a minimal tree; the host's /usr is bound read-only with --bind-ro=/usr, so no
# debootstrap is needed), the same workload as test-container.sh inside: Redis with an AOF
# (appendfsync always) on the machine's root, a client appending 1, 2, 3, ... over one TCP
# connection. nspawn gives it its own PID, mount, UTS, IPC and cgroup namespaces, a tmpfs /dev,
# /run, /tmp, read-only cgroup and sysfs mounts from the host, /run/host/incoming (a slave of a
# host directory that nspawn removes when it exits) and boot_id bound twice from a deleted file.
#
# ckptd is pointed at the machine's cgroup (nspawn's "payload" child of the cgroup it was
# started in) and finds the rest: the root on the volume, the mounts from the host, the cgroup
# namespace (restore with --manage-cgroups=soft), the twice-bound deleted file (restore with
# the mount engine in compat mode), TCP in the host's network namespace (nftables lock per
# connection, never iptables). Before the first dump ckptd makes the machine's mounts below its
# root private (nspawn.h: nspawn's shared mounts come back from the compat engine stacked on
# themselves, and the next restore would fail). Checkpoint, rollback (the nspawn supervisor
# exits with its machine; the restored machine runs on without it); then checkpoints of the
# restored machine and rollbacks to them, three rounds in all, the boot id intact after each;
# a rollback to the first pair at the end; a mount stacked on an identical one refused (and the
# machine not prepared for it). A machine with --private-network (lo only) gets the sysfs of its
# network namespace mounted once by ckptd (nspawn binds only subdirectories of it) and is
# checkpointed and rolled back too (test-nspawn-net.sh does the veth machines).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v systemd-nspawn >/dev/null || t_fail "systemd-nspawn is not installed (tools/setup installs systemd-container)"
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"

MACHINE=ckptd-test-$$
# Redis listens in the host's network namespace: a port of its own.
export CT_REDIS_PORT=$((20000 + $$ % 20000))
MNT=$(t_btrfs_loop 512)
t_btrfs_subvol "$MNT/machine"
ct_make_rootfs "$MNT/machine"
cp /usr/lib/os-release "$MNT/machine/etc/os-release"
ct_install_redis_workload "$MNT/machine" "$CT_REDIS_PORT"
defer rm -rf "/run/systemd/nspawn/propagate/$MACHINE" # made again by the rollback (nspawn removed it)

# nspawn_start CGROUP [NSPAWN-OPTION...] -- CMD...: the machine's supervisor in CGROUP (nspawn
# puts itself into CGROUP/supervisor and the machine into CGROUP/payload); waits for PID 1.
nspawn_start() {
	local cg=$1
	shift
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	(
		trap - ERR EXIT
		echo "$BASHPID" >"$cg/cgroup.procs"
		exec setsid systemd-nspawn --quiet --register=no --keep-unit --machine="$MACHINE" \
			--directory="$MNT/machine" --bind-ro=/usr "${opts[@]}" \
			/usr/bin/bash -c 'exec </dev/null >/dev/null 2>&1; exec "$@"' sh "$@" \
			</dev/null >>"$T/nspawn.log" 2>&1
	) &
	disown $! 2>/dev/null || true
	t_wait_until 10 ct_init "$cg" >/dev/null || t_fail "the nspawn machine did not start: $(tail -5 "$T/nspawn.log")"
}

# ---- --private-network (lo only): prepared, checkpointed, rolled back ----------------------
cg0=$(t_cgroup_create v2 nspawn-privnet)
# On a hybrid host nspawn mirrors its cgroups into the name=systemd v1 hierarchy: remove that
# copy of this test's cgroups too (after lib.sh has emptied them).
mirror=/sys/fs/cgroup/systemd/${cg0#"$(t_cgroup_v2_root)"/}
mirror=${mirror%/*}
# shellcheck disable=SC2016 # $1 is sh's
defer sh -c '[ ! -d "$1" ] || find "$1" -depth -type d -exec rmdir {} +' sh "$mirror"
nspawn_start "$cg0" --private-network -- /usr/bin/sleep 1000
t_write_container privnet "$cg0/payload" "$MNT/machine" </dev/null
t_daemon_start
json=$(t_ctl_json inspect privnet)
t_assert_eq "$(jq -r '[.checkpointable, .preparation.sysfs_dir] | join(" ")' <<<"$json")" "true /run/.ckptd-sysfs" \
	"inspect: a machine with --private-network is checkpointable after ckptd's preparation"
init0=$(ct_init "$cg0/payload")
boot0=$(cat "/proc/$init0/root/proc/sys/kernel/random/boot_id")
id0=$(t_ctl_json freeze-and-dump privnet | jq -r .id)
t_ctl rollback privnet "$id0" --no-safety-pair >/dev/null
init0=$(ct_init "$cg0/payload")
[ "$(cat "/proc/$init0/comm")" = sleep ] || t_fail "the restored --private-network machine does not run sleep"
t_assert_eq "$(cat "/proc/$init0/root/proc/sys/kernel/random/boot_id")" "$boot0" "the boot id of the restored --private-network machine"
t_cgroup_kill "$cg0"
# shellcheck disable=SC2016 # expanded by eval
t_wait_until 10 eval '[ ! -d "/run/systemd/nspawn/propagate/$MACHINE" ]' || true

# ---- the machine with Redis ------------------------------------------------------------------
cg=$(t_cgroup_create v2 nspawn)
nspawn_start "$cg" -- /usr/bin/bash /workload.sh
payload=$cg/payload
t_write_container machine "$payload" "$MNT/machine" <<EOF
[Checkpoint]
TcpEstablished=yes
EOF
t_daemon_restart
ct_wait_appender "$payload"

json=$(t_ctl_json inspect machine)
echo "$json" | jq -c '{namespaces, root, mounts: [.mounts[] | {mountpoint, host_path, propagation}], network: .network.tcp, criu, problems}'
jq -e '.namespaces.own | index("mnt") and index("uts") and index("ipc") and index("pid") and index("cgroup")' \
	<<<"$json" >/dev/null || t_fail "inspect: nspawn's namespaces not found"
t_assert_eq "$(jq -r '.namespaces.own | index("net")' <<<"$json")" null "inspect: network namespace (the host's)"
t_assert_eq "$(jq -r .root.host_path <<<"$json")" "$MNT/machine" "inspect: root file system host path"
t_assert_eq "$(jq -r .root.volume <<<"$json")" "$MNT/machine" "inspect: root file system volume"
t_assert_eq "$(jq -r '[.mounts[] | select(.mountpoint == "/usr")][0].host_path' <<<"$json")" /usr "inspect: /usr"
t_assert_eq "$(jq -r '[.mounts[] | select(.mountpoint == "/run/host/incoming")][0].host_path' <<<"$json")" \
	"/run/systemd/nspawn/propagate/$MACHINE" "inspect: nspawn's propagation directory"
jq -e ".network.tcp | map(select(.state == \"LISTEN\" and .local == \"127.0.0.1:$CT_REDIS_PORT\")) | length == 1" \
	<<<"$json" >/dev/null || t_fail "inspect: Redis listening on 127.0.0.1:$CT_REDIS_PORT not found"
t_assert_eq "$(jq -r '.criu | [.network_lock, .mntns_compat_mode, .manage_cgroups, .external_mounts, .root] | join(" ")' <<<"$json")" \
	"nftables true soft true $MNT/machine" "inspect: CRIU options"
t_assert_eq "$(jq -r .checkpointable <<<"$json")" true "inspect: checkpointable"
t_ctl inspect machine

client=$(ct_appender_id "$payload")
[ -n "$client" ] || t_fail "the appender's connection is not in CLIENT LIST"
pair_aof_len() { ct_aof_replay "$MNT/.ckptd/machine/$1/machine/var/lib/redis/aof" | ct_assert_sequence "AOF in pair $1"; }
check_rolled_back() { ct_check_rolled_back "$payload" "$MNT/machine/var/lib/redis/aof" "$1" "$2" "$client"; }

boot_id() { cat "/proc/$(ct_init "$payload")/root/proc/sys/kernel/random/boot_id"; }
boot=$(boot_id)
t_assert_eq "$(jq -r '.boot_id.content' <<<"$json")" "$boot" "inspect: the boot id"
t_assert_eq "$(jq -r '.preparation | [.sysfs_dir, (.make_private | sort | join(","))] | join(" ")' <<<"$json")" \
	" /dev,/proc,/run,/sys,/tmp,/usr" "inspect: the preparation of a machine on the host network"

pair=$(t_ctl_json freeze-and-dump machine)
p1=$(jq -r .id <<<"$pair")
t_assert_eq "$(jq -r '.discovery.preparation.done_now | length' <<<"$pair")" 6 "pair.json: the preparation done by the first checkpoint"
echo "pair $p1: frozen $(jq -r .frozen_usec <<<"$pair") us, timings $(jq -c .timings <<<"$pair")"
k1=$(pair_aof_len "$p1")
sleep 1
before=$(ct_redis "$payload" LLEN l)
out=$(t_ctl rollback machine "$p1")
echo "$out"
t_assert_contains "$out" "Warning: created /run/systemd/nspawn/propagate/$MACHINE on the host again"
check_rolled_back "$k1" "$before"

t_assert_eq "$(boot_id)" "$boot" "the boot id after the first rollback"

# Rounds 2 and 3: checkpoints of the restored machine (the supervisor is gone now), each rolled
# back to; the second rollback takes a safety pair (one more checkpoint of a restored machine).
for round in 2 3; do
	pair=$(t_ctl_json freeze-and-dump machine)
	id=$(jq -r .id <<<"$pair")
	echo "round $round, pair $id: frozen $(jq -r .frozen_usec <<<"$pair") us"
	t_assert_eq "$(jq -r '.discovery.preparation.done_now // "none"' <<<"$pair")" none "round $round: nothing prepared again"
	k=$(pair_aof_len "$id")
	sleep 0.5
	before=$(ct_redis "$payload" LLEN l)
	if [ "$round" = 2 ]; then t_ctl rollback machine "$id"; else t_ctl rollback machine "$id" --no-safety-pair; fi
	check_rolled_back "$k" "$before"
	t_assert_eq "$(boot_id)" "$boot" "the boot id after rollback $round"
done
# And back to the first pair.
sleep 0.3
before=$(ct_redis "$payload" LLEN l)
t_ctl rollback machine "$p1" --no-safety-pair
check_rolled_back "$k1" "$before"
t_assert_eq "$(boot_id)" "$boot" "the boot id after the rollback to pair $p1"

# A mount stacked on an identical one (what CRIU's compat engine left in machines restored
# without the preparation, and a tree CRIU cannot restore): refused before freezing.
init=$(ct_init "$payload")
nsenter -t "$init" -m sh -c 'mount -t tmpfs ckptd-test /srv && mount --bind /srv /srv'
ct_assert_refused "$payload" machine "is stacked on an identical mount"
# (the new mounts are shared with the root's peer group: the preparation that would make them
# private did not run, since the checkpoint is refused anyway)
grep -E ' /srv .*shared:' "/proc/$init/mountinfo" >/dev/null || t_fail "a refused checkpoint changed the propagation of /srv"
nsenter -t "$init" -m sh -c 'umount /srv && umount /srv'
t_assert_eq "$(t_ctl_json inspect machine | jq -r .checkpointable)" true "inspect after the stacked mount is gone"
t_pass
