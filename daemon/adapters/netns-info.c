/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a network namespace holds, asked from inside it: interfaces (rtnetlink), unix sockets and
 * their peers, TCP sockets (sock_diag). See netns-info.h. */
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "fileio.h"
#include "macro.h"
#include "netlink.h"
#include "netns-info.h"

/* ---- interfaces ----------------------------------------------------------------------------- */

static int interfaces_from_netlink(pid_t pid, json_t *interfaces) {
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	_cleanup_(nl_links_done) struct nl_links ls = {};
	int r = nl_open(pid, NETLINK_ROUTE, &nl);
	if (r >= 0)
		r = nl_links_load(nl, &ls);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ls.n; i++) {
		const struct nl_link *l = &ls.l[i];
		if (!l->name[0])
			continue;
		json_array_append_new(interfaces, json_pack("{s:s,s:s?,s:b,s:i}", "name", l->name, "kind",
		                                            l->kind[0] ? l->kind : NULL, "up", (l->flags & IFF_UP) != 0,
		                                            "index", l->index));
	}
	return 0;
}

/* Interfaces of pid's network namespace: netlink, else the names in /proc/PID/net/dev. */
int netns_list_interfaces(pid_t pid, json_t *interfaces) {
	if (interfaces_from_netlink(pid, interfaces) >= 0)
		return 0;
	json_array_clear(interfaces);
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

/* ---- unix sockets --------------------------------------------------------------------------- */

void unix_table_done(struct unix_table *t) {
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
	*t = (struct unix_table) {};
}

const struct unix_peer *unix_table_find(const struct unix_table *t, unsigned ino) {
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].ino == ino)
			return &t->e[i];
	return NULL;
}

static int unix_cb(const struct nlmsghdr *h, void *userdata) {
	struct unix_table *t = userdata;
	const struct unix_diag_msg *m = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[UNIX_DIAG_MAX + 1] = {};
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nl_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX) < 0)
		return 0;
	struct unix_peer e = { .ino = m->udiag_ino, .peer = nl_u32(tb[UNIX_DIAG_PEER], 0) };
	const char *n = nl_payload(tb[UNIX_DIAG_NAME], 1);
	if (n) {
		size_t l = mnl_attr_get_payload_len(tb[UNIX_DIAG_NAME]);
		if (n[0] == '\0') /* abstract */
			(void) asprintf(&e.name, "@%.*s", (int) l - 1, n + 1);
		else
			e.name = strndup(n, l);
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
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	int r = nl_open(pid, NETLINK_SOCK_DIAG, &nl);
	if (r < 0)
		return r;
	char buf[NL_REQUEST_MAX];
	struct unix_diag_req *req = nl_request(buf, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, sizeof(*req));
	*req = (struct unix_diag_req) { .sdiag_family = AF_UNIX, .udiag_states = -1,
		                        .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER };
	return nl_talk(nl, (struct nlmsghdr *) buf, unix_cb, t);
}

/* ---- TCP sockets ---------------------------------------------------------------------------- */

/* Every state but TCP_BOUND_INACTIVE (13, kernel ≥ 6.8: bound, never listened nor connected),
 * which /proc/net/tcp never listed. */
#define TCP_STATES_LISTED (((1U << 13) - 1) & ~1U)

void tcp_table_done(struct tcp_table *t) {
	free(t->e);
	*t = (struct tcp_table) {};
}

static void format_address(int family, const uint32_t addr[4], uint16_t port_be, char buf[static 64]) {
	char text[INET6_ADDRSTRLEN] = "?";
	inet_ntop(family, addr, text, sizeof(text));
	snprintf(buf, 64, family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, ntohs(port_be));
}

static int tcp_cb(const struct nlmsghdr *h, void *userdata) {
	struct tcp_table *t = userdata;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(h);
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(h) < sizeof(*m) ||
	    (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
		return 0;
	struct tcp_socket *a = realloc(t->e, (t->n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	t->e = a;
	struct tcp_socket *s = &t->e[t->n++];
	*s = (struct tcp_socket) { .ino = m->idiag_inode, .state = m->idiag_state };
	format_address(m->idiag_family, m->id.idiag_src, m->id.idiag_sport, s->local);
	format_address(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport, s->remote);
	return 0;
}

static int tcp_table_load_family(struct mnl_socket *nl, int family, struct tcp_table *t) {
	char buf[NL_REQUEST_MAX];
	struct inet_diag_req_v2 *req = nl_request(buf, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, sizeof(*req));
	*req = (struct inet_diag_req_v2) { .sdiag_family = (uint8_t) family, .sdiag_protocol = IPPROTO_TCP,
		                           .idiag_states = TCP_STATES_LISTED };
	return nl_talk(nl, (struct nlmsghdr *) buf, tcp_cb, t);
}

int tcp_table_load(pid_t pid, struct tcp_table *t) {
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	int r = nl_open(pid, NETLINK_SOCK_DIAG, &nl);
	if (r >= 0)
		r = tcp_table_load_family(nl, AF_INET, t);
	if (r >= 0)
		r = tcp_table_load_family(nl, AF_INET6, t);
	return r;
}

const char *tcp_state_name(unsigned st) {
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",   [TCP_SYN_RECV] = "SYN_RECV",
		[TCP_FIN_WAIT1] = "FIN_WAIT1",     [TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
		[TCP_CLOSE] = "CLOSE",             [TCP_CLOSE_WAIT] = "CLOSE_WAIT", [TCP_LAST_ACK] = "LAST_ACK",
		[TCP_LISTEN] = "LISTEN",           [TCP_CLOSING] = "CLOSING",     [12] = "NEW_SYN_RECV",
	};
	return st < ELEMENTSOF(names) && names[st] ? names[st] : "?";
}
