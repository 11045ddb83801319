# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# container-lib.sh — containers with namespaces of their own for the integration tests
# (test-container.sh, test-nspawn.sh). Source it after lib.sh.
#
#   MNT=$(t_btrfs_loop 512)
#   t_btrfs_subvol "$MNT/ct"
#   ct_make_rootfs "$MNT/ct"               # a minimal root; the host's /usr is bound read-only
#   ct_install_redis_workload "$MNT/ct"    # /workload.sh: Redis (AOF, fsync always) + a TCP client
#   cg=$(t_cgroup_create v2 ct)
#   init=$(ct_start "$cg" "$MNT/ct" --net -- /usr/bin/bash /workload.sh)
#   ct_redis "$cg" LLEN l
#
# The containers are built like LXC/nspawn/runc build theirs (see ct-init.sh): own PID, mount,
# UTS, IPC and (with --net) network namespaces, the rootfs a btrfs subvolume entered with
# pivot_root, and host bind mounts (/usr read-only, plus any --bind).

CT_INIT=$TESTS_DIR/integration/ct-init.sh

# ct_make_rootfs DIR: a minimal root file system in DIR (a btrfs subvolume): the usual
# directories, merged-/usr symlinks, a few files of /etc. /usr itself stays empty: ct_start
# binds the host's /usr read-only onto it.
ct_make_rootfs() {
	local r=${1:?usage: ct_make_rootfs DIR} d
	for d in usr etc proc sys dev tmp run root var/lib var/log var/tmp srv; do
		mkdir -p "$r/$d"
	done
	chmod 1777 "$r/tmp" "$r/var/tmp"
	for d in bin sbin lib lib64; do
		[ -e "/$d" ] && ln -sfn "usr/$d" "$r/$d"
	done
	cp /etc/passwd /etc/group /etc/hosts /etc/nsswitch.conf "$r/etc/" 2>/dev/null || true
	[ -e /etc/ld.so.cache ] && cp /etc/ld.so.cache "$r/etc/"
	echo "ckptd-ct" >"$r/etc/hostname"
	return 0
}

# ct_start CGROUP ROOT [--net] [--bind SRC:DST[:ro]]... -- CMD [ARG...]: starts a container in
# CGROUP whose root is ROOT, with CMD as its PID 1; prints the PID of that task (as the host
# sees it). The host's /usr is always bound read-only.
ct_start() {
	local cg=${1:?usage: ct_start CGROUP ROOT [--net] [--bind ...] -- CMD} root=${2:?usage: ct_start CGROUP ROOT ...}
	local flags=(--mount --uts --ipc) args=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		--net) flags+=(--net); shift ;;
		--bind) args+=(--bind "$2"); shift 2 ;;
		*) t_fail "ct_start: unknown option $1" ;;
		esac
	done
	[ "${1:-}" = -- ] || t_fail "ct_start: missing -- CMD"
	shift
	t_start_in_cgroup "$cg" unshare "${flags[@]}" --propagation unchanged \
		bash "$CT_INIT" "$root" --bind /usr:/usr:ro "${args[@]}" -- "$@"
}

# ct_init CGROUP: the container's PID 1 (NSpid ends in 1), as the host sees it.
ct_init() {
	local p
	for p in $(t__cgroup_procs_all "${1:?usage: ct_init CGROUP}"); do
		grep -q $'^NSpid:.*\t1$' "/proc/$p/status" 2>/dev/null && { echo "$p"; return 0; }
	done
	return 1
}

