/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a network namespace holds, asked from inside it (netlink sockets opened in the
 * namespace of a task): interfaces, unix sockets and their peers; and the address format of
 * /proc/PID/net/tcp{,6}. */

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* Unix socket inode -> peer inode and bound name, from sock_diag (NETLINK_SOCK_DIAG). */
struct unix_peer {
	unsigned ino, peer;
	char *name;
};

struct unix_table {
	struct unix_peer *e;
	size_t n;
};

/* A netlink socket of the given protocol inside pid's network namespace (setns() of a network
 * namespace affects only the calling thread, which is switched back before returning). */
int netlink_in_netns(pid_t pid, int protocol);
/* Sends one netlink request and calls cb (may be NULL) for every message of the answer; ends at
 * NLMSG_DONE, at an acknowledgement or error (returned), or after a single-part answer. */
struct nlmsghdr;
int netlink_talk(int fd, const void *req, size_t len, int (*cb)(struct nlmsghdr *h, void *userdata),
                 void *userdata);
/* Appends {"name", "kind", "up", "index"} for every interface of pid's network namespace
 * (rtnetlink; the names of /proc/PID/net/dev if that fails). */
int netns_list_interfaces(pid_t pid, json_t *interfaces);

/* Adds every unix socket of pid's network namespace (pid 0: the caller's) to the table. */
int unix_table_load(pid_t pid, struct unix_table *t);
const struct unix_peer *unix_table_find(const struct unix_table *t, unsigned ino);
void unix_table_done(struct unix_table *t);

/* "ESTABLISHED", "LISTEN", ... for the st column of /proc/net/tcp. */
const char *tcp_state_name(unsigned st);
/* "0100007F:18EB" (tcp) or 32 hex digits and a port (tcp6) -> "127.0.0.1:6379" / "[::1]:6379". */
char *format_proc_address(const char *s, bool v6);
