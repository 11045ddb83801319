/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink through libmnl: sockets in a namespace, request and answer, attributes, links. See
 * netlink.h. */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "macro.h"
#include "netlink.h"

/* Answers are read in buffers this large: the kernel sizes a dump's messages to the largest
 * buffer the reader offered (up to 32 KiB), and a truncated message is an error (ENOSPC). */
#define NL_RECV_MAX 65536

struct open_in_netns {
	int ns_fd, protocol;
	struct mnl_socket *nl;
	int r;
};

/* The thread enters the namespace, creates the socket (which stays in that namespace for its
 * life) and ends: it never has to come back. */
static void *open_in_netns_thread(void *userdata) {
	struct open_in_netns *o = userdata;
	if (setns(o->ns_fd, CLONE_NEWNET) < 0) {
		o->r = negative_errno();
		return NULL;
	}
	o->nl = mnl_socket_open2(o->protocol, SOCK_CLOEXEC);
	if (!o->nl)
		o->r = negative_errno();
	return NULL;
}

static int open_socket(pid_t pid, int protocol, struct mnl_socket **ret) {
	if (pid == 0) {
		*ret = mnl_socket_open2(protocol, SOCK_CLOEXEC);
		return *ret ? 0 : negative_errno();
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int) pid);
	_cleanup_close_ int ns = open(p, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return negative_errno();
	struct open_in_netns o = { .ns_fd = ns, .protocol = protocol };
	pthread_t t;
	int k = pthread_create(&t, NULL, open_in_netns_thread, &o);
	if (k != 0)
		return -k;
	(void) pthread_join(t, NULL);
	if (o.r < 0)
		return o.r;
	*ret = o.nl;
	return 0;
}

int nl_open(pid_t pid, int protocol, struct mnl_socket **ret) {
	struct mnl_socket *nl = NULL;
	int r = open_socket(pid, protocol, &nl);
	if (r < 0)
		return r;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = negative_errno();
		mnl_socket_close(nl);
		return r;
	}
	struct timeval tv = { .tv_sec = 2 };
	(void) setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*ret = nl;
	return 0;
}

void nl_closep(struct mnl_socket **nl) {
	if (*nl)
		mnl_socket_close(*nl);
	*nl = NULL;
}

void *nl_request(char buf[static NL_REQUEST_MAX], uint16_t type, uint16_t flags, size_t extra_len) {
	memset(buf, 0, NL_REQUEST_MAX);
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	return mnl_nlmsg_put_extra_header(h, extra_len);
}

struct talk {
	nl_message_cb cb;
	void *userdata;
	bool last; /* a message without NLM_F_MULTI: a single-part answer */
	int r;
};

static int talk_cb(const struct nlmsghdr *h, void *userdata) {
	struct talk *t = userdata;
	if (!(h->nlmsg_flags & NLM_F_MULTI))
		t->last = true;
	int k = t->cb ? t->cb(h, t->userdata) : 0;
	if (k < 0) {
		t->r = k;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* A dump that changed while the kernel wrote it is marked NLM_F_DUMP_INTR, which libmnl turns
 * into EINTR. The answer is taken as it is: discovery reads a moment's view anyway, and links
 * come and go on a busy host all the time. */
static void accept_interrupted_dump(void *buf, size_t n) {
	int len = (int) n;
	for (struct nlmsghdr *h = buf; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len))
		h->nlmsg_flags &= (uint16_t) ~NLM_F_DUMP_INTR;
}

int nl_talk(struct mnl_socket *nl, struct nlmsghdr *req, nl_message_cb cb, void *userdata) {
	static atomic_uint seq_counter;
	unsigned seq = atomic_fetch_add(&seq_counter, 1) + 1;
	unsigned portid = mnl_socket_get_portid(nl);
	req->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return negative_errno();
	_cleanup_free_ char *buf = malloc(NL_RECV_MAX);
	if (!buf)
		return -ENOMEM;
	struct talk t = { .cb = cb, .userdata = userdata };
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, NL_RECV_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EPIPE;
		accept_interrupted_dump(buf, (size_t) n);
		int k = mnl_cb_run(buf, (size_t) n, seq, portid, talk_cb, &t);
		if (k < 0)
			return t.r < 0 ? t.r : negative_errno();
		if (k == MNL_CB_STOP || t.last)
			return 0;
	}
}

struct attr_table {
	const struct nlattr **tb;
	unsigned max;
};

