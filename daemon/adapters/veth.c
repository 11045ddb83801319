/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* veth pairs between a container and the host: found by rtnetlink before the dump, the host side
 * made ready around CRIU's restore. See veth.h. */
#include <arpa/inet.h>
#include <assert.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "fileio.h"
#include "macro.h"
#include "netns-info.h"
#include "time-util.h"
#include "veth.h"

/* ---- rtnetlink ------------------------------------------------------------------------------ */

struct nl_link {
	int index, master, link, link_netnsid;
	bool has_link_netnsid;
	unsigned mtu, flags;
	char name[IFNAMSIZ];
	char kind[32];
};

struct nl_links {
	struct nl_link *l;
	size_t n;
};

static void nl_links_done(struct nl_links *ls) {
	free(ls->l);
	*ls = (struct nl_links) {};
}

static const struct nl_link *nl_links_by_name(const struct nl_links *ls, const char *name) {
	for (size_t i = 0; name && i < ls->n; i++)
		if (streq(ls->l[i].name, name))
			return &ls->l[i];
	return NULL;
}

static const struct nl_link *nl_links_by_index(const struct nl_links *ls, int index) {
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].index == index)
			return &ls->l[i];
	return NULL;
}

/* A request message with room for a few attributes. */
struct nl_req {
	struct nlmsghdr h;
	char body[512];
};

static void *nl_body(struct nl_req *r) {
	return NLMSG_DATA(&r->h);
}

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, size_t body_len) {
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(body_len);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | flags;
}

static void nl_attr(struct nl_req *r, uint16_t type, const void *data, size_t len) {
	struct rtattr *a = (struct rtattr *) ((char *) &r->h + NLMSG_ALIGN(r->h.nlmsg_len));
	assert(NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len) <= sizeof(*r));
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len);
}

static int nl_talk(int fd, struct nl_req *r, int (*cb)(struct nlmsghdr *h, void *userdata), void *userdata) {
	return netlink_talk(fd, &r->h, r->h.nlmsg_len, cb, userdata);
}

