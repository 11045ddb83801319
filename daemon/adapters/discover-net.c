/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery of a container's network: its namespace's interfaces and the veth pairs' host ends
 * (netns-info.c, veth.c), its TCP connections (sock_diag), unix sockets connected to a peer
 * outside it, and the network lock CRIU is to use. See discover.h. */
#include <netinet/tcp.h>

#include "discover-internal.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "netns-info.h"
#include "proc-holders.h"
#include "veth.h"

/* The tree's TCP sockets (sock_diag in the root's network namespace; a socket no task of the
 * tree holds is not the container's: a shared network namespace, or TIME_WAIT). */
static void scan_tcp(struct scan *s, pid_t root, json_t *tcp) {
	_cleanup_(tcp_table_done) struct tcp_table t = {};
	int r = tcp_table_load(root, &t);
	if (r < 0)
		log_debug_errno(r, "cannot list the TCP sockets of pid %d's network namespace: %m", (int) root);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcp_socket *k = &t.e[i];
		const struct holder *h = k->ino ? holders_find(&s->sockets, k->ino) : NULL;
		if (!h)
			continue; /* not the container's (a shared network namespace, or a socket in TIME_WAIT) */
		_cleanup_free_ char *comm = proc_comm(h->pid);
		const char *state = tcp_state_name(k->state);
		bool listening = k->state == TCP_LISTEN, closed = k->state == TCP_CLOSE;
		json_array_append_new(tcp, json_pack("{s:s,s:s?,s:s,s:i,s:s,s:i}", "local", k->local, "remote",
		        listening || closed ? NULL : k->remote, "state", state, "pid", (int) h->pid, "comm", comm, "fd", h->fd));
		if (!listening && !closed)
			s->n_tcp_connected++;
		if (!listening && !closed && !s->cfg->tcp_established)
			json_array_append_printf(s->problems,
			           "TCP connection %s -> %s (%s) of pid %d (%s): set TcpEstablished=yes to checkpoint it", k->local,
			           k->remote, state, (int) h->pid, comm);
	}
}

/* Unix sockets of the tree whose peer is not the tree's. */
static void discover_unix_peers(struct discover_state *x, json_t *unix_ext) {
	_cleanup_(unix_table_done) struct unix_table ut = {};
	(void) unix_table_load(x->own_net ? x->root : 0, &ut);
	if (x->own_net) /* sockets passed in from ckptd's network namespace */
		(void) unix_table_load(0, &ut);
	unsigned n_unix = 0, n_other = 0;
	for (size_t i = 0; i < x->scan.sockets.n; i++) {
		const struct holder *h = &x->scan.sockets.h[i];
		if (strncmp(h->proto, "UNIX", 4) != 0) {
			n_other++;
			continue;
		}
		n_unix++;
		const struct unix_peer *e = unix_table_find(&ut, (unsigned) h->ino);
		if (!e || e->peer == 0 || holders_find(&x->scan.sockets, e->peer))
			continue;
		const struct unix_peer *pe = unix_table_find(&ut, e->peer);
		char want[64];
		snprintf(want, sizeof(want), "socket:[%u]", e->peer);
		_cleanup_free_ char *holder = proc_fd_holder(want), *c = proc_comm(h->pid);
		const char *name = e->name ? e->name : pe ? pe->name : NULL;
		json_array_append_new(unix_ext, json_pack("{s:I,s:I,s:s?,s:i,s:s,s:i,s:s?}", "inode", (json_int_t) h->ino,
		        "peer_inode", (json_int_t) e->peer, "name", name, "pid", (int) h->pid, "comm", c, "fd", h->fd,
		        "peer_holder", holder));
		json_array_append_printf(x->problems, "pid %d (%s) fd %d: unix socket connected to a peer outside the container "
		                        "(socket:[%u]%s%s, held by %s)",
		           (int) h->pid, c, h->fd, e->peer, name ? " " : "", name ? name : "", holder ? holder : "nobody known");
	}
	json_object_set_new(x->d, "sockets", json_pack("{s:i,s:i}", "unix", n_unix, "other", n_other));
}

/* Interfaces, TCP, unix sockets with outside peers. */
void discover_network(struct discover_state *x) {
	json_t *net = json_object(), *interfaces = json_array(), *tcp = json_array(), *unix_ext = json_array();
	json_object_set_new(x->d, "network", net);
	json_object_set_new(net, "own_namespace", json_boolean(x->own_net));
	x->only_lo = true;
	if (x->own_net) {
		(void) netns_list_interfaces(x->root, interfaces);
		size_t i;
		json_t *ifc;
		json_array_foreach(interfaces, i, ifc)
			x->only_lo = x->only_lo && streq_ptr(json_string_value(json_object_get(ifc, "name")), "lo");
		/* veth pairs with their host ends; any other interface is a problem. */
		json_t *veths = json_array();
		json_object_set_new(net, "veths", veths);
		int r = x->only_lo ? 0 : veth_discover(x->root, interfaces, veths, x->problems);
		if (r < 0)
			json_array_append_printf(x->problems, "cannot read the network interfaces of the container's network namespace "
			                        "and their host ends: %s", strerror(-r));
	}
	json_object_set_new(net, "interfaces", interfaces);
	scan_tcp(&x->scan, x->root, tcp);
	json_object_set_new(net, "tcp", tcp);
	discover_unix_peers(x, unix_ext);
	json_object_set_new(net, "unix_external", unix_ext);
}

/* How CRIU keeps the network quiet; iptables (CRIU's default) only when asked for. A namespace
 * with only lo carries only traffic between the container's own tasks, which are frozen, so no
 * lock is needed, unless it has TCP connections: the kernel still sends their delayed ACKs from
 * timers while the tasks are frozen, and an ACK that lands while CRIU reads a socket's send
 * queue fails the dump ("libsoccr_save() failed with -6", seen here about once in a hundred
 * dumps of the Redis test container); nftables drops them until the dump is done. */
enum criu_net_lock discover_network_lock(struct discover_state *x) {
	switch (x->cfg->network_lock) {
	case NETWORK_LOCK_AUTO:
		if (x->own_net)
			return x->only_lo && x->scan.n_tcp_connected == 0 ? CRIU_NET_LOCK_SKIP : CRIU_NET_LOCK_NFTABLES;
		return x->cfg->tcp_established ? CRIU_NET_LOCK_NFTABLES : CRIU_NET_LOCK_DEFAULT;
	case NETWORK_LOCK_SKIP:
		if (x->own_net && !x->only_lo)
			json_array_append_printf(x->warnings, "NetworkLock=skip with interfaces other than lo: packets may reach the "
			                        "container while it is dumped and restored");
		return CRIU_NET_LOCK_SKIP;
	case NETWORK_LOCK_NFTABLES:
		return CRIU_NET_LOCK_NFTABLES;
	case NETWORK_LOCK_IPTABLES:
		return CRIU_NET_LOCK_IPTABLES;
	}
	return CRIU_NET_LOCK_DEFAULT;
}
