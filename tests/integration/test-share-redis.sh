#!/usr/bin/env bash
# Pairs share unchanged memory with a real service (issue 12): the Redis container of
# test-container.sh (AOF with appendfsync always, a client appending over one TCP connection)
# holding 500 k keys, 5 % of them (a slice written together) rewritten between six pairs, state
# directory on btrfs. Pairs
# 2-6 share with their predecessor and add a fraction of a full image; pairs 1-4 are deleted in
# random order; a rollback to the oldest remaining pair brings back exactly the keys of that moment,
# in memory and in the AOF on disk (replayed by a fresh Redis), and the appender's list is the
# same sequence in both.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
t_require_root
command -v redis-server >/dev/null || t_fail "redis-server is not installed (tools/setup installs it)"

KEYS=500000
CHANGED=$((KEYS / 20))
MNT=$(t_btrfs_loop 1600)
t_btrfs_subvol "$MNT/ct"
ct_make_rootfs "$MNT/ct"
ct_install_redis_workload "$MNT/ct"
export CKPTD_STATE_DIR=$MNT/state
cg=$(t_cgroup_create v2 share-redis)
ct_start "$cg" "$MNT/ct" --net -- /usr/bin/bash /workload.sh >/dev/null
t_write_container ct "$cg" "$MNT/ct" <<<$'[Checkpoint]\nTcpEstablished=yes\nFullImageEvery=8'
t_daemon_start
ct_wait_appender "$cg"

# keys_pipe GENERATION FIRST COUNT STEP: Redis protocol for SET k:N VALUE for COUNT keys N = FIRST,
# FIRST+STEP, ... (mod KEYS); each value names its generation and key and is distinct.
keys_pipe() {
	"$T_PYTHON" -S -c '
import sys, hashlib
gen, first, count, step, total = map(int, sys.argv[1:])
out = sys.stdout.buffer
for j in range(count):
    n = (first + j * step) % total
    k = b"k:%07d" % n
    v = b"%02d:%07d:" % (gen, n) + hashlib.sha256(b"%d/%d" % (gen, n)).hexdigest().encode() * 2
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))' "$@" "$KEYS"
}
load() { # GENERATION FIRST COUNT STEP
	local out init
	init=$(ct_init "$cg")
	out=$(keys_pipe "$@" | nsenter -t "$init" -n redis-cli --pipe -h 127.0.0.1 -p 6379) || t_fail "redis-cli --pipe: $out"
	[[ $out == *"errors: 0, replies: $3"* ]] || t_fail "loading keys: $out"
}
# The digest of every k:* key and its value, in key order: read from a Redis (MGET in batches, so
# the appender is never kept waiting) and computed from what was written. Only read after the
# last pair: every read of a key sets its object's LRU clock, which rewrites the page holding it.
DIGEST_PY='
import sys, hashlib, socket
total, changed = int(sys.argv[1]), int(sys.argv[2])
def chain(values):
    h = ""
    for n, v in enumerate(values):
        h = hashlib.sha1(b"%sk:%07d=%s" % (h.encode(), n, v)).hexdigest()
    return "%d:%s" % (total, h)
if sys.argv[3] == "expect":   # generation g (2..LAST) rewrote keys (g-2)*changed ... (g-1)*changed-1
    last = int(sys.argv[4])
    def value(n):
        g = n // changed + 2 if n < (last - 1) * changed else 0
        return b"%02d:%07d:" % (g, n) + hashlib.sha256(b"%d/%d" % (g, n)).hexdigest().encode() * 2
    print(chain(value(n) for n in range(total)))
    sys.exit(0)
if sys.argv[3] == "unix":
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[4])
else:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[4])))
f = s.makefile("rb")
def values():
    for first in range(0, total, 5000):
        keys = [b"k:%07d" % n for n in range(first, min(total, first + 5000))]
        s.sendall(b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys))
        head = f.readline()
        assert head == b"*%d\r\n" % len(keys), head
        for _ in keys:
            size = int(f.readline()[1:])
            if size < 0:
                yield b"(missing)"
                continue
            yield f.read(size + 2)[:-2]
