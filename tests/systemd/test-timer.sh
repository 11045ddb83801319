#!/usr/bin/env bash
# Periodic checkpoints under a real systemd: a cached Debian 12 tree (guest-tree.sh) booted with
# systemd-nspawn --boot, ckptd installed into it with meson install. A container scheduled
# OnCalendar=*:*:0/5 with KeepLast=2: ckptd-generator must enable its timer at boot, the timer
# must start ckptd-checkpoint@.service, which (through socket activation of ckptd.service)
# must take real pairs (frozen windows, btrfs snapshots, CRIU images), and retention must keep
# the newest 2. A second container with an invalid OnCalendar= must be reported and get no
# timer, and a changed schedule must apply after daemon-reload. A rollback under systemd must
# leave the restored tree outside ckptd.service, so that restarting ckptd (KillMode=mixed)
# does not kill it. Everything is undone at exit:
# the machine is stopped, the overlay and the btrfs image unmounted, the cgroups removed.
#
# Facts this relies on (see shared/notes/systemd-guest.md): --register=no --keep-unit (no
# machined here); the nspawn process in its own host cgroups; SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
# so that the guest has a pure cgroup2 (cgroup.freeze in a Delegate=yes unit);
# SYSTEMD_SECCOMP=0, SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 and --capability=all for CRIU.
. "$(dirname "$0")/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn, loop devices, mounts)"
for tool in systemd-nspawn nsenter mkfs.btrfs btrfs python3; do
	command -v "$tool" >/dev/null || fail "$tool is missing (tools/setup installs it)"
done
[ -x /opt/ckptd/criu/bin/criu ] || fail "no CRIU >= 4.2 in /opt/ckptd/criu (tools/setup installs it)"
case $(ldd "$CKPTD") in *libasan*) fail "$CKPTD is a sanitizer build; the guest has no libasan" ;; esac

TREE=$("$HERE/guest-tree.sh") || fail "no guest tree"
MACHINE=ckptd-test-$$
CG=ckptd-test-timer.$$
ROOT=$TMP/root
VOL=$TMP/vol
G=()       # set once the guest runs: nsenter into it
nspawn_pid=""

cgroup_dirs() { # the host cgroups the nspawn process is put into
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		echo "/sys/fs/cgroup/$CG"
	else
		[ -d /sys/fs/cgroup/unified ] && echo "/sys/fs/cgroup/unified/$CG"
		[ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/$CG"
	fi
	return 0
}

cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# nspawn turns SIGTERM into a clean halt of the guest (≈ 1-2 s); a guest still
		# booting may not have its signal handlers yet and ignore it: then SIGKILL its PID 1,
		# which ends the whole PID namespace, and nspawn with it.
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		if ! timeout 10 tail --pid="$nspawn_pid" -f /dev/null; then
			echo "$TEST_NAME: the guest did not halt within 10 s; killing it" >&2
			local pid1
			for pid1 in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
				kill -KILL "$pid1" 2>/dev/null || true
			done
			timeout 10 tail --pid="$nspawn_pid" -f /dev/null || kill -KILL "$nspawn_pid" 2>/dev/null || true
		fi
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	mountpoint -q "$ROOT" && { umount "$ROOT" || umount -l "$ROOT"; }
	if mountpoint -q "$VOL"; then
		umount "$VOL" || umount -l "$VOL"
	fi
	# mount -o loop detaches the loop device on umount; make sure.
	losetup -j "$TMP/vol.img" -O NAME --noheadings 2>/dev/null | xargs -r -n1 losetup -d 2>/dev/null || true
	local d
	for d in $(cgroup_dirs); do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] && echo "$TEST_NAME: could not remove cgroup $d" >&2
	done
	return 0
}

