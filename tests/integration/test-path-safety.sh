#!/usr/bin/env bash
# ckptd touches only what it made, at paths computed from the configuration, never through a
# symlink it did not make (issue 9, items 1-3). Each case tries to make it hit something else:
#  - symlinks planted where the next pair's directories go (.ckptd, .ckptd/NAME, .ckptd/NAME/ID,
#    as a container that can write to the volume's parent could) and a .ckptd owned by someone
#    else -> the dump fails before freezing, the host subvolume they point at is untouched;
#  - a pair.json whose snapshot names a foreign subvolume -> delete, rollback and retention
#    refuse, the foreign data is intact;
#  - Volume= changed, then rollback to an older pair -> refused, naming the volumes, both paths
#    untouched; --force rolls back only the volumes both name;
#  - a Volume= that is a symlink -> a configuration error; a volume swapped for another
#    subvolume or for a symlink after load -> dump and rollback refused;
#  - nested subvolumes (two levels) -> snapshotted in the same window, put back by rollback,
#    verified, and deleted with the pair.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 768)

out=
expect_failure() { # PATTERN ARGS...: the ckptctl call must exit 1 and print PATTERN ($out keeps it)
	local pattern=$1 rc
	shift
	set +e
	out=$(t_ctl "$@" 2>&1)
	rc=$?
	set -e
	echo "$out"
	t_assert_eq "$rc" 1 "exit code of ckptctl $*"
	t_assert_contains "$out" "$pattern"
}

# Host subvolumes that must survive every case, with files to compare. host/vol has the name a
# snapshot of the container's volume would have.
t_btrfs_subvol "$MNT/host"
t_btrfs_subvol "$MNT/host/precious"
t_btrfs_subvol "$MNT/host/vol"
echo "host data" >"$MNT/host/precious/file"
echo "host vol" >"$MNT/host/vol/file"
host_intact() {
	[ "$(cat "$MNT/host/precious/file" 2>/dev/null)" = "host data" ] || t_fail "the host subvolume was touched: $1"
	[ "$(cat "$MNT/host/vol/file" 2>/dev/null)" = "host vol" ] || t_fail "host subvolume vol was touched: $1"
	btrfs subvolume show "$MNT/host/precious" >/dev/null 2>&1 || t_fail "the host subvolume is gone: $1"
}
last_id() { jq -r '.[-1].id' <<<"$(t_ctl_json list "$1")"; }
new_container() { # NAME VOLUME: cgroup $cg with cryo writing VOLUME/data, configured with VOLUME
	cg=$(t_cgroup_create v2 "$1")
	t_start_in_cgroup "$cg" "$CRYO" "$2/data" >/dev/null
	t_write_container "$1" "$cg" "$2" </dev/null
}
grows() { # FILE: the writer is running
	local a b
	a=$(stat -c %s "$1")
	sleep 0.3
	b=$(stat -c %s "$1")
	[ "$b" -gt "$a" ]
}

# ---------------------------------------------------------------------------------------------
echo "== symlinks planted where the next pair goes"
mkdir "$MNT/ct"
t_btrfs_subvol "$MNT/ct/vol"
new_container plant "$MNT/ct/vol"
t_daemon_start
t_ctl freeze-and-dump plant >/dev/null
next=$(($(last_id plant) + 1))
# The pair's directory: the old code took a snapshot through it, failed (the target exists),
# then deleted "the partial pair" through it: the host subvolume.
ln -s "$MNT/host" "$MNT/ct/.ckptd/plant/$next" # <ID>/vol resolves to the host's subvolume vol
t_run t_ctl freeze-and-dump plant
echo "$T_ERR"
host_intact "symlink at .ckptd/NAME/ID"
t_assert_eq "$T_RC" 1 "exit code of the dump"
t_assert_contains "$T_ERR" "$MNT/ct/.ckptd/plant/$next is a symlink, not ckptd's: refusing to follow it"
t_assert_contains "$T_ERR" "container was not frozen"
[ -L "$MNT/ct/.ckptd/plant/$next" ] || t_fail "the planted symlink itself was removed or replaced"
t_cgroup_frozen "$cg" && t_fail "container left frozen"
grows "$MNT/ct/vol/data" || t_fail "the workload stopped"
rm "$MNT/ct/.ckptd/plant/$next"

