/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The restore part of a rollback and of restore --processes-only (restore.c): CRIU restore of a
 * pair's processes into the container's cgroup, the veth pairs wired around it, and the checks
 * before and after. Each returns 0 or a negative errno with one sentence in *ret_error. */

#include <jansson.h>
#include <sys/types.h>

#include "cgroup.h"
#include "job.h"
#include "pair-record.h"

/* Before anything is stopped: the bridges of the container's veths exist, and no other kind of
 * interface has the name of a host end. */
int restore_check_network(struct job *j, const struct pair *pair, char **ret_error);

/* Every regular file the image needs, with the size it had: a clear list (the job's details)
 * instead of CRIU's first obscure error. */
int restore_check_files(struct job *j, const struct pair *pair, char **ret_error);

/* The processes of the pair, restored into the cgroup with the view the dump had (root
 * directory, mounts from the host, network lock) and the veth pairs' host ends made again and
 * configured; *ret_pid is the restored root task. The job's state says what the container looks
 * like if this fails. */
int restore_processes(struct job *j, const struct pair *pair, const char *cgroup, enum cgroup_kind kind,
                      json_t *warnings, pid_t *ret_pid, char **ret_error);

/* After restore_processes(): the restored tree runs and its cgroup is not frozen. */
int restore_check_running(struct job *j, const char *cgroup, enum cgroup_kind kind, pid_t pid, char **ret_error);
