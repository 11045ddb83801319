#!/bin/sh
# The `predump` suite, inside the guest (tests/vm/run-vm-test.sh boots it): PreDump= through the
# project's own ckptd and ckptctl, on the guest's Debian kernel, which tracks dirty memory
# (soft-dirty; this host's kernel does not). The workload is memw (tests/workloads/memw.c): MIB
# MiB of pages whose content it can recompute, so it checks its whole memory on SIGUSR2.
#   inspect:   transparent huge pages on -> a warning that pre-dump gains nothing, and what to do;
#              off -> none
#   pre-dump:  PreDump=1, a 256 MiB memw rewriting 5 % of its pages every second meanwhile;
#              the pair records the pass, holds no pre-dump and no "in parent" page; rollback;
#              memw verifies its whole memory, rewrites, verifies again
#   budget:    MaxFrozenSec=20ms: the pre-dump pass's stop exceeds it; the job fails, the
#              container is thawed and intact, nothing is left behind
#   numbers:   frozen window of a plain dump and of the final dump after a pre-dump, ROUNDS
#              rounds interleaved, printed, never asserted (bench/predump runs more); memw
#              rewrites 5 % of its pages once before the plain dump, and once as soon as the
#              pre-dump pass is done (the pages the final dump must write again)
# Parameters (/ckptd-test/params, from CKPTD_VM_PARAMS): MIB (256), ROUNDS (2), INTERVAL (1: the
# seconds between memw's rewrites of 5 % during the pre-dump test), REWRITES (3: how many),
# ONLY_NUMBERS (0; 1: the numbers alone, for bench/predump).
set -u
. /ckptd-test/guest-lib.sh
MIB=256
ROUNDS=2
INTERVAL=1
REWRITES=3
ONLY_NUMBERS=0
. /ckptd-test/params
THP=/sys/kernel/mm/transparent_hugepage/enabled

# memw_start CGROUP STATEFILE MIB
memw_start() {
	mkdir -p "/sys/fs/cgroup/$1"
	rm -f "$2"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare --pid --fork setsid memw "$1" 5 "$2"' \
		"/sys/fs/cgroup/$1" "$3" "$2" </dev/null >/dev/null 2>&1 &
	memw_wait "$2" >/dev/null || exit 1
}

# memw_root CGROUP: the task that is PID 1 of its namespace
memw_root() {
	for p in $(cat "/sys/fs/cgroup/$1/cgroup.procs"); do
		if awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$p/status" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	fail "no memw in cgroup $1"
}

# memw_wait STATEFILE: its next report (software emulation: up to 300 s)
memw_wait() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 3000 ] || fail "memw did not report in $1 within 300 s"
		sleep 0.1
	done
	cat "$1"
}

# memw_ask CGROUP STATEFILE USR1|USR2
memw_ask() {
	rm -f "$2"
	kill -"$3" "$(memw_root "$1")" || fail "cannot signal memw"
	memw_wait "$2"
}

memw_verify() { # CGROUP STATEFILE WHAT
	out=$(memw_ask "$1" "$2" USR2) || exit 1
	case "$out" in "verify ok "*) say "$3: memw verified its memory ($out)" ;; *) fail "$3: memw says: $out" ;; esac
}

# rewriter_start CGROUP: memw rewrites 5 % of its pages every INTERVAL s, REWRITES times at most
# (a bound that holds however slow the machine), until rewriter_stop
rewriter_start() {
	touch /tmp/rewriting
	(
		root=$(memw_root "$1")
		n=0
		while [ -e /tmp/rewriting ] && [ $n -lt "$REWRITES" ]; do
			kill -USR1 "$root" 2>/dev/null
			n=$((n + 1))
			sleep "$INTERVAL"
		done
	) &
	REWRITER=$!
}
rewriter_stop() {
	rm -f /tmp/rewriting
	wait "$REWRITER" 2>/dev/null
	sleep 1 # the last rewrite finishes
}

# conf NAME CGROUP KEY=VALUE...: a container on the btrfs volume with extra [Checkpoint] keys
conf() {
	n=$1
	c=$2
	shift 2
	container "$n" "$c" /mnt/btrfs/vol
	{
		echo "[Checkpoint]"
		for a in "$@"; do echo "$a"; done
	} >>"/etc/ckptd/containers.d/$n.conf"
}