/* rtnetlink in ckptd's own network namespace. */
static int rtnl_open(void) {
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return negative_errno();
	struct timeval tv = { .tv_sec = 2 };
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int link_parse_cb(struct nlmsghdr *h, void *userdata) {
	struct nl_links *ls = userdata;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct nl_link l = { .index = ifi->ifi_index, .flags = ifi->ifi_flags };
	int len = (int) IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFLA_IFNAME:
			snprintf(l.name, sizeof(l.name), "%.*s", (int) RTA_PAYLOAD(a), (const char *) RTA_DATA(a));
			break;
		case IFLA_MASTER:
			memcpy(&l.master, RTA_DATA(a), sizeof(int));
			break;
		case IFLA_LINK:
			memcpy(&l.link, RTA_DATA(a), sizeof(int));
			break;
		case IFLA_LINK_NETNSID:
			memcpy(&l.link_netnsid, RTA_DATA(a), sizeof(int));
			l.has_link_netnsid = true;
			break;
		case IFLA_MTU:
			memcpy(&l.mtu, RTA_DATA(a), sizeof(unsigned));
			break;
		case IFLA_LINKINFO: {
			int l2 = (int) RTA_PAYLOAD(a);
			for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2))
				if (b->rta_type == IFLA_INFO_KIND)
					snprintf(l.kind, sizeof(l.kind), "%.*s", (int) RTA_PAYLOAD(b),
					         (const char *) RTA_DATA(b));
			break;
		}
		}
	}
	if (!l.kind[0] && (l.flags & IFF_LOOPBACK))
		snprintf(l.kind, sizeof(l.kind), "loopback");
	struct nl_link *a = realloc(ls->l, (ls->n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	ls->l = a;
	ls->l[ls->n++] = l;
	return 0;
}

static int links_load(int fd, struct nl_links *ret) {
	struct nl_req r;
	nl_init(&r, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
	((struct ifinfomsg *) nl_body(&r))->ifi_family = AF_UNSPEC;
	int k = nl_talk(fd, &r, link_parse_cb, ret);
	if (k < 0)
		nl_links_done(ret);
	return k;
}

/* One interface of ckptd's network namespace by name: 0 and *ret, -ENODEV if there is none. */
static int link_by_name(int fd, const char *name, struct nl_link *ret) {
	struct nl_req r;
	nl_init(&r, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	((struct ifinfomsg *) nl_body(&r))->ifi_family = AF_UNSPEC;
	nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	_cleanup_(nl_links_done) struct nl_links ls = {};
	int k = nl_talk(fd, &r, link_parse_cb, &ls);
	if (k < 0)
		return k;
	if (ls.n == 0 || !streq(ls.l[0].name, name))
		return -ENODEV;
	*ret = ls.l[0];
	return 0;
}

static int nsid_cb(struct nlmsghdr *h, void *userdata) {
	int *ret = userdata;
	if (h->nlmsg_type != RTM_NEWNSID)
		return 0;
	int len = (int) h->nlmsg_len - (int) NLMSG_SPACE(sizeof(struct rtgenmsg));
	for (struct rtattr *a = (struct rtattr *) ((char *) NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct rtgenmsg)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == NETNSA_NSID)
			memcpy(ret, RTA_DATA(a), sizeof(int));
	return 0;
}

/* The id under which ckptd's network namespace knows pid's (IFLA_LINK_NETNSID of links into
 * it); -1 if none is assigned. */
static int netnsid_of(int fd, pid_t pid, int *ret) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int) pid);
	_cleanup_close_ int ns = open(p, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return negative_errno();
	struct nl_req r;
	nl_init(&r, RTM_GETNSID, 0, sizeof(struct rtgenmsg));
	((struct rtgenmsg *) nl_body(&r))->rtgen_family = AF_UNSPEC;
	uint32_t v = (uint32_t) ns;
	nl_attr(&r, NETNSA_FD, &v, sizeof(v));
	*ret = -1;
	return nl_talk(fd, &r, nsid_cb, ret);
}

/* ---- addresses ------------------------------------------------------------------------------ */

struct addr_query {
	int index; /* 0: every interface */
	json_t *by_index; /* index (as a string) -> array of addresses */
};

/* {"family", "address", "peer"?, "prefixlen"} of one RTM_NEWADDR; link-local IPv6 addresses
 * are skipped (the kernel makes them again when the link comes up). */
static int addr_cb(struct nlmsghdr *h, void *userdata) {
	struct addr_query *q = userdata;
	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if ((q->index && (int) ifa->ifa_index != q->index) || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK)
		return 0;
	const void *local = NULL, *address = NULL;
	int len = (int) IFA_PAYLOAD(h);
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFA_LOCAL)
			local = RTA_DATA(a);
		else if (a->rta_type == IFA_ADDRESS)
			address = RTA_DATA(a);
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	const void *mine = local ? local : address;
	const void *peer = local && address && memcmp(local, address, alen) != 0 ? address : NULL;
	if (!mine)
		return 0;
	char a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN];
	inet_ntop(ifa->ifa_family, mine, a1, sizeof(a1));
	if (peer)
		inet_ntop(ifa->ifa_family, peer, a2, sizeof(a2));
	char key[16];
	snprintf(key, sizeof(key), "%u", ifa->ifa_index);
	json_t *list = json_object_get(q->by_index, key);
	if (!list) {
		list = json_array();
		json_object_set_new(q->by_index, key, list);
	}
	json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:i}", "family", ifa->ifa_family == AF_INET ? "inet" : "inet6",
	                                      "address", a1, "peer", peer ? a2 : NULL, "prefixlen", ifa->ifa_prefixlen));
	return 0;
}

/* Addresses of every interface of the namespace fd talks to, by index (as a string). */
static int addresses_load(int fd, json_t **ret) {
	struct nl_req r;
	nl_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
	((struct ifaddrmsg *) nl_body(&r))->ifa_family = AF_UNSPEC;
	struct addr_query q = { .by_index = json_object() };
	if (!q.by_index)
		return -ENOMEM;
	int k = nl_talk(fd, &r, addr_cb, &q);
	if (k < 0) {
		json_decref(q.by_index);
		return k;
	}
	*ret = q.by_index;
	return 0;
}

