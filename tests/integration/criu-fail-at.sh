#!/usr/bin/env bash
# A criu for fault injection: behaves as the real criu, except that its $CRIU_FAIL_AT-th run
# (counted in the file $CRIU_COUNTER) fails at once, as a CRIU that cannot restore does.
set -u
real=$(PATH=/usr/local/sbin:/usr/sbin:/usr/bin command -v criu)
n=$(( $(cat "${CRIU_COUNTER:?}" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$CRIU_COUNTER"
if [ "$n" = "${CRIU_FAIL_AT:?}" ]; then
	echo "criu-fail-at: injected failure of run $n" >&2
	exit 1
fi
exec "$real" "$@"
