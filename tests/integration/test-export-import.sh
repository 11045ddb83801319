#!/usr/bin/env bash
# Export and import between two "hosts" on this machine: two ckptd instances, each with its own
# configuration, state directory, cgroup and btrfs file system. Host B runs in a mount namespace
# of its own in which its btrfs is mounted at the path host A's has, so the container's volume
# has the same path on both (as on two real hosts) and CRIU finds the files where the image says.
# The pipe between `ckptctl export` (A) and `ckptctl import` (B) is the transport.
#   1. full: export -> import -> rollback on B, where the container never ran: the volume is made
#      from the snapshot, the workload runs on B, consistent (no gap, no duplicate).
#   2. incremental: pairs 2 and 3 exported with --base: their volume streams are small; B rolls
#      back to 3; the big file made before pair 1 is intact.
#   3. a stream whose base was not imported is refused, naming the base; nothing is left.
#   4. a corrupted (one byte flipped) and a truncated stream are refused; nothing is left.
#   5. a failing import deletes nothing it did not make: a pre-existing subvolume where the
#      snapshot would go, a planted symlink, a leftover .receive directory.
#   6. protocol: Export without a descriptor, with two, or with one open the wrong way.
#   7. a container with its own network namespace and a veth into host A's bridge: on B (its
#      own network namespace), BridgeMap= plugs the veth into B's bridge of another name.
#   8. [Replicate] Command=ckptctl import on B: three pairs in a row reach B (incrementally); a
#      refused one is reported by status and the next goes against the last that arrived.
#   9. migrate --remote (B's ckptctl): the source stops with the dump, B runs it, downtime
#      reported; a refused transfer starts the source again here; a second migration is
#      incremental; the veth container migrates into B's bridge (BridgeMap=).
#  10. ckptd killed (kill -9) in the middle of an import: its next start removes the half-made
#      pair and what the receive had made, from the journal's record.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 768) # host A's file system; host B mounts its own here, in its namespace
t_btrfs_subvol "$MNT/vol"
B=$(t_tmpdir)
truncate -s 768M "$B/image"
mkfs.btrfs -q "$B/image" >/dev/null 2>&1 || t_fail "mkfs.btrfs for host B failed"
B_SOCKET=$B/ckptd.sock

cgA=$(t_cgroup_create v2 exA)
cgB=$(t_cgroup_create v2 exB)
cgB2=$(t_cgroup_create v2 exB2)
data="$MNT/vol/ex.data"

t_write_container ex "$cgA" "$MNT/vol" </dev/null
CKPTD_CONFIG_DIR=$B/etc t_write_container ex "$cgB" "$MNT/vol" </dev/null
CKPTD_CONFIG_DIR=$B/etc t_write_container ex2 "$cgB2" "$MNT/vol2" </dev/null
S=$$
BRA=ckxa$S BRB=ckxb$S HOSTIF=ckxv$S # A's bridge, B's bridge, the veth's host end
cgN=$(t_cgroup_create v2 netA)
cgNB=$(t_cgroup_create v2 netB)
t_btrfs_subvol "$MNT/netvol"
t_write_container net "$cgN" "$MNT/netvol" </dev/null
printf '[Network]\nBridgeMap=%s=%s\n' "$BRA" "$BRB" | CKPTD_CONFIG_DIR=$B/etc t_write_container net "$cgNB" "$MNT/netvol"
cgR=$(t_cgroup_create v2 repA)
cgRB=$(t_cgroup_create v2 repB)
t_btrfs_subvol "$MNT/repvol"
printf '[Replicate]\nCommand=%s --socket %s import rep\n' "$CKPTCTL" "$B/ckptd.sock" | t_write_container rep "$cgR" "$MNT/repvol"
CKPTD_CONFIG_DIR=$B/etc t_write_container rep "$cgRB" "$MNT/repvol" </dev/null
cgM=$(t_cgroup_create v2 migA)
cgMB=$(t_cgroup_create v2 migB)
t_btrfs_subvol "$MNT/migvol"
t_write_container mig "$cgM" "$MNT/migvol" </dev/null
CKPTD_CONFIG_DIR=$B/etc t_write_container mig "$cgMB" "$MNT/migvol" </dev/null
t_daemon_start

