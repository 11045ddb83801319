/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The jobs that use a stored pair (rollback.c): roll the container back to it (volumes and
 * processes), restore its processes only, or verify it. */

struct job;

int job_rollback(struct job *j);
int job_restore(struct job *j);
int job_verify(struct job *j);
