/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a container is made of, seen from /proc before anything is frozen: the namespaces it
 * does not share with ckptd, its root filesystem and the host path that holds it, the mounts
 * it got from the host and their propagation, the interfaces of its network namespace, its TCP
 * connections, unix sockets whose peer is outside, devices and other things it holds open that
 * CRIU cannot checkpoint. From that follow the CRIU options for dump and restore, and the
 * problems for which a checkpoint is refused before freezing.
 *
 * The result is a struct discovery; its JSON form (one object, "discovery") is what `ckptctl
 * inspect` shows and what pair.json records, so that a rollback restores with the view the dump
 * had. */

#include <jansson.h>
#include <sys/types.h>

#include "config.h"
#include "criu.h"

/* The CRIU options a discovery asks for (pair.json's "discovery.criu"). */
struct discovery_criu {
	char *root;               /* the host directory that is the container's "/"; NULL: ckptd's */
	bool external_mounts, external_sharing, external_masters;
	enum criu_net_lock network_lock;
	bool tcp_established;
	bool mntns_compat_mode;
	bool cgroups_soft;        /* "manage_cgroups": "soft" (else "ignore") */
	/* soft: the cgroup hierarchies, as /proc/PID/cgroup names them ("" for v2), in which some
	 * task is below the root: all CRIU records (its dump walks each of them from the tasks'
	 * cgroups down; from a root, that is every cgroup of the host). NULL or empty: none. */
	json_t *cgroup_controllers;
	bool private_procfs;
	json_t *external_veths;   /* CRIU's names of the veths, array of strings, or NULL */
};

struct discovery {
	/* What was found, as `ckptctl inspect` shows it: root_pid, comm, tasks, namespaces, root,
	 * mounts, propagation, devices, open_files, sockets, network. */
	json_t *report;
	bool has_criu;            /* false for pairs made before discovery chose CRIU options */
	struct discovery_criu criu;
	json_t *problems;         /* array of strings: why a checkpoint is refused; empty when it can be */
	json_t *warnings;         /* array of strings */
};

struct discovery *discovery_free(struct discovery *d);
static inline void discovery_freep(struct discovery **d) {
	discovery_free(*d);
}

/* Looks at the process tree CRIU would dump: root and its descendants. (*ret)->problems is
 * empty when the container can be checkpointed. Fails (with *ret_error) only when the root
 * task cannot be read at all. */
int discover(const struct container_config *cfg, pid_t root, struct discovery **ret, char **ret_error);
/* The same, as the JSON object Inspect answers with (discovery_to_json()). */
int discover_container(const struct container_config *cfg, pid_t root, json_t **ret, char **ret_error);

/* The codec of the "discovery" object of pair.json and of the wire: the report's members, plus
 * "criu", "checkpointable", "problems" and "warnings". from_json: -EBADMSG naming the member
 * of a wrong type; NULL (pairs without discovery) gives an empty discovery. */
int discovery_from_json(json_t *j, struct discovery **ret, char **ret_error);
int discovery_to_json(const struct discovery *d, json_t **ret);

/* The CRIU options of a discovery (strings point into it). A discovery without CRIU options
 * gives the defaults: ckptd's root, no external mounts, CRIU's default network lock. */
void discovery_criu_options(const struct discovery *d, struct criu_ns_options *ret);

/* The root directory the container's "/" is on the host, NULL when it is ckptd's own "/". */
const char *discovery_root(const struct discovery *d);

/* Before a restore: the root directory and every host path the discovery's mounts come from
 * must exist. A directory that is gone (nspawn removes its propagation directory when its
 * supervisor exits) is created again, empty, and said in warnings; anything else missing fails
 * with *ret_error naming it. */
int discovery_prepare_restore(const struct discovery *d, json_t *warnings, char **ret_error);
