#!/usr/bin/env bash
# [Container] Machine= where systemd-machined cannot answer for the machine (this host: systemd is
# not PID 1, no system bus; a host with systemd: machined does not know the made-up name): every
# job that needs the machine fails at its validation with an error naming it, nothing is
# frozen or made; `containers` says "unresolved" until a job resolved it; restore
# --processes-only is refused for Machine=. The D-Bus path itself is tested against a real machined
# in tests/systemd/test-machine.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t_require_root

MNT=$(t_btrfs_loop 256)
t_btrfs_subvol "$MNT/root"
NAME=ckptd-test-nosuch-$$
dir=$T/etc/containers.d
mkdir -p "$dir"
printf '[Container]\nMachine=%s\nVolume=%s\n' "$NAME" "$MNT/root" >"$dir/m.conf"
t_daemon_start

t_assert_eq "$(t_ctl_json containers | jq -r '.[] | select(.name == "m") | .state')" unresolved \
	"state of a Machine= container no job has resolved"

if [ -S /run/dbus/system_bus_socket ]; then
	why="machine $NAME is not registered with systemd-machined"
else
	why="machine $NAME: cannot connect to the system bus (systemd-machined is reached over it; is systemd PID 1 here?)"
fi
for verb in inspect freeze-and-dump; do
	set +e; out=$(t_ctl "$verb" m 2>&1); rc=$?; set -e
	[ "$rc" != 0 ] || t_fail "$verb of an unresolvable machine succeeded: $out"
	t_assert_contains "$out" "step 'validate' failed for 'm': $why" "$verb: the error names the machine"
	t_assert_contains "$out" "state: nothing changed" "$verb: state"
done
t_assert_eq "$(t_ctl_json list m | jq length)" 0 "pairs of m"
[ ! -e "$MNT/.ckptd" ] || t_fail "something was made on the volume: $(ls -la "$MNT/.ckptd")"

set +e; out=$(t_ctl rollback m 1 --no-safety-pair 2>&1); rc=$?; set -e
[ "$rc" != 0 ] || t_fail "rollback to a pair that does not exist succeeded"
t_assert_contains "$out" "$why" "rollback of an unresolvable machine without a pair"

set +e; out=$(t_ctl restore m 1 --processes-only 2>&1); rc=$?; set -e
[ "$rc" != 0 ] || t_fail "restore --processes-only of a Machine= succeeded"
t_assert_contains "$out" "restore --processes-only is not available for Machine= containers" "restore --processes-only"
