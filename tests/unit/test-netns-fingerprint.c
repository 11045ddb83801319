/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* netns-external.c: the comparison of two fingerprints (which difference it names first, that
 * order does not matter, keyed sections), the parser of the saved file (what it refuses), and,
 * as root with iproute2, the whole proof on the real kernel: a namespace with extra addresses,
 * routes and rules is proven, the same with a sysctl changed is not, naming it. */
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "macro.h"
#include "netns-external.h"
#include "process.h"
#include "test-util.h"


static const char base[] = "## link\n"
                           "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n"
                           "## route4\n"
                           "10.1.0.0/16 dev lo table 100\n"
                           "local 127.0.0.1 dev lo table local\n"
                           "## sysctl\n"
                           "net.ipv4.ip_forward = 0\n"
                           "net.ipv4.tcp_syn_retries = 6\n"
                           "net.ipv4.conf.all.forwarding = 0\n";

TEST(same_fingerprint_no_difference) {
	char *d = netns_fingerprint_difference(base, base, "a", "b");
	ASSERT_NULL(d);
}

TEST(order_inside_a_section_does_not_matter) {
	const char other[] = "## link\n"
	                     "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n"
	                     "## route4\n"
	                     "local 127.0.0.1 dev lo table local\n"
	                     "10.1.0.0/16 dev lo table 100\n"
	                     "## sysctl\n"
	                     "net.ipv4.conf.all.forwarding = 0\n"
	                     "net.ipv4.tcp_syn_retries = 6\n"
	                     "net.ipv4.ip_forward = 0\n";
	char *d = netns_fingerprint_difference(base, other, "a", "b");
	ASSERT_NULL(d);
}

TEST(sysctl_named_with_both_values_and_the_others) {
	const char other[] = "## link\n"
	                     "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n"
	                     "## route4\n"
	                     "10.1.0.0/16 dev lo table 100\n"
	                     "local 127.0.0.1 dev lo table local\n"
	                     "## sysctl\n"
	                     "net.ipv4.ip_forward = 1\n"
	                     "net.ipv4.tcp_syn_retries = 6\n"
	                     "net.ipv4.conf.all.forwarding = 1\n";
	_cleanup_free_ char *d = netns_fingerprint_difference(base, other, "the container", "the replay");
	ASSERT_STREQ(d, "sysctl net.ipv4.ip_forward differs (0 in the container, 1 in the replay); also "
	                "net.ipv4.conf.all.forwarding");
}

TEST(missing_and_extra_lines) {
	const char fewer[] = "## link\n"
	                     "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n"
	                     "## route4\n"
	                     "local 127.0.0.1 dev lo table local\n"
	                     "## sysctl\n"
	                     "net.ipv4.ip_forward = 0\n"
	                     "net.ipv4.tcp_syn_retries = 6\n"
	                     "net.ipv4.conf.all.forwarding = 0\n";
	_cleanup_free_ char *d = netns_fingerprint_difference(base, fewer, "A", "B");
	ASSERT_STREQ(d, "route4: '10.1.0.0/16 dev lo table 100' is in A, not in B");
	_cleanup_free_ char *e = netns_fingerprint_difference(fewer, base, "A", "B");
	ASSERT_STREQ(e, "route4: '10.1.0.0/16 dev lo table 100' is in B, not in A");
}

TEST(links_keyed_by_name) {
	const char veth[] = "## link\n"
	                    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n"
	                    "2: eth0@if7: <BROADCAST,UP> mtu 1500 link/ether 02:00:00:00:00:01 veth\n";
	const char lo_only[] = "## link\n"
	                       "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n";
	_cleanup_free_ char *d = netns_fingerprint_difference(veth, lo_only, "the container", "the replay");
	ASSERT_NOT_NULL(d);
	ASSERT_TRUE(strncmp(d, "link eth0 (link/ether", 21) == 0);
	ASSERT_NOT_NULL(strstr(d, "cannot be re-created by replay"));
	const char lo_down[] = "## link\n"
	                       "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN link/loopback 00:00\n";
	_cleanup_free_ char *e = netns_fingerprint_difference(lo_only, lo_down, "A", "B");
	ASSERT_NOT_NULL(e);
	ASSERT_TRUE(strncmp(e, "link lo differs (", 17) == 0);
}

