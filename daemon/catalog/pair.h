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

/* Complete pairs of one container (or of all, name == NULL), sorted by container then id: an
 * array of *ret_n records, freed with pair_array_free(). */
int catalog_list_pairs(const char *state_dir, const char *name, struct pair ***ret, size_t *ret_n);
void pair_array_free(struct pair **a, size_t n);

/* Ids of pair directories that are not complete pairs (crash leftovers), ascending. */
int catalog_list_incomplete(const char *state_dir, const char *name, uint64_t **ret_ids, size_t *ret_n);

/* Containers that have a catalog directory. NULL-terminated, sorted. */
int catalog_list_containers(const char *state_dir, char ***ret_names);

/* Encodes the record with pair_to_json() and writes it as p->container/p->id's pair.json (keys
 * sorted), atomically, then drops the pair's "incomplete" marker. */
int catalog_write_pair_record(const char *state_dir, const struct pair *p);

/* A pair in the JSON form pair.json holds and the replies (List, Show) carry: pair_to_json()
 * with the keys of every object in sorted order, as the file is written. -ENOMEM. */
int catalog_pair_to_json(const struct pair *p, json_t **ret);
