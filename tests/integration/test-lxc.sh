#!/usr/bin/env bash
# shellcheck disable=SC2317 # predicates called through t_wait_until
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# LXC containers by name ([Container] LXC=, LXCPath=), with real LXC 5 and real CRIU:
#  - a busybox container made by `lxc-create -t busybox -B btrfs` on a btrfs loop file system (the
#    rootfs is a subvolume, so no Volume= is needed), wired by a veth into a bridge of the test's
#    own (address on the bridge, ping from the host), its init runs an appender that writes
#    1, 2, 3 ... to a file on the rootfs, one line at a time, the counter held in the shell's
#    memory;
#  - freeze-and-dump by name, rollback (with its safety pair), twice (the second pair is of the
#    container the first rollback restored): after each rollback the file holds exactly 1..N with
#    no gap and no repeat (memory and file system from the same instant), is shorter than before
#    the rollback, and grows again;
#  - LXC still owns the restored container: lxc-info says RUNNING with the root task the rollback
#    reported, a new [lxc monitor] is its parent, the host end is back in the bridge and the
#    container answers pings, and lxc-stop stops it (cgroup removed);
#  - ckptd killed in a rollback after lxc-stop: the restarted ckptd finishes it through LXC;
#  - a stopped container is rolled back too (LXC restores it; no safety pair);
#  - errors: freeze-and-dump of a stopped container, a missing one, a rootfs that is not a subvolume, and
#    restore --processes-only (LXC must restore its containers itself).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root
for tool in lxc-create lxc-start lxc-info lxc-stop lxc-checkpoint busybox; do
	command -v "$tool" >/dev/null || t_skip "$tool is not installed (tools/setup installs lxc and busybox-static)"
done

MNT=$(t_btrfs_loop 512)
LXCP=$MNT/lxc
NAME=ckptd-wip-lxc-$$
mkdir "$LXCP"
lxc-create -n "$NAME" -P "$LXCP" -t busybox -B btrfs >"$T/lxc-create.log" 2>&1 ||
	t_fail "lxc-create failed: $(tail -5 "$T/lxc-create.log")"
defer lxc-stop -k -n "$NAME" -P "$LXCP" # before the file system is unmounted
ROOTFS=$LXCP/$NAME/rootfs
btrfs subvolume show "$ROOTFS" >/dev/null || t_fail "lxc-create -B btrfs made no subvolume at $ROOTFS"

# The settings CRIU needs (no console or ttys to inherit, no AppArmor on this kernel), no network,
# the rootfs as a plain directory (LXC mounts it; ckptd snapshots the subvolume).
conf=$LXCP/$NAME/config
sed -i -e '/^lxc.net.0/d' -e '/^lxc.apparmor/d' -e '/^lxc.tty.max/d' -e '/^lxc.pty.max/d' \
	-e '/^lxc.mount.auto/d' -e "s#^lxc.rootfs.path = .*#lxc.rootfs.path = dir:$ROOTFS#" "$conf"
# A veth into a bridge of the test's own, the host end's name and the MAC fixed (LXC's restore
# names the host end from lxc.net.0.veth.pair).
BR=cklxcbr$$
HOST_END=cklxcv$$
NET=10.$((($$ >> 8) % 200 + 20)).$(($$ % 250))
ip link add "$BR" type bridge || t_fail "cannot create bridge $BR"
defer ip link del "$BR"
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up
cat >>"$conf" <<EOF
lxc.net.0.type = veth
lxc.net.0.link = $BR
lxc.net.0.veth.pair = $HOST_END
lxc.net.0.hwaddr = 02:00:00:ac:$(printf '%02x:%02x' $((($$ >> 8) % 256)) $(($$ % 256)))
lxc.net.0.ipv4.address = $NET.2/24
lxc.net.0.flags = up
lxc.tty.max = 0
lxc.pty.max = 0
lxc.console.path = none
lxc.mount.auto = proc:mixed sys:mixed
EOF
cat >"$ROOTFS/appender.sh" <<'EOF'
#!/bin/sh
i=0
exec 3>>/data/seq
while :; do i=$((i + 1)); echo $i >&3; usleep 5000; done
EOF
mkdir "$ROOTFS/data"
printf '::once:/bin/sh /appender.sh\n' >"$ROOTFS/etc/inittab"

lxc_state() { lxc-info -n "$NAME" -P "$LXCP" -s | awk '{print $2}'; }
lxc_pid() { lxc-info -n "$NAME" -P "$LXCP" -p | awk '{print $2}'; }
lines() { wc -l <"$ROOTFS/data/seq"; }
grown_past() { [ "$(lines)" -gt "$1" ]; }
configured() { t_ctl containers | grep -q "$1"; }

# 1..N exactly, N >= 1: the shell's counter (memory) and the file (volume) agree.
assert_sequence() {
	local n
	n=$(lines)
	[ "$n" -ge 1 ] || t_fail "the sequence file is empty"
	cmp -s <(seq 1 "$n") <(head -n "$n" "$ROOTFS/data/seq") ||
		t_fail "the sequence file is not 1..$n: $(seq 1 "$n" | diff - <(head -n "$n" "$ROOTFS/data/seq") | head -5)"
}

