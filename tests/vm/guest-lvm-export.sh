#!/bin/sh
# The `lvm` suite, export and import of LVM volumes (inside the guest; tests/vm/run-vm-test.sh
# boots it): two "hosts" in one guest. Host A is the guest's ckptd with volume group vg0 on
# /dev/vda; host B is a second ckptd (its own configuration, state and socket) in a mount namespace
# of its own, with volume group vgB on /dev/vdb, whose LVs are mounted there at the paths A's are
# mounted at (as on two real hosts: the CRIU image names files by path).
#   thin:   a pair of a thin LV exported (a sparse block copy: only blocks that are not all zeroes
#           travel), imported on B (a thin LV vgB/thin-ckptd-ID in vgB/thin's pool, read-only,
#           activation skip, as B's own snapshots), rolled back on B where the workload never
#           ran: it runs there, consistent, and a file written before the pair is intact
#   refused: a truncated stream (nothing left on B), an LV already named like the next snapshot
#           (left alone), a volume B does not have
#   thick:  a pair of a thick LV: imported as a copy-on-write snapshot of B's LV of the same size
#           (the blocks that are zeroes in the stream written as zeroes), rolled back (merged)
#   killed: B killed (kill -9) while receiving: its next start removes the LV it was making
#           (tagged ckptd_receiving); one that lost the tag is kept and reported
# After every rollback the file exists, every byte at offset i is 'a' + i % 26, and it grows.
set -u
. /ckptd-test/guest-lib.sh

step "setup: vg0 on /dev/vda (host A), vgB on /dev/vdb (host B)"
# The base image's filter admits /dev/vda only: admit vdb too.
sed -i 's#"a|^/dev/vda$|"#"a|^/dev/vd[ab]$|"#' /etc/lvm/lvm.conf
grep -q 'vd\[ab\]' /etc/lvm/lvm.conf || fail "cannot admit /dev/vdb in lvm.conf"
for d in a b; do
	vg=vg0
	[ $d = b ] && vg=vgB
	run pvcreate -q /dev/vd$d
	run vgcreate -q $vg /dev/vd$d
	run lvcreate -q -y --type thin-pool -L 256M -n pool $vg
	run lvcreate -q -y -V 256M --thin -n thin $vg/pool
	run lvcreate -q -y -L 64M -n thick $vg
	for lv in thin thick; do
		run mkfs.ext4 -q -E nodiscard /dev/$vg/$lv
	done
done
for lv in thin thick; do
	mkdir -p /srv/$lv
	run mount /dev/vg0/$lv /srv/$lv
done
lvs -o lv_name,lv_attr,lv_size,pool_lv vg0 vgB

# Host B's configuration first (container() writes into A's directory), then A's.
mkdir -p /etc/ckptdB/containers.d /var/lib/ckptdB /sys/fs/cgroup/thinB /sys/fs/cgroup/thickB
container thin thinB lvm:vgB/thin
container thick thickB lvm:vgB/thick
mv /etc/ckptd/containers.d/thin.conf /etc/ckptd/containers.d/thick.conf /etc/ckptdB/containers.d/
container thin thinA lvm:vg0/thin
container thick thickA SnapshotSize=50% lvm:vg0/thick
daemon_start

