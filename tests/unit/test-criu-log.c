/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CRIU's phases from its dump.log, on excerpts of logs ckptd's dumps wrote (CRIU 4.2.1, -v4):
 * a workload in its own network namespace (lo only, iptables not installed: CRIU's probes fail)
 * and one without, in a cgroup v1 freezer. The expected durations were worked out by hand from
 * the timestamps shown. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-log.h"
#include "fileio.h"
#include "macro.h"
#include "test-util.h"

/* lines 52-55, 117-136, 628-634, 729-733 and 811-860 of the log of a dump with a network namespace */
static const char log_netns[] =
	"(00.171571) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n"
	"(00.171622) Running pre-dump scripts\n"
	"(00.171625) \tRPC\n"
	"(00.182111) irmap: Searching irmap cache in work dir\n"
	"(00.186461) Add user ns 7 pid 16668\n"
	"(00.186471) Add cgroup ns 8 pid 16668\n"
	"(00.186475) cg: Dumping cgroups for thread 16668\n"
	"(00.186540) cg:  `- New css ID 1\n"
	"(00.186543) cg:     `- [] -> [/] [0]\n"
	"(00.186545) cg:     `- [blkio] -> [/] [0]\n"
	"(00.186546) cg:     `- [cpu] -> [/] [0]\n"
	"(00.186548) cg:     `- [cpuacct] -> [/] [0]\n"
	"(00.186550) cg:     `- [cpuset] -> [/] [0]\n"
	"(00.186552) cg:     `- [devices] -> [/] [0]\n"
	"(00.186553) cg:     `- [freezer] -> [/] [0]\n"
	"(00.186555) cg:     `- [memory] -> [/process_api/baf2d2d1ff831fb15c2d9ac939413b56] [0]\n"
	"(00.186557) cg:     `- [name=systemd] -> [/] [0]\n"
	"(00.186559) cg:     `- [pids] -> [/] [0]\n"
	"(00.186560) cg: Set 1 is criu one\n"
	"(00.186608) Detected cgroup V2 freezer\n"
	"(00.186611) freezing cgroup /sys/fs/cgroup/unified/ckptd-test.16407/cap-net: 100 x 100ms attempts, timeout: 10s\n"
	"(00.186627) cgroup.freeze=1\n"
	"(00.187376) SEIZE 16524 (comm unshare): success\n"
	"(00.187428) SEIZE 16529 (comm cryo): success\n"
	"pie: 1: __fetched msg: 76 0 0\n"
	"pie: 1: __sent ack msg: 76 76 0\n"
	"pie: 1: Daemon waits for command\n"
	"(00.235262) Fetched ack: 76 76 0\n"
	"(00.235275) cg: Dumping cgroups for thread 16529\n"
	"(00.235490) cg:  `- New css ID 2\n"
	"(00.235493) cg:     `- [] -> [/ckptd-test.16407/cap-net] [0]\n"
	"(00.242861) cg: Dumping value 0 from /proc/self/fd/18/notify_on_release\n"
	"(00.242875) cg: Dumping value  from /proc/self/fd/18/cgroup.procs\n"
	"(00.242889) cg: Dumping value  from /proc/self/fd/18/tasks\n"
	"(00.242963) cg: Set 2 is root one\n"
	"(00.243154) ----------------------------------------\n"
	"(00.263464) Dump NET namespace info 10 via 16529\n"
	"(00.265643) net: Dumping netns links\n"
	"(00.265835) net: Dumping netns links\n"
	"(00.265849) net: \tLD: Got link 1, type 772\n"
	"(00.265854) net: The peer link is in the -1 netns with the 1 index\n"
	"(00.268218) net/ipv6/conf/lo/stable_secret nr 200\n"
	"(00.270274) net: \tRunning ip addr save  \n"
	"(00.318296) net: \tRunning ip route save  \n"
	"(00.345760) net: \tRunning ip -6 route save \n"
	"(00.372360) net: \tRunning ip rule save  \n"
	"Error (criu/util.c:642): execvp(\"iptables-save\", ...) failed: No such file or directory\n"
	"(00.433198) Error (criu/util.c:1723): iptables-save -V failed\n"
	"Error (criu/util.c:642): execvp(\"iptables-legacy-save\", ...) failed: No such file or directory\n"
	"(00.440878) Error (criu/util.c:1723): iptables-legacy-save -V failed\n"
	"Error (criu/util.c:642): execvp(\"ip6tables-save\", ...) failed: No such file or directory\n"
	"(00.453152) Error (criu/util.c:1723): ip6tables-save -V failed\n"
	"Error (criu/util.c:642): execvp(\"ip6tables-legacy-save\", ...) failed: No such file or directory\n"
	"(00.470961) Error (criu/util.c:1723): ip6tables-legacy-save -V failed\n"
	"(00.471107) net: skipping iptables dump - no legacy version present\n"
	"(00.471110) net: skipping ip6tables dump - no legacy version present\n"
	"(00.481166) net/ipv6/conf/default/stable_secret nr 200\n"
	"(00.481533) net/ipv6/conf/all/stable_secret nr 200\n"
	"(00.481604) net/ipv4/ping_group_range nr 200\n"
	"(00.481616) net: The ping_group_range is set to default, skipping it.\n"
	"(00.486912) net: Dumping netns links\n"
	"(00.491422) net: Dumping netns links\n"
	"(00.514174) Namespaces dump complete\n"
	"(00.514602) cg: Dumping 1 sets\n"
	"(00.514677) cg:    `- Dumping  of /ckptd-test.16407/cap-net\n"
	"(00.514680) cg:    `- Dumping blkio of /\n"
	"(00.514683) cg:    `- Dumping cpu of /\n"
	"(00.514685) cg:    `- Dumping cpuacct of /\n"
	"(00.514686) cg:    `- Dumping cpuset of /\n"
	"(00.514688) cg:    `- Dumping devices of /\n"
	"(00.514690) cg:    `- Dumping freezer of /\n"
	"(00.514692) cg:    `- Dumping memory of /process_api/baf2d2d1ff831fb15c2d9ac939413b56\n"
	"(00.514694) cg:    `- Dumping name=systemd of /\n"
	"(00.514696) cg:    `- Dumping pids of /\n"
	"(00.516665) cg: Writing CG image\n"
	"(00.516870) unix: Dumping external sockets\n"
	"(00.516876) Writing image inventory (version 1)\n"
	"(00.521233) Running post-dump scripts\n"
	"(00.521241) \tRPC\n"
	"(00.521903) net: Unlock network\n"
	"(00.521908) Running network-unlock scripts\n"
	"(00.521910) \tRPC\n"
	"(00.522270) Unfreezing tasks into 1\n"
	"(00.522275) \tUnseizing 16529 into 1\n"
	"(00.522485) Writing stats\n"
	"(00.522612) Dumping finished successfully\n";

/* lines 52-55, 131-136 and 869-892 of the log of a dump without one (cgroup v1 freezer) */
static const char log_plain[] =
	"(00.180825) Running pre-dump scripts\n"
	"(00.180829) \tRPC\n"
	"(00.188016) irmap: Searching irmap cache in work dir\n"
	"(00.188077) No irmap-cache image\n"
	"(00.188989) Detected cgroup V1 freezer\n"
	"(00.188991) freezing cgroup /sys/fs/cgroup/freezer/ckptd-test.16407/cap-v1: 100 x 100ms attempts, timeout: 10s\n"
	"(00.189008) freezer.state=FROZEN\n"
	"(00.189077) SEIZE 16551 (comm unshare): success\n"
	"(00.189094) SEIZE 16558 (comm cryo): success\n"
	"(00.198963) Seized task 16558, state 1\n"
	"(00.232567) ----------------------------------------\n"
	"(00.232578) Dumping 1(16558)'s namespaces\n"
	"(00.232582) Namespaces dump complete\n"
	"(00.232655) cg: Dumping 1 sets\n"
	"(00.232659) cg:    `- Dumping  of /\n"
	"(00.232661) cg:    `- Dumping blkio of /\n"
	"(00.232675) cg:    `- Dumping cpu of /\n"
	"(00.232677) cg:    `- Dumping cpuacct of /\n"
	"(00.232680) cg:    `- Dumping cpuset of /\n"
	"(00.232682) cg:    `- Dumping devices of /\n"
	"(00.232684) cg:    `- Dumping freezer of /ckptd-test.16407/cap-v1\n"
	"(00.232685) cg:    `- Dumping memory of /process_api/baf2d2d1ff831fb15c2d9ac939413b56\n"
	"(00.232687) cg:    `- Dumping name=systemd of /\n"
	"(00.232689) cg:    `- Dumping pids of /\n"
	"(00.232723) cg: Writing CG image\n"
	"(00.232875) unix: Dumping external sockets\n"
	"(00.232891) Writing image inventory (version 1)\n"
	"(00.233056) Running post-dump scripts\n"
	"(00.233059) \tRPC\n"
	"(00.239300) net: Unlock network\n"
	"(00.243207) Unfreezing tasks into 1\n"
	"(00.243217) \tUnseizing 16558 into 1\n"
	"(00.243263) Writing stats\n"
	"(00.243461) Dumping finished successfully\n";

static void parse(const char *text, struct pair_criu_phases *ret) {
	criu_log_phases_parse(text, strlen(text), ret);
}

TEST(netns) {
	struct pair_criu_phases c;
	parse(log_netns, &c);
	ASSERT_EQ_U(c.predump_rpc_usec, 182111 - 171622); /* to "irmap: Searching ...", after "\tRPC" */
	ASSERT_EQ_U(c.prep_usec, 186611 - 182111);
	ASSERT_EQ_U(c.freezing_usec, 187376 - 186611);
	ASSERT_EQ_U(c.dump_usec, 521233 - 187376);
	/* three runs of "cg: " lines; the parasite's lines and "Fetched ack" between end one */
	ASSERT_EQ_U(c.cgroup_walk_usec, (186560 - 186475) + (242963 - 235275) + (516665 - 514602));
	/* "Running ip addr save" ... the last failed iptables probe and "skipping ip6tables dump" */
	ASSERT_EQ_U(c.network_tools_usec, 471110 - 270274);
	ASSERT_EQ_U(c.postdump_usec, 522270 - 521233);
	ASSERT_EQ_U(c.tail_usec, 522612 - 522270);
}

TEST(plain) {
	struct pair_criu_phases c;
	parse(log_plain, &c);
	ASSERT_EQ_U(c.predump_rpc_usec, 188016 - 180825);
	ASSERT_EQ_U(c.prep_usec, 188991 - 188016);
	ASSERT_EQ_U(c.freezing_usec, 189077 - 188991);
	ASSERT_EQ_U(c.dump_usec, 233056 - 189077);
	ASSERT_EQ_U(c.network_tools_usec, PAIR_ABSENT); /* no network namespace, no tool */
	ASSERT_EQ_U(c.postdump_usec, 243207 - 233056);
	ASSERT_EQ_U(c.tail_usec, 243461 - 243207);
}

/* CRIU stopped mid-dump (killed, or failed): what the log has is there, the rest is absent. */
TEST(truncated) {
	struct pair_criu_phases c;
	const char *seize = strstr(log_netns, "(00.187428) SEIZE");
	ASSERT_NOT_NULL(seize);
	criu_log_phases_parse(log_netns, (size_t) (seize - log_netns) + 5, &c); /* mid-line, no '\n' */
	ASSERT_EQ_U(c.freezing_usec, 187376 - 186611);
	ASSERT_EQ_U(c.dump_usec, PAIR_ABSENT);
	ASSERT_EQ_U(c.network_tools_usec, PAIR_ABSENT);
	ASSERT_EQ_U(c.postdump_usec, PAIR_ABSENT);
	ASSERT_EQ_U(c.tail_usec, PAIR_ABSENT);
	ASSERT_EQ_U(c.cgroup_walk_usec, 186560 - 186475);
}

TEST(not_a_log) {
	static const char *const inputs[] = {
		"", "\n\n", "(", "()", "(1.)", "(1.5)", "(.5) Running pre-dump scripts", "(99999999999.000000) SEIZE",
		"(00.000002) Unfreezing tasks\n(00.000001) Dumping finished successfully\n", /* backwards */
		"Running pre-dump scripts\nfreezing cgroup\nSEIZE\n",                       /* no timestamps */
	};
	for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
		struct pair_criu_phases c;
		parse(inputs[i], &c);
		for (const char *const *k = (const char *const[]) { "predump_rpc_usec", "prep_usec", "freezing_usec",
		                                                    "dump_usec", "cgroup_walk_usec", "network_tools_usec",
		                                                    "postdump_usec", "tail_usec", NULL };
		     *k; k++)
			ASSERT_EQ_U(pair_criu_phase_get(&c, *k), PAIR_ABSENT);
	}
	/* Time going backwards counts as none, and the gaps counted never overlap. */
	struct pair_criu_phases back;
	parse("(9.000000) cg: a\n(1.000000) cg: b\n(9.000000) cg: c\n(10.000000) cg: d\n", &back);
	ASSERT_EQ_U(back.cgroup_walk_usec, 1000000);
	/* A short fraction and a long second count still parse. */
	struct pair_criu_phases c;
	parse("(1234.5) Unfreezing tasks into 1\n(1234.500042) Dumping finished successfully", &c);
	ASSERT_EQ_U(c.tail_usec, 42);
}

