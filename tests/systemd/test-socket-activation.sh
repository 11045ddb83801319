#!/usr/bin/env bash
# Socket activation as ckptd.socket does it, without systemd as PID 1: systemd-socket-activate
# listens, starts ckptd on the first connection with the listening socket as fd 3
# (LISTEN_FDS=1), and ckptd must serve that socket rather than bind --socket itself. The
# connection that triggered the start must get its answer, later ones too.
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root (ckptd's state directory, criu discovery)"
mkdir -p "$TMP/conf/containers.d" "$TMP/state"
printf '[Container]\nCgroup=/sys/fs/cgroup/nothing\nVolume=/srv/nothing\n' >"$TMP/conf/containers.d/demo.conf"
SOCK=$TMP/io.ckptd.Manager

cleanup() {
	if [ -n "${activator:-}" ] && kill -0 "$activator" 2>/dev/null; then
		kill -KILL "$activator" 2>/dev/null || true
		wait "$activator" 2>/dev/null || true
	fi
}

timeout 60 systemd-socket-activate -l "$SOCK" \
	"$CKPTD" --config-dir "$TMP/conf" --state-dir "$TMP/state" --socket "$TMP/not-this-one" \
	</dev/null >"$TMP/log" 2>&1 &
activator=$!
for _ in $(seq 100); do
	[ -S "$SOCK" ] && break
	sleep 0.05
done
[ -S "$SOCK" ] || fail "systemd-socket-activate did not create $SOCK: $(cat "$TMP/log")"
# Nothing runs ckptd yet: the timeout's child is still systemd-socket-activate.
child=$(tr -d " \n" <"/proc/$activator/task/$activator/children")
[ "$(cat "/proc/$child/comm")" != ckptd ] || fail "ckptd started before the first connection"

info "first connection starts ckptd"
out=$(timeout 20 "$CKPTCTL" --socket "$SOCK" --json status) || fail "ckptctl status failed (exit $?): $(cat "$TMP/log")"
pid=$(jq -r .pid <<<"$out")
[ "$pid" = "$child" ] ||
	fail "status reports pid $pid, but systemd-socket-activate (pid $child) should have become ckptd"
[ "$(cat "/proc/$child/comm")" = ckptd ] || fail "pid $child is $(cat "/proc/$child/comm"), not ckptd"
grep -q "Listening on the socket passed by the service manager" "$TMP/log" ||
	fail "ckptd did not say it uses the passed socket: $(cat "$TMP/log")"
[ ! -e "$TMP/not-this-one" ] || fail "ckptd bound --socket although it was given a socket"

info "later connections are served by the same ckptd"
out=$(timeout 20 "$CKPTCTL" --socket "$SOCK" --json containers) || fail "ckptctl containers failed (exit $?)"
[ "$(jq -r '.[0].name' <<<"$out")" = demo ] || fail "containers did not list demo: $out"
[ "$(timeout 20 "$CKPTCTL" --socket "$SOCK" --json status | jq -r .pid)" = "$child" ] ||
	fail "a second ckptd answered"

info "SIGTERM: clean exit"
kill -TERM "$child"
rc=0
timeout 10 tail --pid="$child" -f /dev/null || fail "ckptd did not exit within 10 s of SIGTERM"
wait "$activator" || rc=$?
[ "$rc" = 0 ] || fail "ckptd exited with status $rc after SIGTERM: $(cat "$TMP/log")"
[ -S "$SOCK" ] || fail "ckptd removed the socket it did not create"
info "ok"
