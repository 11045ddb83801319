#!/usr/bin/env bash
# Damaged state is quarantined, never destroyed. Pair directories whose pair.json does not load -
# truncated, a wrong type, a huge id, no pair.json at all, a symlink instead of a directory, and
# a copied container directory whose pair.json files name another container - are moved at start
# to containers/NAME/quarantine/ID-<time> (their snapshots left in place), and reported by list,
# status, verify and show with the reason. A pinned pair stays untouched; ids of damaged pairs are
# never given again; only `delete --force` removes a damaged record, and never through a symlink.
# Only a directory ckptd marked as its own unfinished work (and no pair.json) is removed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

T=$(t_tmpdir)
MNT=$(t_btrfs_loop 512)
t_btrfs_subvol "$MNT/vol"
name=web
cg=$(t_cgroup_create v2 "$name")
t_start_in_cgroup "$cg" "$CRYO" "$MNT/vol/$name.data" >/dev/null
t_write_container "$name" "$cg" "$MNT/vol" </dev/null
t_daemon_start
for _ in 1 2 3 4; do t_ctl freeze-and-dump "$name" >/dev/null; done
t_ctl pin "$name" 2 >/dev/null
t_daemon_stop

S=$T/state/containers
P=$S/$name/pairs
cp -a "$S/$name" "$S/webcopy" # a copied container directory: its pair.json files name "web"
head -c 100 "$P/1/pair.json" >"$T/p1" && cat "$T/p1" >"$P/1/pair.json"     # truncated
jq '.volumes = "not an array"' "$P/3/pair.json" >"$T/p3" && cat "$T/p3" >"$P/3/pair.json" # wrong type
sed -i -E 's/"id": 4,/"id": 99999999999999999999999,/' "$P/4/pair.json"      # huge id
grep -q 99999999999999999999999 "$P/4/pair.json" || t_fail "test setup: id not replaced"
mkdir "$P/8" && echo log >"$P/8/dump.log"          # no pair.json, not marked by ckptd
mkdir "$P/7" && : >"$P/7/incomplete"               # ckptd's own unfinished work
VICTIM=$T/victim && mkdir "$VICTIM" && echo keep >"$VICTIM/keep.txt" && : >"$VICTIM/incomplete"
ln -s "$VICTIM" "$P/9"                             # a symlink where a pair directory should be
VICTIM2=$T/victim2 && mkdir "$VICTIM2" && echo keep >"$VICTIM2/keep.txt"
mkdir -p "$S/other/pairs/1" && echo '{"broken' >"$S/other/pairs/1/pair.json"
ln -s "$VICTIM2" "$S/other/quarantine"             # quarantine/ must never be followed
mkdir "$P/.10.new" && : >"$P/.10.new/incomplete"   # a pair directory being created at a crash
mkdir "$P/.11.new" && : >"$P/.11.new/incomplete" && echo keep >"$P/.11.new/precious" # holds more: not ours
VICTIM3=$T/victim3 && mkdir "$VICTIM3" && : >"$VICTIM3/incomplete"
ln -s "$VICTIM3" "$P/.12.new"                      # a symlink named like one
mkdir "$P/.x.new" && : >"$P/.x.new/incomplete"      # not a name ckptd makes
rm -f "$S/$name/last-id"
sums_before=$(cd "$P" && sha256sum 1/pair.json 3/pair.json 4/pair.json)

t_daemon_start
for id in 1 2 3 4; do [ -d "$MNT/.ckptd/$name/$id/vol" ] || t_fail "snapshot of pair $id is gone"; done
t_assert_eq "$(ls "$P" | tr '\n' ' ')" "2 " "pair directories left in pairs/"
[ ! -e "$P/.10.new" ] || t_fail "a pair directory left half-created by a crash was not removed"
t_assert_eq "$(ls "$P/.11.new" | tr '\n' ' ')" "incomplete precious " ".11.new holding more than the marker was touched"
[ -L "$P/.12.new" ] && [ -f "$VICTIM3/incomplete" ] || t_fail "the .12.new symlink or its target was touched"
[ -f "$P/.x.new/incomplete" ] || t_fail ".x.new (not a ckptd name) was touched"
Q=$S/$name/quarantine
for id in 1 3 4 8 9; do
	compgen -G "$Q/$id-*" >/dev/null || t_fail "pair $id is not in quarantine: $(ls "$Q")"
done
t_assert_eq "$(stat -c %a "$Q")" 700 "mode of quarantine/"
t_assert_eq "$(cd "$Q" && for f in 1 3 4; do sha256sum "$f"-*/pair.json; done | sed -E 's/ ([0-9])-[^/]*/ \1/')" \
	"$sums_before" "quarantined pair.json files changed"
