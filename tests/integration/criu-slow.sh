#!/usr/bin/env bash
# A criu for fault injection: runs the real criu, but once the container's cgroup is frozen
# it stops criu (SIGSTOP) for $CRIU_SLOW_HOLD seconds, then lets it go on. The cgroup to
# watch is $CRIU_SLOW_CGROUP (v2 cgroup.events or v1 freezer.state). Mid-dump, that is what a
# CRIU stuck on a huge or slow image looks like.
set -u
real=${CRIU_REAL:-$(PATH=/usr/local/sbin:/usr/sbin:/usr/bin command -v criu)}
cg=${CRIU_SLOW_CGROUP:?}
hold=${CRIU_SLOW_HOLD:-30}
me=$$
setsid -f bash -c '
	cg=$1 me=$2 hold=$3
	for _ in $(seq 2000); do
		if grep -qs "^frozen 1" "$cg/cgroup.events" || grep -qs "^FROZEN" "$cg/freezer.state"; then
			kill -STOP "$me" 2>/dev/null; sleep "$hold"; kill -CONT "$me" 2>/dev/null; exit 0
		fi
		sleep 0.002
	done' _ "$cg" "$me" "$hold" </dev/null >/dev/null 2>&1
exec "$real" "$@"
