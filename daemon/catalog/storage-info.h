/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the state directory's storage is and what the pairs on it cost, for Status. */

#include <jansson.h>

/* What the state directory's file system is and what the pairs on it cost: { "filesystem":
 * "btrfs", "compression": "zstd:1 (compress-force)" or "none", "images_bytes": N, "added_bytes":
 * N } where the byte counts add up every complete pair's images (logical size) and what each
 * pair added on disk (its full size for pairs from before sharing); with "measured_added_bytes":
 * N, "disk_bytes": N when some pairs were measured on btrfs at persist (images.disk_bytes): the
 * bytes those pairs added and what they took on disk after compression. -ENOMEM only.
 * storage_totals() makes the byte counts (it reads every pair.json: the caller keeps them until
 * the catalog changes); storage_info() adds the file system, read afresh (it may be remounted). */
int storage_totals(const char *state_dir, json_t **ret);
int storage_info(const char *state_dir, json_t *totals, json_t **ret);

/* Whether pairs share their images, from storage_info()'s result: "on", or "off: WHY" ("off:
 * /var/lib/ckptd is on ext4"; sharing_failure: a clone failure seen since start-up, or NULL).
 * -ENOMEM only. */
int storage_sharing(const char *state_dir, json_t *storage, const char *sharing_failure, char **ret);
