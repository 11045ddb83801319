#!/usr/bin/env bash
# [Container] Machine=NAME against a real systemd-machined: systemd is not PID 1 on the host, so a
# guest tree (guest-tree.sh, with systemd-container) is booted with systemd-nspawn --boot and
# ckptd runs inside it under systemd, as in test-timer.sh. Inside the guest a second
# systemd-nspawn (nested, started with systemd-run, registered with machined: -M, no
# --register=no) runs a machine whose root is a btrfs subvolume and whose PID 1 is cryo, writing
# its pattern file. ckptd is configured with Machine= only (no Cgroup=, no Volume=):
#   - a machine machined does not know: a clear error naming it;
#   - inspect resolves leader, unit, cgroup and root directory (the volume) from machined;
#   - freeze-and-dump records the registration in pair.json; rollback kills the machine (nspawn
#     exits, machined drops the machine, systemd its scope), restores it into a new transient
#     scope of the same name and registers the restored leader: machinectl list / status / show
#     show it with the new leader, Service=ckptd; the scope holds the restored tree only; the
#     boot id is intact; cryo writes on. Twice (a restored machine is checkpointed and rolled
#     back again);
#   - machinectl terminate stops the restored machine (machined and systemd manage it); then a
#     rollback brings it back from the registration its pair recorded.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/guest-boot.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn, loop devices, mounts)"
for tool in systemd-nspawn nsenter mkfs.btrfs btrfs jq; do
	command -v "$tool" >/dev/null || fail "$tool is missing (tools/setup installs it)"
done
[ -x /opt/ckptd/criu/bin/criu ] || fail "no CRIU >= 4.2 in /opt/ckptd/criu (tools/setup installs it)"
case $(ldd "$CKPTD") in *libasan*) fail "$CKPTD is a sanitizer build; the guest has no libasan" ;; esac

TREE=$("$HERE/guest-tree.sh") || fail "no guest tree"
ROOT=$TMP/root
VOL=$TMP/vol
INNER=ckptd-inner  # the nested machine; its scope is machine-ckptd\x2dinner.scope
UNIT='machine-ckptd\x2dinner.scope'

cleanup() {
	guest_stop
	mountpoint -q "$ROOT" && { umount "$ROOT" || umount -l "$ROOT"; }
	if mountpoint -q "$VOL"; then
		umount "$VOL" || umount -l "$VOL"
	fi
	losetup -j "$TMP/vol.img" -O NAME --noheadings 2>/dev/null | xargs -r -n1 losetup -d 2>/dev/null || true
	return 0
}

