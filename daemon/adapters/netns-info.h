/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a network namespace holds, asked from inside it (netlink sockets opened in the
 * namespace of a task, netlink.h): interfaces (rtnetlink), unix sockets and their peers, TCP
 * sockets (both sock_diag). */

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* Appends {"name", "kind", "up", "index"} for every interface of pid's network namespace
 * (rtnetlink; the names of /proc/PID/net/dev if that fails). */
int netns_list_interfaces(pid_t pid, json_t *interfaces);

/* Unix socket inode -> peer inode and bound name, from sock_diag (NETLINK_SOCK_DIAG). */
struct unix_peer {
	unsigned ino, peer;
	char *name;
};

struct unix_table {
	struct unix_peer *e;
	size_t n;
};

/* Adds every unix socket of pid's network namespace (pid 0: the caller's) to the table. */
int unix_table_load(pid_t pid, struct unix_table *t);
const struct unix_peer *unix_table_find(const struct unix_table *t, unsigned ino);
void unix_table_done(struct unix_table *t);

/* One TCP socket (sock_diag INET_DIAG): the kernel's TCP state (TCP_ESTABLISHED ... from
 * <netinet/tcp.h>), its inode (0 for a socket no file refers to: TIME_WAIT, a request not yet
 * accepted), and its addresses as "127.0.0.1:6379" or "[::1]:6379". */
struct tcp_socket {
	unsigned long ino;
	unsigned state;
	char local[64], remote[64];
};

struct tcp_table {
	struct tcp_socket *e;
	size_t n;
};

/* Adds the IPv4 TCP sockets of pid's network namespace (pid 0: the caller's), then the IPv6
 * ones: listening, connected and closing, as /proc/PID/net/tcp{,6} list them (not the sockets
 * that are only bound). */
int tcp_table_load(pid_t pid, struct tcp_table *t);
void tcp_table_done(struct tcp_table *t);

/* "ESTABLISHED", "LISTEN", ... for a TCP state; "?" for an unknown one. */
const char *tcp_state_name(unsigned st);