diagnose() {
	local pid
	pid=$(lxc_pid) || true
	echo "state $(lxc_state), init $pid;"
	while read -r p; do
		echo "task $p: $(tr '\0' ' ' <"/proc/$p/cmdline") $(grep -E '^State' "/proc/$p/status");"
	done <"/sys/fs/cgroup/unified/lxc.payload.$NAME/cgroup.procs" 2>/dev/null || true
	echo "v2 freeze $(cat "/sys/fs/cgroup/unified/lxc.payload.$NAME/cgroup.freeze" 2>&1)," \
		"v1 freezer $(cat "/sys/fs/cgroup/freezer/lxc.payload.$NAME/freezer.state" 2>&1)"
}

assert_grows() {
	local a b
	a=$(lines)
	t_wait_until 5 grown_past "$a" || t_fail "the appender does not write any more ($a lines): $(diagnose)"
	b=$(lines)
	echo "grows: $a -> $b"
}

# The container LXC knows is the one ckptd restored.
assert_lxc_owns() {
	local root=$1 pid ppid
	t_assert_eq "$(lxc_state)" RUNNING "lxc-info state after rollback"
	pid=$(lxc_pid)
	t_assert_eq "$pid" "$root" "lxc-info's PID vs the root task the rollback reported"
	ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
	t_assert_contains "$(tr '\0' ' ' <"/proc/$ppid/cmdline")" "[lxc monitor] $LXCP $NAME" "parent of the restored init"
	t_assert_contains "$(ip -o link show master "$BR")" "$HOST_END" "the host end is back in bridge $BR"
	busybox ping -c 1 -W 2 "$NET.2" >/dev/null || t_fail "the container ($NET.2) does not answer over the veth"
}

lxc-start -n "$NAME" -P "$LXCP" || t_fail "lxc-start failed"
t_wait_until 10 test -s "$ROOTFS/data/seq" || t_fail "the appender did not start"
busybox ping -c 1 -W 2 "$NET.2" >/dev/null || t_fail "the container ($NET.2) does not answer over the veth"
assert_grows

mkdir -p "$T/etc/containers.d"
printf '[Container]\nLXC=%s\nLXCPath=%s\n' "$NAME" "$LXCP" >"$T/etc/containers.d/web.conf"
t_daemon_start

out=$(t_ctl inspect web)
t_assert_contains "$out" "$ROOTFS" "inspect shows the rootfs LXC uses"

for round in 1 2; do
	old_pid=$(lxc_pid)
	t_run t_ctl_json freeze-and-dump web
	t_assert_eq "$T_RC" 0 "freeze-and-dump of the LXC container (round $round): $T_ERR"
	id=$(jq -r .id <<<"$T_OUT")
	vol=$(jq -r '.volumes[0].source' <<<"$T_OUT")
	t_assert_eq "$vol" "$ROOTFS" "the pair's volume is the container's rootfs"
	echo "round $round: pair $id frozen_usec=$(jq .frozen_usec <<<"$T_OUT")"
	assert_grows
	assert_grows
	before=$(lines)
	# The logs LXC's restore leaves are moved into the pair directory, over what has their name
	# there: never through it.
	pdir=$T/state/containers/web/pairs/$id
	echo canary >"$T/canary"
	ln -s "$T/canary" "$pdir/restore.log"
	ln -s "$T/canary" "$pdir/lxc-checkpoint.log"
	t_run t_ctl_json rollback web "$id"
	t_assert_eq "$T_RC" 0 "rollback of the LXC container (round $round): $T_ERR"
	root=$(jq -r .root_pid <<<"$T_OUT")
	echo "round $round: rollback timings $(jq -c .timings <<<"$T_OUT")"
	after=$(lines)
	[ "$after" -lt "$before" ] || t_fail "rollback did not bring the file back ($before lines before, $after after)"
	t_assert_ne "$root" "$old_pid" "the restored init is a new task"
	assert_lxc_owns "$root"
	# The images LXC restored from are as pair.json lists them; its directory of links is gone.
	t_run t_ctl verify web "$id"
	t_assert_eq "$T_RC" 0 "verify of pair $id after the rollback through LXC: $T_OUT $T_ERR"
	[ -z "$(find "$T/state" -name 'lxc-restore.??????')" ] || t_fail "a directory of image links was left behind"
	t_assert_eq "$(cat "$T/canary")" canary "the file a symlink named restore.log pointed to"
	for f in restore.log lxc-checkpoint.log; do
		if [ ! -f "$pdir/$f" ] || [ -L "$pdir/$f" ]; then t_fail "$pdir/$f is not the log of this restore"; fi
	done
	t_assert_contains "$(cat "$pdir/restore.log")" "(criu/" "CRIU's restore log"
	assert_sequence
	assert_grows
	assert_sequence
done

