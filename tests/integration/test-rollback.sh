#!/usr/bin/env bash
# The seed's scenario end to end, cgroup v2 and v1: a program writes letters into a file on the
# volume; freeze-and-dump; it goes on and creates a lock file with O_EXCL; the data file is
# deleted; rollback -> the file is back as it was at the checkpoint, the lock file is gone, the
# restored process continues at the right offset (no gap, no duplicate) and creates its lock
# again. Then: rollback twice to the same pair, to an older pair while newer ones exist, of a
# container whose processes died, undo through the safety pair, and --processes-only restores
# that must refuse with the exact paths.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
t_btrfs_subvol "$MNT/vol"

wait_for_file() { # PATH SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
	t_fail "$1 did not appear within $2 s"
}

assert_grows() { # FILE
	local a b
	a=$(stat -c %s "$1"); sleep 0.4; b=$(stat -c %s "$1")
	[ "$b" -gt "$a" ] || t_fail "$1 does not grow ($a -> $b): the restored process is not writing"
}

root_of() { # CGROUP: the one task that is PID 1 of its namespace
	local p
	for p in $(t_cgroup_pids "$1"); do
		grep -q $'^NSpid:.*\t1$' "/proc/$p/status" 2>/dev/null && { echo "$p"; return; }
	done
}

run_case() { # v2|v1
	local kind=$1 name="rb-$1" cg data lock id len out id2 id3 safety
	cg=$(t_cgroup_create "$kind" "$name")
	data="$MNT/vol/$name.data"
	lock="$MNT/vol/$name.lock"
	t_write_container "$name" "$cg" "$MNT/vol" </dev/null
	t_daemon_restart
	t_start_in_cgroup "$cg" "$CRYO" "$data" "$lock" --interval-ms 4 >/dev/null
	sleep 0.2 # fewer than 200 letters: the lock does not exist yet

	[ ! -e "$lock" ] || t_fail "lock file exists before the checkpoint"
	t_ctl freeze-and-dump "$name" >/dev/null
	id=$(t_ctl_json list "$name" | jq -r '.[-1].id')
	len=$(stat -c %s "$MNT/.ckptd/$name/$id/vol/$name.data")

	# The program goes on, creates its lock; then the data file is lost.
	wait_for_file "$lock" 10
	rm -f "$data"

	out=$(t_ctl_json rollback "$name" "$id")
	echo "$out"
	safety=$(jq -r .safety_pair <<<"$out")
	[ "$safety" != null ] || t_fail "no safety pair was taken"
	t_cgroup_frozen "$cg" && t_fail "cgroup left frozen after rollback"
	t_assert_file_exists "$data"
	[ "$(stat -c %s "$data")" -ge "$len" ] || t_fail "data file shorter than at the checkpoint"
	assert_grows "$data"
	wait_for_file "$lock" 10 # created again by the restored process, not left over
	t_check_pattern "$data" >/dev/null
	echo "$kind: rollback to $id ok, data continues from $len bytes"

	# Twice to the same pair: its snapshot stayed intact.
	t_ctl rollback "$name" "$id" --no-safety-pair >/dev/null
	assert_grows "$data"
	t_check_pattern "$data" >/dev/null
	[ "$(btrfs property get -ts "$MNT/.ckptd/$name/$id/vol" ro)" = "ro=true" ] || t_fail "pair snapshot changed"

	# Pairs 2 and 3 exist; go back to the first.
	t_ctl freeze-and-dump "$name" >/dev/null
	t_ctl freeze-and-dump "$name" >/dev/null
	t_ctl rollback "$name" "$id" --no-safety-pair >/dev/null
	assert_grows "$data"
	t_check_pattern "$data" >/dev/null

	# Undo a rollback through its safety pair: back to the state just before it.
	id2=$(t_ctl_json freeze-and-dump "$name" | jq -r .id)
	out=$(t_ctl_json rollback "$name" "$id")
	safety=$(jq -r .safety_pair <<<"$out")
	t_ctl rollback "$name" "$safety" --no-safety-pair >/dev/null
	[ "$(stat -c %s "$data")" -ge "$(stat -c %s "$MNT/.ckptd/$name/$safety/vol/$name.data")" ] ||
		t_fail "undo through safety pair $safety did not restore the later state"
	assert_grows "$data"
	t_check_pattern "$data" >/dev/null

	# A container whose processes already died: no safety pair, rollback still works.
	t_cgroup_kill "$cg"
	out=$(t_ctl_json rollback "$name" "$id2")
	t_assert_eq "$(jq -r .safety_pair <<<"$out")" null "safety pair of an empty container"
	assert_grows "$data"

	# --processes-only onto a changed filesystem: exact paths, exit 1, nothing started.
	id3=$(t_ctl_json freeze-and-dump "$name" | jq -r .id)
	sleep 0.2
	t_cgroup_kill "$cg"
	set +e
	out=$(t_ctl restore "$name" "$id3" --processes-only 2>&1); rc=$?
	set -e
	echo "$out"
	t_assert_eq "$rc" 1 "exit code of restore onto a grown file"
	t_assert_contains "$out" "size changed: $data (checkpoint"
	[ -z "$(t_cgroup_pids "$cg")" ] || t_fail "restore started processes despite the check"
	rm -f "$data"
	set +e
	out=$(t_ctl restore "$name" "$id3" --processes-only 2>&1); rc=$?
	set -e
	t_assert_eq "$rc" 1 "exit code of restore with the file deleted"
	t_assert_contains "$out" "missing: $data"
	[ -z "$(t_cgroup_pids "$cg")" ] || t_fail "restore started processes despite the check"

	# Once the file is as it was at the pair (the program only appends: cut it back to the
	# length in the pair's snapshot), the processes-only restore goes through.
	cp "$MNT/.ckptd/$name/$id3/vol/$name.data" "$data"
	t_ctl restore "$name" "$id3" --processes-only >/dev/null
	assert_grows "$data"
	t_check_pattern "$data" >/dev/null
}

run_case v2
run_case v1
t_pass
