#!/bin/sh
# The `lvm` suite, inside the guest (tests/vm/run-vm-test.sh boots it): the project's own ckptd
# and ckptctl with cryo workloads (each in its own PID namespace and cgroup) writing into files on
# LVM volumes: thick and thin LVs, and a container that mixes btrfs and LVM.
#   thin:   freeze-and-dump, damage (delete the file), rollback with something holding the mount
#           busy (clear error naming it), rollback, rollback again to the same pair (its
#           snapshot survives), verify
#   thick:  freeze-and-dump, damage, rollback (the merge consumes the pair's snapshot: verify says
#           so and a second rollback to it is refused), undo through the safety pair
#   mixed:  btrfs subvolume + thin LV in one pair, damage both, rollback, both consistent
#   refused: a thick snapshot that does not fit in the VG; overflowed thick snapshot in verify
#   timing: frozen window and snapshot time, btrfs vs thick vs thin; LVM commands alone -- only
#           with TIMING=1 in /ckptd-test/params (CKPTD_VM_PARAMS; bench/lvm does that): numbers,
#           never asserted, that the suite in CI need not spend 40 s of emulation on
# After every rollback: the file exists again, byte i == 'a' + i % 26 throughout, and it grows.
set -u
. /ckptd-test/guest-lib.sh
TIMING=0
. /ckptd-test/params

step "setup: LVM on /dev/vda (2 GiB), btrfs on /dev/vdb"
run pvcreate -q /dev/vda
run vgcreate -q vg0 /dev/vda
run lvcreate -q -y -L 256M -n thick vg0
run lvcreate -q -y --type thin-pool -L 384M -n pool vg0
run lvcreate -q -y -V 1G --thin -n thin vg0/pool
run lvcreate -q -y -V 512M --thin -n thin2 vg0/pool
for lv in thick thin thin2; do
	run mkfs.ext4 -q -E nodiscard /dev/vg0/$lv
	mkdir -p /srv/$lv
	run mount /dev/vg0/$lv /srv/$lv
done
run mkfs.btrfs -q /dev/vdb
mkdir -p /mnt/btrfs
run mount /dev/vdb /mnt/btrfs
run btrfs -q subvolume create /mnt/btrfs/vol
say "setup done"
lvs -o lv_name,lv_attr,lv_size,pool_lv vg0
vgs vg0

container thick thick SnapshotSize=20% lvm:vg0/thick
container thin thin lvm:vg0/thin
container mixed mixed /mnt/btrfs/vol lvm:vg0/thin2
container btr mixed /mnt/btrfs/vol
container big thick SnapshotSize=2G lvm:vg0/thick
container ovf thick SnapshotSize=8M lvm:vg0/thick
daemon_start
ckptctl containers

# ---------------------------------------------------------------------------------------------
step "thin: freeze-and-dump"
workload thin /srv/thin/data
sleep 1
P=$(ctl freeze-and-dump thin) || exit 1
timings "$P"
ID=$(echo "$P" | jq -r .id)
SNAP=$(echo "$P" | jq -r '.volumes[0].snapshot')
[ "$SNAP" = "lvm:vg0/thin-ckptd-$ID" ] || fail "snapshot location is '$SNAP'"
A=$(lv_attr vg0/thin-ckptd-$ID)
say "thin pair $ID: snapshot $SNAP, lv_attr $A"
case "$A" in V[r]???????k*) ;; *) fail "thin snapshot attributes '$A': expected a read-only thin LV with activation skip" ;; esac

step "thin: damage, then rollback while another process keeps the mount busy"
sleep 1
rm /srv/thin/data
(cd /srv/thin && exec sleep 600) &
HOLDER=$!
sleep 0.2
OUT=$(ctl_fails rollback thin "$ID" --no-safety-pair) || exit 1
echo "$OUT"
case "$OUT" in *busy*"pid $HOLDER (sleep)"*) ;; *) fail "the error does not name the holder pid $HOLDER (sleep)" ;; esac
kill $HOLDER
wait $HOLDER 2>/dev/null
is_mounted /srv/thin || fail "/srv/thin is not mounted after the failed rollback"
lv_exists vg0/thin-ckptd-next && fail "leftover vg0/thin-ckptd-next"

step "thin: rollback (the container's tasks are gone now: no safety pair)"
R=$(ctl rollback thin "$ID") || exit 1
echo "$R" | jq -c .
L=$(check_pattern /srv/thin/data) || exit 1
say "thin: file consistent, $L bytes"
assert_grows /srv/thin/data
lv_exists vg0/thin-ckptd-$ID || fail "the pair's thin snapshot vg0/thin-ckptd-$ID is gone"
lv_exists vg0/thin-ckptd-old && fail "leftover vg0/thin-ckptd-old"
is_mounted /srv/thin || fail "/srv/thin is not mounted after the rollback"