# On failure: what the guest says about ckptd and the checkpoints.
guest_logs() {
	[ ${#G[@]} -gt 0 ] || return 0
	echo "---- guest journal (ckptd, checkpoints, generator) ----" >&2
	"${G[@]}" journalctl -b --no-pager -o short-precise -u ckptd.service -u ckptd.socket \
		-u 'ckptd-checkpoint@*' -u ckptd-test-workload.service 2>&1 | tail -n 60 >&2 || true
}
gfail() {
	guest_logs
	fail "$@"
}

info "guest tree $TREE; overlay at $ROOT"
mkdir -p "$TMP/upper" "$TMP/work" "$ROOT" "$VOL"
mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$TMP/upper,workdir=$TMP/work" "$ROOT" ||
	fail "cannot mount an overlay of $TREE"

info "meson install into the guest, with CRIU, cryo and the workload"
install_into "$ROOT"
mkdir -p "$ROOT/opt/ckptd" "$ROOT/usr/local/lib/ckptd-test" "$ROOT/usr/local/sbin"
cp -a /opt/ckptd/criu "$ROOT/opt/ckptd/"
ln -sfn /opt/ckptd/criu/bin/criu "$ROOT/usr/local/sbin/criu"
cp "$CRYO" "$ROOT/usr/local/bin/cryo"
cp "$HERE/guest-workload.sh" "$ROOT/usr/local/lib/ckptd-test/workload"
mkdir -p "$ROOT/etc/ckptd/containers.d"
cat >"$ROOT/etc/ckptd/containers.d/sleeper.conf" <<'EOF'
[Container]
Cgroup=/sys/fs/cgroup/system.slice/ckptd-test-workload.service/payload
Volume=/srv/vols/data
[Schedule]
OnCalendar=*:*:0/5
[Retention]
KeepLast=2
EOF
cat >"$ROOT/etc/ckptd/containers.d/badcal.conf" <<'EOF'
[Container]
Cgroup=/sys/fs/cgroup/nothing
Volume=/srv/vols/data
[Schedule]
OnCalendar=every full moon
EOF

info "btrfs volume on a loop device, bound into the guest at /srv/vols"
truncate -s 300M "$TMP/vol.img"
mkfs.btrfs -q "$TMP/vol.img" >/dev/null 2>&1 || fail "mkfs.btrfs failed"
mount -o loop "$TMP/vol.img" "$VOL" || fail "cannot mount the btrfs image"
btrfs -q subvolume create "$VOL/data" >/dev/null || fail "cannot create the subvolume"

info "booting the guest"
for d in $(cgroup_dirs); do mkdir -p "$d"; done
# --console=read-only: the guest's console (where generators write when there is no
# /dev/kmsg, as in a container) is copied to console.log.
(
	for d in $(cgroup_dirs); do echo "$BASHPID" >"$d/cgroup.procs"; done
	exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 \
		systemd-nspawn -q --boot --register=no --keep-unit --console=read-only --capability=all \
		-D "$ROOT" -M "$MACHINE" --bind="$VOL:/srv/vols"
) </dev/null >"$TMP/console.log" 2>&1 &
nspawn_pid=$!
boot_start=$(date +%s%N)
leader=""
for _ in $(seq 200); do
	for c in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && leader=$c
	done
	[ -n "$leader" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$leader" ] || fail "no systemd in the guest within 10 s; console: $(tail -n 20 "$TMP/console.log")"
G=(timeout 30 nsenter -t "$leader" -a)
# systemctl fails until the guest's D-Bus (or systemd's private socket) is up: retry.
state=""
for _ in $(seq 100); do
	state=$("${G[@]}" systemctl is-system-running --wait 2>&1) || true
	case $state in running | degraded) break ;; esac
	sleep 0.1
done
case $state in
running) ;;
degraded) info "guest degraded: $("${G[@]}" systemctl --failed --no-legend --plain | tr '\n' ' ')" ;;
*) gfail "guest did not reach running: '$state'; console: $(tail -n 20 "$TMP/console.log")" ;;
esac
info "guest running after $((($(date +%s%N) - boot_start) / 1000000)) ms"

info "the generator enabled the timer with the configured schedule, and reported the invalid one"
[ "$("${G[@]}" systemctl is-active ckptd-checkpoint@sleeper.timer)" = active ] ||
	gfail "ckptd-checkpoint@sleeper.timer is not active"
calendar=$("${G[@]}" systemctl show -P TimersCalendar ckptd-checkpoint@sleeper.timer)
[[ $calendar == *"OnCalendar=*-*-* *:*:00/5 "* ]] || gfail "timer schedule is '$calendar', not *:*:0/5"
[ "$("${G[@]}" systemctl is-active ckptd-checkpoint@badcal.timer)" != active ] ||
	gfail "a timer runs for the invalid OnCalendar= of badcal"