static json_t *list_of(json_t *by_index, int index) {
	char key[16];
	snprintf(key, sizeof(key), "%d", index);
	json_t *a = json_object_get(by_index, key);
	return a ? json_incref(a) : json_array();
}

/* Routes of the main table through one interface that someone added (not the kernel's prefix
 * routes): {"family", "dst", "prefixlen", "gateway"?, "metric"?, "scope", "protocol"}. They go
 * with the host end when it is deleted, so a routed veth's /32 routes must be re-added. */
static int route_cb(struct nlmsghdr *h, void *userdata) {
	json_t *by_index = userdata;
	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	struct rtmsg *rt = NLMSG_DATA(h);
	if ((rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) || rt->rtm_type != RTN_UNICAST ||
	    rt->rtm_protocol == RTPROT_KERNEL)
		return 0;
	unsigned table = rt->rtm_table;
	int oif = 0;
	uint32_t metric = 0;
	const void *dst = NULL, *gw = NULL;
	int len = (int) RTM_PAYLOAD(h);
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
		switch (a->rta_type) {
		case RTA_TABLE: memcpy(&table, RTA_DATA(a), sizeof(table)); break;
		case RTA_OIF: memcpy(&oif, RTA_DATA(a), sizeof(oif)); break;
		case RTA_PRIORITY: memcpy(&metric, RTA_DATA(a), sizeof(metric)); break;
		case RTA_DST: dst = RTA_DATA(a); break;
		case RTA_GATEWAY: gw = RTA_DATA(a); break;
		}
	if (table != RT_TABLE_MAIN || oif <= 0)
		return 0;
	char d[INET6_ADDRSTRLEN] = "", g[INET6_ADDRSTRLEN] = "";
	if (dst)
		inet_ntop(rt->rtm_family, dst, d, sizeof(d));
	else
		snprintf(d, sizeof(d), "%s", rt->rtm_family == AF_INET ? "0.0.0.0" : "::");
	if (gw)
		inet_ntop(rt->rtm_family, gw, g, sizeof(g));
	char key[16];
	snprintf(key, sizeof(key), "%d", oif);
	json_t *list = json_object_get(by_index, key);
	if (!list) {
		list = json_array();
		json_object_set_new(by_index, key, list);
	}
	json_array_append_new(list, json_pack("{s:s,s:s,s:i,s:s?,s:I,s:i,s:i}", "family",
	        rt->rtm_family == AF_INET ? "inet" : "inet6", "dst", d, "prefixlen", rt->rtm_dst_len, "gateway",
	        gw ? g : NULL, "metric", (json_int_t) metric, "scope", rt->rtm_scope, "protocol", rt->rtm_protocol));
	return 0;
}

static int routes_load(int fd, json_t **ret) {
	struct nl_req r;
	nl_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(struct rtmsg));
	((struct rtmsg *) nl_body(&r))->rtm_family = AF_UNSPEC;
	json_t *by_index = json_object();
	if (!by_index)
		return -ENOMEM;
	int k = nl_talk(fd, &r, route_cb, by_index);
	if (k < 0) {
		json_decref(by_index);
		return k;
	}
	*ret = by_index;
	return 0;
}

/* "10.0.0.1/24", "10.0.0.1 peer 10.0.0.2/32" (for messages and inspect). */
static void addresses_append_text(FILE *f, json_t *addresses) {
	size_t i;
	json_t *a;
	json_array_foreach(addresses, i, a) {
		const char *peer = json_string_value(json_object_get(a, "peer"));
		fprintf(f, "%s%s%s%s/%lld", i ? ", " : "", json_string_value(json_object_get(a, "address")), peer ? " peer " : "",
		        peer ? peer : "", (long long) json_integer_value(json_object_get(a, "prefixlen")));
	}
}

