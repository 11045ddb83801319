#!/usr/bin/env bash
# PreDump= on a kernel that does not track dirty memory (this host's: no soft-dirty): PreDump=auto
# (the default) quietly makes a normal full dump, PreDump=2 makes one too and says why in the log;
# neither pair records pre-dump timings, neither leaves a pre-dump behind, and a rollback to each
# restores a workload whose whole memory checks. Where the kernel does track dirty memory (CRIU
# says so), PreDump=auto makes one pass, and the pair is still self-contained and restores: the
# full test of that is the `predump` suite in the qemu guest (tests/vm/guest-predump.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/memw-lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 600)
t_btrfs_subvol "$MNT/vol"
export CKPTD_STATE_DIR=$MNT/state
state=$T/memw.state
cg=$(t_cgroup_create v2 predump-fb)
staging=$T/staging
t_write_daemon_conf <<<"[Daemon]
StagingDir=$staging"
t_write_container pdauto "$cg" "$MNT/vol" </dev/null
t_write_container pdtwo "$cg" "$MNT/vol" <<<$'[Checkpoint]\nPreDump=2'
t_daemon_start
T_WORKLOAD_OUTPUT=$T/memw.log t_start_in_cgroup "$cg" "$MEMW" 32 5 "$state" >/dev/null
[[ $(memw_wait "$state" 60) == "ready "* ]] || t_fail "memw did not start"

tracking=no
criu=$(command -v criu)
if "$criu" check --feature mem_dirty_track >/dev/null 2>&1; then tracking=yes; fi
echo "$criu: dirty memory tracking: $tracking"

for c in pdauto pdtwo; do
	[[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "memw did not rewrite"
	p=$(t_ctl_json freeze-and-dump "$c")
	id=$(jq -r .id <<<"$p")
	passes=$(jq -r '.timings.predump_passes // "none"' <<<"$p")
	echo "$c: pair $id, pre-dump passes: $passes, frozen $(jq .frozen_usec <<<"$p") us"
	images=$CKPTD_STATE_DIR/containers/$c/pairs/$id/images
	t_assert_eq "$(find "$images" -mindepth 1 \( -name 'predump-*' -o -name parent -o -name '.ckptd-merge-*' \) | wc -l)" 0 \
		"pre-dump leftovers in $images"
	t_assert_eq "$(find "$staging" -mindepth 1 2>/dev/null | wc -l)" 0 "leftovers in the staging directory"
	if [ "$tracking" = no ]; then
		t_assert_eq "$passes" none "$c: pre-dump passes on a kernel without dirty tracking"
		t_assert_eq "$(jq -c '[.timings | keys[] | select(startswith("predump_"))]' <<<"$p")" "[]" "$c: pre-dump timings"
	else
		want=1
		[ "$c" = pdtwo ] && want=2
		t_assert_eq "$passes" "$want" "$c: pre-dump passes"
	fi
done
if [ "$tracking" = no ]; then
	# auto: quietly (nothing above debug level); PreDump=2: one warning that says why.
	t_assert_eq "$(grep -c 'pdauto.*\(warn\|WARN\).*PreDump\|pdauto: PreDump.*instead' "$CKPTD_LOG" || true)" 0 "warnings for PreDump=auto"
	t_assert_contains "$(grep 'pdtwo: PreDump=2' "$CKPTD_LOG")" "does not track dirty memory"
	# inspect has nothing to say about huge pages where pre-dump cannot run
	t_assert_not_contains "$(t_ctl inspect pdauto || true)" "huge pages"
fi

for c in pdtwo pdauto; do
	id=$(t_ctl_json list "$c" | jq -r '.[-1].id')
	t_assert_contains "$(t_ctl verify "$c" "$id")" "OK"
	t_ctl rollback "$c" "$id" --no-safety-pair >/dev/null
	memw_verify "$cg" "$state" "after the rollback to $c's pair $id"
	[[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "restored memw does not run on"
	memw_verify "$cg" "$state" "$c's pair $id, after a rewrite"
done
t_pass
