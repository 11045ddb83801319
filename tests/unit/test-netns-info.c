/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* netns-info.c on the real kernel: a child in a network namespace of its own holds TCP sockets
 * in every kind of state and a unix socket pair; discovery, asked from the parent, must see them
 * there (and only there), and the asking thread must stay in its own namespace. Needs root (or
 * CAP_SYS_ADMIN); skipped otherwise. */
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "macro.h"
#include "netns-info.h"
#include "test-util.h"

enum { LISTEN4, LISTEN6, CLIENT, ACCEPTED, BOUND, UNIX_A, UNIX_B, _SOCK_MAX };

struct child {
	pid_t pid;
	int ctl; /* closing it lets the child exit */
	unsigned long ino[_SOCK_MAX];
	unsigned client_port;
};

static unsigned long ino_of(int fd) {
	struct stat st;
	return fstat(fd, &st) < 0 ? 0 : (unsigned long) st.st_ino;
}

static int tcp_socket(int family, const char *addr, unsigned port) {
	int fd = socket(family, SOCK_STREAM, 0);
	int one = 1;
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
		inet_pton(AF_INET, addr, &sa.sin_addr);
		return fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0 ? fd : -1;
	}
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port) };
	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	return fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0 ? fd : -1;
}

static void loopback_up(void) {
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		_exit(2);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		_exit(2);
	close(fd);
}

/* In the child: the sockets, their inodes and the client's port to the parent, then wait. */
static _Noreturn void child_main(int report, int ctl) {
	if (unshare(CLONE_NEWNET) < 0)
		_exit(errno == EPERM ? 77 : 2);
	loopback_up();
	int fds[_SOCK_MAX];
	fds[LISTEN4] = tcp_socket(AF_INET, "127.0.0.1", 6379);
	fds[LISTEN6] = tcp_socket(AF_INET6, "::1", 8080);
	fds[BOUND] = tcp_socket(AF_INET, "127.0.0.1", 7000);
	if (fds[LISTEN4] < 0 || fds[LISTEN6] < 0 || fds[BOUND] < 0 || listen(fds[LISTEN4], 4) < 0 ||
	    listen(fds[LISTEN6], 4) < 0)
		_exit(3);
	fds[CLIENT] = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(6379), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fds[CLIENT], (struct sockaddr *) &to, sizeof(to)) < 0 ||
	    (fds[ACCEPTED] = accept(fds[LISTEN4], NULL, NULL)) < 0)
		_exit(4);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[UNIX_A]) < 0)
		_exit(5);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	if (getsockname(fds[CLIENT], (struct sockaddr *) &me, &len) < 0)
		_exit(6);
	struct child c = { .client_port = ntohs(me.sin_port) };
	for (int i = 0; i < _SOCK_MAX; i++)
		c.ino[i] = ino_of(fds[i]);
	if (write(report, &c, sizeof(c)) != (ssize_t) sizeof(c))
		_exit(7);
	char b;
	(void) read(ctl, &b, 1); /* until the parent closes it */
	_exit(0);
}

/* The child, or *ret_skip when namespaces are not ours to make. */
static void child_start(struct child *ret, bool *ret_skip) {
	int report[2], ctl[2];
	ASSERT_OK(pipe(report));
	ASSERT_OK(pipe(ctl));
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		close(report[0]);
		close(ctl[1]);
		child_main(report[1], ctl[0]);
	}
	close(report[1]);
	close(ctl[0]);
	struct child c = {};
	ssize_t n = read(report[0], &c, sizeof(c));
	close(report[0]);
	if (n != (ssize_t) sizeof(c)) {
		int status;
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77) {
			*ret_skip = true;
			return;
		}
		fprintf(stderr, "child failed with %d\n", WEXITSTATUS(status));
		ASSERT_TRUE(false);
	}
	c.pid = pid;
	c.ctl = ctl[1];
	*ret = c;
}