# The container's own directory, and .ckptd itself.
mv "$MNT/ct/.ckptd/plant" "$MNT/ct/plant.moved"
ln -s "$MNT/host" "$MNT/ct/.ckptd/plant"
expect_failure "$MNT/ct/.ckptd/plant is a symlink" freeze-and-dump plant
host_intact "symlink at .ckptd/NAME"
rm "$MNT/ct/.ckptd/plant"
mv "$MNT/ct/plant.moved" "$MNT/ct/.ckptd/plant"
mv "$MNT/ct/.ckptd" "$MNT/ct/ckptd.moved"
ln -s "$MNT/host" "$MNT/ct/.ckptd"
expect_failure "$MNT/ct/.ckptd is a symlink" freeze-and-dump plant
host_intact "symlink at .ckptd"
# A .ckptd someone else made (a container's root mapped to another uid, say).
rm "$MNT/ct/.ckptd"
mkdir "$MNT/ct/.ckptd"
chown 65534:65534 "$MNT/ct/.ckptd"
expect_failure "is owned by someone other than root or writable by others" freeze-and-dump plant
rmdir "$MNT/ct/.ckptd"
mv "$MNT/ct/ckptd.moved" "$MNT/ct/.ckptd"
chmod 0777 "$MNT/ct/.ckptd/plant"
expect_failure "$MNT/ct/.ckptd/plant is owned by someone other than root or writable by others" freeze-and-dump plant
chmod 0700 "$MNT/ct/.ckptd/plant"
# Every refusal came before the freeze and left no pair behind; the next dump works.
t_assert_eq "$(t_ctl_json list plant | jq length)" 1 "pairs of plant"
t_ctl freeze-and-dump plant >/dev/null
t_assert_eq "$(t_ctl_json list plant | jq length)" 2 "pairs of plant after the refusals"
host_intact "after the planted-symlink cases"

# ---------------------------------------------------------------------------------------------
echo "== a pair.json that names a foreign subvolume"
id=$(last_id plant)
pj=$T/state/containers/plant/pairs/$id/pair.json
cp "$pj" "$T/pair.json.orig"
jq --arg s "$MNT/host/precious" '.volumes[0].snapshot = $s' "$T/pair.json.orig" >"$pj"
expect_failure "refusing to touch $MNT/host/precious" delete plant "$id"
t_assert_contains "$out" "ckptd keeps that snapshot at $MNT/ct/.ckptd/plant/$id/vol"
host_intact "delete of a pair naming it"
expect_failure "refusing to touch $MNT/host/precious" rollback plant "$id" --no-safety-pair
host_intact "rollback to a pair naming it"
grows "$MNT/ct/vol/data" || t_fail "a refused rollback stopped the workload"
jq '.volumes += .volumes' "$T/pair.json.orig" >"$pj"
expect_failure "names volume $MNT/ct/vol twice" rollback plant "$id" --no-safety-pair
jq --arg s "$MNT/host/precious" '.volumes[0].snapshot = $s' "$T/pair.json.orig" >"$pj"
v=$(t_ctl_json verify plant "$id" || true)
jq -e '.ok == false and (.problems[0] | test("refusing to touch"))' <<<"$v" >/dev/null ||
	t_fail "verify did not flag the foreign snapshot: $v"
# A source moved along with it, so that the old path computation matched: still not ckptd's.
jq --arg s "$MNT/host/precious" --arg v "$MNT/host" '.volumes[0].snapshot = $s | .volumes[0].source = $v' \
	"$T/pair.json.orig" >"$pj"
expect_failure "refusing to touch $MNT/host/precious" delete plant "$id"
host_intact "delete of a pair naming it as source and snapshot"
# Retention: KeepLast=1 would delete the older pair; make the older one the foreign one.
old=$(t_ctl_json list plant | jq -r '.[0].id')
pj_old=$T/state/containers/plant/pairs/$old/pair.json
cp "$T/pair.json.orig" "$pj"
cp "$pj_old" "$T/pair.json.older"
jq --arg s "$MNT/host/precious" '.volumes[0].snapshot = $s' "$T/pair.json.older" >"$pj_old"
t_write_container plant "$cg" "$MNT/ct/vol" <<<$'[Retention]\nKeepLast=1'
t_daemon_restart
t_ctl_json prune plant | jq -e 'map(select(.remove)) | .[0].error | test("refusing to touch")' >/dev/null ||
	t_fail "retention did not refuse the foreign snapshot: $(t_ctl_json prune plant)"