# Host B: its file system at $MNT in a private mount namespace, its own network namespace (its
# bridge has another name than A's), its own ckptd there.
mkdir -p "$B/state" "$B/etc/containers.d"
unshare --mount --net --propagation private -- bash -c '
	mount -o loop "$1" "$2" || exit 99
	ip link set lo up || exit 98 # CRIU probes TCP repair over loopback
	btrfs -q subvolume create "$2/other" >/dev/null
	exec "$3" --config-dir "$4/etc" --state-dir "$4/state" --socket "$4/ckptd.sock" --log-level debug
' bash "$B/image" "$MNT" "$CKPTD" "$B" </dev/null >>"$B/ckptd.log" 2>&1 &
B_PID=$!
defer tail -n 25 "$B/ckptd.log" # host B's log, in the test's output
defer t__wait_dead "$B_PID" 10
defer sh -c 'kill -TERM "$1" 2>/dev/null || true' sh "$B_PID"
for ((i = 0; i < 500; i++)); do [ -S "$B_SOCKET" ] && break; t__alive "$B_PID" || break; sleep 0.02; done
[ -S "$B_SOCKET" ] || { cat "$B/ckptd.log" >&2; t_fail "host B's ckptd did not start"; }
BROOT=/proc/$B_PID/root # host B's view of the file system tree

ctlB() { "$CKPTCTL" --socket "$B_SOCKET" "$@"; }
b_nothing_left() { # CONTAINER VOLUME-BASENAME: B has no pair and no snapshot directory of it
	local n
	n=$(ctlB --json list "$1" | jq length)
	t_assert_eq "$n" 0 "pairs of $1 on B after a refused import"
	[ ! -e "$BROOT$MNT/.ckptd/$1" ] || t_fail "host B keeps $MNT/.ckptd/$1 after a refused import: $(ls -laR "$BROOT$MNT/.ckptd/$1")"
	if [ -d "$B/state/containers/$1/pairs" ]; then
		[ -z "$(ls -A "$B/state/containers/$1/pairs")" ] ||
			t_fail "host B keeps pair directories of $1: $(ls -A "$B/state/containers/$1/pairs")"
	fi
}
assert_grows() { # FILE
	local a b
	a=$(stat -c %s "$1"); sleep 0.4; b=$(stat -c %s "$1")
	[ "$b" -gt "$a" ] || t_fail "$1 does not grow ($a -> $b): the restored process is not writing"
}

# A big file that stays the same across pairs: incremental streams must not carry it again.
head -c 24M /dev/urandom >"$MNT/vol/big"
big_sum=$(sha256sum <"$MNT/vol/big")
t_start_in_cgroup "$cgA" "$CRYO" "$data" --interval-ms 4 >/dev/null
sleep 0.3

# ---- 1. full export -> import -> rollback on B ------------------------------------------------
id1=$(t_ctl_json freeze-and-dump ex | jq -r .id)
len1=$(stat -c %s "$MNT/.ckptd/ex/$id1/vol/ex.data")
t_ctl --json export ex "$id1" -o - 2>"$T/export1.json" | ctlB --json import ex >"$T/import1.json"
cat "$T/export1.json" "$T/import1.json"
full_vol=$(jq '.members[] | select(.name == "volumes/0") | .bytes' "$T/export1.json")
full_bytes=$(jq .bytes "$T/export1.json")
b1=$(jq -r .pair "$T/import1.json")
t_assert_eq "$(jq -r .origin.id "$T/import1.json")" "$id1" "origin id of the imported pair"
t_assert_eq "$(jq -r .bytes "$T/import1.json")" "$full_bytes" "bytes read by B vs written by A"
[ "$full_vol" -gt $((24 * 1024 * 1024)) ] || t_fail "full volume stream is only $full_vol bytes"
shown=$(ctlB --json show ex "$b1")
t_assert_eq "$(jq -r .origin.container <<<"$shown")" ex "origin recorded in pair.json"
t_assert_eq "$(jq -r .origin.host <<<"$shown")" "$(hostname)" "origin host"
t_assert_eq "$(jq -r '.volumes[0].snapshot' <<<"$shown")" "$MNT/.ckptd/ex/$b1/vol" "snapshot location on B"
ctlB verify ex "$b1" >/dev/null
[ ! -e "$BROOT$MNT/vol" ] || t_fail "B has the volume before any rollback"

