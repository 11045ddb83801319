/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jansson.h>
#include <stdint.h>

struct job;

/* Deletes pair j->container/j->pair: its snapshots and directory; with j->force, a pair whose
 * pair.json does not load loses its records in the state directory instead (never a path read
 * from the damaged record). */
int job_delete(struct job *j);

/* The Varlink error for a pair that did not load (catalog_load_pair_record() returned r, why): a
 * damaged pair is named with where it is kept, a missing one is NoSuchPair. *ret_error_name is
 * static; the parameters are the caller's. */
json_t *pair_load_error(const char *state_dir, const char *name, uint64_t id, int r, const char *why,
                        const char **ret_error_name);