static int attr_table_cb(const struct nlattr *a, void *userdata) {
	struct attr_table *t = userdata;
	uint16_t type = mnl_attr_get_type(a);
	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

int nl_parse(const struct nlmsghdr *h, size_t offset, const struct nlattr **tb, unsigned max) {
	struct attr_table t = { tb, max };
	if (mnl_nlmsg_get_payload_len(h) < offset)
		return -EBADMSG;
	return mnl_attr_parse(h, (unsigned) offset, attr_table_cb, &t) < 0 ? -EBADMSG : 0;
}

int nl_parse_nested(const struct nlattr *a, const struct nlattr **tb, unsigned max) {
	struct attr_table t = { tb, max };
	return mnl_attr_parse_nested(a, attr_table_cb, &t) < 0 ? -EBADMSG : 0;
}

const void *nl_payload(const struct nlattr *a, size_t len) {
	return a && mnl_attr_get_payload_len(a) >= len ? mnl_attr_get_payload(a) : NULL;
}

uint32_t nl_u32(const struct nlattr *a, uint32_t def) {
	return nl_payload(a, sizeof(uint32_t)) ? mnl_attr_get_u32(a) : def;
}

void nl_string(const struct nlattr *a, char *buf, size_t size) {
	if (!a) {
		buf[0] = '\0';
		return;
	}
	const char *s = mnl_attr_get_payload(a);
	snprintf(buf, size, "%.*s", (int) strnlen(s, mnl_attr_get_payload_len(a)), s);
}

/* ---- links ---------------------------------------------------------------------------------- */

void nl_links_done(struct nl_links *ls) {
	free(ls->l);
	*ls = (struct nl_links) {};
}

const struct nl_link *nl_links_by_name(const struct nl_links *ls, const char *name) {
	for (size_t i = 0; name && i < ls->n; i++)
		if (streq(ls->l[i].name, name))
			return &ls->l[i];
	return NULL;
}

const struct nl_link *nl_links_by_index(const struct nl_links *ls, int index) {
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].index == index)
			return &ls->l[i];
	return NULL;
}

static int link_cb(const struct nlmsghdr *h, void *userdata) {
	struct nl_links *ls = userdata;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[IFLA_MAX + 1] = {}, *info[IFLA_INFO_MAX + 1] = {};
	if (h->nlmsg_type != RTM_NEWLINK || nl_parse(h, sizeof(*ifi), tb, IFLA_MAX) < 0)
		return 0;
	struct nl_link l = {
		.index = ifi->ifi_index,
		.flags = ifi->ifi_flags,
		.master = (int) nl_u32(tb[IFLA_MASTER], 0),
		.link = (int) nl_u32(tb[IFLA_LINK], 0),
		.link_netnsid = (int) nl_u32(tb[IFLA_LINK_NETNSID], 0),
		.has_link_netnsid = nl_payload(tb[IFLA_LINK_NETNSID], sizeof(uint32_t)) != NULL,
		.mtu = nl_u32(tb[IFLA_MTU], 0),
	};
	nl_string(tb[IFLA_IFNAME], l.name, sizeof(l.name));
	if (tb[IFLA_LINKINFO] && nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX) >= 0)
		nl_string(info[IFLA_INFO_KIND], l.kind, sizeof(l.kind));
	if (!l.kind[0] && (l.flags & IFF_LOOPBACK))
		snprintf(l.kind, sizeof(l.kind), "loopback");
	struct nl_link *a = realloc(ls->l, (ls->n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	ls->l = a;
	ls->l[ls->n++] = l;
	return 0;
}

int nl_links_load(struct mnl_socket *nl, struct nl_links *ret) {
	char buf[NL_REQUEST_MAX];
	struct ifinfomsg *ifi = nl_request(buf, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	int k = nl_talk(nl, (struct nlmsghdr *) buf, link_cb, ret);
	if (k < 0)
		nl_links_done(ret);
	return k;
}

int nl_link_by_name(struct mnl_socket *nl, const char *name, struct nl_link *ret) {
	char buf[NL_REQUEST_MAX];
	struct ifinfomsg *ifi = nl_request(buf, RTM_GETLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (!mnl_attr_put_strz_check((struct nlmsghdr *) buf, NL_REQUEST_MAX, IFLA_IFNAME, name))
		return -ENAMETOOLONG;
	_cleanup_(nl_links_done) struct nl_links ls = {};
	int k = nl_talk(nl, (struct nlmsghdr *) buf, link_cb, &ls);
	if (k < 0)
		return k;
	if (ls.n == 0 || !streq(ls.l[0].name, name))
		return -ENODEV;
	*ret = ls.l[0];
	return 0;
}