out=$(ctlB --json rollback ex "$b1")
echo "$out"
t_assert_eq "$(jq -r .safety_pair <<<"$out")" null "safety pair where the container never ran"
t_assert_file_exists "$BROOT$data"
[ "$(stat -c %s "$BROOT$data")" -ge "$len1" ] || t_fail "B's data file is shorter than at the checkpoint"
assert_grows "$BROOT$data"
t_check_pattern "$BROOT$data" >/dev/null
t_assert_eq "$(sha256sum <"$BROOT$MNT/vol/big")" "$big_sum" "the big file on B"
[ "$(btrfs property get -ts "$BROOT$MNT/.ckptd/ex/$b1/vol" ro)" = "ro=true" ] || t_fail "B's snapshot is not read-only"
echo "1. full: pair $id1 runs on B as pair $b1 ($full_bytes bytes, volume $full_vol)"

# ---- 2. incremental: pairs 2 and 3 with --base ------------------------------------------------
id2=$(t_ctl_json freeze-and-dump ex | jq -r .id)
sleep 0.2
id3=$(t_ctl_json freeze-and-dump ex | jq -r .id)
len3=$(stat -c %s "$MNT/.ckptd/ex/$id3/vol/ex.data")
t_ctl --json export ex "$id2" --base "$id1" 2>"$T/export2.json" | ctlB --json import ex >"$T/import2.json"
t_ctl --json export ex "$id3" --base "$id2" -o "$T/stream3"
t_ctl --json export ex "$id3" --base "$id2" -o "$T/stream3" >"$T/export3.json" 2>&1 && t_fail "export overwrote a file"
t_ctl --json export ex "$id3" --base "$id2" -o "$T/stream3b" >"$T/export3.json"
ctlB --json import ex -i "$T/stream3b" >"$T/import3.json"
for n in 2 3; do
	vol=$(jq '.members[] | select(.name == "volumes/0") | .bytes' "$T/export$n.json")
	all=$(jq .bytes "$T/export$n.json")
	echo "incremental export of pair $n: $all bytes, volume stream $vol bytes (full: $full_vol)"
	[ "$vol" -lt $((full_vol / 20)) ] || t_fail "incremental volume stream of pair $n is not small: $vol of $full_vol"
	[ "$all" -lt "$full_bytes" ] || t_fail "incremental export of pair $n is not smaller than the full one"
done
b3=$(jq -r .pair "$T/import3.json")
t_assert_eq "$(jq -r .base "$T/import3.json")" "$id2" "base of the third stream"
ctlB rollback ex "$b3" --no-safety-pair >/dev/null
[ "$(stat -c %s "$BROOT$data")" -ge "$len3" ] || t_fail "B's data file is shorter than at pair $id3"
assert_grows "$BROOT$data"
t_check_pattern "$BROOT$data" >/dev/null
t_assert_eq "$(sha256sum <"$BROOT$MNT/vol/big")" "$big_sum" "the big file on B after the incremental pairs"
echo "2. incremental: B rolled back to pair $b3 (A's $id3)"

# ---- 3. the base is missing --------------------------------------------------------------------
t_run ctlB import ex2 -i "$T/stream3b"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "import without the base"
t_assert_contains "$T_ERR" "incremental against pair $(hostname):ex/$id2"
b_nothing_left ex2
t_run ctlB import ex -i "$T/stream3b"
t_assert_eq "$T_RC" 1 "importing a pair twice"
t_assert_contains "$T_ERR" "was imported already, as pair ex/$b3"
echo "3. missing base and duplicate refused"

# ---- 4. corrupted and truncated streams --------------------------------------------------------
t_ctl export ex "$id1" -o "$T/stream1" 2>/dev/null >/dev/null
size=$(stat -c %s "$T/stream1")
cp "$T/stream1" "$T/corrupt"
"$T_PYTHON" -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x55]))' \
	"$T/corrupt" $((size / 2))