grep -qF "/etc/ckptd/containers.d/badcal.conf: [Schedule] OnCalendar=every full moon: not a valid calendar expression" \
	"$TMP/console.log" || gfail "the generator's error about badcal.conf is not on the console: $(cat "$TMP/console.log")"

info "starting the workload (cryo in its own PID namespace)"
"${G[@]}" systemd-run --quiet --unit=ckptd-test-workload -p Delegate=yes /usr/local/lib/ckptd-test/workload ||
	gfail "cannot start the workload"
workload_start=$(date +%s)

info "waiting for 3 timer-driven pairs (one every 5 s) and retention down to 2"
declare -A seen=()
deadline=$((SECONDS + 45))
while [ "$SECONDS" -lt "$deadline" ]; do
	# Until the first timer run, nothing has started ckptd.socket: ckptctl exits 3 then.
	json=$("${G[@]}" ckptctl --json list sleeper 2>/dev/null) || json='[]'
	ids=$(python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.loads(sys.argv[1])))' "$json")
	for id in $ids; do seen[$id]=1; done
	[ "${#seen[@]}" -ge 3 ] && break
	sleep 1
done
[ "${#seen[@]}" -ge 3 ] || gfail "only ${#seen[@]} pair(s) (${!seen[*]}) within 45 s of starting the workload"
info "pairs seen: $(printf '%s\n' "${!seen[@]}" | sort -n | tr '\n' ' ')after $(($(date +%s) - workload_start)) s"
# Stop the schedule so that the catalog and the volume hold still while they are compared; a
# checkpoint in progress finishes first (stopping a timer does not stop its service).
"${G[@]}" systemctl stop ckptd-checkpoint@sleeper.timer || gfail "cannot stop the timer"
for _ in $(seq 300); do
	[ "$("${G[@]}" systemctl is-active ckptd-checkpoint@sleeper.service)" != activating ] && break
	sleep 0.1
done
list=$("${G[@]}" ckptctl --json list sleeper) || gfail "ckptctl list failed"
python3 - "$list" "$(printf '%s\n' "${!seen[@]}" | sort -n | tail -n 2 | tr '\n' ' ')" \
	"$(ls "$VOL/.ckptd/sleeper")" <<'EOF' || gfail "the pairs are not what retention should leave (above)"
import json, sys
pairs = json.loads(sys.argv[1])
ids = [p["id"] for p in pairs]
snapshots = sorted(int(x) for x in sys.argv[3].split())
newest_seen = [int(x) for x in sys.argv[2].split()]
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print("  " + msg, file=sys.stderr)
        ok = False
check(len(pairs) == 2, f"KeepLast=2, but {len(pairs)} pairs are listed: {ids}")
check(ids[-1] >= newest_seen[-1], f"the newest pair seen ({newest_seen[-1]}) is gone: {ids}")
check(snapshots == sorted(ids), f"snapshots on the volume {snapshots} != listed pairs {ids}")
for p in pairs:
    check(p.get("state") == "complete", f"pair {p.get('id')} is {p.get('state')}")
    check(p.get("frozen_usec", 0) > 0, f"pair {p.get('id')}: no frozen window recorded")
    check(p.get("timings", {}).get("freeze_usec") is not None, f"pair {p.get('id')}: no freeze timing")
    check(p.get("images", {}).get("files", 0) > 0, f"pair {p.get('id')}: no CRIU images")
    check(p.get("tag") is None, f"pair {p.get('id')}: unexpected tag {p.get('tag')}")
    print(f"  pair {p['id']}: created {p['created']}, frozen {p['frozen_usec'] / 1000:.1f} ms, "
          f"{p['images']['files']} image files")
sys.exit(0 if ok else 1)
EOF

