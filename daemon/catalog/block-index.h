/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The block index of a pair: for every whole 4 KiB block of the pair's pages-*.img files, a
 * 128-bit hash of its content and where it is. The next pair looks its own blocks up here and
 * clones the matching ones from this pair's files instead of writing them (jobs/image-share.c).
 * Stored as pairs/ID/blocks.idx, next to images/ (CRIU never sees it; restore does not need it).
 *
 * File format, version 1, all integers little-endian, no padding:
 *
 *   header   8  magic "CKPTBIX\0"
 *            4  version (1)
 *            4  block size (4096)
 *            8  seed of the hash (XXH3-128 with this seed; chosen at random by every full write,
 *               kept by the pairs that share with it: the hashes of a chain are comparable, and a
 *               container cannot craft colliding pages without knowing it)
 *            4  chain: pairs since the last one written in full (0 = this one was)
 *            4  number of files F (1..BLOCK_INDEX_FILES_MAX)
 *            8  number of entries E
 *   F files  8  size of the file in bytes
 *            2  length L of its name (1..255)
 *            L  name: a plain file name in images/ (no '/', not starting with '.'), unique
 *   E entries 8 hash, low half; 8 hash, high half; 4 file (< F); 4 block (block + 1) * 4096 <= size
 *            sorted by (high, low, file, block), strictly increasing
 *   trailer  8  XXH3-64 of every byte before it
 *
 * Reading is strict: a file that breaks any of these rules is refused as a whole (-EBADMSG, with
 * one sentence). A pair without a usable index simply shares nothing with the next. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_INDEX_FILE "blocks.idx"
#define BLOCK_INDEX_BLOCK_SIZE 4096U
#define BLOCK_INDEX_FILES_MAX 65536U

struct block_hash {
	uint64_t lo, hi;
};

struct block_entry {
	struct block_hash hash;
	uint32_t file, block;
};

struct block_index {
	uint64_t seed;
	uint32_t chain;
	char **files;    /* names, n_files of them */
	uint64_t *sizes;
	size_t n_files;
	struct block_entry *entries;
	size_t n_entries, allocated;
	bool sorted;
};

void block_index_done(struct block_index *ix);

struct block_hash block_index_hash(const struct block_index *ix, const void *block);

/* Adds a file (a plain name) of SIZE bytes; its number in *ret_file. -EINVAL for a bad name,
 * -E2BIG beyond BLOCK_INDEX_FILES_MAX, -ENOMEM. */
int block_index_add_file(struct block_index *ix, const char *name, uint64_t size, uint32_t *ret_file);
/* Records that block BLOCK of FILE holds content with hash H. */
int block_index_add(struct block_index *ix, uint32_t file, uint32_t block, struct block_hash h);
/* The first entry with hash H (the others with it follow), or NULL. The index must be sorted
 * (decoded indexes are). */
const struct block_entry *block_index_find(const struct block_index *ix, struct block_hash h);

/* Serializes (sorting first; duplicates of the same (hash, file, block) are dropped). */
int block_index_encode(struct block_index *ix, void **ret, size_t *ret_size);
/* Parses and validates; on success *ret owns its memory (block_index_done()). */
int block_index_decode(const void *buf, size_t size, struct block_index *ret, char **ret_error);

/* blocks.idx in the directory DIR_FD: written to a temporary name, fsynced, renamed into place;
 * read without following a symlink, at most 1 GiB. */
int block_index_save(int dir_fd, struct block_index *ix);
int block_index_load(int dir_fd, struct block_index *ret, char **ret_error);
