/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The block index (daemon/catalog/block-index.c): what is written reads back the same, and every
 * kind of damaged file is refused. */
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include "block-index.h"
#include "fileio.h"
#include "macro.h"
#include "test-util.h"

/* Two files, a few blocks each, one content in both. */
static void make(struct block_index *ix) {
	uint8_t block[BLOCK_INDEX_BLOCK_SIZE];
	uint32_t a, b;
	*ix = (struct block_index) { .seed = 42, .chain = 3 };
	if (block_index_add_file(ix, "pages-1.img", 5 * BLOCK_INDEX_BLOCK_SIZE + 100, &a) < 0 ||
	    block_index_add_file(ix, "pages-2.img", 2 * BLOCK_INDEX_BLOCK_SIZE, &b) < 0)
		abort();
	for (uint32_t i = 0; i < 5; i++) {
		memset(block, (int) i, sizeof(block));
		if (block_index_add(ix, a, i, block_index_hash(ix, block)) < 0)
			abort();
	}
	memset(block, 3, sizeof(block));
	if (block_index_add(ix, b, 1, block_index_hash(ix, block)) < 0 ||
	    block_index_add(ix, b, 1, block_index_hash(ix, block)) < 0) /* a duplicate: dropped */
		abort();
}

/* Recomputes the trailer after an edit, so that only the edited rule is broken. */
static void reseal(uint8_t *buf, size_t size) {
	uint64_t sum = XXH3_64bits(buf, size - 8);
	for (size_t i = 0; i < 8; i++)
		buf[size - 8 + i] = (uint8_t) (sum >> (8 * i));
}

static int decode(const uint8_t *buf, size_t size) {
	struct block_index ix;
	_cleanup_free_ char *error = NULL;
	int r = block_index_decode(buf, size, &ix, &error);
	if (r >= 0)
		block_index_done(&ix);
	else if (!error)
		return -EINVAL; /* every refusal says why */
	return r;
}

TEST(roundtrip) {
	struct block_index ix, back;
	_cleanup_free_ void *buf = NULL;
	_cleanup_free_ char *error = NULL;
	size_t size;
	make(&ix);
	ASSERT_OK(block_index_encode(&ix, &buf, &size));
	ASSERT_EQ_U(ix.n_entries, 6);
	ASSERT_EQ_U(size, 40 + (8 + 2 + 11) * 2 + 6 * 24 + 8);
	ASSERT_OK(block_index_decode(buf, size, &back, &error));
	ASSERT_EQ_U(back.seed, 42);
	ASSERT_EQ_U(back.chain, 3);
	ASSERT_EQ_U(back.n_files, 2);
	ASSERT_STREQ(back.files[1], "pages-2.img");
	ASSERT_EQ_U(back.sizes[0], 5 * BLOCK_INDEX_BLOCK_SIZE + 100);
	ASSERT_EQ_U(back.n_entries, 6);
	ASSERT_TRUE(memcmp(back.entries, ix.entries, 6 * sizeof(*ix.entries)) == 0);

	uint8_t block[BLOCK_INDEX_BLOCK_SIZE];
	memset(block, 3, sizeof(block));
	const struct block_entry *e = block_index_find(&back, block_index_hash(&back, block));
	ASSERT_NOT_NULL(e);
	/* the first of the two with this content, the other follows */
	ASSERT_TRUE(e->file == 0 && e->block == 3);
	ASSERT_TRUE(e[1].file == 1 && e[1].block == 1);
	memset(block, 9, sizeof(block));
	ASSERT_NULL(block_index_find(&back, block_index_hash(&back, block)));
	/* another seed, other hashes */
	back.seed = 43;
	memset(block, 3, sizeof(block));
	ASSERT_NULL(block_index_find(&back, block_index_hash(&back, block)));
	block_index_done(&back);
	block_index_done(&ix);
}

TEST(bad_names) {
	struct block_index ix = {};
	uint32_t f;
	ASSERT_ERROR(block_index_add_file(&ix, "", 0, &f), EINVAL);
	ASSERT_ERROR(block_index_add_file(&ix, ".hidden", 0, &f), EINVAL);
	ASSERT_ERROR(block_index_add_file(&ix, "../pages-1.img", 0, &f), EINVAL);
	ASSERT_ERROR(block_index_add_file(&ix, "a/b", 0, &f), EINVAL);
	ASSERT_OK(block_index_add_file(&ix, "pages-1.img", 0, &f));
	block_index_done(&ix);
}

TEST(damaged_files_refused) {
	struct block_index ix;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t size;
	make(&ix);
	ASSERT_OK(block_index_encode(&ix, (void **) &buf, &size));
	block_index_done(&ix);
	ASSERT_OK(decode(buf, size));
	/* every truncation, every flipped byte */
	for (size_t n = 0; n < size; n++)
		ASSERT_ERROR(decode(buf, n), EBADMSG);
	for (size_t i = 0; i < size; i++) {
		buf[i] ^= 0x20;
		ASSERT_ERROR(decode(buf, size), EBADMSG);
		buf[i] ^= 0x20;
	}
	/* each rule alone, with a valid checksum */
	static const struct {
		size_t offset;
		uint8_t value;
	} edits[] = {
		{ 0, 'X' },                 /* magic */
		{ 8, 2 },                   /* version */
		{ 13, 0x20 },               /* block size 8192 */
		{ 28, 0 },                  /* no files */
		{ 32, 7 },                  /* entry count */
		{ 48, 0 },                  /* empty name */
		{ 50, '/' },                /* not a plain name */
		{ 50, '.' },                /* hidden */
		{ 71 + 6, '1' },            /* the second name the same as the first */
		{ 41, 0 },                  /* the first file shorter than its blocks */
		{ 82 + 16, 5 },             /* an entry's file out of range */
		{ 82 + 20, 9 },             /* an entry's block beyond the end */
	};
	for (size_t k = 0; k < ELEMENTSOF(edits); k++) {
		_cleanup_free_ uint8_t *copy = malloc(size);
		memcpy(copy, buf, size);
		copy[edits[k].offset] = edits[k].value;
		reseal(copy, size);
		if (decode(copy, size) != -EBADMSG)
			TEST_FAIL_("edit %zu (offset %zu) was accepted", k, edits[k].offset);
	}
	/* two entries swapped: out of order */
	uint8_t first[24];
	memcpy(first, buf + 82, 24);
	memmove(buf + 82, buf + 82 + 24, 24);
	memcpy(buf + 82 + 24, first, 24);
	reseal(buf, size);
	ASSERT_ERROR(decode(buf, size), EBADMSG);
}

TEST(save_load) {
	char tmpl[] = "/tmp/test-block-index-XXXXXX";
	ASSERT_NOT_NULL(mkdtemp(tmpl));
	_cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct block_index ix, back;
	_cleanup_free_ char *error = NULL;
	make(&ix);
	ASSERT_ERROR(block_index_load(dfd, &back, &error), ENOENT);
	ASSERT_OK(block_index_save(dfd, &ix));
	ASSERT_OK(block_index_load(dfd, &back, &error));
	ASSERT_EQ_U(back.n_entries, ix.n_entries);
	block_index_done(&back);
	/* a symlink in its place is not followed */
	ASSERT_OK(renameat(dfd, BLOCK_INDEX_FILE, dfd, "real.idx"));
	ASSERT_OK(symlinkat("real.idx", dfd, BLOCK_INDEX_FILE));
	free(error);
	error = NULL;
	ASSERT_ERROR(block_index_load(dfd, &back, &error), ELOOP);
	block_index_done(&ix);
	ASSERT_OK(rm_rf(tmpl));
}

TEST_MAIN()
