/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* veth pairs between a container and the host: found by rtnetlink before the dump, the host side
 * made ready around CRIU's restore. See veth.h. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "error.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "netlink.h"
#include "time-util.h"
#include "veth.h"

/* ---- rtnetlink ------------------------------------------------------------------------------ */

/* rtnetlink in ckptd's own network namespace. */
static int rtnl_open(struct mnl_socket **ret) {
	return nl_open(0, NETLINK_ROUTE, ret);
}

static int nsid_cb(const struct nlmsghdr *h, void *userdata) {
	int *ret = userdata;
	const struct nlattr *tb[NETNSA_MAX + 1] = {};
	if (h->nlmsg_type != RTM_NEWNSID || nl_parse(h, sizeof(struct rtgenmsg), tb, NETNSA_MAX) < 0)
		return 0;
	*ret = (int) nl_u32(tb[NETNSA_NSID], (uint32_t) *ret);
	return 0;
}

/* The id under which ckptd's network namespace knows pid's (IFLA_LINK_NETNSID of links into
 * it); -1 if none is assigned. */
static int netnsid_of(struct mnl_socket *nl, pid_t pid, int *ret) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int) pid);
	_cleanup_close_ int ns = open(p, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return negative_errno();
	char buf[NL_REQUEST_MAX];
	struct rtgenmsg *g = nl_request(buf, RTM_GETNSID, 0, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32((struct nlmsghdr *) buf, NETNSA_FD, (uint32_t) ns);
	*ret = -1;
	return nl_talk(nl, (struct nlmsghdr *) buf, nsid_cb, ret);
}

/* ---- addresses ------------------------------------------------------------------------------ */

/* Appends item to the list of interface index in by_index (index as a string -> array). */
static void by_index_append(json_t *by_index, unsigned index, json_t *item) {
	char key[16];
	snprintf(key, sizeof(key), "%u", index);
	json_t *list = json_object_get(by_index, key);
	if (!list) {
		list = json_array();
		json_object_set_new(by_index, key, list);
	}
	json_array_append_new(list, item);
}

static json_t *list_of(json_t *by_index, int index) {
	char key[16];
	snprintf(key, sizeof(key), "%d", index);
	json_t *a = json_object_get(by_index, key);
	return a ? json_incref(a) : json_array();
}

/* Dumps `type` (RTM_GETADDR, RTM_GETROUTE; a family header of extra_len bytes, AF_UNSPEC) into a
 * new object of lists by interface index, which cb fills. */
static int dump_by_index(struct mnl_socket *nl, uint16_t type, size_t extra_len, nl_message_cb cb, json_t **ret) {
	char buf[NL_REQUEST_MAX];
	(void) nl_request(buf, type, NLM_F_DUMP, extra_len); /* the family, first byte of each, is AF_UNSPEC */
	_cleanup_(json_decrefp) json_t *by_index = json_object();
	if (!by_index)
		return -ENOMEM;
	int k = nl_talk(nl, (struct nlmsghdr *) buf, cb, by_index);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(by_index);
	return 0;
}

/* {"family", "address", "peer"?, "prefixlen"} of one RTM_NEWADDR; link-local IPv6 addresses
 * are skipped (the kernel makes them again when the link comes up). */
static int addr_cb(const struct nlmsghdr *h, void *userdata) {
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[IFA_MAX + 1] = {};
	if (h->nlmsg_type != RTM_NEWADDR || nl_parse(h, sizeof(*ifa), tb, IFA_MAX) < 0 ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK)
		return 0;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	const void *local = nl_payload(tb[IFA_LOCAL], alen), *address = nl_payload(tb[IFA_ADDRESS], alen);
	const void *mine = local ? local : address;
	const void *peer = local && address && memcmp(local, address, alen) != 0 ? address : NULL;
	if (!mine)
		return 0;
	char a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN];
	inet_ntop(ifa->ifa_family, mine, a1, sizeof(a1));
	if (peer)
		inet_ntop(ifa->ifa_family, peer, a2, sizeof(a2));
	by_index_append(userdata, ifa->ifa_index, json_pack("{s:s,s:s,s:s?,s:i}", "family",
	                ifa->ifa_family == AF_INET ? "inet" : "inet6", "address", a1, "peer", peer ? a2 : NULL,
	                "prefixlen", ifa->ifa_prefixlen));
	return 0;
}

/* Routes of the main table through one interface that someone added (not the kernel's prefix
 * routes): {"family", "dst", "prefixlen", "gateway"?, "metric"?, "scope", "protocol"}. They go
 * with the host end when it is deleted, so a routed veth's /32 routes must be re-added. */
