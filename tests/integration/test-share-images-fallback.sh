#!/usr/bin/env bash
# Image sharing where the state directory cannot clone (issue 12): on ext4 every pair is a full
# copy, Status says why sharing is off, pair.json's added bytes are the whole images, and a
# rollback restores a process whose memory is intact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/memw-lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 300)
t_btrfs_subvol "$MNT/vol"
ext=$T/ext4
mkdir "$ext"
truncate -s 400M "$T/ext4.img"
mkfs.ext4 -q -F "$T/ext4.img" >/dev/null 2>&1 || t_fail "mkfs.ext4 failed"
defer t__umount_loop "$ext" "$T/ext4.img"
mount -o loop "$T/ext4.img" "$ext"
export CKPTD_STATE_DIR=$ext/state
name=noshare
state=$T/memw.state
cg=$(t_cgroup_create v2 "$name")
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
t_daemon_start
T_WORKLOAD_OUTPUT=$T/memw.log t_start_in_cgroup "$cg" "$MEMW" 32 5 "$state" >/dev/null
[[ $(memw_wait "$state" 60) == "ready "* ]] || t_fail "memw did not start"

t_ctl freeze-and-dump "$name" >/dev/null
[[ $(memw_ask "$cg" "$state" USR1) == "rewrote "* ]] || t_fail "memw did not rewrite"
t_ctl freeze-and-dump "$name" >/dev/null
t_ctl list "$name"
for i in 1 2; do
	json=$(t_ctl_json show "$name" "$i")
	t_assert_eq "$(jq .images.added_bytes <<<"$json")" "$(jq .images.bytes <<<"$json")" "pair $i: added == logical size"
	t_assert_eq "$(jq .images.shared_from <<<"$json")" null "pair $i shared from"
	t_assert_eq "$(jq .images.disk_bytes <<<"$json")" null "pair $i: disk bytes (not btrfs)"
done

t_assert_eq "$(t_ctl_json status | jq -r .image_sharing)" "off: $CKPTD_STATE_DIR is on ext4" "Status's image_sharing"
t_assert_contains "$(t_ctl status)" "Image sharing: off: $CKPTD_STATE_DIR is on ext4"

t_ctl rollback "$name" 1 --no-safety-pair >/dev/null
memw_verify "$cg" "$state" "after the rollback to pair 1"
t_assert_contains "$(t_ctl verify "$name" 2)" "OK"
t_pass
