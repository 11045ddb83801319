/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Freeze-and-dump: freeze the container's cgroup, snapshot its volumes, dump it with CRIU, thaw,
 * and record the new pair (dump.c, persist.c). */

struct job;
struct pair;

/* The freeze-and-dump pipeline; a new complete pair in *ret_pair. Rollback uses it for the
 * safety pair. On failure the job's step and state say where it stopped and what is left. */
int pair_make(struct job *j, const char *tag, struct pair **ret_pair, char **ret_error);
/* The FreezeAndDump job: replies {"pair": PAIR}. */
int job_freeze_and_dump(struct job *j);
