/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* CRIU's page maps, read and rewritten by our own code (the format: CRIU's images/pagemap.proto
 * and criu/include/magic.h). A pagemap-*.img (one per task, pagemap-shmem-*.img per shared
 * memory segment) is two magics (IMG_COMMON_MAGIC, PAGEMAP_MAGIC), then protobuf records each
 * preceded by its 32-bit length: a pagemap_head { pages_id } naming its raw data file
 * pages-<pages_id>.img, then pagemap_entry { vaddr, nr_pages, flags } in address order. An entry
 * flagged PE_PRESENT has its pages next in the data file; one flagged PE_PARENT (or, from older
 * CRIUs, in_parent) has them in the parent image directory: the dump after a pre-dump. */

#include <stddef.h>
#include <stdint.h>

struct criu_pagemap_merge_stats {
	uint64_t files;           /* page maps rewritten */
	uint64_t own_pages;       /* pages the dump itself had written */
	uint64_t inherited_pages; /* pages brought in from the parents */
};

/* Makes the CRIU image directory dir_fd self-contained: every page map with entries in the
 * parent gets their pages from parent_fds[0] (the dump's parent), whose own "in parent" entries
 * come from parent_fds[1], and so on; the pages are written into a new data file in address
 * order with the dump's own, the entries rewritten as present (other flags, such as PE_LAZY,
 * kept), both renamed over the old files in dir_fd; then dir_fd's "parent" symlink is removed. The chain is the caller's: "parent"
 * symlinks are never followed, and no image file is opened through a symlink. Pages copied out of
 * a parent's data file are punched out of it (the parents are thrown away next; this keeps a
 * merge in memory at about one image's size). Fails with -EBADMSG and a message naming the file
 * when a map is damaged or a page is in no parent; dir_fd's files are then either all old or
 * all new per page map (each file is renamed into place whole). */
int criu_pagemap_merge_parents(int dir_fd, const int *parent_fds, size_t n_parents,
                               struct criu_pagemap_merge_stats *ret_stats, char **ret_error);