TEST(read_file) {
	char dir[] = "/tmp/test-criu-log-XXXXXX";
	ASSERT_NOT_NULL(mkdtemp(dir));
	_cleanup_free_ char *path = path_join(dir, "dump.log"), *link = path_join(dir, "link.log"), *error = NULL;
	ASSERT_OK(write_file_atomic(path, log_netns, strlen(log_netns), 0600));
	struct pair_criu_phases from_file, from_text;
	ASSERT_OK(criu_log_phases_read(path, &from_file, NULL));
	parse(log_netns, &from_text);
	ASSERT_TRUE(memcmp(&from_file, &from_text, sizeof(from_text)) == 0);

	ASSERT_EQ(symlink(path, link), 0);
	ASSERT_ERROR(criu_log_phases_read(link, &from_file, &error), ELOOP); /* never through a symlink */
	ASSERT_NOT_NULL(strstr(error, link));
	ASSERT_EQ_U(from_file.dump_usec, PAIR_ABSENT);
	ASSERT_OK(unlink(link));
	ASSERT_OK(unlink(path));
	ASSERT_ERROR(criu_log_phases_read(path, &from_file, NULL), ENOENT);
	ASSERT_ERROR(criu_log_phases_read(NULL, &from_file, NULL), ENOMEM);
	ASSERT_OK(rmdir(dir));
}

TEST_MAIN()