TEST(section_missing) {
	const char only_link[] = "## link\n"
	                         "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN link/loopback 00:00\n";
	_cleanup_free_ char *d = netns_fingerprint_difference(base, only_link, "A", "B");
	ASSERT_STREQ(d, "route4: missing in B");
	_cleanup_free_ char *e = netns_fingerprint_difference(only_link, base, "A", "B");
	ASSERT_STREQ(e, "route4: missing in A");
}

TEST(saved_file_round_trip_and_refusals) {
	const char good[] = "ckptd-netns-external 1\nlo 9\n65536 up\n\nfingerprint 8\n## link\n\n";
	_cleanup_(netns_saved_done) struct netns_saved s = {};
	ASSERT_EQ(netns_saved_parse(good, sizeof(good) - 1, &s, NULL), 0);
	ASSERT_EQ(s.n, 2U);
	ASSERT_STREQ(netns_saved_fingerprint(&s), "## link\n");
	static const char *const bad[] = {
		"ckptd-netns-externa 1\n",                    /* magic */
		"ckptd-netns-external 1\nlo 99\n65536 up\n",   /* size beyond the end */
		"ckptd-netns-external 1\nlo 3\n65536 up\n",    /* no newline after the data */
		"ckptd-netns-external 1\n../x 1\na\n",         /* a name with a slash */
		"ckptd-netns-external 1\nlo\n",                /* no size */
		"ckptd-netns-external 1\nlo 1x\na\n",          /* bad size */
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct netns_saved t = {};
		_cleanup_free_ char *why = NULL;
		ASSERT_EQ(netns_saved_parse(bad[i], strlen(bad[i]), &t, &why), -EBADMSG);
		ASSERT_NOT_NULL(why);
		ASSERT_EQ(t.n, 0U);
	}
}

static int run_in(int fd, const char *const *argv) {
	struct process_spec spec = { .argv = argv, .netns_fd = fd, .timeout_usec = 30000000 };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = process_run(&spec, &res, NULL);
	return r < 0 ? r : res.exit_status;
}

TEST(proof_on_the_kernel) {
	if (geteuid() != 0 || access("/usr/sbin/ip", X_OK) < 0 || access("/usr/sbin/sysctl", X_OK) < 0) {
		printf("  (skipped: needs root, ip and sysctl)\n");
		return;
	}
	_cleanup_close_ int fd = -EBADF;
	ASSERT_EQ(netns_external_new(&fd, NULL), 0);
	static const char *const setup[][10] = {
		{ "ip", "link", "set", "lo", "up" },
		{ "ip", "addr", "add", "192.0.2.1/24", "dev", "lo" },
		{ "ip", "-6", "addr", "add", "fd00:1::1/64", "dev", "lo" },
		{ "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2", "table", "100" },
		{ "ip", "-6", "route", "add", "fd00:2::/64", "dev", "lo", "table", "100" },
		{ "ip", "rule", "add", "from", "192.0.2.1", "table", "100", "priority", "1000" },
	};
	for (size_t i = 0; i < ELEMENTSOF(setup); i++)
		ASSERT_EQ(run_in(fd, (const char *const *) setup[i]), 0);
	_cleanup_(netns_saved_done) struct netns_saved s = {};
	_cleanup_free_ char *reason = NULL;
	ASSERT_EQ(netns_external_save(fd, &s, NULL), 0);
	ASSERT_EQ(netns_external_prove(&s, &reason, NULL), 0);
	ASSERT_NULL(reason);
	/* the tentative flag of the new v6 address or time must not matter: a second fingerprint is equal */
	_cleanup_free_ char *fp = NULL, *d = NULL;
	ASSERT_EQ(netns_fingerprint(fd, &fp, NULL), 0);
	d = netns_fingerprint_difference(netns_saved_fingerprint(&s), fp, "A", "B");
	ASSERT_NULL(d);

	const char *const sysctl[] = { "sysctl", "-qw", "net.ipv4.tcp_syn_retries=2", NULL };
	ASSERT_EQ(run_in(fd, sysctl), 0);
	_cleanup_(netns_saved_done) struct netns_saved s2 = {};
	_cleanup_free_ char *reason2 = NULL;
	ASSERT_EQ(netns_external_save(fd, &s2, NULL), 0);
	ASSERT_EQ(netns_external_prove(&s2, &reason2, NULL), 0);
	ASSERT_STREQ(reason2, "sysctl net.ipv4.tcp_syn_retries differs (2 in the container, 6 in the replay)");
}

TEST_MAIN()