/* ---- discovery ------------------------------------------------------------------------------ */

static _printf_(2, 3) void add_problem(json_t *problems, const char *fmt, ...) {
	_cleanup_free_ char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r >= 0)
		json_array_append_new(problems, json_string(s));
}

static json_t *interface_by_name(json_t *interfaces, const char *name) {
	size_t i;
	json_t *v;
	json_array_foreach(interfaces, i, v)
		if (streq_ptr(json_string_value(json_object_get(v, "name")), name))
			return v;
	return NULL;
}

int veth_discover(pid_t pid, json_t *interfaces, json_t *veths, json_t *problems) {
	_cleanup_close_ int ct_fd = netlink_in_netns(pid, NETLINK_ROUTE);
	if (ct_fd < 0)
		return ct_fd;
	_cleanup_close_ int host_fd = rtnl_open();
	if (host_fd < 0)
		return host_fd;
	_cleanup_(nl_links_done) struct nl_links ct = {}, host = {};
	_cleanup_(json_decrefp) json_t *ct_addrs = NULL, *host_addrs = NULL, *host_routes = NULL;
	int nsid = -1;
	int r = links_load(ct_fd, &ct);
	if (r >= 0)
		r = addresses_load(ct_fd, &ct_addrs);
	/* The host's links first: listing a link into another namespace assigns that namespace
	 * an id, which netnsid_of() then finds. */
	if (r >= 0)
		r = links_load(host_fd, &host);
	if (r >= 0)
		r = addresses_load(host_fd, &host_addrs);
	if (r >= 0)
		r = routes_load(host_fd, &host_routes);
	if (r >= 0)
		r = netnsid_of(host_fd, pid, &nsid);
	if (r < 0)
		return r;

	for (size_t i = 0; i < ct.n; i++) {
		const struct nl_link *c = &ct.l[i];
		if (streq(c->kind, "loopback"))
			continue;
		json_t *ifc = interface_by_name(interfaces, c->name);
		if (ifc)
			json_object_set_new(ifc, "addresses", list_of(ct_addrs, c->index));
		if (!streq(c->kind, "veth")) {
			add_problem(problems, "network interface %s (%s) in the container's network namespace: CRIU cannot "
			                      "restore a %s interface (ckptd restores lo and veth pairs whose other end is on "
			                      "the host)", c->name, c->kind[0] ? c->kind : "unknown kind",
			            c->kind[0] ? c->kind : "device of unknown kind");
			continue;
		}
		const struct nl_link *h = NULL;
		for (size_t k = 0; nsid >= 0 && k < host.n && !h; k++)
			if (streq(host.l[k].kind, "veth") && host.l[k].has_link_netnsid && host.l[k].link_netnsid == nsid &&
			    host.l[k].link == c->index)
				h = &host.l[k];
		if (!h) {
			add_problem(problems, "network interface %s (veth) in the container's network namespace: its peer "
			                      "(index %d%s) is not in ckptd's network namespace, and CRIU restores only veth "
			                      "pairs with one end on the host", c->name, c->link,
			            c->has_link_netnsid ? " in another namespace" : " in the container's own namespace");
			continue;
		}
		const struct nl_link *m = h->master ? nl_links_by_index(&host, h->master) : NULL;
		if (h->master && (!m || !streq(m->kind, "bridge"))) {
			add_problem(problems, "network interface %s (veth) in the container's network namespace: its host "
			                      "end %s is a port of %s (%s), and ckptd can put a host end back only into a "
			                      "bridge", c->name, h->name, m ? m->name : "an unknown device",
			            m && m->kind[0] ? m->kind : "unknown kind");
			continue;
		}
		json_array_append_new(veths, json_pack("{s:s,s:i,s:s,s:i,s:s?,s:i,s:b,s:o,s:o,s:o}", "container_if", c->name,
		        "container_index", c->index, "host_if", h->name, "host_index", h->index, "bridge", m ? m->name : NULL,
		        "mtu", (int) h->mtu, "up", (h->flags & IFF_UP) != 0, "addresses",
		        list_of(host_addrs, h->index), "routes", list_of(host_routes, h->index),
		        "container_addresses", list_of(ct_addrs, c->index)));
	}
	return 0;
}

