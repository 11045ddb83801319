# The memw workload (tests/workloads/memw.c) for the image-sharing tests: start it in a cgroup,
# signal it and wait for its report. Sourced after lib.sh.

# memw_root CGROUP: the task that is PID 1 of the workload's namespace.
memw_root() {
	local p
	for p in $(t_cgroup_pids "$1"); do
		grep -q $'^NSpid:.*\t1$' "/proc/$p/status" 2>/dev/null && { echo "$p"; return; }
	done
	t_fail "no memw in $1"
}

# memw_wait STATEFILE SECONDS: its next report.
memw_wait() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -s "$1" ] && { cat "$1"; return; }
		sleep 0.05
	done
	t_fail "memw did not report in $1 within $2 s"
}

# memw_ask CGROUP STATEFILE USR1|USR2: signal it and print its report.
memw_ask() {
	rm -f "$2"
	kill -"$3" "$(memw_root "$1")"
	memw_wait "$2" 60
}

# memw_verify CGROUP STATEFILE WHAT: the whole memory is what memw wrote.
memw_verify() {
	local out
	out=$(memw_ask "$1" "$2" USR2)
	[[ $out == "verify ok "* ]] || t_fail "$3: memw's memory check says: $out"
	echo "$3: memw verified its memory ($out)"
}
