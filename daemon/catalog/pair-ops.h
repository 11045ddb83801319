/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Operations on a stored pair that several jobs share: checksums, verification, removal. */

#include <jansson.h>
#include <stdint.h>

#include "pair-record.h"

struct snapshot_backend;

int pair_checksum_file(const char *path, char ret_hex[65]);
/* Checks a pair's images against its checksums and its snapshots: problems appended to the
 * array as strings. */
int pair_verify(const char *state_dir, const struct pair *p, json_t *problems);
/* Checks one volume record of pair CONTAINER/ID (names from the catalog, not from the record):
 * its backend handles its source, and its snapshot is where that backend keeps the source's
 * snapshot for CONTAINER/ID. -EBADMSG with *ret_error naming both paths otherwise. */
int pair_volume_check(const char *container, uint64_t id, const struct pair_volume *v,
                      const struct snapshot_backend **ret_backend, char **ret_error);
/* Removes a pair's snapshots and directory (and a staging directory). Nothing is removed when
 * a volume record fails pair_volume_check(). */
int pair_remove_volumes(const char *state_dir, const char *container, uint64_t id, const struct pair_volume *v,
                        size_t n, const char *staging, char **ret_error);