static int route_cb(const struct nlmsghdr *h, void *userdata) {
	const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[RTA_MAX + 1] = {};
	if (h->nlmsg_type != RTM_NEWROUTE || nl_parse(h, sizeof(*rt), tb, RTA_MAX) < 0 ||
	    (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) || rt->rtm_type != RTN_UNICAST ||
	    rt->rtm_protocol == RTPROT_KERNEL)
		return 0;
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;
	uint32_t table = nl_u32(tb[RTA_TABLE], rt->rtm_table), metric = nl_u32(tb[RTA_PRIORITY], 0);
	int oif = (int) nl_u32(tb[RTA_OIF], 0);
	const void *dst = nl_payload(tb[RTA_DST], alen), *gw = nl_payload(tb[RTA_GATEWAY], alen);
	if (table != RT_TABLE_MAIN || oif <= 0)
		return 0;
	char d[INET6_ADDRSTRLEN] = "", g[INET6_ADDRSTRLEN] = "";
	if (dst)
		inet_ntop(rt->rtm_family, dst, d, sizeof(d));
	else
		snprintf(d, sizeof(d), "%s", rt->rtm_family == AF_INET ? "0.0.0.0" : "::");
	if (gw)
		inet_ntop(rt->rtm_family, gw, g, sizeof(g));
	by_index_append(userdata, (unsigned) oif, json_pack("{s:s,s:s,s:i,s:s?,s:I,s:i,s:i}", "family",
	        rt->rtm_family == AF_INET ? "inet" : "inet6", "dst", d, "prefixlen", rt->rtm_dst_len, "gateway",
	        gw ? g : NULL, "metric", (json_int_t) metric, "scope", rt->rtm_scope, "protocol", rt->rtm_protocol));
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

static json_t *interface_by_name(json_t *interfaces, const char *name) {
	size_t i;
	json_t *v;
	json_array_foreach(interfaces, i, v)
		if (streq_ptr(json_string_value(json_object_get(v, "name")), name))
			return v;
	return NULL;
}

int veth_discover(pid_t pid, json_t *interfaces, json_t *veths, json_t *problems) {
	_cleanup_nl_ struct mnl_socket *ct_nl = NULL, *host_nl = NULL;
	int r = nl_open(pid, NETLINK_ROUTE, &ct_nl);
	if (r < 0)
		return r;
	r = rtnl_open(&host_nl);
	if (r < 0)
		return r;
	_cleanup_(nl_links_done) struct nl_links ct = {}, host = {};
	_cleanup_(json_decrefp) json_t *ct_addrs = NULL, *host_addrs = NULL, *host_routes = NULL;
	int nsid = -1;
	r = nl_links_load(ct_nl, &ct);
	if (r >= 0)
		r = dump_by_index(ct_nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &ct_addrs);
	/* The host's links first: listing a link into another namespace assigns that namespace
	 * an id, which netnsid_of() then finds. */
	if (r >= 0)
		r = nl_links_load(host_nl, &host);
	if (r >= 0)
		r = dump_by_index(host_nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &host_addrs);
	if (r >= 0)
		r = dump_by_index(host_nl, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, &host_routes);
	if (r >= 0)
		r = netnsid_of(host_nl, pid, &nsid);
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
			json_array_append_printf(problems, "network interface %s (%s) in the container's network namespace: CRIU cannot "
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
			json_array_append_printf(problems, "network interface %s (veth) in the container's network namespace: its peer "
			                      "(index %d%s) is not in ckptd's network namespace, and CRIU restores only veth "
			                      "pairs with one end on the host", c->name, c->link,
			            c->has_link_netnsid ? " in another namespace" : " in the container's own namespace");
			continue;
		}
		const struct nl_link *m = h->master ? nl_links_by_index(&host, h->master) : NULL;
		if (h->master && (!m || !streq(m->kind, "bridge"))) {
			json_array_append_printf(problems, "network interface %s (veth) in the container's network namespace: its host "
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
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	_cleanup_(nl_links_done) struct nl_links host = {};
	int r = rtnl_open(&nl);
	if (r >= 0)
		r = nl_links_load(nl, &host);
	if (r < 0)
		return error_setf(ret_error, r, "cannot list the host's network interfaces: %m");
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		const struct nl_link *b = e->bridge ? nl_links_by_name(&host, e->bridge) : NULL;
		if (e->bridge && !b)
			return error_setf(ret_error, -ENODEV, "bridge %s does not exist on the host: the container's veth %s "
			                  "(host end %s) was in it; create the bridge, then roll back", e->bridge,
			                  e->container_if, e->host_if);
		if (b && !streq(b->kind, "bridge"))
			return error_setf(ret_error, -EINVAL, "%s is a %s, not a bridge: the container's veth %s (host end %s) "
			                  "was in a bridge of that name", e->bridge,
			                  b->kind[0] ? b->kind : "device of unknown kind", e->container_if, e->host_if);
		const struct nl_link *h = nl_links_by_name(&host, e->host_if);
		if (h && !streq(h->kind, "veth"))
			return error_setf(ret_error, -EEXIST, "the host has a %s interface named %s, the name of the "
			                  "container's veth host end (for %s): CRIU could not re-create it; rename or remove "
			                  "that interface", h->kind[0] ? h->kind : "non-veth", e->host_if, e->container_if);
	}
	return 0;
}

static int link_delete(struct mnl_socket *nl, int index) {
	char buf[NL_REQUEST_MAX];
	struct ifinfomsg *ifi = nl_request(buf, RTM_DELLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return nl_talk(nl, (struct nlmsghdr *) buf, NULL, NULL);
}

int veth_clear_host_ends(const struct veth_plan *p, json_t *warnings, char **ret_error) {
	if (p->n == 0)
		return 0;
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	int k = rtnl_open(&nl);
	if (k < 0)
		return error_setf(ret_error, k, "cannot open rtnetlink: %m");
	/* The old host ends go with the old network namespace, which the kernel tears down in the
	 * background after its last task is gone: usually within tens of milliseconds. */
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC;
	for (;;) {
		bool lingering = false;
		for (size_t i = 0; i < p->n && !lingering; i++) {
			struct nl_link l;
			lingering = nl_link_by_name(nl, p->e[i].host_if, &l) >= 0;
		}
		if (!lingering || now_usec(CLOCK_MONOTONIC) >= deadline)
			break;
		usleep(20 * 1000);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		struct nl_link l;
		int r = nl_link_by_name(nl, e->host_if, &l);
		if (r == -ENODEV)
			continue;
		if (r < 0)
			return error_setf(ret_error, r, "cannot look up the host interface %s: %m", e->host_if);
		if (!streq(l.kind, "veth"))
			return error_setf(ret_error, -EEXIST, "the host has a %s interface named %s, the name of the "
			                  "container's veth host end (for %s): CRIU could not re-create it",
			                  l.kind[0] ? l.kind : "non-veth", e->host_if, e->container_if);
		r = link_delete(nl, l.index);
		if (r < 0 && r != -ENODEV)
			return error_setf(ret_error, r, "cannot delete the old host end %s of the container's veth %s: %m",
			                  e->host_if, e->container_if);
		_cleanup_free_ char *w = NULL;
		if (asprintf(&w, "deleted the old host end %s of the container's veth %s: it outlived the container's "
		                 "tasks by a second", e->host_if, e->container_if) >= 0)
			json_array_append_new(warnings, json_string(w));
	}
	return 0;
}

static int link_set(struct mnl_socket *nl, int index, unsigned mtu, bool up) {
	char buf[NL_REQUEST_MAX];
	struct ifinfomsg *ifi = nl_request(buf, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (up) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = IFF_UP;
	}
	if (mtu)
		mnl_attr_put_u32((struct nlmsghdr *) buf, IFLA_MTU, mtu);
	return nl_talk(nl, (struct nlmsghdr *) buf, NULL, NULL);
}

static int address_add(struct mnl_socket *nl, int index, json_t *a) {
	const char *family = json_string_value(json_object_get(a, "family"));
	const char *addr = json_string_value(json_object_get(a, "address"));
	const char *peer = json_string_value(json_object_get(a, "peer"));
	int af = streq_ptr(family, "inet6") ? AF_INET6 : AF_INET;
	unsigned char local[16], remote[16];
	size_t len = af == AF_INET ? 4 : 16;
	if (!addr || inet_pton(af, addr, local) != 1 || (peer && inet_pton(af, peer, remote) != 1))
		return -EINVAL;
	char buf[NL_REQUEST_MAX];
	struct ifaddrmsg *ifa = nl_request(buf, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	ifa->ifa_family = (unsigned char) af;
	ifa->ifa_prefixlen = (unsigned char) json_integer_value(json_object_get(a, "prefixlen"));
	ifa->ifa_index = (unsigned) index;
	if (af == AF_INET || peer)
		mnl_attr_put((struct nlmsghdr *) buf, IFA_LOCAL, len, local);
	mnl_attr_put((struct nlmsghdr *) buf, IFA_ADDRESS, len, peer ? remote : local);
	return nl_talk(nl, (struct nlmsghdr *) buf, NULL, NULL);
}

static int route_add(struct mnl_socket *nl, int index, json_t *rt) {
	const char *family = json_string_value(json_object_get(rt, "family"));
	const char *dst = json_string_value(json_object_get(rt, "dst"));
	const char *gw = json_string_value(json_object_get(rt, "gateway"));
	int af = streq_ptr(family, "inet6") ? AF_INET6 : AF_INET;
	unsigned char d[16], g[16];
	size_t len = af == AF_INET ? 4 : 16;
	if (!dst || inet_pton(af, dst, d) != 1 || (gw && inet_pton(af, gw, g) != 1))
		return -EINVAL;
	char buf[NL_REQUEST_MAX];
	struct nlmsghdr *h = (struct nlmsghdr *) buf;
	struct rtmsg *m = nl_request(buf, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(*m));
	m->rtm_family = (unsigned char) af;
	m->rtm_dst_len = (unsigned char) json_integer_value(json_object_get(rt, "prefixlen"));
	m->rtm_table = RT_TABLE_MAIN;
	m->rtm_protocol = (unsigned char) json_integer_value(json_object_get(rt, "protocol"));
	m->rtm_scope = (unsigned char) json_integer_value(json_object_get(rt, "scope"));
	m->rtm_type = RTN_UNICAST;
	if (m->rtm_dst_len > 0)
		mnl_attr_put(h, RTA_DST, len, d);
	if (gw)
		mnl_attr_put(h, RTA_GATEWAY, len, g);
	uint32_t metric = (uint32_t) json_integer_value(json_object_get(rt, "metric"));
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t) index);
	if (metric)
		mnl_attr_put_u32(h, RTA_PRIORITY, metric);
	return nl_talk(nl, h, NULL, NULL);
}

int veth_configure_host_ends(struct veth_plan *p, char **ret_error) {
	p->configured = true;
	if (p->n == 0)
		return 0;
	_cleanup_nl_ struct mnl_socket *nl = NULL;
	int opened = rtnl_open(&nl);
	if (opened < 0)
		return error_setf(ret_error, opened, "cannot open rtnetlink: %m");
	for (size_t i = 0; i < p->n; i++) {
		const struct veth_end *e = &p->e[i];
		struct nl_link l;
		int r = nl_link_by_name(nl, e->host_if, &l);
		if (r < 0)
			return error_setf(ret_error, r, "the host end %s of the container's veth %s is not there after the "
			                  "restore: %m", e->host_if, e->container_if);
		if (e->mtu && l.mtu != e->mtu && (r = link_set(nl, l.index, e->mtu, false)) < 0)
			return error_setf(ret_error, r, "cannot set the MTU of %s to %u: %m", e->host_if, e->mtu);
		if (e->bridge)
			continue; /* CRIU put it into the bridge and set it up */
		size_t k;
		json_t *a;
		json_array_foreach(e->addresses, k, a) {
			r = address_add(nl, l.index, a);
			if (r < 0 && r != -EEXIST) {
				_cleanup_free_ char *text = NULL;
				size_t size = 0;
				FILE *f = open_memstream(&text, &size);
				if (f) {
					_cleanup_(json_decrefp) json_t *one = json_pack("[O]", a);
					addresses_append_text(f, one);
					fclose(f);
				}
				return error_setf(ret_error, r, "cannot give the address %s back to the host end %s of the "
				                  "container's veth %s: %m", strna(text), e->host_if, e->container_if);
			}
		}
		if (e->up && (r = link_set(nl, l.index, 0, true)) < 0)
			return error_setf(ret_error, r, "cannot set the host end %s of the container's veth %s up: %m",
			                  e->host_if, e->container_if);
		/* Routes through the host end (a routed container's /32), once the link is up. */
		json_array_foreach(e->routes, k, a) {
			r = route_add(nl, l.index, a);
			if (r < 0 && r != -EEXIST)
				return error_setf(ret_error, r, "cannot add the route to %s/%lld via the host end %s of the "
				                  "container's veth %s again: %m", strna(json_string_value(json_object_get(a, "dst"))),
				                  (long long) json_integer_value(json_object_get(a, "prefixlen")), e->host_if,
				                  e->container_if);
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
