/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the state directory's storage is and what the pairs on it cost, for Status. */

#include <jansson.h>

/* The file system the state directory is on and its compression, from /proc/self/mountinfo
 * (the mount with the longest mount point above it): { "filesystem": "btrfs", "compression":
 * "zstd:1 (compress-force)" or "none", "images_bytes": N, "added_bytes": N } where the byte
 * counts add up every complete pair's images (logical size) and what each pair added on disk
 * (its full size for pairs from before sharing); with "measured_added_bytes": N, "disk_bytes": N
 * when some pairs were measured on btrfs at persist (images.disk_bytes): the bytes those pairs
 * added and what they took on disk after compression. sharing_failure: a clone failure seen since
 * start-up, or NULL. *ret_sharing: "on", or "off: WHY" ("off: /var/lib/ckptd is on ext4").
 * -ENOMEM only. */
int storage_info(const char *state_dir, const char *sharing_failure, json_t **ret, char **ret_sharing);
