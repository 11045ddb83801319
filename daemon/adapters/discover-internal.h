/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the steps of one discovery share (discover.c, discover-mounts.c, discover-files.c,
 * discover-net.c); private to them. The API is discover.h. */

#include <jansson.h>
#include <sys/types.h>

#include "config.h"
#include "json-util.h"
#include "criu.h"
#include "discover.h"
#include "macro.h"
#include "mountinfo.h"

/* Appends the formatted string to the JSON array (nothing when out of memory). */

/* The process tree CRIU would dump: the root and its descendants. */
struct tree {
	pid_t *pids;
	size_t n;
};

/* Socket inodes held by the tree, with who holds them (for messages). */
struct holder {
	unsigned long ino;
	pid_t pid;
	int fd;
	char proto[32];
};

struct holders {
	struct holder *h;
	size_t n;
};

const struct holder *holders_find(const struct holders *hs, unsigned long ino);

/* What the scan of the open files found. */
struct scan {
	const struct container_config *cfg;
	const struct tree *tree;
	const struct mounts *ct_mounts; /* NULL when the mount namespace is ckptd's */
	struct holders sockets;
	json_t *problems;
	json_t *devices;
	unsigned n_files;
	unsigned n_tcp_connected; /* TCP sockets neither listening nor closed */
};

/* The state of one discovery, shared by its steps. */
struct discover_state {
	const struct container_config *cfg;
	pid_t root;
	char *comm;
	struct tree tree;
	json_t *d, *problems, *warnings;
	struct mounts host, ct;        /* ct only with a mount namespace of its own */
	bool own_mnt, own_net, own_cgroupns;
	bool private_procfs;          /* CRIU's parasite mounts a procfs in the root's cwd */
	bool propagates;               /* the root or a mount from the host is shared or a slave */
	bool mntns_compat_mode;
	bool prepare_sysfs;            /* the preparation mounts the netns's sysfs (nspawn.h) */
	const char *restore_root;      /* points into d */
	struct scan scan;
	bool only_lo;
};

/* The root file system, the mounts from the host and their propagation: "root", "mounts",
 * "propagation" in the report, restore_root, propagates, mntns_compat_mode. Fails only when a
 * mount table cannot be read. */
int discover_mounts(struct discover_state *x, char **ret_error);

/* Open files of every task (sockets, devices, files from outside): "devices", "open_files",
 * x->scan. */
int discover_files(struct discover_state *x, char **ret_error);

/* Interfaces, TCP, unix sockets with outside peers: "network", "sockets"; after
 * discover_files(). */
void discover_network(struct discover_state *x);

/* The network lock CRIU is to use, after discover_network(). */
enum criu_net_lock discover_network_lock(struct discover_state *x);
