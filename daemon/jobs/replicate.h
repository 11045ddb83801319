/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [Replicate] Command= (replicate.c): every new pair streamed to a command, in the background. */

#include <jansson.h>

struct job;

/* After a successful freeze-and-dump (the job's after_success): retention, then, when the
 * configuration has [Replicate] Command=, the new pair's replication in a thread of its own. */
void job_after_dump(struct job *j);

/* What `status` says of a container's replication: {"replicated": ID, "error": {pair, time,
 * message}} (either may be absent), or NULL when it never replicated. */
int replicate_status(const char *state_dir, const char *container, json_t **ret);