host_intact "retention of a pair naming it"
cp "$T/pair.json.older" "$pj_old"
t_ctl prune plant >/dev/null
t_assert_eq "$(t_ctl_json list plant | jq length)" 1 "pairs after a legitimate prune"
[ ! -e "$MNT/ct/.ckptd/plant/$old" ] || t_fail "the pruned pair's snapshot stayed"
host_intact "after the foreign-record cases"
t_write_container plant "$cg" "$MNT/ct/vol" </dev/null

# ---------------------------------------------------------------------------------------------
echo "== Volume= changed, then rollback to an older pair"
t_btrfs_subvol "$MNT/va"
t_btrfs_subvol "$MNT/vb"
new_container moved "$MNT/va"
t_daemon_restart
t_ctl freeze-and-dump moved >/dev/null
id=$(last_id moved)
echo "b's own" >"$MNT/vb/mine"
echo "a after the pair" >"$MNT/va/later"
t_write_container moved "$cg" "$MNT/vb" </dev/null
kill -HUP "$CKPTD_PID"
t_wait_until 5 grep -q "Configuration reloaded" "$CKPTD_LOG" || t_fail "no reload"
expect_failure "does not match the configured volumes" rollback moved "$id" --no-safety-pair
t_assert_contains "$out" "the configuration names $MNT/vb, of which the pair has no snapshot"
t_assert_contains "$out" "the pair holds $MNT/va, which the configuration no longer names"
t_assert_contains "$out" "ckptctl rollback moved $id --force"
expect_failure "here: none, so not even that" rollback moved "$id" --no-safety-pair --force
[ "$(cat "$MNT/vb/mine")" = "b's own" ] || t_fail "the newly configured volume was touched"
[ -e "$MNT/va/later" ] || t_fail "the old volume was rolled back"
grows "$MNT/va/data" || t_fail "a refused rollback stopped the workload"
# Both configured now: the pair has only a; --force rolls a back and leaves b.
t_write_container moved "$cg" "$MNT/va" "$MNT/vb" </dev/null
t_daemon_restart
expect_failure "of which the pair has no snapshot" rollback moved "$id" --no-safety-pair
res=$(t_ctl_json rollback moved "$id" --no-safety-pair --force)
jq -e '.warnings | map(select(test("--force: only the volumes"))) | length == 1' <<<"$res" >/dev/null ||
	t_fail "no warning about the volume left out: $res"
[ ! -e "$MNT/va/later" ] || t_fail "--force did not roll back the volume both name"
[ "$(cat "$MNT/vb/mine")" = "b's own" ] || t_fail "--force touched the volume the pair lacks"
t_wait_until 5 grows "$MNT/va/data" || t_fail "the restored workload does not write"
t_check_pattern "$MNT/va/data" >/dev/null

# ---------------------------------------------------------------------------------------------
echo "== symlinked and swapped volumes"
t_btrfs_subvol "$MNT/real"
ln -s "$MNT/real" "$MNT/link"
cg=$(t_cgroup_create v2 swap)
t_start_in_cgroup "$cg" "$CRYO" "$MNT/real/data" >/dev/null
t_write_container swap "$cg" "$MNT/link" </dev/null
t_daemon_restart
st=$(t_ctl_json containers | jq -r '.[] | select(.name == "swap") | .config + ": " + .error')
t_assert_contains "$st" "config-error"
t_assert_contains "$st" "Volume=$MNT/link: volume $MNT/link is reached through a symlink (it resolves to $MNT/real)"
expect_failure "reached through a symlink" freeze-and-dump swap
t_write_container swap "$cg" "$MNT/real" </dev/null
t_daemon_restart
t_ctl freeze-and-dump swap >/dev/null
id=$(last_id swap)
# Swapped for another subvolume after load.
mv "$MNT/real" "$MNT/real.orig"
t_btrfs_subvol "$MNT/real"
echo "impostor" >"$MNT/real/impostor"
expect_failure "is no longer the subvolume it was when ckptd loaded its configuration" freeze-and-dump swap
expect_failure "is no longer the subvolume it was" rollback swap "$id" --no-safety-pair
[ -e "$MNT/real/impostor" ] || t_fail "the swapped-in subvolume was touched"
# Swapped for a symlink after load (to the host subvolume).
btrfs -q subvolume delete "$MNT/real"
ln -s "$MNT/host/precious" "$MNT/real"
expect_failure "reached through a symlink" freeze-and-dump swap
expect_failure "reached through a symlink" rollback swap "$id" --no-safety-pair
host_intact "volume swapped for a symlink"
[ -L "$MNT/real" ] || t_fail "the symlink was replaced"
rm "$MNT/real"
mv "$MNT/real.orig" "$MNT/real"
grows "$MNT/real/data" || t_fail "the workload stopped"
# A rollback replaces the volume itself: ckptd takes the new one as the configured one, for
# every container that names it (swap2 shares the volume; its workload writes elsewhere).
t_btrfs_subvol "$MNT/other"
cg2=$(t_cgroup_create v2 swap2)
t_start_in_cgroup "$cg2" "$CRYO" "$MNT/other/data" >/dev/null
t_write_container swap2 "$cg2" "$MNT/real" </dev/null
t_daemon_restart
t_ctl rollback swap "$id" --no-safety-pair >/dev/null
t_ctl freeze-and-dump swap >/dev/null
t_ctl freeze-and-dump swap2 >/dev/null