# Host B: its own configuration, state and socket; vgB's LVs at /srv/thin and /srv/thick in its
# own mount namespace.
B_SOCKET=/run/ckptdB.sock
b_start() {
	rm -f "$B_SOCKET"
	unshare --mount --propagation private sh -c '
		umount /srv/thin && umount /srv/thick || exit 99
		mount /dev/vgB/thin /srv/thin && mount /dev/vgB/thick /srv/thick || exit 98
		exec ckptd --config-dir /etc/ckptdB --state-dir /var/lib/ckptdB --socket "$0" --criu /usr/sbin/criu \
			--log-level debug
	' "$B_SOCKET" >>/tmp/ckptdB.log 2>&1 </dev/null &
	B_PID=$!
	i=0
	while [ ! -S "$B_SOCKET" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || { tail -20 /tmp/ckptdB.log; fail "host B's ckptd did not start"; }
		kill -0 $B_PID 2>/dev/null || { tail -20 /tmp/ckptdB.log; fail "host B's ckptd exited at start"; }
		sleep 0.1
	done
}
b_start
BROOT=/proc/$B_PID/root
is_mounted /srv/thin || fail "host A lost /srv/thin"
grep -q " /srv/thin " /proc/$B_PID/mounts || fail "host B has nothing at /srv/thin"
# ctlB ARGS...: B's ckptctl --json, like ctl
ctlB() {
	if ! ckptctl --socket "$B_SOCKET" --json "$@" >/tmp/ctl.out 2>/tmp/ctl.err; then
		cat /tmp/ctl.err >&2
		tail -n 30 /tmp/ckptdB.log >&2
		fail "B: ckptctl $* failed"
	fi
	cat /tmp/ctl.out
}
ctlB_fails() {
	if ckptctl --socket "$B_SOCKET" "$@" >/tmp/ctl.out 2>/tmp/ctl.err; then
		cat /tmp/ctl.out >&2
		fail "B: ckptctl $* succeeded, but should have failed"
	fi
	cat /tmp/ctl.err
}
b_pairs() { ckptctl --socket "$B_SOCKET" --json list "$1" | jq length; }
b_next_id() { echo $(($(cat /var/lib/ckptdB/containers/$1/last-id 2>/dev/null || echo 0) + 1)); }
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# ---------------------------------------------------------------------------------------------
step "thin: a pair on A, exported"
run dd if=/dev/urandom of=/srv/thin/big bs=1M count=8 2>/dev/null
BIG=$(sha256sum </srv/thin/big)
workload thinA /srv/thin/data
sleep 1
LEN=$(size_of /srv/thin/data) # cryo writes on: the pair's file is at least this long
P=$(ctl freeze-and-dump thin) || exit 1
ID=$(echo "$P" | jq -r .id)
t=$(now_ms)
ckptctl --json export thin "$ID" -o /tmp/thin.stream >/tmp/export.json 2>/tmp/export.err ||
	{ cat /tmp/export.err; fail "export of thin pair $ID failed"; }
say "timing: export of the thin pair: $(($(now_ms) - t)) ms"
jq -c '{bytes, members: [.members[] | select(.name | startswith("volumes"))]}' /tmp/export.json
VOL=$(jq '.members[] | select(.name == "volumes/0") | .bytes' /tmp/export.json)
# The LV is 256 MiB; what is written (ext4's metadata, 8 MiB, the data file) is a few MiB.
[ "$VOL" -gt 8000000 ] || fail "the volume stream ($VOL bytes) cannot hold the 8 MiB file"
[ "$VOL" -lt 64000000 ] || fail "the volume stream ($VOL bytes) of a 256 MiB thin LV is not sparse"
[ "$(lv_attr vg0/thin-ckptd-$ID | cut -c5)" = a ] && fail "the exported thin snapshot was left active"
say "thin: pair $ID exported, volume stream $VOL bytes of a 256 MiB LV"

step "refused on B: a truncated stream, an LV in the way, a volume B does not have"
SIZE=$(size_of /tmp/thin.stream)
head -c $((SIZE - 70000)) /tmp/thin.stream >/tmp/cut.stream
N=$(b_next_id thin)
OUT=$(ctlB_fails import thin -i /tmp/cut.stream) || exit 1
echo "$OUT"
[ "$(b_pairs thin)" = 0 ] || fail "a truncated stream left a pair on B"
lv_exists vgB/thin-ckptd-$N && fail "a truncated stream left vgB/thin-ckptd-$N"
N=$(b_next_id thin)
run lvcreate -q -y -V 16M --thin -n thin-ckptd-$N vgB/pool
OUT=$(ctlB_fails import thin -i /tmp/thin.stream) || exit 1
echo "$OUT"
case "$OUT" in *"vgB/thin-ckptd-$N already exists"*) ;; *) fail "unclear error for an LV in the way" ;; esac
lv_exists vgB/thin-ckptd-$N || fail "the import removed vgB/thin-ckptd-$N, which it had not made"
[ "$(b_pairs thin)" = 0 ] || fail "the refused import left a pair on B"
run lvremove -q -y vgB/thin-ckptd-$N
run lvrename -q vgB thin thin-gone
OUT=$(ctlB_fails import thin -i /tmp/thin.stream) || exit 1
echo "$OUT"
case "$OUT" in *"lvm:vgB/thin does not exist on this host"*) ;; *) fail "unclear error for a missing volume" ;; esac
run lvrename -q vgB thin-gone thin
[ "$(lvs --noheadings vgB | wc -l)" = 3 ] || { lvs vgB; fail "refused imports left LVs in vgB"; }

