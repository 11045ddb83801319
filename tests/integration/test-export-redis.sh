#!/usr/bin/env bash
# The Redis container (container-lib.sh: its own PID, mount, UTS, IPC and network namespaces,
# redis-server with an AOF, appendfsync always, on its btrfs root, and a client appending 1, 2,
# 3, ... over ONE TCP connection) moved to another "host": a pair exported on host A, imported
# by host B's ckptd (its own configuration, state directory, btrfs file system mounted at the
# same path in a mount namespace of its own, its own network namespace), rolled back on B where
# the container never ran. On B: Redis's list is exactly 1..N with N at least what the pair's
# AOF holds and fewer than A's list by then, the appender is on the same connection (same
# CLIENT ID) and the list grows; the AOF on B's disk replays to 1..M (memory and disk agree);
# the pair's AOF in B's snapshot is the one in A's. Then a second pair goes incrementally
# (--base) and B rolls back to it: the same checks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"

MNT=$(t_btrfs_loop 512) # host A's file system; host B mounts its own here, in its namespace
t_btrfs_subvol "$MNT/ct"
ct_make_rootfs "$MNT/ct"
ct_install_redis_workload "$MNT/ct"
B=$(t_tmpdir)
truncate -s 512M "$B/image"
mkfs.btrfs -q "$B/image" >/dev/null 2>&1 || t_fail "mkfs.btrfs for host B failed"
B_SOCKET=$B/ckptd.sock

cgA=$(t_cgroup_create v2 exredisA)
cgB=$(t_cgroup_create v2 exredisB)
t_write_container ct "$cgA" "$MNT/ct" <<<$'[Checkpoint]\nTcpEstablished=yes'
CKPTD_CONFIG_DIR=$B/etc t_write_container ct "$cgB" "$MNT/ct" <<<$'[Checkpoint]\nTcpEstablished=yes'
ct_start "$cgA" "$MNT/ct" --net -- /usr/bin/bash /workload.sh >/dev/null
t_daemon_start

mkdir -p "$B/state" "$B/etc/containers.d"
unshare --mount --net --propagation private -- bash -c '
	mount -o loop "$1" "$2" || exit 99
	ip link set lo up || exit 98
	exec "$3" --config-dir "$4/etc" --state-dir "$4/state" --socket "$4/ckptd.sock" --log-level debug
' bash "$B/image" "$MNT" "$CKPTD" "$B" </dev/null >>"$B/ckptd.log" 2>&1 &
B_PID=$!
defer tail -n 25 "$B/ckptd.log"
defer t__wait_dead "$B_PID" 10
defer sh -c 'kill -TERM "$1" 2>/dev/null || true' sh "$B_PID"
for ((i = 0; i < 500; i++)); do [ -S "$B_SOCKET" ] && break; t__alive "$B_PID" || break; sleep 0.02; done
[ -S "$B_SOCKET" ] || { cat "$B/ckptd.log" >&2; t_fail "host B's ckptd did not start"; }
BROOT=/proc/$B_PID/root # host B's view of the file system tree
ctlB() { "$CKPTCTL" --socket "$B_SOCKET" "$@"; }

ct_wait_appender "$cgA"
client=$(ct_appender_id "$cgA")
pair_aof() { # ROOT ID: the list 1..K in the pair's AOF (in ROOT's view); prints K
	ct_aof_replay "$1$MNT/.ckptd/ct/$2/ct/var/lib/redis/aof" | ct_assert_sequence "AOF in pair $2 under ${1:-/}"
}

# ---- full: export -> import -> rollback on B ---------------------------------------------------
a1=$(t_ctl_json freeze-and-dump ct | jq -r .id)
t_ctl --json export ct "$a1" 2>"$T/export1.json" | ctlB --json import ct >"$T/import1.json"
b1=$(jq -r .pair "$T/import1.json")
echo "pair $a1 exported ($(jq .bytes "$T/export1.json") bytes), imported on B as pair $b1"
k1=$(pair_aof "" "$a1")
t_assert_eq "$(pair_aof "$BROOT" "$b1")" "$k1" "the AOF of B's imported pair vs A's"
[ ! -e "$BROOT$MNT/ct" ] || t_fail "B has the container's root before any rollback"
before=$(ct_redis "$cgA" LLEN l) # A's container runs on: B's must be behind it
ctlB rollback ct "$b1" >/dev/null
ct_check_rolled_back "$cgB" "$BROOT$MNT/ct/var/lib/redis/aof" "$k1" "$before" "$client"
echo "full: the Redis container runs on B from A's pair $a1"

# ---- incremental: a second pair, --base the first ----------------------------------------------
sleep 0.3
a2=$(t_ctl_json freeze-and-dump ct | jq -r .id)
t_ctl --json export ct "$a2" --base "$a1" 2>"$T/export2.json" | ctlB --json import ct >"$T/import2.json"
b2=$(jq -r .pair "$T/import2.json")
t_assert_eq "$(jq -r .base "$T/import2.json")" "$a1" "base of the incremental stream"
vol2=$(jq '.members[] | select(.name == "volumes/0") | .bytes' "$T/export2.json")
vol1=$(jq '.members[] | select(.name == "volumes/0") | .bytes' "$T/export1.json")
echo "incremental: volume stream $vol2 bytes (full: $vol1)"
[ "$vol2" -lt "$vol1" ] || t_fail "the incremental volume stream ($vol2) is not smaller than the full one ($vol1)"
k2=$(pair_aof "" "$a2")
[ "$k2" -gt "$k1" ] || t_fail "pair $a2's AOF ($k2) does not go beyond pair $a1's ($k1)"
t_assert_eq "$(pair_aof "$BROOT" "$b2")" "$k2" "the AOF of B's second imported pair vs A's"
before=$(ct_redis "$cgA" LLEN l)
ctlB rollback ct "$b2" --no-safety-pair >/dev/null
ct_check_rolled_back "$cgB" "$BROOT$MNT/ct/var/lib/redis/aof" "$k2" "$before" "$client"
echo "incremental: B rolled back to pair $b2 (A's $a2)"

t_cgroup_kill "$cgB"
kill -TERM "$B_PID"
t__wait_dead "$B_PID" 10 || t_fail "host B's ckptd does not stop"
t_pass
