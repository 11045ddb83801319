/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a container is made of, seen from /proc before anything is frozen: the namespaces it
 * does not share with ckptd, its root filesystem and the host path that holds it, the mounts
 * it got from the host and their propagation, the interfaces of its network namespace, its TCP
 * connections, unix sockets whose peer is outside, devices and other things it holds open that
 * CRIU cannot checkpoint. From that follow the CRIU options for dump and restore, and the
 * problems for which a checkpoint is refused before freezing.
 *
 * The result is one JSON object ("discovery"): `ckptctl inspect` shows it, and pair.json records
 * it so that a rollback restores with the view the dump had. */

#include <jansson.h>
#include <sys/types.h>

#include "config.h"
#include "criu.h"

/* Looks at the process tree CRIU would dump: root and its descendants. *ret gets the discovery
 * object, whose "problems" array is empty when the container can be checkpointed. Fails (with
 * *ret_error) only when the root task cannot be read at all. */
int discover_container(const struct container_config *cfg, pid_t root, json_t **ret, char **ret_error);

/* The CRIU options a discovery object asks for (strings point into the object). An object
 * without a "criu" member (pairs made before discovery existed) gives the defaults: ckptd's
 * root, no external mounts, CRIU's default network lock. */
void discovery_criu_options(json_t *discovery, struct criu_ns_options *ret);

/* The root directory the container's "/" is on the host, NULL when it is ckptd's own "/". */
const char *discovery_root(json_t *discovery);

/* Before a restore: the root directory and every host path the discovery's mounts come from
 * must exist. A directory that is gone (nspawn removes its propagation directory when its
 * supervisor exits) is created again, empty, and said in warnings; anything else missing fails
 * with *ret_error naming it. */
int discovery_prepare_restore(json_t *discovery, json_t *warnings, char **ret_error);
