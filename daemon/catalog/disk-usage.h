/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a pair's images take on a btrfs state directory after the file system compressed them.
 *
 * FIEMAP does not tell: for a compressed extent it reports the logical length only. btrfs keeps
 * the truth in the file's EXTENT_DATA items (disk_num_bytes: what the extent occupies on disk,
 * num_bytes: how much of it the file uses), which root can read with BTRFS_IOC_TREE_SEARCH_V2,
 * as compsize does. An extent is counted once however many files or ranges refer to it (cloned
 * blocks share one), and whole: a file that uses 4 KiB of a 128 KiB compressed extent keeps all
 * of it on disk. Holes cost nothing; inline extents cost their bytes in the metadata.
 *
 * A pair that shares blocks with the previous one refers to extents that pair wrote:
 * disk_usage_added() leaves those out, so it answers "how much did this pair add on disk". */

#include <stddef.h>
#include <stdint.h>

struct disk_extent {
	uint64_t bytenr;     /* where it starts on disk (the extent's identity) */
	uint64_t disk_bytes; /* what it occupies, compressed or not */
};

/* The extents of a set of files, sorted by bytenr and unique after disk_extents_sort(). */
struct disk_extents {
	struct disk_extent *v;
	size_t n, allocated;
	uint64_t inline_bytes; /* inline extents: never shared, added as they are */
};

void disk_extents_done(struct disk_extents *e);

/* Adds the extents of every regular file directly in the directory DIR_FD (names starting with
 * '.' skipped, symlinks not followed). -ENOTTY/-EOPNOTSUPP when it is not on btrfs, -EPERM
 * without CAP_SYS_ADMIN, -ENOMEM; a message naming the file. */
int disk_extents_add_dir(struct disk_extents *e, int dir_fd, char **ret_error);

/* Adds the extents of one open regular file. */
int disk_extents_add_file(struct disk_extents *e, int fd, char **ret_error);

/* Sorts and merges duplicates (one extent referred to twice). */
void disk_extents_sort(struct disk_extents *e);

/* Bytes on disk of the extents of E that are not in PREVIOUS (NULL: none), inline bytes
 * included. Both sorted. */
uint64_t disk_usage_added(const struct disk_extents *e, const struct disk_extents *previous);