# rewrite_after_predump CGROUP STATEFILE: in the background, one 5 % rewrite as soon as ckptd logs
# that the next pre-dump pass is done
rewrite_after_predump() {
	n=$(grep -c "pre-dump pass(es) in" "$CKPTD_LOG")
	root=$(memw_root "$1")
	(
		i=0
		while [ "$(grep -c "pre-dump pass(es) in" "$CKPTD_LOG")" -le "$n" ] && [ $i -lt 6000 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		rm -f "$2"
		kill -USR1 "$root"
	) &
	REWRITER=$!
}

# the pair's final-dump page counts from ckptd's log line
merged_line() { grep "$1: pair $2 after" "$CKPTD_LOG" | tail -n1; }

step "setup: state directory and volume on btrfs (/dev/vdb); CRIU $(criu --version | head -n1)"
run mkfs.btrfs -q /dev/vdb
mkdir -p /mnt/btrfs /var/lib/ckptd
run mount /dev/vdb /mnt/btrfs
run btrfs -q subvolume create /mnt/btrfs/vol
run btrfs -q subvolume create /mnt/btrfs/state
run mount --bind /mnt/btrfs/state /var/lib/ckptd
if ! criu check --feature mem_dirty_track; then
	fail "this guest's kernel should track dirty memory (soft-dirty): the suite cannot test pre-dump"
fi
say "transparent huge pages: $(cat $THP)"
conf pd pd PreDump=1
conf plain pd PreDump=no
conf tight pd PreDump=1 MaxFrozenSec=20ms
conf thp thp
daemon_start
ST=/mnt/btrfs/vol/memw.state

if [ "$ONLY_NUMBERS" = 1 ]; then
	echo never >$THP
	memw_start pd $ST "$MIB"
	PAGES=$((MIB * 256))
else
# ---------------------------------------------------------------------------------------------
step "inspect: transparent huge pages on, then off"
echo always >$THP
memw_start thp /tmp/thp.state 64
THP_ROOT=$(memw_root thp) || exit 1
HUGE=$(awk '/^AnonHugePages:/ { s += $2 } END { print s + 0 }' "/proc/$THP_ROOT/smaps_rollup")
say "memw (64 MiB) has $HUGE kB in huge pages"
[ "$HUGE" -ge 8192 ] || fail "the kernel gave memw no huge pages with THP always: cannot test the warning"
OUT=$(ckptctl inspect thp 2>&1)
echo "$OUT" | grep -i "huge"
case "$OUT" in *"transparent huge pages"*"PreDump=no"*) ;; *) fail "inspect does not warn about huge pages" ;; esac
cgroup_kill thp
echo never >$THP
memw_start thp /tmp/thp.state 64
OUT=$(ckptctl inspect thp 2>&1)
case "$OUT" in *"huge pages"*) fail "inspect warns about huge pages with THP off: $OUT" ;; esac
say "no warning with THP off"
cgroup_kill thp

# ---------------------------------------------------------------------------------------------
step "pre-dump: PreDump=1, $MIB MiB memw rewriting 5 % every ${INTERVAL} s ($REWRITES times)"
memw_start pd $ST "$MIB"
PAGES=$((MIB * 256))
rewriter_start pd
P=$(ctl freeze-and-dump pd) || exit 1
rewriter_stop
timings "$P"
echo "$P" | jq -c '.timings | with_entries(select(.key | startswith("predump_")))'
ID=$(echo "$P" | jq -r .id)
[ "$(echo "$P" | jq -r .timings.predump_passes)" = 1 ] || fail "pair $ID: no pre-dump pass recorded"
[ "$(echo "$P" | jq -r .timings.predump_stopped_usec)" -gt 0 ] || fail "pair $ID: the pass's stop was not measured"
L=$(merged_line pd "$ID")
echo "$L"
OWN=$(echo "$L" | sed -n 's/.*final dump wrote \([0-9]*\) pages, \([0-9]*\) came.*/\1/p')
INH=$(echo "$L" | sed -n 's/.*final dump wrote \([0-9]*\) pages, \([0-9]*\) came.*/\2/p')
if [ -z "$OWN" ] || [ -z "$INH" ]; then fail "no merge line for pair $ID in the log"; fi
# at most REWRITES x 5 % rewritten: the rest must have come from the pre-dump
[ "$INH" -gt $((PAGES / 2)) ] || fail "only $INH of the $PAGES pages came from the pre-dump"
IMG=/var/lib/ckptd/containers/pd/pairs/$ID/images
LEFT=$(find "$IMG" /run/ckptd -name 'predump-*' -o -name parent -o -name '.ckptd-merge-*' -o -name 'pd-*' | grep -v '\.sock$')
[ -z "$LEFT" ] || fail "pre-dump leftovers: $LEFT"
V=$(ctl verify pd "$ID") || exit 1
[ "$(echo "$V" | jq -r .ok)" = true ] || fail "verify pd $ID: $V"
say "pair $ID: self-contained ($(find "$IMG" -type f | wc -l) image files), verify ok"
memw_verify pd $ST "before the rollback"

step "rollback to the pre-dumped pair $ID"
R=$(ctl rollback pd "$ID" --no-safety-pair) || exit 1
echo "$R" | jq -c .
memw_verify pd $ST "after the rollback"
OUT=$(memw_ask pd $ST USR1) || exit 1
case "$OUT" in "rewrote "*) ;; *) fail "the restored memw does not run on: $OUT" ;; esac
memw_verify pd $ST "after a rewrite"