gfail() {
	if [ ${#G[@]} -gt 0 ]; then
		echo "---- guest journal (ckptd, machined, the nested nspawn) ----" >&2
		"${G[@]}" journalctl -b --no-pager -o short-precise -u ckptd.service -u systemd-machined.service \
			-u ckptd-test-inner.service -u "$UNIT" 2>&1 | tail -n 60 >&2 || true
	fi
	fail "$@"
}

info "guest tree $TREE; overlay at $ROOT"
mkdir -p "$TMP/upper" "$TMP/work" "$ROOT" "$VOL"
mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$TMP/upper,workdir=$TMP/work" "$ROOT" ||
	fail "cannot mount an overlay of $TREE"
install_into "$ROOT"
mkdir -p "$ROOT/opt/ckptd" "$ROOT/usr/local/sbin" "$ROOT/etc/ckptd/containers.d"
cp -a /opt/ckptd/criu "$ROOT/opt/ckptd/"
ln -sfn /opt/ckptd/criu/bin/criu "$ROOT/usr/local/sbin/criu"
cp "$CRYO" "$ROOT/usr/local/bin/cryo"
printf '[Container]\nMachine=%s\n' "$INNER" >"$ROOT/etc/ckptd/containers.d/inner.conf"
printf '[Container]\nMachine=ckptd-nosuch\nVolume=/srv/vols/inner\n' >"$ROOT/etc/ckptd/containers.d/nosuch.conf"

info "btrfs volume on a loop device; the nested machine's root is its subvolume 'inner'"
truncate -s 300M "$TMP/vol.img"
mkfs.btrfs -q "$TMP/vol.img" >/dev/null 2>&1 || fail "mkfs.btrfs failed"
mount -o loop "$TMP/vol.img" "$VOL" || fail "cannot mount the btrfs image"
btrfs -q subvolume create "$VOL/inner" >/dev/null || fail "cannot create the subvolume"
# A minimal tree: the guest's /usr is bound in read-only (merged /usr: the rest are symlinks).
mkdir -p "$VOL/inner/usr" "$VOL/inner/etc" "$VOL/inner/tmp" "$VOL/inner/var" "$VOL/inner/run" "$VOL/inner/data"
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$VOL/inner/$d"; done
cp "$TREE/usr/lib/os-release" "$VOL/inner/etc/os-release"

info "booting the guest"
guest_boot "$ROOT" "ckptd-test-$$" "ckptd-test-machine.$$" --bind="$VOL:/srv/vols"
info "guest running"

info "starting machine $INNER in the guest (nested systemd-nspawn -M, registered with machined)"
# SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: nspawn cannot tell which cgroup mode cryo wants and would
# bind a name=systemd v1 hierarchy into the machine, which CRIU cannot checkpoint.
"${G[@]}" systemd-run --quiet --collect --unit=ckptd-test-inner -E SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
	systemd-nspawn -q -M "$INNER" -D /srv/vols/inner --bind-ro=/usr \
	/usr/bin/bash -c 'exec </dev/null >/dev/null 2>&1; exec /usr/local/bin/cryo /data/cryo.txt --interval-ms 20' ||
	gfail "cannot start the nested nspawn"
machine_leader() { "${G[@]}" machinectl show "$INNER" -p Leader --value 2>/dev/null; }
for _ in $(seq 100); do
	[ -n "$(machine_leader)" ] && [ -s "$VOL/inner/data/cryo.txt" ] && break
	sleep 0.1
done
leader0=$(machine_leader)
[ -n "$leader0" ] || gfail "machine $INNER did not register: $("${G[@]}" machinectl list 2>&1)"
"${G[@]}" machinectl status "$INNER" --no-pager | sed 's/^/  /'
"${G[@]}" systemctl start ckptd.socket || gfail "cannot start ckptd.socket"
# A neighbour in the same slice: the rollbacks' kill, wait and scope steps must leave it alone.
"${G[@]}" systemd-run --quiet --collect --unit=ckptd-test-neighbour --slice=machine sleep 1000 ||
	gfail "cannot start the neighbour"
neighbour=$("${G[@]}" systemctl show -P MainPID ckptd-test-neighbour.service)

info "a machine machined does not know: a clear error naming it"
if out=$("${G[@]}" ckptctl inspect nosuch 2>&1); then gfail "inspect of an unknown machine succeeded: $out"; fi
grep -qF "machine ckptd-nosuch is not registered with systemd-machined" <<<"$out" ||
	gfail "inspect of an unknown machine: unexpected error: $out"
info "  $out"

info "inspect resolves the machine from machined"
json=$("${G[@]}" ckptctl --json inspect inner) || gfail "inspect failed: $json"
jq -c '{machine, cgroup, root: .root.volume, checkpointable}' <<<"$json"
want=$(jq -nc --arg n "$INNER" --arg u "$UNIT" --argjson l "$leader0" \
	'{name: $n, unit: $u, leader: $l, class: "container", service: "systemd-nspawn",
	  root_directory: "/srv/vols/inner", cgroup: ("/sys/fs/cgroup/machine.slice/" + $u + "/payload")}')
got=$(jq -c '.machine | {name, unit, leader, class, service, root_directory, cgroup}' <<<"$json")
[ "$(jq -S . <<<"$got")" = "$(jq -S . <<<"$want")" ] || gfail "inspect .machine: $got, expected $want"
[ "$(jq -r '[.cgroup, .root.volume, .checkpointable] | join(" ")' <<<"$json")" = \
	"/sys/fs/cgroup/machine.slice/$UNIT/payload /srv/vols/inner true" ] ||
	gfail "inspect: cgroup/volume/checkpointable: $(jq -c '[.cgroup, .root.volume, .checkpointable, .problems]' <<<"$json")"
"${G[@]}" ckptctl inspect inner | grep -F "Machine: $INNER (systemd-machined: leader $leader0, unit $UNIT, class container, registered by systemd-nspawn, root /srv/vols/inner)" ||
	gfail "ckptctl inspect does not show the machine: $("${G[@]}" ckptctl inspect inner 2>&1 | head -5)"
machine_id=$("${G[@]}" machinectl show "$INNER" -p Id --value)
[ "$(jq -r .machine.id <<<"$json")" = "$machine_id" ] || gfail "inspect .machine.id is not machined's $machine_id"
# (Pids are the guest's: read /proc inside it.)
boot_id=$("${G[@]}" cat "/proc/$leader0/root/proc/sys/kernel/random/boot_id")
[ -n "$boot_id" ] || gfail "the machine has an empty boot id"

prev_leader=$leader0
for round in 1 2; do
	info "round $round: freeze-and-dump, then rollback"
	pair=$("${G[@]}" ckptctl --json freeze-and-dump inner) || gfail "freeze-and-dump failed: $pair"
	id=$(jq -r .id <<<"$pair")
	rec=$(jq -c '.discovery.machine | {name, id, unit, leader, class, root_directory}' <<<"$pair")
	[ "$rec" = "$(jq -nc --arg n "$INNER" --arg i "$machine_id" --arg u "$UNIT" --argjson l "$prev_leader" \
		'{name: $n, id: $i, unit: $u, leader: $l, class: "container", root_directory: "/srv/vols/inner"}')" ] ||
		gfail "pair.json discovery.machine: $rec"
	info "  pair $id: frozen $(jq -r .frozen_usec <<<"$pair") us; recorded $rec"
	result=$("${G[@]}" ckptctl --json rollback inner "$id" --no-safety-pair) || gfail "rollback failed: $result"
	new=$(jq -r .root_pid <<<"$result")
	info "  rolled back: root pid $new (was $prev_leader); timings $(jq -c .timings <<<"$result"); machined and the unit: $(jq -c .machine_registered.timings <<<"$result")"
	# (nspawn's propagation directory made again is the one warning expected: nspawn removed it.)
	[ "$(jq -r '[.warnings[] | select(contains("/run/systemd/nspawn/propagate/") | not)] | length' <<<"$result")" = 0 ] ||
		gfail "rollback warnings: $(jq -c .warnings <<<"$result")"
	[ "$new" != "$prev_leader" ] || gfail "the root pid did not change"
	[ "$(jq -r '.machine_registered | [.name, .id, .unit, .leader, .service, .class, .root_directory] | join(" ")' \
		<<<"$result")" = "$INNER $machine_id $UNIT $new ckptd container /srv/vols/inner" ] ||
		gfail "rollback: machine_registered is $(jq -c .machine_registered <<<"$result")"
	show=$("${G[@]}" machinectl show "$INNER" -p Leader -p Service -p Unit -p Class -p RootDirectory -p Id -p State) ||
		gfail "machined does not know $INNER after the rollback: $("${G[@]}" machinectl list 2>&1)"
	for w in "Leader=$new" Service=ckptd "Unit=$UNIT" Class=container RootDirectory=/srv/vols/inner \
		"Id=$machine_id" State=running; do
		grep -qxF "$w" <<<"$show" || gfail "machinectl show $INNER: expected $w; got $(tr '\n' ' ' <<<"$show")"
	done
	status=$("${G[@]}" machinectl status "$INNER" --no-pager)
	grep -qE "Leader: $new \(cryo\)" <<<"$status" || gfail "machinectl status does not show leader $new: $status"
	"${G[@]}" machinectl list --no-legend | grep -qE "^$INNER +container +ckptd" ||
		gfail "machinectl list: $("${G[@]}" machinectl list 2>&1)"
	# The scope holds the restored tree, in payload/ as nspawn had it, and nothing else (ckptd's
	# placeholder is gone).
	scope=/sys/fs/cgroup/machine.slice/$UNIT
	[ "$("${G[@]}" systemctl is-active "$UNIT")" = active ] || gfail "$UNIT is not active"
	[ -z "$("${G[@]}" cat "$scope/cgroup.procs")" ] || gfail "$scope holds $("${G[@]}" cat "$scope/cgroup.procs")"
	[ "$("${G[@]}" cat "$scope/payload/cgroup.procs")" = "$new" ] ||
		gfail "$scope/payload holds $("${G[@]}" cat "$scope/payload/cgroup.procs"), not $new"
	got_boot=$("${G[@]}" cat "/proc/$new/root/proc/sys/kernel/random/boot_id")
	[ "$got_boot" = "$boot_id" ] || gfail "boot id after the rollback: '$got_boot', was '$boot_id'"
	before=$(stat -c %s "$VOL/inner/data/cryo.txt")
	sleep 0.3
	[ "$(stat -c %s "$VOL/inner/data/cryo.txt")" -gt "$before" ] || gfail "the restored cryo does not write"
	prev_leader=$new
done

[ "$("${G[@]}" systemctl show -P MainPID ckptd-test-neighbour.service)" = "$neighbour" ] ||
	gfail "the neighbour in machine.slice (pid $neighbour) did not survive the rollbacks"
[ "$("${G[@]}" ckptctl --json containers | jq -r '.[] | select(.name == "inner") | .state')" = running ] ||
	gfail "ckptctl containers: $("${G[@]}" ckptctl containers 2>&1)"

info "machinectl terminate stops the restored machine"
"${G[@]}" machinectl terminate "$INNER" || gfail "machinectl terminate failed"
for _ in $(seq 100); do
	"${G[@]}" machinectl show "$INNER" >/dev/null 2>&1 || break
	sleep 0.1
done
! "${G[@]}" machinectl show "$INNER" >/dev/null 2>&1 || gfail "$INNER is still registered after terminate"
! "${G[@]}" kill -0 "$prev_leader" 2>/dev/null || gfail "the restored leader $prev_leader survived terminate"

info "a machine machined no longer knows is rolled back from the registration its pair recorded"
out=$("${G[@]}" ckptctl rollback inner "$id" --no-safety-pair) || gfail "rollback of the stopped machine failed: $out"
echo "${out//$'\n'/$'\n'  }" | sed '1s/^/  /'
new=$(sed -n 's/^Rolled back inner to pair [0-9]*: root pid \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $new && "$(machine_leader)" == "$new" ]] ||
	gfail "after the rollback of the stopped machine machined says leader '$(machine_leader)', not '$new'"
grep -qxF "Machine $INNER registered with systemd-machined again: leader $new, unit $UNIT." <<<"$out" ||
	gfail "ckptctl rollback does not say that the machine was registered again"
[ "$("${G[@]}" machinectl show "$INNER" -p Id --value)" = "$machine_id" ] || gfail "the machine id was not kept"
before=$(stat -c %s "$VOL/inner/data/cryo.txt")
sleep 0.3
[ "$(stat -c %s "$VOL/inner/data/cryo.txt")" -gt "$before" ] || gfail "the restored cryo does not write"

info "ok"