step "thin: rollback to the same pair again, with a safety pair"
sleep 1
rm /srv/thin/data
R=$(ctl rollback thin "$ID") || exit 1
echo "$R" | jq -c .
[ "$(echo "$R" | jq -r .safety_pair)" != null ] || fail "no safety pair taken"
L=$(check_pattern /srv/thin/data) || exit 1
say "thin: file consistent, $L bytes"
assert_grows /srv/thin/data
V=$(ctl verify thin "$ID") || exit 1
[ "$(echo "$V" | jq -r .ok)" = true ] || fail "verify thin $ID: $V"
say "thin: verify $ID ok"
lvs -o lv_name,lv_attr,lv_size,origin,data_percent vg0

# ---------------------------------------------------------------------------------------------
step "thick: freeze-and-dump (SnapshotSize=20%)"
workload thick /srv/thick/data
sleep 1
P=$(ctl freeze-and-dump thick) || exit 1
timings "$P"
ID=$(echo "$P" | jq -r .id)
A=$(lv_attr vg0/thick-ckptd-$ID)
say "thick pair $ID: snapshot $(echo "$P" | jq -r '.volumes[0].snapshot'), lv_attr $A"
case "$A" in sr??a*) ;; *) fail "thick snapshot attributes '$A': expected an active read-only snapshot" ;; esac

step "thick: damage, rollback (merges and so consumes the pair's snapshot)"
sleep 1
rm /srv/thick/data
R=$(ctl rollback thick "$ID") || exit 1
echo "$R" | jq -c .
SAFETY=$(echo "$R" | jq -r .safety_pair)
[ "$SAFETY" != null ] || fail "no safety pair taken"
L=$(check_pattern /srv/thick/data) || exit 1
say "thick: file consistent, $L bytes"
assert_grows /srv/thick/data
grep -m1 "merging the thick snapshot" "$CKPTD_LOG" || fail "ckptd did not warn that the thick snapshot was consumed"
lv_exists vg0/thick-ckptd-$ID && fail "vg0/thick-ckptd-$ID still exists after the merge"
V=$(ckptctl --json verify thick "$ID")
echo "$V" | jq -c .
[ "$(echo "$V" | jq -r .ok)" = false ] || fail "verify of a consumed thick pair says ok"
OUT=$(ctl_fails rollback thick "$ID") || exit 1
echo "$OUT"
case "$OUT" in *"thick-ckptd-$ID is missing"*) ;; *) fail "second rollback to a consumed pair: unclear error" ;; esac

step "thick: undo through the safety pair $SAFETY (its snapshot survived the merge)"
A=$(lv_attr vg0/thick-ckptd-$SAFETY)
case "$A" in s???a*) ;; *) fail "safety snapshot attributes '$A'" ;; esac
R=$(ctl rollback thick "$SAFETY" --no-safety-pair) || exit 1
echo "$R" | jq -c .
# The safety pair holds the state just before the rollback: the data file had been deleted (cryo
# still wrote into it through its open descriptor; CRIU keeps such a file with the image).
[ -e /srv/thick/data ] && fail "/srv/thick/data exists after the undo: it had been deleted before the rollback"
[ -n "$(cat /sys/fs/cgroup/thick/cgroup.procs)" ] || fail "no task runs in cgroup thick after the undo"
say "thick: back at the state before the rollback: data file deleted, cryo running (pid $(echo "$R" | jq -r .root_pid))"
cgroup_kill thick
workload thick /srv/thick/data

# ---------------------------------------------------------------------------------------------
step "mixed: btrfs subvolume + thin LV in one pair"
mkdir -p /sys/fs/cgroup/mixed
sh -c 'echo $$ >/sys/fs/cgroup/mixed/cgroup.procs && exec unshare --pid --fork setsid sh -c "cryo /mnt/btrfs/vol/data --interval-ms 5 & exec cryo /srv/thin2/data --interval-ms 5"' \
	</dev/null >/dev/null 2>&1 &
