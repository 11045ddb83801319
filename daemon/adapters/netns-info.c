/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a network namespace holds, asked from inside it: interfaces (rtnetlink), unix sockets and
 * their peers (sock_diag); and the address format of /proc/PID/net/tcp{,6}. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <sys/socket.h>

#include "fileio.h"
#include "macro.h"
#include "netns-info.h"

/* A netlink socket of the given protocol inside pid's network namespace (setns() of a network
 * namespace affects only the calling thread; it is switched back before returning). */
int netlink_in_netns(pid_t pid, int protocol) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int) pid);
	_cleanup_close_ int target = open(p, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (target < 0 || self < 0)
		return negative_errno();
	if (setns(target, CLONE_NEWNET) < 0)
		return negative_errno();
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	int saved = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* this thread would go on in the container's network namespace */
	errno = saved;
	if (fd < 0)
		return negative_errno();
	struct timeval tv = { .tv_sec = 2 };
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int netlink_talk(int fd, const void *req, size_t len, int (*cb)(struct nlmsghdr *h, void *userdata),
                 void *userdata) {
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (sendto(fd, req, len, 0, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		return negative_errno();
	_cleanup_free_ char *buf = malloc(65536);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, 65536, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EPIPE;
		for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error; /* 0: the acknowledgement of a request */
			}
			int k = cb ? cb(h, userdata) : 0;
			if (k < 0)
				return k;
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
}

static int link_cb(struct nlmsghdr *h, void *userdata) {
	json_t *interfaces = userdata;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	const char *name = NULL, *kind = NULL;
	int len = (int) IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_LINKINFO) {
			int l2 = (int) RTA_PAYLOAD(a);
			for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2))
				if (b->rta_type == IFLA_INFO_KIND)
					kind = RTA_DATA(b);
		}
	}
	if (!name)
		return 0;
	if (!kind && (ifi->ifi_flags & IFF_LOOPBACK))
		kind = "loopback";
	json_array_append_new(interfaces, json_pack("{s:s,s:s?,s:b,s:i}", "name", name, "kind", kind, "up",
	                                            (ifi->ifi_flags & IFF_UP) != 0, "index", ifi->ifi_index));
	return 0;
}

/* Interfaces of pid's network namespace: netlink, else the names in /proc/PID/net/dev. */
int netns_list_interfaces(pid_t pid, json_t *interfaces) {
	_cleanup_close_ int fd = netlink_in_netns(pid, NETLINK_ROUTE);
	if (fd >= 0) {
		struct {
			struct nlmsghdr h;
			struct ifinfomsg i;
		} req = {
			.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
			.i = { .ifi_family = AF_UNSPEC },
		};
		if (netlink_talk(fd, &req, sizeof(req), link_cb, interfaces) >= 0)
			return 0;
		json_array_clear(interfaces);
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/net/dev", (int) pid);
	_cleanup_free_ char *buf = NULL;
	int r = read_full_file(p, &buf, NULL);
	if (r < 0)
		return r;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *colon = strchr(line, ':');
		if (!colon || strchr(line, '|'))
			continue;
		*colon = '\0';
		line += strspn(line, " ");
		json_array_append_new(interfaces, json_pack("{s:s,s:n,s:n}", "name", line, "kind", "up"));
	}
	return 0;
}

void unix_table_done(struct unix_table *t) {
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
}

const struct unix_peer *unix_table_find(const struct unix_table *t, unsigned ino) {
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].ino == ino)
			return &t->e[i];
	return NULL;
}

static int unix_cb(struct nlmsghdr *h, void *userdata) {
	struct unix_table *t = userdata;
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return 0;
	struct unix_diag_msg *m = NLMSG_DATA(h);
	struct unix_peer e = { .ino = m->udiag_ino };
	int len = (int) (h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (struct rtattr *a = (struct rtattr *) (m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			memcpy(&e.peer, RTA_DATA(a), sizeof(uint32_t));
		else if (a->rta_type == UNIX_DIAG_NAME && RTA_PAYLOAD(a) > 0) {
			const char *n = RTA_DATA(a);
			size_t l = RTA_PAYLOAD(a);
			free(e.name);
			if (n[0] == '\0') /* abstract */
				(void) asprintf(&e.name, "@%.*s", (int) l - 1, n + 1);
			else
				e.name = strndup(n, l);
		}
	}
	struct unix_peer *a = realloc(t->e, (t->n + 1) * sizeof(*a));
	if (!a) {
		free(e.name);
		return -ENOMEM;
	}
	t->e = a;
	t->e[t->n++] = e;
	return 0;
}

int unix_table_load(pid_t pid, struct unix_table *t) {
	_cleanup_close_ int fd = pid > 0 ? netlink_in_netns(pid, NETLINK_SOCK_DIAG) :
	                                   socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return pid > 0 ? fd : negative_errno();
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = -1, .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER },
	};
	return netlink_talk(fd, &req, sizeof(req), unix_cb, t);
}

const char *tcp_state_name(unsigned st) {
	static const char *const names[] = { "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		                             "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
		                             "NEW_SYN_RECV" };
	return st < ELEMENTSOF(names) ? names[st] : "?";
}

/* "0100007F:18EB" (tcp) or 32 hex digits (tcp6) -> "127.0.0.1:6379" / "[::1]:6379". */
char *format_proc_address(const char *s, bool v6) {
	char hex[33] = "";
	unsigned port = 0;
	if (sscanf(s, "%32[0-9A-Fa-f]:%x", hex, &port) != 2)
		return strdup(s);
	char text[INET6_ADDRSTRLEN] = "?";
	if (!v6) {
		struct in_addr a = { .s_addr = (uint32_t) strtoul(hex, NULL, 16) };
		inet_ntop(AF_INET, &a, text, sizeof(text));
	} else if (strlen(hex) == 32) {
		struct in6_addr a;
		for (int w = 0; w < 4; w++) {
			char word[9];
			memcpy(word, hex + w * 8, 8);
			word[8] = '\0';
			uint32_t v = (uint32_t) strtoul(word, NULL, 16);
			memcpy(&a.s6_addr[w * 4], &v, 4); /* each word in host byte order */
		}
		inet_ntop(AF_INET6, &a, text, sizeof(text));
	}
	char *r = NULL;
	(void) asprintf(&r, v6 ? "[%s]:%u" : "%s:%u", text, port);
	return r;
}
