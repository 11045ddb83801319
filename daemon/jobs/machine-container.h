/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Jobs on a container configured with `[Container] Machine=NAME` (adapters/machined.h):
 *  - before the body runs, the job asks systemd-machined for the machine and its own copy of the
 *    configuration gets the answer: the leader's freezer cgroup (Cgroup=), the leader (RootPid=)
 *    and, when no Volume= is given, the machine's root directory as the volume;
 *  - a rollback kills the machine's tasks as for any container; its systemd-nspawn then exits
 *    and machined drops the machine when its unit stops. Before CRIU restores the tasks, ckptd
 *    waits for that, starts a transient scope of the unit's name (machine-NAME.scope; a service
 *    such as systemd-nspawn@NAME.service is replaced by machine-NAME.scope) in the same slice,
 *    held by a placeholder process of its own, and restores into the same cgroup below it; once
 *    the restored tree runs, the placeholder ends and the restored leader is registered with
 *    machined under the machine's name, id, class and root directory (service "ckptd"), so that
 *    machinectl list / status show it. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "job.h"
#include "machined.h"

static inline bool job_is_machine(const struct job *j) {
	return j->config && j->config->machine;
}

/* For freeze-and-dump and inspect (the machine must be registered) and rollback (a machine
 * machined does not know is restored from the registration the pair recorded, with no Cgroup=:
 * nothing to stop); refuses restore --processes-only. Fills j->machine. */
int machine_job_resolve(struct job *j, char **ret_error);

/* What machined said about the machine, as recorded in pair.json (discovery.machine) and shown by
 * inspect. NULL: out of memory. */
json_t *machine_info_to_json(const struct machine_info *m, const char *cgroup);

/* The unit a rollback restores a machine into, while it is being restored. */
struct machine_scope {
	char *unit;    /* machine-NAME.scope */
	char *slice;
	char *cgroup;  /* where the restored tasks go: the old cgroup's place below the new unit */
	pid_t holder;  /* the placeholder process that keeps the scope until the tasks are in; 0 once gone */
	uint64_t wait_usec;  /* waiting for machined and systemd to drop the old machine and unit */
	uint64_t scope_usec; /* starting the new scope */
};
void machine_scope_done(struct machine_scope *s);

/* After the kill: waits for machined and systemd to let go of the old machine and unit, then
 * starts the scope and makes s->cgroup (the old cgroup's place below it: the job's Cgroup=, else
 * the one the pair's discovery.machine records). */
int machine_rollback_scope(struct job *j, json_t *pair_discovery, struct machine_scope *s, char **ret_error);

/* After the restored tree runs: ends the placeholder and registers leader; *ret_registered (new
 * reference) says what was registered, with the time each step took (wait_usec, scope_usec,
 * register_usec). Host ends of the pair's veths are passed as the machine's
 * network interfaces. */
int machine_rollback_register(struct job *j, struct machine_scope *s, json_t *pair_discovery, pid_t leader,
                              json_t **ret_registered, char **ret_error);