t_run ctlB import ex2 --volume "$MNT/vol=$MNT/vol2" -i "$T/corrupt"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "import of a corrupted stream"
t_assert_contains "$T_ERR" "corrupted"
b_nothing_left ex2
for cut in $((size / 2)) $((size - 1100)) 100; do
	head -c "$cut" "$T/stream1" >"$T/truncated"
	t_run ctlB import ex2 -i "$T/truncated"
	echo "$T_ERR"
	t_assert_eq "$T_RC" 1 "import of a stream cut at $cut of $size bytes"
	b_nothing_left ex2
done
# The intact stream imports into ex2 (another volume path: --volume maps it).
ctlB import ex2 -i "$T/stream1" >/dev/null
[ -d "$BROOT$MNT/.ckptd/ex2" ] || t_fail "the good stream left no snapshot for ex2"
echo "4. corrupted and truncated streams refused, nothing left; the intact one imports"

# ---- 5. what a failing import must not touch ---------------------------------------------------
t_ctl export ex "$id2" -o "$T/stream2" >/dev/null # a pair ex2 has not imported yet
next() { echo $(($(cat "$B/state/containers/ex2/last-id") + 1)); }
# A subvolume already where the next snapshot would go (the stream is bad, too: it must fail).
n=$(next)
nsenter --mount="/proc/$B_PID/ns/mnt" -- sh -c "mkdir -p '$MNT/.ckptd/ex2/$n' && btrfs -q subvolume create '$MNT/.ckptd/ex2/$n/vol2' >/dev/null && echo mine >'$MNT/.ckptd/ex2/$n/vol2/marker'"
t_run ctlB import ex2 -i "$T/stream2"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "import onto a pre-existing subvolume"
t_assert_contains "$T_ERR" "already exists"
t_assert_eq "$(cat "$BROOT$MNT/.ckptd/ex2/$n/vol2/marker")" mine "the pre-existing subvolume"
# A leftover .receive directory holding a subvolume.
n=$(next)
nsenter --mount="/proc/$B_PID/ns/mnt" -- sh -c "mkdir -p '$MNT/.ckptd/ex2/$n/.receive' && btrfs -q subvolume create '$MNT/.ckptd/ex2/$n/.receive/vol' >/dev/null && echo mine >'$MNT/.ckptd/ex2/$n/.receive/vol/marker'"
t_run ctlB import ex2 -i "$T/stream2"
t_assert_eq "$T_RC" 1 "import onto a leftover .receive"
t_assert_contains "$T_ERR" "a leftover"
t_assert_eq "$(cat "$BROOT$MNT/.ckptd/ex2/$n/.receive/vol/marker")" mine "the leftover's subvolume"
# The next id's directory is a symlink to a directory holding a subvolume of that name.
n=$(next)
nsenter --mount="/proc/$B_PID/ns/mnt" -- sh -c "ln -s '$MNT/other' '$MNT/.ckptd/ex2/$n' && btrfs -q subvolume create '$MNT/other/vol2' >/dev/null && echo mine >'$MNT/other/vol2/marker'"
t_run ctlB import ex2 -i "$T/stream2"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "import through a planted symlink"
t_assert_contains "$T_ERR" "symlink"
t_assert_eq "$(cat "$BROOT$MNT/other/vol2/marker")" mine "the symlink's target"
[ -L "$BROOT$MNT/.ckptd/ex2/$n" ] || t_fail "the planted symlink was removed"
t_assert_eq "$(ctlB --json list ex2 | jq length)" 1 "pairs of ex2 after the refused imports"
# With the plants gone, the same stream imports.
ctlB import ex2 -i "$T/stream2" >/dev/null
echo "5. failing imports left the planted subvolumes and the symlink alone"