# ---------------------------------------------------------------------------------------------
echo "== nested subvolumes"
t_btrfs_subvol "$MNT/nv"
t_btrfs_subvol "$MNT/nv/sub"
mkdir "$MNT/nv/sub/dir"
t_btrfs_subvol "$MNT/nv/sub/dir/deeper"
echo "nested file" >"$MNT/nv/sub/file"
echo "deeper file" >"$MNT/nv/sub/dir/deeper/file"
new_container nest "$MNT/nv"
t_daemon_restart
pair=$(t_ctl_json freeze-and-dump nest)
id=$(jq -r .id <<<"$pair")
jq -e '.volumes[0].nested == ["sub", "sub/dir/deeper"]' <<<"$pair" >/dev/null ||
	t_fail "pair.json does not record the nested subvolumes: $(jq -c .volumes <<<"$pair")"
snap=$MNT/.ckptd/nest/$id
[ "$(cat "$snap/nv.nested/1/file")" = "nested file" ] || t_fail "nested subvolume not snapshotted"
[ "$(cat "$snap/nv.nested/2/file")" = "deeper file" ] || t_fail "second-level nested subvolume not snapshotted"
[ "$(btrfs property get -ts "$snap/nv.nested/1" ro)" = "ro=true" ] || t_fail "nested snapshot is writable"
t_ctl_json verify nest "$id" | jq -e '.ok' >/dev/null || t_fail "verify: $(t_ctl_json verify nest "$id")"
# Damage: a nested file changed, the deeper subvolume deleted, a new nested subvolume made.
echo "damaged" >"$MNT/nv/sub/file"
btrfs -q subvolume delete "$MNT/nv/sub/dir/deeper"
t_btrfs_subvol "$MNT/nv/newer"
res=$(t_ctl_json rollback nest "$id")
safety=$(jq -r .safety_pair <<<"$res")
[ "$(cat "$MNT/nv/sub/file")" = "nested file" ] || t_fail "the nested file is not back after rollback"
[ "$(cat "$MNT/nv/sub/dir/deeper/file")" = "deeper file" ] || t_fail "the deeper nested subvolume is not back"
btrfs subvolume show "$MNT/nv/sub/dir/deeper" >/dev/null 2>&1 || t_fail "deeper is not a subvolume after rollback"
[ "$(btrfs property get -ts "$MNT/nv/sub" ro)" = "ro=false" ] || t_fail "the nested subvolume came back read-only"
[ ! -e "$MNT/nv/newer" ] || t_fail "a subvolume made after the pair survived the rollback"
t_wait_until 5 grows "$MNT/nv/data" || t_fail "the restored workload does not write"
# The safety pair holds the damaged state with its nested subvolumes: undo brings it back.
t_ctl rollback nest "$safety" --no-safety-pair >/dev/null
[ "$(cat "$MNT/nv/sub/file")" = "damaged" ] || t_fail "undo did not bring the damaged nested file back"
btrfs subvolume show "$MNT/nv/newer" >/dev/null 2>&1 || t_fail "undo did not bring the newer nested subvolume back"
[ ! -e "$MNT/nv/sub/dir/deeper" ] || t_fail "undo brought back a subvolume deleted before it"
# Deleting the pairs removes the nested snapshots too, and nothing of ckptd's stays.
for p in $(t_ctl_json list nest | jq -r '.[].id'); do t_ctl delete nest "$p"; done
[ ! -e "$MNT/.ckptd/nest" ] || t_fail "snapshots left behind: $(find "$MNT/.ckptd/nest" | head)"
[ -z "$(btrfs subvolume list -o "$MNT" | grep -F '.ckptd/nest')" ] || t_fail "nested snapshots left behind"
host_intact "end"
t_pass