/* ---- restore -------------------------------------------------------------------------------- */

void veth_plan_done(struct veth_plan *p) {
	for (size_t i = 0; i < p->n; i++)
		free(p->e[i].criu_out);
	free(p->e);
	free(p->criu);
	*p = (struct veth_plan) {};
}

int veth_plan_load(json_t *discovery, struct veth_plan *ret) {
	json_t *veths = json_object_get(json_object_get(discovery, "network"), "veths");
	struct veth_plan p = {};
	size_t i;
	json_t *v;
	if (json_array_size(veths) > 0 && (!(p.e = calloc(json_array_size(veths), sizeof(*p.e))) ||
	                                   !(p.criu = calloc(json_array_size(veths), sizeof(*p.criu))))) {
		veth_plan_done(&p);
		return -ENOMEM;
	}
	json_array_foreach(veths, i, v) {
		struct veth_end *e = &p.e[p.n++];
		e->container_if = json_string_value(json_object_get(v, "container_if"));
		e->host_if = json_string_value(json_object_get(v, "host_if"));
		e->bridge = json_string_value(json_object_get(v, "bridge"));
		e->mtu = (unsigned) json_integer_value(json_object_get(v, "mtu"));
		e->up = json_is_true(json_object_get(v, "up"));
		e->addresses = json_object_get(v, "addresses");
		e->routes = json_object_get(v, "routes");
		if (!e->container_if || !e->host_if) {
			veth_plan_done(&p);
			return -EBADMSG;
		}
		if (asprintf(&e->criu_out, "%s%s%s", e->host_if, e->bridge ? "@" : "", e->bridge ? e->bridge : "") < 0) {
			e->criu_out = NULL;
			veth_plan_done(&p);
			return -ENOMEM;
		}
		p.criu[i] = (struct criu_veth_pair) { .in = e->container_if, .out = e->criu_out };
	}
	*ret = p;
	return 0;
}

int veth_check(const struct veth_plan *p, char **ret_error) {
	if (p->n == 0)
		return 0;
	_cleanup_close_ int fd = rtnl_open();
	_cleanup_(nl_links_done) struct nl_links host = {};
	int r = fd < 0 ? fd : links_load(fd, &host);
	if (r < 0)
		return asprintf(ret_error, "cannot list the host's network interfaces: %s", strerror(-r)), r;
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		const struct nl_link *b = e->bridge ? nl_links_by_name(&host, e->bridge) : NULL;
		if (e->bridge && !b)
			return asprintf(ret_error, "bridge %s does not exist on the host: the container's veth %s (host end %s) "
			                           "was in it; create the bridge, then roll back", e->bridge, e->container_if,
			                e->host_if), -ENODEV;
		if (b && !streq(b->kind, "bridge"))
			return asprintf(ret_error, "%s is a %s, not a bridge: the container's veth %s (host end %s) was in a "
			                           "bridge of that name", e->bridge, b->kind[0] ? b->kind : "device of unknown kind",
			                e->container_if, e->host_if), -EINVAL;
		const struct nl_link *h = nl_links_by_name(&host, e->host_if);
		if (h && !streq(h->kind, "veth"))
			return asprintf(ret_error, "the host has a %s interface named %s, the name of the container's veth host "
			                           "end (for %s): CRIU could not re-create it; rename or remove that interface",
			                h->kind[0] ? h->kind : "non-veth", e->host_if, e->container_if), -EEXIST;
	}
	return 0;
}

