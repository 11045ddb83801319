/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The block index of a pair: its format is described in block-index.h. */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "block-index.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

#define MAGIC "CKPTBIX"     /* with its NUL: 8 bytes */
#define VERSION 1U
#define HEADER_SIZE 40U
#define ENTRY_SIZE 24U
#define TRAILER_SIZE 8U
#define LOAD_MAX (1ULL << 30)
#define TMP_NAME ".blocks.idx.tmp"

void block_index_done(struct block_index *ix) {
	for (size_t i = 0; i < ix->n_files; i++)
		free(ix->files[i]);
	free(ix->files);
	free(ix->sizes);
	free(ix->entries);
	*ix = (struct block_index) {};
}

struct block_hash block_index_hash(const struct block_index *ix, const void *block) {
	XXH128_hash_t h = XXH3_128bits_withSeed(block, BLOCK_INDEX_BLOCK_SIZE, ix->seed);
	return (struct block_hash) { .lo = h.low64, .hi = h.high64 };
}

static bool name_is_plain(const char *name, size_t len) {
	return len > 0 && len <= 255 && name[0] != '.' && !memchr(name, '/', len) && !memchr(name, '\0', len);
}

int block_index_add_file(struct block_index *ix, const char *name, uint64_t size, uint32_t *ret_file) {
	if (!name_is_plain(name, strlen(name)))
		return -EINVAL;
	if (ix->n_files >= BLOCK_INDEX_FILES_MAX)
		return -E2BIG;
	char **files = realloc(ix->files, (ix->n_files + 1) * sizeof(char *));
	if (!files)
		return -ENOMEM;
	ix->files = files;
	uint64_t *sizes = realloc(ix->sizes, (ix->n_files + 1) * sizeof(uint64_t));
	if (!sizes)
		return -ENOMEM;
	ix->sizes = sizes;
	if (!(ix->files[ix->n_files] = strdup(name)))
		return -ENOMEM;
	ix->sizes[ix->n_files] = size;
	*ret_file = (uint32_t) ix->n_files++;
	return 0;
}

int block_index_add(struct block_index *ix, uint32_t file, uint32_t block, struct block_hash h) {
	if (ix->n_entries == ix->allocated) {
		size_t n = ix->allocated ? ix->allocated * 2 : 4096;
		struct block_entry *e = reallocarray(ix->entries, n, sizeof(*e));
		if (!e)
			return -ENOMEM;
		ix->entries = e;
		ix->allocated = n;
	}
	ix->entries[ix->n_entries++] = (struct block_entry) { .hash = h, .file = file, .block = block };
	ix->sorted = false;
	return 0;
}