# ---- 6. protocol: the descriptor passed with the call ------------------------------------------
"$T_PYTHON" - "$CKPTD_SOCKET" "$id1" <<'EOF' >"$T/proto.out"
import array, json, os, socket, sys
def call(fds):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    msg = json.dumps({"method": "io.ckptd.Manager.Export",
                      "parameters": {"container": "ex", "id": int(sys.argv[2])}}).encode() + b"\0"
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([msg], anc)
    buf = b""
    while not buf.endswith(b"\0"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    print(buf.rstrip(b"\0").decode())
r, w = os.pipe()
call([])
call([w, w])
call([r])
EOF
cat "$T/proto.out"
mapfile -t replies <"$T/proto.out"
t_assert_contains "${replies[0]}" '"parameter":"fd"'
t_assert_contains "${replies[0]}" "pass the stream's file descriptor"
t_assert_contains "${replies[1]}" "exactly one file descriptor"
t_assert_contains "${replies[2]}" "not open for writing"
echo "6. protocol refusals ok"

# An LVM pair whose snapshot is not there (the record is planted: LVM itself runs in the qemu
# guest of tests/vm, suite lvm, which exports and imports real LVM pairs) is refused before
# anything is written, naming the snapshot.
lvdir=$T/state/containers/ex/pairs/99
mkdir -p "$lvdir/images"
jq '.id = 99 | .volumes = [{"backend": "lvm", "source": "lvm:vg0/data", "snapshot": "lvm:vg0/data-ckptd-99"}]' \
	"$T/state/containers/ex/pairs/$id1/pair.json" >"$lvdir/pair.json"
t_run t_ctl export ex 99 -o "$T/lvm.stream"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "export of a pair with a missing LVM snapshot"
t_assert_contains "$T_ERR" "snapshot lvm:vg0/data-ckptd-99 of pair ex/99 is missing: not exported"
[ ! -e "$T/lvm.stream" ] || t_fail "the refused export left its file"
rm -rf "$lvdir"
echo "6. an LVM pair without its snapshot is refused"


# ---- 7. a veth into a bridge, re-wired by BridgeMap= ------------------------------------------
ip link add "$BRA" type bridge
defer sh -c "ip link del $BRA 2>/dev/null || true"
ip link set "$BRA" up
nsenter --net="/proc/$B_PID/ns/net" -- sh -c "ip link add $BRB type bridge && ip link set $BRB up"
npid=$(t_start_in_cgroup "$cgN" unshare --net "$CRYO" "$MNT/netvol/n.data" --interval-ms 4)
ip link add "$HOSTIF" type veth peer name eth0 netns "$npid"
defer sh -c "ip link del $HOSTIF 2>/dev/null || true"
ip link set "$HOSTIF" master "$BRA" up
nsenter -t "$npid" -n sh -c "ip addr add 10.251.$((S % 250)).2/24 dev eth0 && ip link set eth0 up && ip link set lo up"
sleep 0.2
nid=$(t_ctl_json freeze-and-dump net | jq -r .id)
t_assert_eq "$(t_ctl_json show net "$nid" | jq -r '.discovery.network.veths[0].bridge')" "$BRA" "the veth's bridge in the pair"
t_ctl export net "$nid" 2>/dev/null | ctlB --json import net >"$T/importN.json"
bn=$(jq -r .pair "$T/importN.json")
out=$(ctlB --json rollback net "$bn")
echo "$out"
t_assert_contains "$(jq -r '.warnings[]' <<<"$out")" "goes into bridge $BRB instead of $BRA"
link=$(nsenter --net="/proc/$B_PID/ns/net" -- ip -o link show "$HOSTIF")
echo "$link"
t_assert_contains "$link" "master $BRB"
t_check_pattern "$BROOT$MNT/netvol/n.data" >/dev/null
assert_grows "$BROOT$MNT/netvol/n.data"
# Without the mapping, the rollback is refused before anything changes, naming A's bridge.
CKPTD_CONFIG_DIR=$B/etc t_write_container net "$cgNB" "$MNT/netvol" </dev/null
kill -HUP "$B_PID"
sleep 0.5
t_run ctlB rollback net "$bn" --no-safety-pair
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "rollback without BridgeMap= where A's bridge does not exist"
t_assert_contains "$T_ERR" "$BRA"
echo "7. the veth went into B's bridge $BRB (A's: $BRA)"

# ---- 8. [Replicate] Command=: every new pair streamed to B --------------------------------------
replicated() { t_ctl_json status | jq -r --arg c rep '.replication[]? | select(.container == $c) | .replicated // 0'; }
rep_error_pair() { t_ctl_json status | jq -r --arg c rep '.replication[]? | select(.container == $c) | .error.pair // 0'; }
b_origins() { ctlB --json list rep | jq -r '[.[].origin.id] | join(" ")'; }
t_start_in_cgroup "$cgR" "$CRYO" "$MNT/repvol/r.data" --interval-ms 4 >/dev/null
sleep 0.2
for k in 1 2 3; do t_ctl freeze-and-dump rep >/dev/null; done # none waits for a replication
t_wait_until 60 sh -c "[ \"\$($CKPTCTL --socket $CKPTD_SOCKET --json status | jq -r '.replication[]? | select(.container == \"rep\") | .replicated')\" = 3 ]" ||
	t_fail "pairs 1-3 were not replicated within 60 s: $(t_ctl_json status | jq -c .replication)"
t_assert_eq "$(b_origins)" "1 2 3" "origins of B's pairs of rep"
grep -q "rep: pair 3 replicated incrementally" "$CKPTD_LOG" || t_fail "pair 3 was not replicated incrementally"
# B refuses (the container is not configured there any more): the failure is in A's status.
rm "$B/etc/containers.d/rep.conf"
kill -HUP "$B_PID"
sleep 0.5
t_ctl freeze-and-dump rep >/dev/null # pair 4
t_wait_until 60 sh -c "[ \"\$($CKPTCTL --socket $CKPTD_SOCKET --json status | jq -r '.replication[]? | select(.container == \"rep\") | .error.pair')\" = 4 ]" ||
	t_fail "the failed replication of pair 4 is not in status: $(t_ctl_json status | jq -c .replication)"
st=$(t_ctl status)
echo "$st"
t_assert_contains "$st" "rep: replication of pair 4 failed"
t_assert_eq "$(replicated)" 3 "last replicated pair after a failure"
# B takes pairs again: the next pair goes, incrementally against pair 3, which B has.
CKPTD_CONFIG_DIR=$B/etc t_write_container rep "$cgRB" "$MNT/repvol" </dev/null
kill -HUP "$B_PID"
sleep 0.5
t_ctl freeze-and-dump rep >/dev/null # pair 5
t_wait_until 60 sh -c "[ \"\$($CKPTCTL --socket $CKPTD_SOCKET --json status | jq -r '.replication[]? | select(.container == \"rep\") | .replicated')\" = 5 ]" ||
	t_fail "pair 5 was not replicated: $(t_ctl_json status | jq -c .replication)"
t_assert_eq "$(rep_error_pair)" 0 "the failure is cleared once a pair went through"
t_assert_eq "$(b_origins)" "1 2 3 5" "origins of B's pairs of rep after the retry"
grep -q "rep: pair 5 replicated incrementally" "$CKPTD_LOG" || t_fail "pair 5 was not replicated incrementally against pair 3"
b5=$(ctlB --json list rep | jq -r '.[-1].id')
ctlB rollback rep "$b5" >/dev/null
assert_grows "$BROOT$MNT/repvol/r.data"
t_check_pattern "$BROOT$MNT/repvol/r.data" >/dev/null
echo "8. pairs 1-3 and 5 replicated to B (4 failed and was reported); B runs the last one"

# ---- 9. migrate ---------------------------------------------------------------------------------
REMOTE="$CKPTCTL --socket $B_SOCKET"
mdata=$MNT/migvol/m.data
t_start_in_cgroup "$cgM" "$CRYO" "$mdata" --interval-ms 4 >/dev/null
sleep 0.2
out=$(t_ctl_json migrate mig --remote "$REMOTE")
echo "$out"
m1=$(jq -r .pair <<<"$out")
t_assert_eq "$(jq -r .base <<<"$out")" null "base of the first migration"
t_assert_eq "$(jq -r .source_stopped <<<"$out")" true "source stopped"
[ "$(jq -r .timings.downtime_usec <<<"$out")" -gt 0 ] || t_fail "no downtime reported"
t_wait_until 5 sh -c "[ -z \"\$(cat $cgM/cgroup.procs)\" ]" || t_fail "the source still runs after migrate: $(cat "$cgM/cgroup.procs")"
len=$(stat -c %s "$MNT/.ckptd/mig/$m1/migvol/m.data")
[ "$(stat -c %s "$BROOT$mdata")" -ge "$len" ] || t_fail "B's data file is shorter than at the migration's pair"
assert_grows "$BROOT$mdata"
t_check_pattern "$BROOT$mdata" >/dev/null
# A transfer that fails (B does not know the container now): the source is started again here.
t_ctl rollback mig "$m1" --no-safety-pair >/dev/null # A runs it again (B too: two copies)
mv "$B/etc/containers.d/mig.conf" "$B/mig.conf"
kill -HUP "$B_PID"
sleep 0.5
t_run t_ctl migrate mig --remote "$REMOTE"
echo "$T_ERR"
t_assert_eq "$T_RC" 1 "migrate to a destination that refuses the import"
t_assert_contains "$T_ERR" "was started again here from pair"
assert_grows "$mdata"
t_check_pattern "$mdata" >/dev/null
mv "$B/mig.conf" "$B/etc/containers.d/mig.conf"
kill -HUP "$B_PID"
sleep 0.5
# Again, now incrementally against the pair B has from the first migration.
out=$(t_ctl_json migrate mig --remote "$REMOTE")
echo "$out"
t_assert_eq "$(jq -r .base <<<"$out")" "$m1" "base of the second migration"
[ -z "$(cat "$cgM/cgroup.procs")" ] || t_fail "the source still runs after the second migrate"
assert_grows "$BROOT$mdata"
t_check_pattern "$BROOT$mdata" >/dev/null
echo "9. migrate: full then incremental, downtime $(jq -r .timings.downtime_usec <<<"$out") us; a refused transfer restarted the source"

# The container with a veth into a bridge (case 7), migrated: on B it goes into B's bridge.
printf '[Network]\nBridgeMap=%s=%s\n' "$BRA" "$BRB" | CKPTD_CONFIG_DIR=$B/etc t_write_container net "$cgNB" "$MNT/netvol"
kill -HUP "$B_PID"
sleep 0.5
out=$(t_ctl_json migrate net --remote "$REMOTE")
echo "$out"
t_assert_eq "$(jq -r .base <<<"$out")" "$nid" "base of the veth container's migration"
t_wait_until 5 sh -c "[ -z \"\$(cat $cgN/cgroup.procs)\" ]" || t_fail "the veth container still runs on A"
t_assert_contains "$(nsenter --net="/proc/$B_PID/ns/net" -- ip -o link show "$HOSTIF")" "master $BRB"
assert_grows "$BROOT$MNT/netvol/n.data"
t_check_pattern "$BROOT$MNT/netvol/n.data" >/dev/null
echo "9. migrate of the veth container: downtime $(jq -r .timings.downtime_usec <<<"$out") us"

# ---- 10. ckptd killed in the middle of an import -----------------------------------------------
# (on host A, into another container: the stream is pair 1's, fed through a FIFO in two parts)
t_write_container self "$cgB2" "$MNT/selfvol" </dev/null # never started; only imported into
kill -HUP "$CKPTD_PID"
sleep 0.5
mkfifo "$T/fifo"
t_ctl import self -i "$T/fifo" >/dev/null 2>&1 &
client=$!
exec {w}>"$T/fifo"
head -c 20M "$T/stream1" >&"$w" # the record, the images and two of the volume's chunks
t_wait_until 10 sh -c "ls -A '$MNT/.ckptd/self/'*/ 2>/dev/null | grep -q ." || t_fail "the receive did not start"
ls -la "$MNT/.ckptd/self/"*/
ls "$T/state/journal/"
t_daemon_kill9
exec {w}>&-
wait "$client" || true
t_daemon_start
t_assert_eq "$(t_ctl_json list self | jq length)" 0 "pairs of self after the interrupted import"
[ ! -e "$MNT/.ckptd/self" ] || t_fail "the interrupted import left $(ls -laR "$MNT/.ckptd/self")"
[ -z "$(ls "$T/state/containers/self/pairs")" ] || t_fail "the interrupted import left its pair directory"
[ -z "$(ls "$T/state/journal")" ] || t_fail "the journal keeps $(ls "$T/state/journal")"
grep -q "self: removed half-made pair [0-9]* of an interrupted import" "$CKPTD_LOG" || t_fail "recovery did not say what it removed"
echo "10. an import interrupted by kill -9: the next start removed what it had received"

kill -TERM "$B_PID"
t__wait_dead "$B_PID" 10 || t_fail "host B's ckptd does not stop"
t_pass
