/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pair-record.h"

/* How persist_images() may share blocks with the previous pair (jobs/image-share.h). */
struct persist_sharing {
	bool enabled;         /* ShareImages= */
	unsigned full_every;  /* FullImageEvery= */
	uint64_t prev_id;     /* the previous complete pair, 0 = none */
	const char *prev_dir; /* its directory */
	const char *pair_dir; /* the new pair's directory: its blocks.idx goes there */
};

/* The newest complete pair of CONTAINER below ID and its directory (*ret_id 0, *ret_dir NULL:
 * none). -ENOMEM only. */
int persist_find_previous(const char *state_dir, const char *container, uint64_t id, uint64_t *ret_id,
                          char **ret_dir);

/* Copies the images from the staging directory FROM to TO (or, when FROM is TO, syncs them in
 * place), checksumming each: im gets their sums, byte and file counts, the bytes this pair added
 * and the pair it shared blocks with. sh NULL: no sharing. */
int persist_images(const char *from, const char *to, const struct persist_sharing *sh, struct pair_images *im,
                   char **ret_error);