static int hash_cmp(struct block_hash a, struct block_hash b) {
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static int entry_cmp(const struct block_entry *a, const struct block_entry *b) {
	int c = hash_cmp(a->hash, b->hash);
	if (c != 0)
		return c;
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return a->block < b->block ? -1 : a->block > b->block;
}

static int entry_qsort_cmp(const void *a, const void *b) {
	return entry_cmp(a, b);
}

const struct block_entry *block_index_find(const struct block_index *ix, struct block_hash h) {
	size_t lo = 0, hi = ix->n_entries;
	while (lo < hi) { /* the first entry not below h */
		size_t mid = lo + (hi - lo) / 2;
		if (hash_cmp(ix->entries[mid].hash, h) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n_entries && hash_cmp(ix->entries[lo].hash, h) == 0 ? &ix->entries[lo] : NULL;
}

/* --- encoding ---------------------------------------------------------------------------- */

static uint8_t *put(uint8_t *p, uint64_t v, size_t bytes) {
	for (size_t i = 0; i < bytes; i++)
		p[i] = (uint8_t) (v >> (8 * i));
	return p + bytes;
}

static uint64_t get(const uint8_t *p, size_t bytes) {
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

static void sort_unique(struct block_index *ix) {
	if (ix->sorted)
		return;
	qsort(ix->entries, ix->n_entries, sizeof(*ix->entries), entry_qsort_cmp);
	size_t k = 0;
	for (size_t i = 0; i < ix->n_entries; i++)
		if (k == 0 || entry_cmp(&ix->entries[k - 1], &ix->entries[i]) != 0)
			ix->entries[k++] = ix->entries[i];
	ix->n_entries = k;
	ix->sorted = true;
}

int block_index_encode(struct block_index *ix, void **ret, size_t *ret_size) {
	sort_unique(ix);
	size_t size = HEADER_SIZE + TRAILER_SIZE + ix->n_entries * ENTRY_SIZE;
	for (size_t i = 0; i < ix->n_files; i++)
		size += 10 + strlen(ix->files[i]);
	uint8_t *buf = malloc(size), *p = buf;
	if (!buf)
		return -ENOMEM;
	memcpy(p, MAGIC, 8);
	p = put(p + 8, VERSION, 4);
	p = put(p, BLOCK_INDEX_BLOCK_SIZE, 4);
	p = put(p, ix->seed, 8);
	p = put(p, ix->chain, 4);
	p = put(p, ix->n_files, 4);
	p = put(p, ix->n_entries, 8);
	for (size_t i = 0; i < ix->n_files; i++) {
		size_t len = strlen(ix->files[i]);
		p = put(p, ix->sizes[i], 8);
		p = put(p, len, 2);
		memcpy(p, ix->files[i], len);
		p += len;
	}
	for (size_t i = 0; i < ix->n_entries; i++) {
		const struct block_entry *e = &ix->entries[i];
		p = put(put(p, e->hash.lo, 8), e->hash.hi, 8);
		p = put(put(p, e->file, 4), e->block, 4);
	}
	put(p, XXH3_64bits(buf, size - TRAILER_SIZE), 8);
	*ret = buf;
	*ret_size = size;
	return 0;
}

/* --- decoding ---------------------------------------------------------------------------- */

#define BAD(err, ...) error_setf(err, -EBADMSG, "block index " __VA_ARGS__)

static int decode_header(const uint8_t *b, size_t size, struct block_index *ix, uint64_t *ret_n_entries,
                         char **ret_error) {
	if (size < HEADER_SIZE + TRAILER_SIZE)
		return BAD(ret_error, "is truncated (%zu bytes)", size);
	if (memcmp(b, MAGIC, 8) != 0)
		return BAD(ret_error, "%s", "has a wrong magic");
	if (get(b + 8, 4) != VERSION)
		return BAD(ret_error, "has version %u, expected %u", (unsigned) get(b + 8, 4), VERSION);
	if (get(b + 12, 4) != BLOCK_INDEX_BLOCK_SIZE)
		return BAD(ret_error, "has block size %u, expected %u", (unsigned) get(b + 12, 4), BLOCK_INDEX_BLOCK_SIZE);
	if (get(b + size - TRAILER_SIZE, 8) != XXH3_64bits(b, size - TRAILER_SIZE))
		return BAD(ret_error, "%s", "has a wrong checksum");
	ix->seed = get(b + 16, 8);
	ix->chain = (uint32_t) get(b + 24, 4);
	uint64_t n_files = get(b + 28, 4);
	if (n_files == 0 || n_files > BLOCK_INDEX_FILES_MAX)
		return BAD(ret_error, "names %" PRIu64 " files", n_files);
	ix->files = calloc(n_files, sizeof(char *));
	ix->sizes = calloc(n_files, sizeof(uint64_t));
	if (!ix->files || !ix->sizes)
		return -ENOMEM;
	ix->n_files = n_files;
	*ret_n_entries = get(b + 32, 8);
	return 0;
}

static int decode_files(const uint8_t *b, size_t end, size_t *pos, struct block_index *ix, char **ret_error) {
	for (size_t i = 0; i < ix->n_files; i++) {
		if (end - *pos < 10)
			return BAD(ret_error, "%s", "is truncated in its file table");
		ix->sizes[i] = get(b + *pos, 8);
		size_t len = get(b + *pos + 8, 2);
		*pos += 10;
		if (end - *pos < len)
			return BAD(ret_error, "%s", "is truncated in its file table");
		if (!name_is_plain((const char *) b + *pos, len))
			return BAD(ret_error, "%s", "names a file that is not a plain file name");
		if (!(ix->files[i] = strndup((const char *) b + *pos, len)))
			return -ENOMEM;
		*pos += len;
		for (size_t k = 0; k < i; k++)
			if (streq(ix->files[k], ix->files[i]))
				return BAD(ret_error, "names file %s twice", ix->files[i]);
	}
	return 0;
}

static int decode_entries(const uint8_t *b, size_t pos, uint64_t n, struct block_index *ix, char **ret_error) {
	ix->entries = calloc(n ? n : 1, sizeof(*ix->entries));
	if (!ix->entries)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++, pos += ENTRY_SIZE) {
		struct block_entry *e = &ix->entries[i];
		*e = (struct block_entry) { .hash = { .lo = get(b + pos, 8), .hi = get(b + pos + 8, 8) },
			                    .file = (uint32_t) get(b + pos + 16, 4), .block = (uint32_t) get(b + pos + 20, 4) };
		if (e->file >= ix->n_files)
			return BAD(ret_error, "entry %" PRIu64 " names file %u of %zu", i, e->file, ix->n_files);
		if (((uint64_t) e->block + 1) * BLOCK_INDEX_BLOCK_SIZE > ix->sizes[e->file])
			return BAD(ret_error, "entry %" PRIu64 " lies beyond the end of %s", i, ix->files[e->file]);
		if (i > 0 && entry_cmp(&ix->entries[i - 1], e) >= 0)
			return BAD(ret_error, "entry %" PRIu64 " is out of order", i);
		ix->n_entries = ix->allocated = i + 1;
	}
	return 0;
}

int block_index_decode(const void *buf, size_t size, struct block_index *ret, char **ret_error) {
	const uint8_t *b = buf;
	struct block_index ix = {};
	uint64_t n = 0;
	int r = decode_header(b, size, &ix, &n, ret_error);
	size_t pos = HEADER_SIZE, end = size - TRAILER_SIZE;
	if (r >= 0)
		r = decode_files(b, end, &pos, &ix, ret_error);
	if (r >= 0 && (n > (end - pos) / ENTRY_SIZE || (end - pos) != n * ENTRY_SIZE))
		r = BAD(ret_error, "has %zu bytes for %" PRIu64 " entries", end - pos, n);
	if (r >= 0)
		r = decode_entries(b, pos, n, &ix, ret_error);
	if (r < 0) {
		block_index_done(&ix);
		return r;
	}
	ix.sorted = true;
	*ret = ix;
	return 0;
}

/* --- files ------------------------------------------------------------------------------- */

int block_index_save(int dir_fd, struct block_index *ix) {
	_cleanup_free_ void *buf = NULL;
	size_t size;
	int r = block_index_encode(ix, &buf, &size);
	if (r < 0)
		return r;
	(void) unlinkat(dir_fd, TMP_NAME, 0);
	_cleanup_close_ int fd = openat(dir_fd, TMP_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if ((r = write_all(fd, buf, size)) < 0 || (fsync(fd) < 0 && (r = negative_errno()) < 0) ||
	    (renameat(dir_fd, TMP_NAME, dir_fd, BLOCK_INDEX_FILE) < 0 && (r = negative_errno()) < 0)) {
		(void) unlinkat(dir_fd, TMP_NAME, 0);
		return r;
	}
	return fsync(dir_fd) < 0 ? negative_errno() : 0;
}

int block_index_load(int dir_fd, struct block_index *ret, char **ret_error) {
	_cleanup_close_ int fd = openat(dir_fd, BLOCK_INDEX_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open the block index: %m");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_setf(ret_error, negative_errno(), "cannot stat the block index: %m");
	if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > LOAD_MAX)
		return error_setf(ret_error, -EBADMSG, "%s", "block index is not a regular file of at most 1 GiB");
	size_t size = (size_t) st.st_size;
	_cleanup_free_ uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	ssize_t k = read_full(fd, buf, size);
	if (k < 0 || (size_t) k != size)
		return error_setf(ret_error, k < 0 ? (int) k : -EBADMSG, "cannot read the block index: %s",
		                  k < 0 ? strerror((int) -k) : "file shrank");
	return block_index_decode(buf, size, ret, ret_error);
}