print(chain(values()))'
expected_digest() { "$T_PYTHON" -S -c "$DIGEST_PY" "$KEYS" "$CHANGED" expect "$1"; }
digest_live() { nsenter -t "$(ct_init "$cg")" -n "$T_PYTHON" -S -c "$DIGEST_PY" "$KEYS" "$CHANGED" tcp 6379; }

# The AOF (a copy) replayed by a fresh Redis on the host: "LIST_LENGTH DIGEST".
aof_state() {
	local src=$1 dir pid i n d
	dir=$(mktemp -d "$T/replay.XXXXXX")
	cp -a "$src" "$dir/aof"
	redis-server --dir "$dir" --appendonly yes --appenddirname aof --port 0 --unixsocket "$dir/sock" \
		--save '' --daemonize no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 1500; i++)); do # loading 500 k keys takes a moment
		[ "$(redis-cli -s "$dir/sock" PING 2>/dev/null)" = PONG ] && break
		sleep 0.02
	done
	n=$(redis-cli --raw -s "$dir/sock" LRANGE l 0 -1 | ct_assert_sequence "AOF list of $src") &&
		d=$("$T_PYTHON" -S -c "$DIGEST_PY" "$KEYS" "$CHANGED" unix "$dir/sock") ||
		{ kill "$pid"; t_fail "AOF replay of $src: $(tail -5 "$dir/redis.log")"; }
	redis-cli -s "$dir/sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
	echo "$n $d"
}

load 0 0 "$KEYS" 1
client=$(ct_appender_id "$cg")
for i in 1 2 3 4 5 6; do
	# 5 % of the keys, a different slice every time, written in key order as a batch job would.
	[ "$i" = 1 ] || load "$i" $(((i - 2) * CHANGED)) "$CHANGED" 1
	t_ctl freeze-and-dump ct >/dev/null
done
declare -A digest
digest[5]=$(expected_digest 5)
t_assert_eq "$(t_ctl_json list ct | jq -r '.[].id' | xargs)" "1 2 3 4 5 6" "pair ids"
t_ctl list ct
full=$(t_ctl_json show ct 1 | jq .images.bytes)
for i in 2 3 4 5 6; do
	t_assert_eq "$(t_ctl_json show ct "$i" | jq .images.shared_from)" $((i - 1)) "pair $i shared from"
done
added=$(t_ctl_json list ct | jq '[.[].images.added_bytes] | add')
echo "one full image: $full bytes; six pairs added $added bytes ($((added * 100 / full)) % of one full image)"
[ "$added" -le $((full * 16 / 10)) ] || t_fail "six pairs added $added bytes, more than 1.6 x one full image ($full)"

# The pair's own AOF (in its snapshot) is the state of that moment.
read -r k5 d5 < <(aof_state "$MNT/.ckptd/ct/5/ct/var/lib/redis/aof")
t_assert_eq "$d5" "${digest[5]}" "the keys in pair 5's AOF"

for i in $(shuf -e 1 2 3 4); do
	t_ctl delete ct "$i" >/dev/null
done
t_assert_eq "$(t_ctl_json list ct | jq -r '.[].id' | xargs)" "5 6" "pairs after the deletes"
t_assert_contains "$(t_ctl verify ct 5)" "OK"

sleep 0.5
before=$(ct_redis "$cg" LLEN l)
t_ctl rollback ct 5 --no-safety-pair >/dev/null
ct_check_rolled_back "$cg" "$MNT/ct/var/lib/redis/aof" "$k5" "$before" "$client"
t_assert_eq "$(digest_live)" "${digest[5]}" "the keys in Redis's memory after the rollback to pair 5"
ct_assert_grows "$cg"
rm -rf "$T/aof-keys"
t_cgroup_freeze "$cg"
cp -a "$MNT/ct/var/lib/redis/aof" "$T/aof-keys"
t_cgroup_thaw "$cg"
read -r _ dnow < <(aof_state "$T/aof-keys")
t_assert_eq "$dnow" "${digest[5]}" "the keys in the AOF on disk after the rollback to pair 5"
t_pass
