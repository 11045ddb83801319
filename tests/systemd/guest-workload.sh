#!/bin/bash
# Runs inside the booted guest as the transient unit ckptd-test-workload.service (Delegate=yes):
# the checkpointed "container". cryo writes its pattern file on the btrfs volume as PID 1 of its
# own PID namespace and as a session leader (CRIU refuses a session leader outside the PID
# namespace), alone in the cgroup payload/ below the unit's, so that freezing and dumping see
# exactly its tree. stdio on /dev/null: CRIU cannot dump a connection to journald's stream
# socket. The unit's main process stays in supervisor/ (cgroup v2: no processes beside child
# cgroups) and outlives cryo: a rollback kills cryo and restores it as a child of ckptd, and
# systemd must not stop the unit (and kill the restored tree in payload/) meanwhile.
# No `unshare --kill-child`: it sets PR_SET_PDEATHSIG, CRIU dumps and restores that, and the
# restored cryo would be killed as soon as criu, its parent at restore time, exits.
set -eu
cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
mkdir -p "$cg/supervisor" "$cg/payload"
echo 0 >"$cg/supervisor/cgroup.procs"
unshare --pid --fork -- /bin/bash -c \
	'echo 0 >"$1/cgroup.procs"; exec setsid /usr/local/bin/cryo "$2" --interval-ms 20 </dev/null >/dev/null 2>&1' \
	workload "$cg/payload" /srv/vols/data/cryo.txt &
exec sleep infinity