# ---------------------------------------------------------------------------------------------
step "MaxFrozenSec=20ms holds for the pre-dump pass"
OUT=$(ctl_fails freeze-and-dump tight) || exit 1
echo "$OUT"
case "$OUT" in *MaxFrozenSec*"let it go: it runs"*) ;; *) fail "the failure does not name MaxFrozenSec and the container's state" ;; esac
[ "$(cat /sys/fs/cgroup/pd/cgroup.freeze)" = 0 ] || fail "cgroup pd left frozen"
[ "$(ctl list tight | jq length)" = 0 ] || fail "a pair of 'tight' is listed"
LEFT=$(find /var/lib/ckptd/containers/tight /run/ckptd -name 'predump-*' -o -name 'tight-*' 2>/dev/null)
[ -z "$LEFT" ] || fail "leftovers of the failed job: $LEFT"
memw_verify pd $ST "after the failed job"
# what is in the cgroup now (state, tracer): a later dump must be able to seize it all
for p in $(cat /sys/fs/cgroup/pd/cgroup.procs /sys/fs/cgroup/pd/cgroup.threads | sort -u); do
	echo "task $p: $(awk '/^(Name|State|TracerPid|PPid|NSpid):/ { printf "%s ", $0 }' /proc/$p/status 2>/dev/null)"
done
ps -o pid,ppid,stat,comm | awk '$3 ~ /Z/'
run ckptctl delete pd "$ID"
fi

# ---------------------------------------------------------------------------------------------
step "numbers: frozen window, plain dump vs final dump after a pre-dump ($ROUNDS rounds, $MIB MiB, THP $(cat $THP))"
# what one small write() costs here (CRIU writes each line of its log with one)
t0=$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/zero of=/var/lib/ckptd/writecost bs=100 count=200000 2>/dev/null
t1=$(cut -d' ' -f1 /proc/uptime)
echo "WRITECOST $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "200000 writes of 100 bytes to a file in /var/lib/ckptd: %.2f s, %.1f us each", b - a, (b - a) * 5 }')"
rm -f /var/lib/ckptd/writecost
r=1
while [ $r -le "$ROUNDS" ]; do
	for c in plain pd; do
		if [ $c = plain ]; then
			OUT=$(memw_ask pd $ST USR1) || exit 1
			P=$(ctl freeze-and-dump $c) || exit 1
		else
			rewrite_after_predump pd $ST
			P=$(ctl freeze-and-dump $c) || exit 1
			wait "$REWRITER"
			memw_wait $ST >/dev/null || exit 1
		fi
		id=$(echo "$P" | jq -r .id)
		f=$(echo "$P" | jq -r .frozen_usec)
		if [ $c = plain ]; then
			PLAIN=$f
			say "round $r: plain dump: frozen $(ms "$f")"
		else
			L=$(merged_line pd "$id")
			own=$(echo "$L" | sed -n 's/.*final dump wrote \([0-9]*\) pages.*/\1/p')
			echo "$P" | jq -r --arg r $r --arg plain "$PLAIN" --arg own "${own:-?}" --arg pages $PAGES \
				'"NUMBERS round \($r): plain frozen_usec \($plain), pre-dump final frozen_usec \(.frozen_usec) = \((.frozen_usec * 100 / ($plain | tonumber)) | floor) % of plain; final dump wrote \($own) of \($pages) pages; pre-dump stopped the tasks \(.timings.predump_stopped_usec) us, pre-dump wall \(.timings.predump_usec) us, merge \(.timings.predump_merge_usec) us, persist \(.timings.persist_usec) us"'
		fi
		# where CRIU's time went: its phases, and the steps of its log that took longer than 100 ms
		echo "$P" | jq -c --arg c $c '{($c): .timings.criu_phases}'
		awk -v c=$c '/^\([0-9]/ { t = substr($1, 2) + 0; if (seen && t - prev > 0.1) printf "%s: +%.2f s before: %s\n", c, t - prev, $0; prev = t; seen = 1 }' \
			"/var/lib/ckptd/containers/$c/pairs/$id/dump.log" | head -n 12
		# ... and by kind of log line, inside the window (from CRIU's pre-dump notification to
		# "Unfreezing tasks"): the time after each line until the next, summed per kind (numbers
		# folded), the eight largest; and how many lines CRIU wrote there (each is one write())
		awk -v c=$c '
			/^\([0-9]/ {
				t = substr($1, 2) + 0
				if (inwin && seen) { s[k] += t - prev; n[k]++ }
				if (/Running pre-dump scripts/) inwin = 1
				if (/Unfreezing tasks/) inwin = 0
				k = $0; sub(/^\([^)]*\) */, "", k); gsub(/0x[0-9a-f]+|[0-9]+/, "N", k); k = substr(k, 1, 56)
				prev = t; seen = 1; all++; if (inwin) lines++
			}
			END {
				printf "WINDOW %s: %d log lines in the window (%d in the log)\n", c, lines, all
				for (x in s) printf "WINDOW %s: %8.3f s in %6d gaps after \"%s\"\n", c, s[x], n[x], x
			}' "/var/lib/ckptd/containers/$c/pairs/$id/dump.log" | sort -k3,3 -rn | head -n 9
		run ckptctl delete $c "$id"
	done
	r=$((r + 1))
done
memw_verify pd $ST "at the end"

daemon_stop
step "PASS"
exit 0