step "thin: import on B, rollback there (the workload never ran on B)"
t=$(now_ms)
I=$(ctlB import thin -i /tmp/thin.stream) || exit 1
say "timing: import of the thin pair: $(($(now_ms) - t)) ms"
echo "$I" | jq -c .
BID=$(echo "$I" | jq -r .pair)
SNAP=$(echo "$I" | jq -r '.volumes[0].snapshot')
[ "$SNAP" = "lvm:vgB/thin-ckptd-$BID" ] || fail "imported snapshot at '$SNAP'"
A=$(lv_attr vgB/thin-ckptd-$BID)
case "$A" in V[r]???????k*) ;; *) fail "imported thin snapshot attributes '$A': expected a read-only thin LV with activation skip" ;; esac
T=$(lvs --noheadings -o lv_tags vgB/thin-ckptd-$BID | tr -d ' ')
[ -z "$T" ] || fail "the imported LV keeps the tags '$T'"
ctlB verify thin "$BID" | jq -e .ok >/dev/null || fail "verify of the imported pair on B"
t=$(now_ms)
R=$(ctlB rollback thin "$BID") || exit 1
say "timing: rollback on B: $(($(now_ms) - t)) ms"
echo "$R" | jq -c .
[ -n "$(cat /sys/fs/cgroup/thinB/cgroup.procs)" ] || fail "nothing runs in cgroup thinB after the rollback on B"
[ "$(size_of "$BROOT/srv/thin/data")" -ge "$LEN" ] || fail "B's data file is shorter than at the pair"
L=$(check_pattern "$BROOT/srv/thin/data") || exit 1
assert_grows "$BROOT/srv/thin/data"
[ "$(sha256sum <"$BROOT/srv/thin/big")" = "$BIG" ] || fail "the 8 MiB file differs on B"
say "thin: pair $ID of A runs on B as pair $BID: file consistent ($L bytes), the 8 MiB file intact"
lv_exists vgB/thin-ckptd-$BID || fail "the rollback consumed B's thin snapshot"
lvs -o lv_name,lv_attr,lv_size,pool_lv,data_percent vgB

# ---------------------------------------------------------------------------------------------
step "thick: a pair on A, exported, imported on B as a snapshot of vgB/thick, rolled back (merge)"
workload thickA /srv/thick/data
sleep 1
LEN=$(size_of /srv/thick/data) # cryo writes on: the pair's file is at least this long
P=$(ctl freeze-and-dump thick) || exit 1
ID=$(echo "$P" | jq -r .id)
ckptctl --json export thick "$ID" -o /tmp/thick.stream >/tmp/export.json 2>/tmp/export.err ||
	{ cat /tmp/export.err; fail "export of thick pair $ID failed"; }
VOL=$(jq '.members[] | select(.name == "volumes/0") | .bytes' /tmp/export.json)
say "thick: pair $ID exported, volume stream $VOL bytes of a 64 MiB LV"
[ "$VOL" -lt 32000000 ] || fail "the volume stream ($VOL bytes) of a 64 MiB thick LV is not sparse"
I=$(ctlB import thick -i /tmp/thick.stream) || exit 1
echo "$I" | jq -c .
BID=$(echo "$I" | jq -r .pair)
A=$(lv_attr vgB/thick-ckptd-$BID)
case "$A" in sr??a*) ;; *) fail "imported thick snapshot attributes '$A': expected an active read-only snapshot" ;; esac
[ "$(lvs --noheadings -o origin vgB/thick-ckptd-$BID | tr -d ' ')" = thick ] || fail "the imported thick LV is not a snapshot of vgB/thick"
R=$(ctlB rollback thick "$BID") || exit 1
echo "$R" | jq -c .
[ -n "$(cat /sys/fs/cgroup/thickB/cgroup.procs)" ] || fail "nothing runs in cgroup thickB after the rollback on B"
[ "$(size_of "$BROOT/srv/thick/data")" -ge "$LEN" ] || fail "B's thick data file is shorter than at the pair"
L=$(check_pattern "$BROOT/srv/thick/data") || exit 1
assert_grows "$BROOT/srv/thick/data"
say "thick: pair $ID of A runs on B as pair $BID: file consistent ($L bytes)"

