/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The catalog of snapshot pairs on disk:
 *   STATE/containers/NAME/last-id                 highest id ever allocated (ids are never reused)
 *   STATE/containers/NAME/pairs/ID/pair.json      written last, atomically; "state": "complete"
 *   STATE/containers/NAME/pairs/ID/images/        CRIU images
 *   STATE/containers/NAME/pairs/ID/dump.log       CRIU's log
 * A pair exists for users only when pair.json parses, validates and says "complete". */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pair-record.h"

#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

char *catalog_container_dir(const char *state_dir, const char *name);
char *catalog_pair_dir(const char *state_dir, const char *name, uint64_t id);

/* Allocates the next id (max of last-id and existing pair dirs, plus one), records it durably
 * in last-id and creates the (empty) pair directory. */
int catalog_allocate_id(const char *state_dir, const char *name, uint64_t *ret_id);

/* Loads pair.json, decoded and validated by pair_from_json(). -ENOENT: no such pair; -EBADMSG:
 * unreadable or invalid (ret_error says why); -EINPROGRESS: valid but not complete (only when
 * require_complete). */
int catalog_load_pair_record(const char *state_dir, const char *name, uint64_t id, bool require_complete,
                             struct pair **ret, char **ret_error);
/* The same, as the JSON object the file holds (validated the same way), for readers that pass
 * it on to the wire unchanged. */
int catalog_load_pair(const char *state_dir, const char *name, uint64_t id, bool require_complete,
                      json_t **ret, char **ret_error);

/* Complete pairs of one container (or of all, name == NULL), sorted by container then id. */
int catalog_list_pairs(const char *state_dir, const char *name, json_t **ret_array);

/* Ids of pair directories that are not complete pairs (crash leftovers), ascending. */
int catalog_list_incomplete(const char *state_dir, const char *name, uint64_t **ret_ids, size_t *ret_n);

/* Containers that have a catalog directory. NULL-terminated, sorted. */
int catalog_list_containers(const char *state_dir, char ***ret_names);

int catalog_write_pair(const char *state_dir, const char *name, uint64_t id, json_t *pair);
/* Encodes the record with pair_to_json() and writes it. */
int catalog_write_pair_record(const char *state_dir, const struct pair *p);

/* For readers of pair objects in JSON form that were validated by pair_from_json() (the listed
 * pairs): its "id" and whether its state is "complete". */
bool pair_is_complete(json_t *pair);
uint64_t pair_id(json_t *pair);