info "every checkpoint after the first success succeeded; the pairs are consistent"
journal=$("${G[@]}" journalctl -b --no-pager -o cat -u ckptd-checkpoint@sleeper.service)
after_first=$(sed -n '/^Pair sleeper\/[0-9]* complete/,$p' <<<"$journal")
! grep -qi 'failed' <<<"$after_first" || gfail "a scheduled checkpoint failed: $(grep -i failed <<<"$after_first")"
newest=$(ls "$VOL/.ckptd/sleeper" | sort -n | tail -n 1)
python3 - "$VOL/.ckptd/sleeper/$newest/data/cryo.txt" <<'EOF' || gfail "snapshot of pair $newest is not cryo's pattern"
import sys
data = open(sys.argv[1], "rb").read()
bad = next((i for i, b in enumerate(data) if b != ord("a") + i % 26), None)
if not data or bad is not None:
    sys.exit(f"  {sys.argv[1]}: {len(data)} bytes, first wrong byte at {bad}")
print(f"  snapshot {sys.argv[1]}: {len(data)} bytes of the pattern")
EOF
events=$("${G[@]}" cat /sys/fs/cgroup/system.slice/ckptd-test-workload.service/payload/cgroup.events)
grep -q '^frozen 0' <<<"$events" || gfail "the workload's cgroup was left frozen: $events"
before=$(stat -c %s "$VOL/data/cryo.txt")
sleep 0.5
[ "$(stat -c %s "$VOL/data/cryo.txt")" -gt "$before" ] || gfail "the workload stopped writing"

info "rollback to pair $newest, then restart ckptd.service: the restored workload lives on"
payload=/sys/fs/cgroup/system.slice/ckptd-test-workload.service/payload
old_pid=$("${G[@]}" cat "$payload/cgroup.procs")
out=$("${G[@]}" ckptctl rollback sleeper "$newest" --no-safety-pair 2>&1) || gfail "rollback failed: $out"
echo "$out" | sed 's/^/  /'
new_pid=$("${G[@]}" cat "$payload/cgroup.procs")
[ -n "$new_pid" ] && [ "$new_pid" != "$old_pid" ] ||
	gfail "after the rollback the workload's cgroup holds '$new_pid' (before: $old_pid)"
"${G[@]}" systemctl restart ckptd.service || gfail "systemctl restart ckptd.service failed"
sleep 0.5
[ "$("${G[@]}" cat "$payload/cgroup.procs")" = "$new_pid" ] ||
	gfail "the restored workload (pid $new_pid) did not survive a restart of ckptd.service"
before=$(stat -c %s "$VOL/data/cryo.txt")
sleep 0.5
[ "$(stat -c %s "$VOL/data/cryo.txt")" -gt "$before" ] || gfail "the restored workload does not write"

info "ckptd.service: socket-activated, Type=notify with watchdog, no restarts"
props=$("${G[@]}" systemctl show -p ActiveState -p UnitFileState -p WatchdogUSec -p NRestarts \
	-p StatusText -p Type ckptd.service)
# NRestarts counts automatic restarts (Restart=on-failure, a watchdog timeout), not ours.
for want in ActiveState=active UnitFileState=disabled WatchdogUSec=30s NRestarts=0 Type=notify; do
	grep -qx "$want" <<<"$props" || gfail "ckptd.service: expected $want; got: $(tr '\n' ' ' <<<"$props")"
done
grep -q '^StatusText=.\+' <<<"$props" || gfail "ckptd.service has no STATUS= text"
info "  $(grep StatusText <<<"$props")"

info "a changed configuration: daemon-reload applies the schedule, systemctl reload the rest"
sed -i 's|^OnCalendar=.*|OnCalendar=*:*:0/7|; s|^KeepLast=.*|KeepLast=3|' "$ROOT/etc/ckptd/containers.d/sleeper.conf"
"${G[@]}" systemctl daemon-reload || gfail "daemon-reload failed"
calendar=$("${G[@]}" systemctl show -P TimersCalendar ckptd-checkpoint@sleeper.timer)
[[ $calendar == *"OnCalendar=*-*-* *:*:00/7 "* ]] || gfail "after daemon-reload the schedule is '$calendar'"
main_pid=$("${G[@]}" systemctl show -P MainPID ckptd.service)
"${G[@]}" systemctl reload ckptd.service || gfail "systemctl reload ckptd.service failed"
[ "$("${G[@]}" systemctl show -P MainPID ckptd.service)" = "$main_pid" ] || gfail "reload restarted ckptd"
"${G[@]}" journalctl -b -u ckptd.service -o cat | grep -q '^Configuration reloaded' ||
	gfail "ckptd did not reload its configuration on systemctl reload"

info "ok"