# ---------------------------------------------------------------------------------------------
step "B killed (kill -9) during an import: the next start removes the LV it was receiving"
cgroup_kill thinB
cgroup_kill thickB
# interrupted_import: starts an import of /tmp/thin2.stream from a FIFO, feeds it a part, waits
# until B is receiving into vgB/thin-ckptd-$N (tagged), kills B; the client is reaped.
interrupted_import() {
	N=$(b_next_id thin)
	rm -f /tmp/fifo
	mkfifo /tmp/fifo
	ckptctl --socket "$B_SOCKET" import thin -i /tmp/fifo >/dev/null 2>&1 &
	CLIENT=$!
	exec 3>/tmp/fifo
	say "import of pair $N started (client $CLIENT); feeding it"
	# the images and the first 8 MiB chunk of the volume: the receive starts once a chunk is checked
	head -c $(($(size_of /tmp/thin2.stream) - 300000)) /tmp/thin2.stream >&3
	say "fed; waiting for vgB/thin-ckptd-$N"
	i=0
	until [ "$(lvs --noheadings -o lv_tags vgB/thin-ckptd-$N 2>/dev/null | tr -d ' ')" = ckptd_receiving ]; do
		i=$((i + 1))
		if [ $i -ge 90 ]; then
			tail -n 25 /tmp/ckptdB.log
			lvs -a vgB
			fail "B did not start receiving into vgB/thin-ckptd-$N"
		fi
		sleep 0.5
	done
	kill -KILL $B_PID
	wait $B_PID 2>/dev/null
	exec 3>&-
	wait $CLIENT 2>/dev/null
	say "B killed while receiving into vgB/thin-ckptd-$N"
}
# A pair B has not imported yet (B refuses a pair twice, before receiving anything).
P=$(ctl freeze-and-dump thin) || exit 1
ID=$(echo "$P" | jq -r .id)
ckptctl export thin "$ID" -o /tmp/thin2.stream 2>/dev/null || fail "export of thin pair $ID failed"
export LVM_SUPPRESS_FD_WARNINGS=1 # the feeding descriptor is open in this shell
PAIRS=$(b_pairs thin)
interrupted_import
lv_exists vgB/thin-ckptd-$N || fail "vgB/thin-ckptd-$N is gone before the restart"
b_start
lv_exists vgB/thin-ckptd-$N && fail "the restarted B did not remove the half-received vgB/thin-ckptd-$N"
[ "$(b_pairs thin)" = "$PAIRS" ] || fail "pairs of thin on B after the interrupted import: $(b_pairs thin), was $PAIRS"
grep -q "thin: removed half-made pair $N of an interrupted import" /tmp/ckptdB.log || fail "B's recovery did not say what it removed"

step "the same, but the LV lost its tag before the restart: kept, reported"
interrupted_import
run lvchange -q --deltag ckptd_receiving vgB/thin-ckptd-$N
b_start
lv_exists vgB/thin-ckptd-$N || fail "the restarted B removed vgB/thin-ckptd-$N, which had no ckptd_receiving tag"
grep "vgB/thin-ckptd-$N exists without the tag" /tmp/ckptdB.log || fail "B's recovery did not report the untagged LV"
[ "$(b_pairs thin)" = "$PAIRS" ] || fail "the interrupted import is listed as a pair"
kill -TERM $B_PID 2>/dev/null
wait $B_PID 2>/dev/null
daemon_stop
step "PASS"
exit 0