[ -L "$(echo "$Q"/9-*)" ] || t_fail "the symlink was not moved as a symlink"
victim_intact() { [ -f "$VICTIM/keep.txt" ] && [ -f "$VICTIM/incomplete" ]; }
victim_intact || t_fail "the symlink's target was touched"
[ -f "$S/other/pairs/1/pair.json" ] || t_fail "other/1 must stay in place when quarantine/ is a symlink"
t_assert_eq "$(ls "$VICTIM2")" keep.txt "the quarantine symlink's target was touched"
t_assert_eq "$(ls "$S/webcopy/pairs" | wc -l)" 0 "pairs left in the copied container directory"
t_assert_eq "$(ls "$S/webcopy/quarantine" | wc -l)" 4 "quarantined pairs of the copied directory"

json=$(t_ctl_json list)
reason() { jq -r --arg c "$1" --argjson i "$2" '.[] | select(.container == $c and .id == $i and .state == "damaged") | .reason' <<<"$json"; }
t_assert_contains "$(reason web 1)" "does not parse"
t_assert_contains "$(reason web 3)" 'wrong type for "volumes"'
t_assert_contains "$(reason web 4)" "does not parse"
t_assert_contains "$(reason web 8)" "pair.json is missing"
t_assert_contains "$(reason web 9)" "symlink"
t_assert_contains "$(reason webcopy 2)" "names pair web/2, not webcopy/2"
t_assert_contains "$(reason other 1)" "does not parse"
t_assert_contains "$(jq -r '.[] | select(.container == "other") | .path' <<<"$json")" "$S/other/pairs/1"
t_assert_contains "$(jq -r '.[] | select(.container == "web" and .id == 3) | .path' <<<"$json")" "$Q/3-"
t_assert_eq "$(jq -r '[.[] | select(.state == "complete") | .id] | join(",")' <<<"$json")" 2 "complete pairs"
t_assert_eq "$(jq -r '.[] | select(.id == 2 and .state == "complete") | .pinned' <<<"$json")" true "pin of pair 2"
t_assert_contains "$(t_ctl list "$name")" "web/3 damaged: pair.json has a wrong type"
t_assert_eq "$(t_ctl_json status | jq .damaged_pairs)" 10 "damaged pairs counted by status"
t_assert_contains "$(t_ctl status)" "Damaged pairs: 10"
t_run t_ctl verify "$name" 3
t_assert_eq "$T_RC" 1 "exit status of verify of a damaged pair"
t_assert_contains "$T_ERR" 'wrong type for "volumes"'
t_assert_contains "$T_ERR" "$Q/3-"
t_run t_ctl show "$name" 1
t_assert_eq "$T_RC" 1 "exit status of show of a damaged pair"
t_assert_contains "$T_ERR" "does not parse"
t_assert_contains "$(t_ctl verify "$name" 2)" OK

# Ids are never reused, damaged ones included (last-id is gone; the highest id is in quarantine).
t_ctl freeze-and-dump "$name" >/dev/null
t_assert_eq "$(t_ctl_json list "$name" | jq -r '[.[] | select(.state == "complete") | .id] | join(",")')" 2,10 "ids"

# Only an explicit delete --force removes a damaged record; snapshots are left and named.
t_run t_ctl delete "$name" 3
t_assert_eq "$T_RC" 1 "delete of a damaged pair without --force"
t_assert_contains "$T_ERR" "--force"
compgen -G "$Q/3-*" >/dev/null || t_fail "delete without --force removed the record"
out=$(t_ctl delete "$name" 3 --force)
echo "$out"
t_assert_contains "$out" "left in place"
t_assert_contains "$out" "$MNT/.ckptd/$name/3/vol"
compgen -G "$Q/3-*" >/dev/null && t_fail "delete --force left the record"
[ -d "$MNT/.ckptd/$name/3/vol" ] || t_fail "delete --force removed a snapshot it cannot prove it made"
t_ctl delete "$name" 9 --force >/dev/null
compgen -G "$Q/9-*" >/dev/null && t_fail "delete --force left the symlink"
victim_intact || t_fail "delete --force went through the symlink"
t_run t_ctl delete "$name" 2 --force # a complete pinned pair: an ordinary, explicit delete
t_assert_eq "$T_RC" 0 "explicit delete of the pinned pair"

# A second start changes nothing.
t_daemon_restart
for id in 1 4 8; do compgen -G "$Q/$id-*" >/dev/null || t_fail "pair $id left quarantine"; done
t_assert_eq "$(t_ctl_json list "$name" | jq -r '[.[] | .id] | sort | join(",")')" 1,4,8,10 "pairs after the second start"
t_pass
