/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The container's cgroup: which kind it is, freezing and thawing it (cgroup v2 cgroup.freeze or
 * the v1 freezer controller), its tasks, its root task, and emptying it. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_kind {
	CGROUP_V2,
	CGROUP_V1_FREEZER,
};

const char *cgroup_kind_to_string(enum cgroup_kind k);
int cgroup_kind_from_string(const char *s, enum cgroup_kind *ret);

/* Recognises a v2 cgroup directory (cgroup.freeze present) or a v1 freezer one (freezer.state);
 * -ENOENT if the directory is missing, -EMEDIUMTYPE if it is neither. */
int cgroup_detect(const char *path, enum cgroup_kind *ret);

/* Freezes and waits until every task is frozen, at most timeout_usec. On timeout it thaws again
 * and returns -ETIMEDOUT with *ret_stragglers describing the tasks that did not freeze
 * ("pid 12 (cryo) state D, ..."). */
int cgroup_freeze(const char *path, enum cgroup_kind kind, uint64_t timeout_usec, char **ret_stragglers);
/* Opens the freeze control file (cgroup.freeze or freezer.state) for writing; the fd or -errno.
 * A job opens it before freezing, so thawing never needs a new descriptor (or memory): a client
 * flood that uses up the daemon's descriptors cannot keep a container frozen. */
int cgroup_freezer_open(const char *path, enum cgroup_kind kind);
/* Writes one state ("1"/"0", "FROZEN"/"THAWED") to that descriptor, once. */
int cgroup_freezer_write(int fd, const char *value);
/* cgroup_freeze() through that descriptor; on timeout it thaws through it too. */
int cgroup_freeze_fd(int freezer_fd, const char *path, enum cgroup_kind kind, uint64_t timeout_usec,
                     char **ret_stragglers);
/* Thaws through that descriptor, retrying transient failures for about 5 s. */
int cgroup_thaw_fd(int freezer_fd, enum cgroup_kind kind);
/* Opens (retrying as well), then cgroup_thaw_fd(). */
int cgroup_thaw(const char *path, enum cgroup_kind kind);
/* 1 frozen (or freezing), 0 thawed. */
int cgroup_is_frozen(const char *path, enum cgroup_kind kind);

/* Moves a process into the cgroup (v2, or the v1 freezer hierarchy). */
int cgroup_attach(const char *path, pid_t pid);
/* Every task of the cgroup and its children. */
int cgroup_list_pids(const char *path, pid_t **ret, size_t *ret_n);
/* PID 1 of the container's own PID namespace; else the one task whose parent is outside. */
int cgroup_find_root(const char *path, pid_t *ret, char **ret_error);
/* Kills every task (cgroup.kill where available, else SIGKILL until empty) and waits until the
 * cgroup is empty, at most timeout_usec; -ETIMEDOUT with the survivors described. */
int cgroup_kill_all(const char *path, enum cgroup_kind kind, uint64_t timeout_usec, char **ret_survivors);
/* "pid 12 (cryo) state D" for each task, comma separated; only tasks not in state S/T if
 * only_busy. */
int cgroup_describe_tasks(const char *path, bool only_busy, char **ret);