sleep 1.5
[ -s /mnt/btrfs/vol/data ] && [ -s /srv/thin2/data ] || fail "the mixed workload does not write"
P=$(ctl freeze-and-dump mixed) || exit 1
timings "$P"
echo "$P" | jq -c '[.volumes[] | {backend, snapshot}]'
ID=$(echo "$P" | jq -r .id)
sleep 1
rm /mnt/btrfs/vol/data /srv/thin2/data
R=$(ctl rollback mixed "$ID") || exit 1
echo "$R" | jq -c .
L=$(check_pattern /mnt/btrfs/vol/data) || exit 1
say "mixed: btrfs file consistent, $L bytes"
L=$(check_pattern /srv/thin2/data) || exit 1
say "mixed: LVM file consistent, $L bytes"
assert_grows /mnt/btrfs/vol/data
assert_grows /srv/thin2/data

# ---------------------------------------------------------------------------------------------
step "refused: a thick snapshot that does not fit in the volume group"
N=$(lvs --noheadings vg0 | wc -l)
OUT=$(ctl_fails freeze-and-dump big) || exit 1
echo "$OUT"
case "$OUT" in *"does not fit"*"volume group vg0"*) ;; *) fail "unclear error for a snapshot that does not fit" ;; esac
[ "$(lvs --noheadings vg0 | wc -l)" = "$N" ] || fail "a refused pair left an LV behind"
[ "$(cat /sys/fs/cgroup/thick/cgroup.freeze)" = 0 ] || fail "cgroup thick left frozen"
assert_grows /srv/thick/data

step "overflow: a thick snapshot (SnapshotSize=8M) whose origin then changes by 24 MiB"
P=$(ctl freeze-and-dump ovf) || exit 1
ID=$(echo "$P" | jq -r .id)
run dd if=/dev/zero of=/srv/thick/fill bs=1M count=24 conv=fsync 2>/dev/null
sync
say "lv_attr of vg0/thick-ckptd-$ID: $(lv_attr vg0/thick-ckptd-$ID)"
V=$(ckptctl --json verify ovf "$ID")
echo "$V" | jq -c .
case "$V" in *overflowed*) ;; *) fail "verify does not report the overflowed snapshot" ;; esac
OUT=$(ckptctl verify ovf "$ID" 2>&1)
echo "$OUT"
run ckptctl delete ovf "$ID"
lv_exists vg0/thick-ckptd-$ID && fail "delete left vg0/thick-ckptd-$ID"
rm -f /srv/thick/fill

# ---------------------------------------------------------------------------------------------
if [ "$TIMING" != 1 ]; then
	daemon_stop
	step "PASS"
	exit 0
fi
step "timing: 3 pairs each (software emulation: absolute numbers are slow, compare them)"
for c in btr thick thin; do
	for i in 1 2 3; do
		P=$(ctl freeze-and-dump $c) || exit 1
		echo "$P" | jq -r --arg c "$c" '"timing \($c): snapshot_usec \(.timings.snapshot_usec) frozen_usec \(.frozen_usec) dump_usec \(.timings.dump_usec)"'
		run ckptctl delete $c "$(echo "$P" | jq -r .id)"
	done
done
# The LVM commands alone (3 runs each, ms; /proc/uptime has 10 ms steps): what of lvcreate's time
# is the device-mapper suspend (with the filesystem freeze) and what is the command itself.
now() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
measure() { # LABEL CMD...
	label=$1
	shift
	times=
	for i in 1 2 3; do
		t=$(now)
		"$@" >/dev/null 2>&1 || fail "$label: $* failed"
		times="$times $(($(now) - t))"
		case "$label" in *snapshot*) lvremove -q -y vg0/t >/dev/null 2>&1 ;; esac
	done
	say "timing: $label:$times ms"
}
measure "lvs (start-up, scan, metadata read)" lvs vg0
measure "two dmsetup info (process start-up only)" sh -c 'dmsetup info vg0-thin2 && dmsetup info vg0-thin2'
measure "dmsetup suspend+resume of mounted vg0/thin2 (fs freeze)" sh -c 'dmsetup suspend vg0-thin2 && dmsetup resume vg0-thin2'
measure "dmsetup suspend+resume of mounted vg0/thick (fs freeze)" sh -c 'dmsetup suspend vg0-thick && dmsetup resume vg0-thick'
measure "lvcreate thin snapshot of mounted vg0/thin2" lvcreate -q -s -ky -pr -n t vg0/thin2
measure "lvcreate thin snapshot, no metadata backup (-An)" lvcreate -q -An -s -ky -pr -n t vg0/thin2
measure "lvcreate thick snapshot of mounted vg0/thick" lvcreate -q -s -L 16M -pr -n t vg0/thick
measure "lvcreate thick snapshot, no metadata backup (-An)" lvcreate -q -An -s -L 16M -pr -n t vg0/thick

daemon_stop
step "PASS"
exit 0
