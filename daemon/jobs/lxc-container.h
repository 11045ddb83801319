/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Jobs on a container configured with `[Container] LXC=NAME` (adapters/lxc.h):
 *  - before the body runs, the job's own copy of the configuration gets what LXC knows now: the
 *    payload cgroup (Cgroup=), the init (RootPid=) and, when no Volume= is given, the rootfs as
 *    the volume (it must be a btrfs subvolume: `lxc-create -B btrfs`);
 *  - a rollback stops the container with `lxc-stop --kill` (LXC's monitor then tears it down)
 *    and restores the pair's images with `lxc-checkpoint -r`, so that LXC's new monitor owns the
 *    restored tasks (lxc-info, lxc-stop, lxc-attach keep working). */

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "job.h"
#include "pair.h"

static inline bool job_is_lxc(const struct job *j) {
	return j->config && j->config->lxc;
}

/* For the kinds that act on the container (freeze-and-dump and inspect: it must run; rollback:
 * running, or stopped, then Cgroup= stays unset and LXC makes the cgroup when it restores);
 * refuses restore --processes-only. */
int lxc_job_resolve(struct job *j, char **ret_error);

/* The kill step of a rollback. */
int lxc_rollback_stop(struct job *j, char **ret_error);

/* The restore step of a rollback: *ret_pid the new init, *ret_cgroup (to free) its cgroup, which
 * also replaces the job's Cgroup= (the caller must not keep a pointer to the old one). */
int lxc_rollback_restore(struct job *j, json_t *warnings, pid_t *ret_pid, char **ret_cgroup,
                         enum cgroup_kind *ret_kind, char **ret_error);