static void child_stop(struct child *c) {
	close(c->ctl);
	int status;
	ASSERT_EQ(waitpid(c->pid, &status, 0), c->pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const struct tcp_socket *find_tcp(const struct tcp_table *t, unsigned long ino, size_t *ret_index) {
	for (size_t i = 0; i < t->n; i++)
		if (ino && t->e[i].ino == ino) {
			if (ret_index)
				*ret_index = i;
			return &t->e[i];
		}
	return NULL;
}

static void thread_netns(char buf[static 128]) {
	ssize_t n = readlink("/proc/thread-self/ns/net", buf, 127);
	ASSERT_TRUE(n > 0);
	buf[n] = '\0';
}

static bool skipped;

TEST(sockets_in_a_namespace) {
	struct child c = {};
	child_start(&c, &skipped);
	if (skipped) {
		printf("  skipped: cannot create a network namespace\n");
		return;
	}
	char ns_before[128], ns_after[128];
	thread_netns(ns_before);

	/* A listener of ours, in the parent's namespace: not the child's. */
	int mine = tcp_socket(AF_INET, "127.0.0.1", 0);
	ASSERT_TRUE(mine >= 0);
	ASSERT_OK(listen(mine, 1));

	_cleanup_(tcp_table_done) struct tcp_table t = {};
	ASSERT_OK(tcp_table_load(c.pid, &t));
	size_t i4 = 0, i6 = 0;
	const struct tcp_socket *s = find_tcp(&t, c.ino[LISTEN4], &i4);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->state, TCP_LISTEN);
	ASSERT_STREQ(s->local, "127.0.0.1:6379");
	ASSERT_STREQ(tcp_state_name(s->state), "LISTEN");
	s = find_tcp(&t, c.ino[LISTEN6], &i6);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->state, TCP_LISTEN);
	ASSERT_STREQ(s->local, "[::1]:8080");
	ASSERT_TRUE(i4 < i6); /* IPv4 first, as /proc/net/tcp then tcp6 */
	char want[64];
	s = find_tcp(&t, c.ino[CLIENT], NULL);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->state, TCP_ESTABLISHED);
	ASSERT_STREQ(tcp_state_name(s->state), "ESTABLISHED");
	ASSERT_STREQ(s->remote, "127.0.0.1:6379");
	snprintf(want, sizeof(want), "127.0.0.1:%u", c.client_port);
	ASSERT_STREQ(s->local, want);
	s = find_tcp(&t, c.ino[ACCEPTED], NULL);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->state, TCP_ESTABLISHED);
	ASSERT_STREQ(s->local, "127.0.0.1:6379");
	ASSERT_STREQ(s->remote, want);
	ASSERT_NULL(find_tcp(&t, c.ino[BOUND], NULL));  /* only bound: /proc/net/tcp did not list it */
	ASSERT_NULL(find_tcp(&t, ino_of(mine), NULL)); /* the parent's namespace */

	/* And from the caller's own namespace: ours, not the child's. */
	_cleanup_(tcp_table_done) struct tcp_table own = {};
	ASSERT_OK(tcp_table_load(0, &own));
	ASSERT_NOT_NULL(find_tcp(&own, ino_of(mine), NULL));
	ASSERT_NULL(find_tcp(&own, c.ino[LISTEN4], NULL));

	_cleanup_(unix_table_done) struct unix_table u = {};
	ASSERT_OK(unix_table_load(c.pid, &u));
	const struct unix_peer *a = unix_table_find(&u, (unsigned) c.ino[UNIX_A]);
	ASSERT_NOT_NULL(a);
	ASSERT_EQ(a->peer, (unsigned) c.ino[UNIX_B]);

	json_t *ifs = json_array();
	ASSERT_OK(netns_list_interfaces(c.pid, ifs));
	ASSERT_EQ(json_array_size(ifs), 1);
	json_t *lo = json_array_get(ifs, 0);
	ASSERT_STREQ(json_string_value(json_object_get(lo, "name")), "lo");
	ASSERT_STREQ(json_string_value(json_object_get(lo, "kind")), "loopback");
	ASSERT_TRUE(json_is_true(json_object_get(lo, "up")));
	json_decref(ifs);

	thread_netns(ns_after);
	ASSERT_STREQ(ns_before, ns_after);
	close(mine);
	child_stop(&c);
}

TEST(unknown_pid) {
	if (skipped)
		return;
	_cleanup_(tcp_table_done) struct tcp_table t = {};
	ASSERT_ERROR(tcp_table_load(INT32_MAX, &t), ENOENT);
	ASSERT_STREQ(tcp_state_name(TCP_CLOSE_WAIT), "CLOSE_WAIT");
	ASSERT_STREQ(tcp_state_name(0), "?");
	ASSERT_STREQ(tcp_state_name(0x99), "?");
}

TEST_MAIN()