# ckptd killed in a rollback after lxc-stop stopped the container (held at step 'volumes'): the
# restarted ckptd finishes the rollback, through LXC, and LXC owns the container again.
held_at_volumes() { grep -q "holding the rollback at step 'volumes'" "$CKPTD_LOG"; }
lxc_running() { [ "$(lxc_state)" = RUNNING ]; }
no_jobs() { [ "$(t_ctl_json status | jq '.jobs | length')" = 0 ]; }
CKPTD_TEST_HOLD_ROLLBACK_STEP=volumes t_daemon_restart
t_ctl rollback web "$id" --no-safety-pair >/dev/null 2>&1 &
client=$!
t_wait_until 60 held_at_volumes || t_fail "the rollback never reached step 'volumes'"
t_assert_eq "$(lxc_state)" STOPPED "state while the rollback is held after lxc-stop"
t_daemon_kill9
wait "$client" || true
t_daemon_start
t_wait_until 60 no_jobs || t_fail "the interrupted rollback is still running 60 s after the restart"
grep -q "finishing the rollback to pair $id interrupted" "$CKPTD_LOG" || t_fail "no attempt to finish the rollback"
lxc_running || t_fail "the interrupted rollback was not finished: LXC says $(lxc_state)"
assert_lxc_owns "$(lxc_pid)"
assert_sequence
assert_grows
t_assert_eq "$(jq -r '.[] | select(.name == "web") | .attention' <<<"$(t_ctl_json containers)")" null "attention"

# lxc-stop still handles the restored container: a clean stop, cgroups gone.
cg=$(jq -r '.[] | select(.name == "web") | .cgroup' <<<"$(t_ctl_json containers)")
[ -d "$cg" ] || t_fail "containers shows no cgroup for the LXC container ($cg)"
lxc-stop -n "$NAME" -P "$LXCP" -t 10 || t_fail "lxc-stop failed on the restored container"
t_assert_eq "$(lxc_state)" STOPPED "state after lxc-stop"
[ ! -d "$cg" ] || t_fail "the payload cgroup $cg is still there after lxc-stop"
assert_sequence

# Errors, each naming the container.
t_run t_ctl freeze-and-dump web
t_assert_ne "$T_RC" 0 "freeze-and-dump of a stopped LXC container"
t_assert_contains "$T_ERR" "LXC container $NAME (in $LXCP) is not running: start it with lxc-start" "stopped"

t_assert_eq "$(jq -r '.[] | select(.name == "web") | .state' <<<"$(t_ctl_json containers)")" missing "containers, stopped (LXC removed the cgroup)"

# A stopped container can be rolled back: LXC restores it (what finishes a rollback interrupted
# after lxc-stop, or retries one whose restore failed).
before=$(lines)
t_run t_ctl_json rollback web 1
t_assert_eq "$T_RC" 0 "rollback of the stopped LXC container: $T_ERR"
t_assert_eq "$(jq -r .safety_pair <<<"$T_OUT")" null "no safety pair of a stopped container"
[ "$(lines)" -lt "$before" ] || t_fail "the rollback of the stopped container did not bring the file back"
assert_lxc_owns "$(jq -r .root_pid <<<"$T_OUT")"
t_assert_eq "$(jq -r '.[] | select(.name == "web") | .state' <<<"$(t_ctl_json containers)")" running "containers, restored"
assert_sequence
assert_grows
lxc-stop -n "$NAME" -P "$LXCP" -t 10 || t_fail "lxc-stop failed"
t_run t_ctl restore web 1 --processes-only
t_assert_contains "$T_ERR" "restore --processes-only is not available for LXC= containers" "restore"

printf '[Container]\nLXC=nosuch\nLXCPath=%s\n' "$LXCP" >"$T/etc/containers.d/gone.conf"
mkdir -p "$LXCP/plain/rootfs"
printf 'lxc.rootfs.path = dir:%s\n' "$LXCP/plain/rootfs" >"$LXCP/plain/config"
printf '[Container]\nLXC=plain\nLXCPath=%s\n' "$LXCP" >"$T/etc/containers.d/plain.conf"
printf '[Container]\nLXC=%s\nLXCPath=%s\nVolume=%s\n' "$NAME" "$LXCP" "$MNT/elsewhere" >"$T/etc/containers.d/other.conf"
btrfs -q subvolume create "$MNT/elsewhere" >/dev/null
kill -HUP "$CKPTD_PID"
t_wait_until 5 configured plain || t_fail "ckptd did not reload its configuration"
t_run t_ctl freeze-and-dump gone
t_assert_contains "$T_ERR" "no LXC container nosuch in $LXCP ($LXCP/nosuch/config does not exist)" "missing container"
t_run t_ctl freeze-and-dump plain
t_assert_contains "$T_ERR" "LXC container plain: its rootfs $LXCP/plain/rootfs is not a volume ckptd can snapshot" "plain dir"
t_run t_ctl freeze-and-dump other
t_assert_contains "$T_ERR" "its rootfs $ROOTFS is on none of the configured volumes (Volume=$MNT/elsewhere)" "Volume="
t_pass