# ct_install_redis_workload ROOT [PORT [ADDRESS...]]: /workload.sh, PID 1 of the Redis container:
# redis-server (AOF with appendfsync always in /var/lib/redis on the rootfs, TCP 127.0.0.1:PORT
# (default 6379, set CT_REDIS_PORT to the same for ct_redis) in the container's network
# namespace, and on each ADDRESS too: Redis starts once they are all configured, e.g. on a veth
# the test adds after ct_start) and
# /appender.py, a client that keeps ONE TCP connection
# (CLIENT SETNAME appender) and appends 1, 2, 3, ... to the list "l", checking that every RPUSH
# answers its own number: it never reconnects, and stops (writing /var/log/appender.err) at the
# first surprise. SIGUSR1 to PID 1 starts /hold.sh (ROOT/hold.sh, written by the test) in the
# background, SIGUSR2 stops it.
ct_install_redis_workload() {
	local r=${1:?usage: ct_install_redis_workload ROOT [PORT [ADDRESS...]]} port=${2:-6379}
	mkdir -p "$r/var/lib/redis"
	echo "$port" >"$r/etc/redis-port"
	echo "127.0.0.1" "${@:3}" >"$r/etc/redis-bind"
	cat >"$r/workload.sh" <<'EOF'
#!/bin/bash
# PID 1 of the Redis test container.
read -r port </etc/redis-port
read -r -a bind </etc/redis-bind
for a in "${bind[@]:1}"; do # wait (10 s) for addresses configured after the start
	for ((i = 0; i < 500; i++)); do
		ip -o addr show | grep -q " $a/" && break
		sleep 0.02
	done
done
redis-server --dir /var/lib/redis --appendonly yes --appendfsync always --appenddirname aof \
	--bind "${bind[@]}" --port "$port" --save '' --daemonize no --protected-mode no \
	--logfile /var/log/redis.log &
redis=$!
/usr/bin/python3 /appender.py "$port" &
holder=
trap '/usr/bin/bash /hold.sh & holder=$!' USR1
trap '[ -z "$holder" ] || kill "$holder"; holder=' USR2
while kill -0 "$redis" 2>/dev/null; do
	wait "$redis"
done
EOF
	cat >"$r/appender.py" <<'EOF'
# Appends 1, 2, 3, ... to the Redis list "l" over one TCP connection, forever.
import socket, sys, time

def connect():
    for _ in range(500):
        try:
            return socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        except OSError:
            time.sleep(0.02)
    sys.exit("redis does not answer")

s = connect()
f = s.makefile("rb")

def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    s.sendall(b"".join(parts))
    line = f.readline()
    if not line:
        fail("connection closed by redis")
    return line

def fail(why):
    with open("/var/log/appender.err", "a") as e:
        e.write(why + "\n")
    sys.exit(1)

if cmd("CLIENT", "SETNAME", "appender") != b"+OK\r\n":
    fail("SETNAME failed")
i = int(cmd("LLEN", "l")[1:]) + 1
while True:
    r = cmd("RPUSH", "l", i)
    if r != b":%d\r\n" % i:
        fail("RPUSH %d answered %r" % (i, r))
    i += 1
    time.sleep(0.004)
EOF
	chmod +x "$r/workload.sh"
}

# ct_redis CGROUP ARG...: redis-cli ARG... against the container's Redis (from the host, in the
# container's network namespace).
ct_redis() {
	local cg=${1:?usage: ct_redis CGROUP ARG...} init
	shift
	init=$(ct_init "$cg") || t_fail "no container init in $cg"
	nsenter -t "$init" -n redis-cli --raw -h 127.0.0.1 -p "${CT_REDIS_PORT:-6379}" "$@"
}

# ct_assert_sequence NAME: stdin (one number a line) is exactly 1..N with N > 0; prints N.
ct_assert_sequence() {
	"$T_PYTHON" -S -c '
import sys
name = sys.argv[1]
got = [l.strip() for l in sys.stdin if l.strip()]
for i, v in enumerate(got, 1):
    if v != str(i):
        sys.exit("%s: item %d is %r, expected %d (around it: %r); %d items" % (name, i, v, i, got[max(0, i - 4):i + 3], len(got)))
if not got:
    sys.exit("%s: empty" % name)
print(len(got))' "${1:?usage: ct_assert_sequence NAME}" || t_fail "$1 is not the sequence 1..N"
}

# ct_appender_id CGROUP: the Redis client id of the appender's connection.
ct_appender_id() {
	ct_redis "$1" CLIENT LIST | sed -n 's/^id=\([0-9]*\) .* name=appender .*/\1/p'
}

# ct_aof_replay AOFDIR: loads a copy of the AOF directory into a fresh redis-server on the host
# (unix socket only) and prints the list "l", one item a line.
ct_aof_replay() {
	local src=${1:?usage: ct_aof_replay AOFDIR} dir pid i out
	dir=$(mktemp -d "$T/replay.XXXXXX")
	cp -a "$src" "$dir/aof"
	redis-server --dir "$dir" --appendonly yes --appenddirname aof --port 0 --unixsocket "$dir/sock" \
		--save '' --daemonize no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 250; i++)); do
		[ "$(redis-cli -s "$dir/sock" PING 2>/dev/null)" = PONG ] && break
		sleep 0.02
	done
	out=$(redis-cli --raw -s "$dir/sock" LRANGE l 0 -1) || { kill "$pid"; t_fail "AOF replay of $src: $(tail -5 "$dir/redis.log")"; }
	redis-cli -s "$dir/sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
	echo "$out"
}