static int link_delete(int fd, int index) {
	struct nl_req r;
	nl_init(&r, RTM_DELLINK, NLM_F_ACK, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = nl_body(&r);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return nl_talk(fd, &r, NULL, NULL);
}

int veth_clear_host_ends(const struct veth_plan *p, json_t *warnings, char **ret_error) {
	if (p->n == 0)
		return 0;
	_cleanup_close_ int fd = rtnl_open();
	if (fd < 0)
		return asprintf(ret_error, "cannot open rtnetlink: %s", strerror(-fd)), fd;
	/* The old host ends go with the old network namespace, which the kernel tears down in the
	 * background after its last task is gone: usually within tens of milliseconds. */
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC;
	for (;;) {
		bool lingering = false;
		for (size_t i = 0; i < p->n && !lingering; i++) {
			struct nl_link l;
			lingering = link_by_name(fd, p->e[i].host_if, &l) >= 0;
		}
		if (!lingering || now_usec(CLOCK_MONOTONIC) >= deadline)
			break;
		usleep(20 * 1000);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		struct nl_link l;
		int r = link_by_name(fd, e->host_if, &l);
		if (r == -ENODEV)
			continue;
		if (r < 0)
			return asprintf(ret_error, "cannot look up the host interface %s: %s", e->host_if, strerror(-r)), r;
		if (!streq(l.kind, "veth"))
			return asprintf(ret_error, "the host has a %s interface named %s, the name of the container's veth host "
			                           "end (for %s): CRIU could not re-create it", l.kind[0] ? l.kind : "non-veth",
			                e->host_if, e->container_if), -EEXIST;
		r = link_delete(fd, l.index);
		if (r < 0 && r != -ENODEV)
			return asprintf(ret_error, "cannot delete the old host end %s of the container's veth %s: %s", e->host_if,
			                e->container_if, strerror(-r)), r;
		_cleanup_free_ char *w = NULL;
		if (asprintf(&w, "deleted the old host end %s of the container's veth %s: it outlived the container's "
		                 "tasks by a second", e->host_if, e->container_if) >= 0)
			json_array_append_new(warnings, json_string(w));
	}
	return 0;
}

static int link_set(int fd, int index, unsigned mtu, bool up) {
	struct nl_req r;
	nl_init(&r, RTM_NEWLINK, NLM_F_ACK, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = nl_body(&r);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (up) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = IFF_UP;
	}
	if (mtu)
		nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_talk(fd, &r, NULL, NULL);
}

static int address_add(int fd, int index, json_t *a) {
	const char *family = json_string_value(json_object_get(a, "family"));
	const char *addr = json_string_value(json_object_get(a, "address"));
	const char *peer = json_string_value(json_object_get(a, "peer"));
	int af = streq_ptr(family, "inet6") ? AF_INET6 : AF_INET;
	unsigned char local[16], remote[16];
	size_t len = af == AF_INET ? 4 : 16;
	if (!addr || inet_pton(af, addr, local) != 1 || (peer && inet_pton(af, peer, remote) != 1))
		return -EINVAL;
	struct nl_req r;
	nl_init(&r, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = nl_body(&r);
	ifa->ifa_family = (unsigned char) af;
	ifa->ifa_prefixlen = (unsigned char) json_integer_value(json_object_get(a, "prefixlen"));
	ifa->ifa_index = (unsigned) index;
	if (af == AF_INET || peer)
		nl_attr(&r, IFA_LOCAL, local, len);
	nl_attr(&r, IFA_ADDRESS, peer ? remote : local, len);
	return nl_talk(fd, &r, NULL, NULL);
}

static int route_add(int fd, int index, json_t *rt) {
	const char *family = json_string_value(json_object_get(rt, "family"));
	const char *dst = json_string_value(json_object_get(rt, "dst"));
	const char *gw = json_string_value(json_object_get(rt, "gateway"));
	int af = streq_ptr(family, "inet6") ? AF_INET6 : AF_INET;
	unsigned char d[16], g[16];
	size_t len = af == AF_INET ? 4 : 16;
	if (!dst || inet_pton(af, dst, d) != 1 || (gw && inet_pton(af, gw, g) != 1))
		return -EINVAL;
	struct nl_req r;
	nl_init(&r, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct rtmsg));
	struct rtmsg *m = nl_body(&r);
	m->rtm_family = (unsigned char) af;
	m->rtm_dst_len = (unsigned char) json_integer_value(json_object_get(rt, "prefixlen"));
	m->rtm_table = RT_TABLE_MAIN;
	m->rtm_protocol = (unsigned char) json_integer_value(json_object_get(rt, "protocol"));
	m->rtm_scope = (unsigned char) json_integer_value(json_object_get(rt, "scope"));
	m->rtm_type = RTN_UNICAST;
	if (m->rtm_dst_len > 0)
		nl_attr(&r, RTA_DST, d, len);
	if (gw)
		nl_attr(&r, RTA_GATEWAY, g, len);
	uint32_t oif = (uint32_t) index, metric = (uint32_t) json_integer_value(json_object_get(rt, "metric"));
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	if (metric)
		nl_attr(&r, RTA_PRIORITY, &metric, sizeof(metric));
	return nl_talk(fd, &r, NULL, NULL);
}

int veth_configure_host_ends(struct veth_plan *p, char **ret_error) {
	p->configured = true;
	if (p->n == 0)
		return 0;
	_cleanup_close_ int fd = rtnl_open();
	if (fd < 0)
		return asprintf(ret_error, "cannot open rtnetlink: %s", strerror(-fd)), fd;
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		struct nl_link l;
		int r = link_by_name(fd, e->host_if, &l);
		if (r < 0)
			return asprintf(ret_error, "the host end %s of the container's veth %s is not there after the restore: %s",
			                e->host_if, e->container_if, strerror(-r)), r;
		if (e->mtu && l.mtu != e->mtu && (r = link_set(fd, l.index, e->mtu, false)) < 0)
			return asprintf(ret_error, "cannot set the MTU of %s to %u: %s", e->host_if, e->mtu, strerror(-r)), r;
		if (e->bridge)
			continue; /* CRIU put it into the bridge and set it up */
		size_t k;
		json_t *a;
		json_array_foreach(e->addresses, k, a) {
			r = address_add(fd, l.index, a);
			if (r < 0 && r != -EEXIST) {
				_cleanup_free_ char *text = NULL;
				size_t size = 0;
				FILE *f = open_memstream(&text, &size);
				if (f) {
					_cleanup_(json_decrefp) json_t *one = json_pack("[O]", a);
					addresses_append_text(f, one);
					fclose(f);
				}
				return asprintf(ret_error, "cannot give the address %s back to the host end %s of the container's "
				                           "veth %s: %s", strna(text), e->host_if, e->container_if, strerror(-r)), r;
			}
		}
		if (e->up && (r = link_set(fd, l.index, 0, true)) < 0)
			return asprintf(ret_error, "cannot set the host end %s of the container's veth %s up: %s", e->host_if,
			                e->container_if, strerror(-r)), r;
		/* Routes through the host end (a routed container's /32), once the link is up. */
		json_array_foreach(e->routes, k, a) {
			r = route_add(fd, l.index, a);
			if (r < 0 && r != -EEXIST)
				return asprintf(ret_error, "cannot add the route to %s/%lld via the host end %s of the container's "
				                           "veth %s again: %s", strna(json_string_value(json_object_get(a, "dst"))),
				                (long long) json_integer_value(json_object_get(a, "prefixlen")), e->host_if,
				                e->container_if, strerror(-r)), r;
		}
	}
	return 0;
}

bool veth_log_has_unknown_peer(const char *log_path) {
	_cleanup_free_ char *buf = NULL;
	if (read_full_file(log_path, &buf, NULL) < 0)
		return false;
	return strstr(buf, "Unknown peer net namespace") != NULL;
}

json_t *veth_criu_externals(json_t *veths) {
	if (json_array_size(veths) == 0)
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(veths, i, v) {
		const char *bridge = json_string_value(json_object_get(v, "bridge"));
		_cleanup_free_ char *s = NULL;
		if (asprintf(&s, "veth[%s]:%s%s%s", json_string_value(json_object_get(v, "container_if")),
		             json_string_value(json_object_get(v, "host_if")), bridge ? "@" : "", bridge ? bridge : "") >= 0)
			json_array_append_new(out, json_string(s));
	}
	return out;
}
