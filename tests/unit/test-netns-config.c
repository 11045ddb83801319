/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* netns-config.c and ckptd-netns-replay on the real kernel and the real tools, in a network
 * namespace of the test's own: the pre-save keeps exactly what the tools answer, the replay gives
 * those bytes back (once per command line, refusing anything else), the check after a second
 * passes when only the clock moved (ip(8)'s sequence numbers, lifetimes) and names the command
 * whose answer changed when the configuration did. Needs root and iproute2 (skipped otherwise). */
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "netns-config.h"
#include "process.h"
#include "test-util.h"

static int netns_fd = -1;
static char dir[] = "/tmp/test-netns-config.XXXXXX";
static char *saved;
static bool have_legacy;

static int run_in(const char *const *argv, struct process_result *res, char *const *env) {
	struct process_spec spec = { .argv = argv, .netns_fd = netns_fd, .env = env, .timeout_usec = 30000000 };
	return process_run(&spec, res, NULL);
}

static void setup_once(void) {
	if (saved)
		return;
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	saved = path_join(dir, "saved");
	const char *up[] = { "ip", "link", "set", "lo", "up", NULL };
	_cleanup_(process_result_done) struct process_result r = {};
	ASSERT_TRUE(run_in(up, &r, NULL) >= 0 && r.exit_status == 0);
	/* Something that ticks: an address with a finite lifetime, a route that expires. */
	const char *addr[] = { "ip", "addr", "add", "192.0.2.5/32", "dev", "lo", "valid_lft", "3000", "preferred_lft",
		               "2000", NULL };
	_cleanup_(process_result_done) struct process_result r2 = {};
	ASSERT_TRUE(run_in(addr, &r2, NULL) >= 0 && r2.exit_status == 0);
	/* and a legacy iptables rule, whose counters tick and whose save carries a date */
	const char *ipt[] = { "iptables-legacy", "-A", "INPUT", "-s", "203.0.113.1", "-j", "DROP", NULL };
	_cleanup_(process_result_done) struct process_result r3 = {};
	have_legacy = run_in(ipt, &r3, NULL) >= 0 && r3.exit_status == 0;
	_cleanup_free_ char *error = NULL;
	int k = netns_config_presave(netns_fd, saved, REPLAY_PATH, &error);
	if (k < 0)
		fprintf(stderr, "presave: %s\n", error);
	ASSERT_TRUE(k >= 0);
}

TEST(presave_keeps_the_tools_answers) {
	setup_once();
	_cleanup_free_ char *out = NULL;
	size_t n = 0;
	_cleanup_free_ char *f = path_join(saved, "ip_addr_save.out");
	ASSERT_TRUE(read_full_file(f, &out, &n) >= 0);
	ASSERT_TRUE(n > 4);
	ASSERT_TRUE(memmem(out, n, "\xc0\x00\x02\x05", 4) != NULL); /* 192.0.2.5 */
	_cleanup_free_ char *rc = NULL;
	_cleanup_free_ char *g = path_join(saved, "ip_rule_save.rc");
	ASSERT_TRUE(read_full_file(g, &rc, NULL) >= 0);
	ASSERT_STREQ(rc, "0\n");
	struct stat st;
	_cleanup_free_ char *link = path_join(saved, "bin/sh");
	ASSERT_TRUE(lstat(link, &st) >= 0 && S_ISLNK(st.st_mode));
	/* A second pre-save into the same place is refused, nothing overwritten. */
	_cleanup_free_ char *error = NULL;
	ASSERT_TRUE(netns_config_presave(netns_fd, saved, REPLAY_PATH, &error) == -EEXIST);
}

TEST(verify_ignores_the_clock) {
	setup_once();
	if (have_legacy) { /* packets through the rule's chain: its counters move */
		const char *ping[] = { "bash", "-c", "exec 3<>/dev/udp/127.0.0.1/9; echo x >&3", NULL };
		_cleanup_(process_result_done) struct process_result p = {};
		(void) run_in(ping, &p, NULL);
	}
	sleep(2); /* ip(8)'s sequence numbers are seconds; lifetimes count down */
	_cleanup_free_ char *error = NULL;
	int r = netns_config_verify(netns_fd, saved, &error);
	if (r < 0)
		fprintf(stderr, "verify: %s\n", error);
	ASSERT_TRUE(r == 0);
}

static char **replay_env(void) {
	static char *env[4];
	static char path[256], rd[256];
	snprintf(path, sizeof(path), "PATH=%s/bin:/usr/sbin:/usr/bin:/sbin:/bin", saved);
	snprintf(rd, sizeof(rd), "CKPTD_NETNS_REPLAY_DIR=%s", saved);
	env[0] = path;
	env[1] = rd;
	return env;
}

TEST(replay_answers_once_byte_for_byte) {
	setup_once();
	_cleanup_free_ char *bin = path_join(saved, "bin/ip");
	const char *argv[] = { bin, "addr", "save", NULL };
	_cleanup_(process_result_done) struct process_result r = {};
	ASSERT_TRUE(run_in(argv, &r, replay_env()) >= 0);
	ASSERT_EQ(r.exit_status, 0);
	_cleanup_free_ char *out = NULL;
	size_t n = 0;
	_cleanup_free_ char *f = path_join(saved, "ip_addr_save.out");
	ASSERT_TRUE(read_full_file(f, &out, &n) >= 0);
	ASSERT_TRUE(r.out_size == n && memcmp(r.out, out, n) == 0);
	/* asked again: a second network namespace would ask so */
	_cleanup_(process_result_done) struct process_result again = {};
	ASSERT_TRUE(run_in(argv, &again, replay_env()) >= 0);
	ASSERT_EQ(again.exit_status, 70);
	ASSERT_TRUE(strstr(again.err, "asked a second time") != NULL);
}

TEST(replay_refuses_what_was_not_saved) {
	setup_once();
	_cleanup_free_ char *bin = path_join(saved, "bin/ip");
	const char *argv[] = { bin, "addr", "show", NULL };
	_cleanup_(process_result_done) struct process_result r = {};
	ASSERT_TRUE(run_in(argv, &r, replay_env()) >= 0);
	ASSERT_EQ(r.exit_status, 70);
	ASSERT_TRUE(strstr(r.err, "Error: ckptd-netns-replay: no answer saved") != NULL);
	const char *odd[] = { bin, "addr", "save", "a/b", NULL };
	_cleanup_(process_result_done) struct process_result r2 = {};
	ASSERT_TRUE(run_in(odd, &r2, replay_env()) >= 0);
	ASSERT_EQ(r2.exit_status, 70);
}

TEST(replay_as_sh) {
	setup_once();
	_cleanup_free_ char *sh = path_join(saved, "bin/sh");
	/* CRIU's `sh -c iptables-legacy-save` (saved when the legacy tool is there)... */
	_cleanup_free_ char *rcf = path_join(saved, "iptables-legacy-save.rc");
	if (access(rcf, F_OK) >= 0) {
		const char *argv[] = { sh, "-c", "iptables-legacy-save", NULL };
		_cleanup_(process_result_done) struct process_result r = {};
		ASSERT_TRUE(run_in(argv, &r, replay_env()) >= 0);
		ASSERT_EQ(r.exit_status, 0);
		_cleanup_free_ char *out = NULL;
		size_t n = 0;
		_cleanup_free_ char *f = path_join(saved, "iptables-legacy-save.out");
		ASSERT_TRUE(read_full_file(f, &out, &n) >= 0);
		ASSERT_TRUE(r.out_size == n && memcmp(r.out, out, n) == 0);
	}
	/* ... anything else goes to the real sh. */
	const char *other[] = { sh, "-c", "echo passed through", NULL };
	_cleanup_(process_result_done) struct process_result r3 = {};
	ASSERT_TRUE(run_in(other, &r3, replay_env()) >= 0);
	ASSERT_EQ(r3.exit_status, 0);
	ASSERT_STREQ(r3.out, "passed through\n");
}

/* Last (the cases run in order): a real change is named. */
TEST(verify_names_what_changed) {
	setup_once();
	const char *add[] = { "ip", "route", "add", "198.51.100.0/24", "dev", "lo", NULL };
	_cleanup_(process_result_done) struct process_result r = {};
	ASSERT_TRUE(run_in(add, &r, NULL) >= 0 && r.exit_status == 0);
	_cleanup_free_ char *error = NULL;
	ASSERT_EQ(netns_config_verify(netns_fd, saved, &error), -ESTALE);
	ASSERT_TRUE(strstr(error, "'ip route save'") != NULL);
	ASSERT_TRUE(strstr(error, "'ip addr save'") == NULL);
	const char *addr[] = { "ip", "addr", "add", "192.0.2.6/32", "dev", "lo", NULL };
	_cleanup_(process_result_done) struct process_result r2 = {};
	ASSERT_TRUE(run_in(addr, &r2, NULL) >= 0 && r2.exit_status == 0);
	free(error);
	error = NULL;
	ASSERT_EQ(netns_config_verify(netns_fd, saved, &error), -ESTALE);
	ASSERT_TRUE(strstr(error, "'ip addr save', 'ip route save'") != NULL);
	if (!have_legacy)
		return;
	const char *ipt[] = { "iptables-legacy", "-A", "INPUT", "-s", "203.0.113.2", "-j", "DROP", NULL };
	_cleanup_(process_result_done) struct process_result r3 = {};
	ASSERT_TRUE(run_in(ipt, &r3, NULL) >= 0 && r3.exit_status == 0);
	free(error);
	error = NULL;
	ASSERT_EQ(netns_config_verify(netns_fd, saved, &error), -ESTALE);
	ASSERT_TRUE(strstr(error, "'iptables-legacy-save'") != NULL);
}

int main(void) {
	if (geteuid() != 0 || (access("/usr/sbin/ip", X_OK) < 0 && access("/sbin/ip", X_OK) < 0)) {
		fprintf(stderr, "SKIP: needs root and ip(8)\n");
		return 77;
	}
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host < 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "SKIP: cannot make a network namespace: %m\n");
		return 77;
	}
	netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (netns_fd < 0 || setns(host, CLONE_NEWNET) < 0)
		return 2;
	int failed = 0;
	for (size_t i = 0; i < test_n_cases; i++) {
		test_current_failed = false;
		test_cases[i].func();
		fprintf(stderr, "%s %s\n", test_current_failed ? "FAIL" : "ok  ", test_cases[i].name);
		failed += test_current_failed;
	}
	if (saved)
		(void) rm_rf(dir);
	free(saved);
	return failed ? 1 : 0;
}
