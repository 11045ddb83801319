/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct job;

/* Prune, as a job: applies [Retention] of every container the job holds (or only reports, with
 * j->dry_run); replies {"decisions": [{container, id, remove, reason[, error]}]}. */
int job_prune(struct job *j);
/* Retention after a freeze-and-dump (its after_success hook): in the dump's own job, which
 * holds the container, before the client hears of the new pair. */
void job_retain(struct job *j);
