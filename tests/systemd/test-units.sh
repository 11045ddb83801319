#!/usr/bin/env bash
# The installed systemd files are what systemd accepts: every unit passes
# `systemd-analyze verify` (offline: --root on a meson install, so ExecStart= binaries and
# the Documentation= man pages are checked where they were installed), and tmpfiles.d and
# sysusers.d create what they should. A warning counts as a failure (systemd only warns about
# a misspelt key); two broken units check that this test would notice.
. "$(dirname "$0")/common.sh"

ROOT=$TMP/root
install_into "$ROOT"
UNITDIR=$UNIT_DIR # as installed, e.g. /lib/systemd/system
[ -d "$ROOT$UNITDIR" ] || fail "meson install put no units into $UNITDIR"
for f in ckptd.service ckptd.socket ckptd-checkpoint@.service ckptd-checkpoint@.timer; do
	[ -f "$ROOT$UNITDIR/$f" ] || fail "$UNITDIR/$f was not installed"
done
# The targets and units ours refer to (sockets.target, basic.target, ...), and the programs
# they run besides ours, from the host.
cp -an /lib/systemd/system/. "$ROOT$UNITDIR/"
systemctl=$(type -P systemctl) || fail "no systemctl on this host"
install -D "$systemctl" "$ROOT$systemctl"

# Documentation=man:... is checked with man(1), against the installed pages (MANPATH). Without
# man-db the pages' presence is still checked below, with the rest of the installation.
man_check=--man=yes
command -v man >/dev/null || { man_check=--man=no; info "no man(1): Documentation= not checked by verify"; }

# verify UNIT...: succeeds only if systemd-analyze exits 0 and prints nothing.
verify() {
	local out rc=0
	out=$(MANPATH="$ROOT$MAN_DIR" SYSTEMD_LOG_COLOR=0 timeout 60 \
		systemd-analyze verify "$man_check" --root="$ROOT" "$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		echo "$out"
		return 1
	fi
}

info "verifying the unit files"
verify "$UNITDIR/ckptd.service" "$UNITDIR/ckptd.socket" \
	"$UNITDIR/ckptd-checkpoint@.service" "$UNITDIR/ckptd-checkpoint@.timer" ||
	fail "systemd-analyze verify rejects or warns about the units (above)"
info "verifying instances (the names ckptd-generator enables)"
verify ckptd-checkpoint@web.timer ckptd-checkpoint@web-1.service ||
	fail "systemd-analyze verify rejects or warns about the template instances (above)"

info "negative controls"
sed 's/^WatchdogSec=/WatchdogSecc=/' "$ROOT$UNITDIR/ckptd.service" >"$ROOT$UNITDIR/broken-key.service"
out=$(verify "$UNITDIR/broken-key.service") && fail "a misspelt key went unnoticed"
grep -q "Unknown key 'WatchdogSecc'" <<<"$out" || fail "unexpected verify output for a misspelt key: $out"
mv "$ROOT/$SBIN_DIR/ckptd" "$ROOT/$SBIN_DIR/ckptd.moved"
out=$(verify "$UNITDIR/ckptd.service") && fail "a missing ExecStart= binary went unnoticed"
grep -q "ckptd is not executable" <<<"$out" || fail "unexpected verify output for a missing binary: $out"
mv "$ROOT/$SBIN_DIR/ckptd.moved" "$ROOT/$SBIN_DIR/ckptd"

info "tmpfiles.d and sysusers.d"
tmpfiles=$ROOT$TMPFILES_DIR/ckptd.conf
sysusers=$ROOT$SYSUSERS_DIR/ckptd.conf
[ -f "$tmpfiles" ] || fail "tmpfiles.d/ckptd.conf was not installed into $TMPFILES_DIR"
[ -f "$sysusers" ] || fail "sysusers.d/ckptd.conf was not installed into $SYSUSERS_DIR"
mkdir -p "$ROOT/etc" "$ROOT/run" "$ROOT/var/lib"
out=$(timeout 30 systemd-tmpfiles --root="$ROOT" --create "$tmpfiles" 2>&1) ||
	fail "systemd-tmpfiles --create failed: $out"
[ -z "$out" ] || fail "systemd-tmpfiles warned: $out"
[ "$(stat -c %a "$ROOT/var/lib/ckptd")" = 700 ] || fail "/var/lib/ckptd is not mode 0700"
[ "$(stat -c %a "$ROOT/run/ckptd")" = 755 ] || fail "/run/ckptd is not mode 0755"
[ -d "$ROOT/etc/ckptd/containers.d" ] || fail "/etc/ckptd/containers.d was not created"
out=$(timeout 30 systemd-sysusers --root="$ROOT" "$sysusers" 2>&1) || fail "systemd-sysusers failed: $out"
grep -q '^ckptd:' "$ROOT/etc/group" || fail "systemd-sysusers did not create group ckptd ($out)"

info "the rest of the installation"
for f in "$GENERATOR_DIR/ckptd-generator" "$MAN_DIR/man8/ckptd.8" "$MAN_DIR/man8/ckptctl.8" \
	"$MAN_DIR/man5/ckptd.conf.5" "$BASH_COMPLETION_DIR/ckptctl"; do
	[ -e "$ROOT$f" ] || fail "$f was not installed"
done
info "ok"
