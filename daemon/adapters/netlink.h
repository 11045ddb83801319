/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Netlink through libmnl, for discovery (netns-info.c) and the veth pairs (veth.c): a socket
 * opened inside a task's network namespace, one request and its whole answer, attribute tables,
 * and the links of a namespace. Nothing here logs; every function returns 0 or a negative errno. */

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A request under construction: a header, its family header and room for a few attributes. */
#define NL_REQUEST_MAX 1024

/* A netlink socket of the given protocol (NETLINK_ROUTE, NETLINK_SOCK_DIAG) in pid's network
 * namespace, bound, with a 2 s receive timeout; pid 0: in ckptd's own. The socket is created
 * by a short-lived thread that enters the namespace and ends there, so no thread of the daemon
 * ever runs in a container's network namespace. */
int nl_open(pid_t pid, int protocol, struct mnl_socket **ret);
void nl_closep(struct mnl_socket **nl);
#define _cleanup_nl_ __attribute__((cleanup(nl_closep)))

/* Starts a request in buf (NL_REQUEST_MAX bytes): the netlink header with NLM_F_REQUEST | flags
 * and a zeroed family header of extra_len bytes, which is returned. */
void *nl_request(char buf[static NL_REQUEST_MAX], uint16_t type, uint16_t flags, size_t extra_len);

/* Sends the request and calls cb for every message of the answer, until NLMSG_DONE, an
 * acknowledgement (0) or an error (its errno, negative), or after a single-part answer. A
 * negative return of cb ends it too and is returned. cb may be NULL (a request answered by an
 * acknowledgement). */
typedef int (*nl_message_cb)(const struct nlmsghdr *h, void *userdata);
int nl_talk(struct mnl_socket *nl, struct nlmsghdr *req, nl_message_cb cb, void *userdata);

/* The attributes after a family header of `offset` bytes (or inside a nested attribute), by
 * type into tb[0..max] (zero it first; types above max are ignored). */
int nl_parse(const struct nlmsghdr *h, size_t offset, const struct nlattr **tb, unsigned max);
int nl_parse_nested(const struct nlattr *a, const struct nlattr **tb, unsigned max);
/* An attribute's u32 if it is there and long enough, else def. */
uint32_t nl_u32(const struct nlattr *a, uint32_t def);
/* An attribute's text (NUL-terminated or not) into buf, "" if absent. */
void nl_string(const struct nlattr *a, char *buf, size_t size);
/* An attribute's payload if it is there and holds at least len bytes, else NULL. */
const void *nl_payload(const struct nlattr *a, size_t len);

/* One interface of a namespace (RTM_NEWLINK). */
struct nl_link {
	int index, master, link, link_netnsid;
	bool has_link_netnsid;
	unsigned mtu, flags;
	char name[IFNAMSIZ];
	char kind[32]; /* IFLA_INFO_KIND; "loopback" for lo */
};

struct nl_links {
	struct nl_link *l;
	size_t n;
};

void nl_links_done(struct nl_links *ls);
/* Every interface of the namespace nl talks to. */
int nl_links_load(struct mnl_socket *nl, struct nl_links *ret);
/* One interface by name: 0 and *ret, -ENODEV if there is none. */
int nl_link_by_name(struct mnl_socket *nl, const char *name, struct nl_link *ret);
const struct nl_link *nl_links_by_name(const struct nl_links *ls, const char *name);
const struct nl_link *nl_links_by_index(const struct nl_links *ls, int index);
