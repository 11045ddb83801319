/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who holds what, from /proc: one walk over the processes and their open files, used to name
 * the holder of a socket (discovery) and what keeps a device busy (a failed umount). */

#include <stdbool.h>
#include <sys/types.h>

#include "mountinfo.h"

struct proc_fd {
	pid_t pid;
	const char *fd;     /* "7" */
	const char *link;   /* "/proc/PID/fd/7": stat() it to reach the file */
	const char *target; /* what the link says: a path, "socket:[123]", "pipe:[4]", ... */
};

/* What a proc_fds_foreach() callback returns: go on, skip the rest of this process's fds, or stop
 * (proc_fds_foreach() then returns PROC_FD_STOP). */
enum { PROC_FD_CONTINUE = 0, PROC_FD_NEXT_PID = 1, PROC_FD_STOP = 2 };

/* Calls fn for each open fd of pid, or of every process when pid is 0. Processes that vanish or
 * cannot be read are skipped. Returns 0, PROC_FD_STOP, or a negative value fn returned. */
int proc_fds_foreach(pid_t pid, int (*fn)(const struct proc_fd *fd, void *userdata), void *userdata);

/* From /proc/PID/stat, each output optional: field 3, the state (R, S, D, Z for a zombie, X), and
 * field 22, when the process started (clock ticks since boot; with the pid it names one process
 * across pid reuse). -ENOENT when there is no such process. */
int proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_starttime);

/* The command name of pid ("?" when gone); NULL on out-of-memory. */
char *proc_comm(pid_t pid);

/* Which process holds a file whose fd link reads TARGET (e.g. "socket:[123]"): "pid 12 (nginx)",
 * or NULL when none. */
char *proc_fd_holder(const char *target);

/* What keeps device DEV (mounted at POINTS, may be none) busy: processes with a working
 * directory, root, open file or mapping on it, other mount namespaces that have it mounted,
 * mounts below its mount points, loop devices backed by files on it. "; "-separated, at most a
 * dozen; NULL when nothing is found. */
char *device_holders_describe(dev_t dev, const struct mounts *points);
