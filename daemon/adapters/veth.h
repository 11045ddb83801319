/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* veth pairs between a container's network namespace and ckptd's (the host's).
 *
 * Discovery finds, for each interface of the container, the host end of its veth pair
 * (rtnetlink: the host veth whose IFLA_LINK is the container end's index in the container's
 * netnsid), with the host end's name, bridge (IFLA_MASTER), addresses, MTU and link state.
 * The dump needs nothing special. At restore CRIU re-creates both ends from the mapping
 * `veth[CT-IF]:HOST-IF[@BRIDGE]` (the host end is a new device each time: new index, new MAC);
 * around CRIU ckptd
 *   - before anything is stopped: checks that each bridge exists (CRIU would find out only
 *     after every task was restored) and that nothing but a veth bears a host end's name;
 *   - after the old tasks are gone: waits (up to a second) for the old host ends to vanish with
 *     their network namespace, and deletes one that lingers, only if it still is a veth;
 *   - at CRIU's post-restore notification (before the network is unlocked): gives each host end
 *     its MTU back and, without a bridge (a routed veth), its addresses, link state and routes.
 * A connection between the container and a peer outside it does not survive a rollback (the
 * kill resets it, and its sequence numbers have moved on); connections inside do. */

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "criu.h"

/* For each interface of pid's network namespace other than lo (interfaces: as
 * netns_list_interfaces() gives them; each gets its "addresses"), appends the veth pair to
 * veths: {"container_if", "container_index", "host_if", "host_index", "bridge", "mtu", "up",
 * "addresses", "routes" (of the main table through the host end, but the kernel's own),
 * "container_addresses"}. An interface CRIU cannot restore (any kind but veth, or a
 * veth whose peer is not in ckptd's network namespace) is added to problems, named with its
 * kind. */
int veth_discover(pid_t pid, json_t *interfaces, json_t *veths, json_t *problems);

/* CRIU's names for the veths (network.veths of a discovery): ["veth[CT-IF]:HOST-IF[@BRIDGE]", ...],
 * NULL if there are none. */
json_t *veth_criu_externals(json_t *veths);

/* The veth pairs of a discovery (its network.veths), for a restore. */
struct veth_end {
	const char *container_if, *host_if, *bridge; /* point into the discovery */
	char *criu_out;                              /* "HOST-IF" or "HOST-IF@BRIDGE" */
	unsigned mtu;
	bool up;
	json_t *addresses, *routes;
};

struct veth_plan {
	struct veth_end *e;
	struct criu_veth_pair *criu; /* n of them, for criu_restore_options */
	size_t n;
	bool configured; /* veth_configure_host_ends() ran */
};

int veth_plan_load(json_t *discovery, struct veth_plan *ret);
void veth_plan_done(struct veth_plan *p);

/* Before anything is stopped: every bridge exists and is a bridge, and an interface that has a
 * host end's name now is a veth (the container's current one). */
int veth_check(const struct veth_plan *p, char **ret_error);

/* After the container's tasks are gone, before CRIU: waits up to a second for each old host end
 * to vanish, then deletes one that lingers if it is a veth (said in warnings). */
int veth_clear_host_ends(const struct veth_plan *p, json_t *warnings, char **ret_error);

/* After CRIU re-created the pairs: each host end's MTU; for a host end without a bridge its
 * addresses, its link set UP if it was, and the routes through it. */
int veth_configure_host_ends(struct veth_plan *p, char **ret_error);

/* CRIU's restore log says it did not know where a veth's peer goes ("Unknown peer net
 * namespace"): CRIU then exits 0 with both ends inside the container, which is cut off. */
bool veth_log_has_unknown_peer(const char *log_path);