# ct_assert_grows CGROUP: the list keeps growing (the appender still runs, on its connection).
ct_assert_grows() {
	local a b
	a=$(ct_redis "$1" LLEN l)
	sleep 0.5
	b=$(ct_redis "$1" LLEN l)
	[ "$b" -gt "$a" ] || t_fail "the list does not grow ($a -> $b): the appender stopped$(ct__appender_err "$1")"
}

ct__appender_err() {
	local init
	init=$(ct_init "$1") || return 0
	[ -e "/proc/$init/root/var/log/appender.err" ] && echo "; appender.err: $(cat "/proc/$init/root/var/log/appender.err")"
	return 0
}

# ct_wait_appender CGROUP: waits (5 s) until the list has 20 items.
ct_wait_appender() {
	local n=0 i
	for ((i = 0; i < 250; i++)); do
		n=$(ct_redis "$1" LLEN l 2>/dev/null || echo 0)
		[ "${n:-0}" -ge 20 ] && return 0
		sleep 0.02
	done
	t_fail "the appender did not start (LLEN $n)$(ct__appender_err "$1")"
}

# ct_check_rolled_back CGROUP LIVE_AOFDIR K BEFORE CLIENT: after a rollback to a pair whose AOF
# holds 1..K, taken when the list had fewer items than BEFORE: Redis's memory is 1..N with
# K <= N < BEFORE, the appender is on connection CLIENT still, the list grows, and the AOF on
# disk (copied while the cgroup is frozen) replays to 1..M with M >= K.
ct_check_rolled_back() {
	local cg=$1 aof=$2 k=$3 before=$4 client=$5 n m
	t_cgroup_frozen "$cg" && t_fail "cgroup left frozen after rollback"
	n=$(ct_redis "$cg" LRANGE l 0 -1 | ct_assert_sequence "Redis memory after rollback")
	[ "$n" -ge "$k" ] || t_fail "memory has $n items, fewer than the $k of the pair's AOF"
	[ "$n" -lt "$before" ] || t_fail "memory has $n items, not fewer than the $before before the rollback: not rolled back"
	t_assert_eq "$(ct_appender_id "$cg")" "$client" "the appender's connection (CLIENT ID)"
	ct_assert_grows "$cg"
	t_cgroup_freeze "$cg"
	rm -rf "$T/aof-now"
	cp -a "$aof" "$T/aof-now"
	t_cgroup_thaw "$cg"
	m=$(ct_aof_replay "$T/aof-now" | ct_assert_sequence "AOF on disk after rollback")
	[ "$m" -ge "$k" ] || t_fail "the AOF on disk replays to $m items, fewer than the pair's $k"
	echo "rolled back: pair AOF 1..$k, memory 1..$n (was $before), AOF on disk 1..$m, client $client"
}

# ct_assert_refused CGROUP CONTAINER NEEDLE: freeze-and-dump must fail at step 'discover',
# naming NEEDLE, with no pair made and the cgroup never frozen (watched continuously while the
# call runs); inspect must say why too (exit status 1).
ct_assert_refused() {
	local cg=$1 name=$2 needle=$3 pairs_before seen=$T/frozen-seen stop=$T/stop-watch watcher k v
	pairs_before=$(t_ctl_json list "$name" | jq length)
	rm -f "$seen" "$stop"
	(
		trap - ERR
		while [ ! -e "$stop" ]; do
			while read -r k v; do
				[ "$k" = frozen ] && [ "$v" = 1 ] && : >"$seen"
			done <"$cg/cgroup.events"
		done
	) &
	watcher=$!
	t_run t_ctl freeze-and-dump "$name"
	: >"$stop"
	wait "$watcher" || true
	echo "$T_ERR"
	t_assert_eq "$T_RC" 1 "exit status of a refused freeze-and-dump"
	t_assert_contains "$T_ERR" "step 'discover' failed"
	t_assert_contains "$T_ERR" "$needle"
	t_assert_contains "$T_ERR" "the container was not frozen"
	[ ! -e "$seen" ] || t_fail "the cgroup was frozen although the checkpoint was refused"
	t_assert_eq "$(t_ctl_json list "$name" | jq length)" "$pairs_before" "pairs after a refused checkpoint"
	t_run t_ctl inspect "$name"
	t_assert_eq "$T_RC" 1 "exit status of inspect of a container that cannot be checkpointed"
	t_assert_contains "$T_OUT" "Checkpointable: NO"
	t_assert_contains "$T_OUT" "$needle"
}
