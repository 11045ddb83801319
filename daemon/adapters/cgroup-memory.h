/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How much memory CRIU will write for a cgroup's tasks: the size estimate of a dump's images,
 * checked against the free space before anything is frozen. See cgroup-memory.c for what is
 * counted and why. */

#include <stdint.h>

/* *ret_bytes: the estimate; *ret_source: where it comes from, for the message that reports it
 * ("the cgroup's memory.stat (anon + shmem + swap)", or the tasks' resident memory when the
 * cgroup has no memory accounting of its own). */
int cgroup_memory_estimate(const char *path, uint64_t *ret_bytes, const char **ret_source);
