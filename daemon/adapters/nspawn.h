/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Work inside a container's mount namespace that systemd-nspawn machines need (measured facts:
 * ../shared/notes/veth-nspawn.md):
 *
 *   - Before the first dump, a preparation that discovery plans ("preparation" in its report):
 *     with a network namespace of its own, nspawn binds six subdirectories of that namespace's
 *     sysfs without mounting its root, which CRIU cannot checkpoint: ckptd mounts that sysfs
 *     once, read-only, at NSPAWN_SYSFS_DIR (a name that says it is ckptd's; ckptd never unmounts
 *     or deletes anything there). And nspawn's mounts inside the machine are shared with each
 *     other: CRIU's compat mount engine (the one that can restore nspawn's twice-bound deleted
 *     boot_id) restores them stacked on themselves, and the next restore fails; ckptd makes the
 *     mounts below the root private (recursively; the root keeps its link to the host). Both
 *     are done once: CRIU restores them with the machine, so a restored machine is prepared.
 *   - After a restore: CRIU re-creates a deleted file that is bind-mounted (nspawn's
 *     /proc/sys/kernel/random/boot_id) empty; ckptd writes its content back through a detached,
 *     writable clone of that mount, so the machine's own mounts stay as CRIU made them.
 *
 * Both run in a thread of ckptd that enters the container's namespaces and ends there. Paths
 * inside the container are resolved without following symlinks. */

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

/* Where ckptd mounts the sysfs of a machine's network namespace, inside the machine. */
#define NSPAWN_SYSFS_DIR "/run/.ckptd-sysfs"

struct nspawn_preparation {
	const char *sysfs_dir;            /* mount the network namespace's sysfs here; NULL: no */
	const char *const *make_private;  /* mount points made private, recursively */
	size_t n_private;
};

/* Does the preparation in the mount (and network) namespace of pid; appends what it did to
 * done (strings). The sysfs is mounted after the mounts were made private, so that it
 * propagates nowhere. Fails with *ret_error naming the step and path. */
int nspawn_prepare(pid_t pid, const struct nspawn_preparation *p, json_t *done, char **ret_error);

/* The preparation a discovery asks for (its report's "preparation"): fills *ret (pointing into
 * the report) and returns 1 if there is something to do, 0 if not. */
int nspawn_preparation_from_report(json_t *report, struct nspawn_preparation *ret, const char ***ret_private);

/* The content of the file bound at path in pid's mount namespace (a file bind-mounted from a
 * deleted file) back, when it is empty (as CRIU re-creates it). Returns 1 if written, 0 if it
 * already had content (left as it is; *ret_found gets it, may be NULL). */
int nspawn_restore_bound_file(pid_t pid, const char *path, const char *content, char **ret_found, char **ret_error);

/* The systemd-nspawn process that supervises a machine (the parent of its root task, outside
 * its cgroup) cleans up when the machine's tasks die: it removes the machine's propagation
 * directory and its veth. A rollback must let it finish before CRIU re-creates them.
 * nspawn_supervisor_open: a pidfd of root's parent if that is systemd-nspawn, else -ESRCH (a
 * restored machine has none: nspawn cannot adopt it back). nspawn_supervisor_wait: waits up to
 * timeout_usec for it to exit; -ETIMEDOUT if it did not. */
int nspawn_supervisor_open(pid_t root);
int nspawn_supervisor_wait(int pidfd, uint64_t timeout_usec);
