/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sharing unchanged memory with the previous pair, while persisting the images after thaw.
 *
 * Each whole 4 KiB block of a pages-*.img file is hashed (XXH3-128, the chain's seed) and looked
 * up by content in the previous complete pair's block index: a match is cloned from the previous
 * pair's file with FICLONERANGE (consecutive matches in one call), the rest is written. The new
 * file is a plain, complete file: retention may delete either pair, restore reads it as it is.
 * The pair's own index is built on the way and saved as blocks.idx for the next pair.
 *
 * Where cloning is impossible (not btrfs, another file system: EXDEV, EOPNOTSUPP, EINVAL) the
 * blocks are written instead; the first such failure is remembered for Status
 * (image_share_failure()). */

#include <stdbool.h>
#include <stdint.h>

#include "block-index.h"

struct image_share {
	bool share;                /* look blocks up in prev */
	uint64_t prev_id;          /* the previous pair, 0 = none */
	struct block_index prev;   /* its index (sorted), empty when none */
	int prev_images_fd;        /* its images/, -EBADF when none */
	int *prev_fds;             /* per prev file: -EBADF not opened yet, -ENOENT unusable */
	struct block_index next;   /* this pair's, being built */
	uint64_t written, cloned;  /* bytes */
};

/* Prepares sharing for pair ID: prev_id/prev_dir name the previous complete pair (prev_id 0: none);
 * full_every: FullImageEvery= (0 = never). Never fails for a missing or damaged previous index
 * (then nothing is shared); -ENOMEM only. */
int image_share_init(struct image_share *s, uint64_t prev_id, const char *prev_dir, unsigned full_every);
void image_share_done(struct image_share *s);

/* Copies the file SRC_FD (NAME in images/) to DST_FD, sharing what it can, and fsyncs DST_FD;
 * DST_FD -1: only indexes and checksums SRC_FD (it stays where it is). The SHA-256 of the content
 * in ret_hex. */
int image_share_file(struct image_share *s, const char *name, int src_fd, int dst_fd, char ret_hex[65],
                     char **ret_error);

/* The first clone failure since the daemon started ("cloning from pair 7 failed: Invalid
 * cross-device link"), a new string, or NULL when none. */
char *image_share_failure(void);
