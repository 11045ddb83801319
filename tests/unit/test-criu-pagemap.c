/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The merge of a dump with its pre-dumps (criu-pagemap.h) on image directories made here, in
 * CRIU's format (images/pagemap.proto: the encoding of CRIU 3.17, flags and nr_pages in field 2,
 * and of CRIU >= 4, nr_pages in field 5, and the older in_parent field): pages come out in
 * address order from wherever the chain has them; damaged maps, pages in no parent, and image
 * files or a "parent" that are not what CRIU makes (symlinks out of the directory, a directory)
 * are refused without touching anything outside. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-pagemap.h"
#include "fileio.h"
#include "macro.h"
#include "test-util.h"

#define PS 4096
#define PRESENT 4
#define PARENT 1
#define LAZY 2

struct ent {
	uint64_t vaddr, nr;
	unsigned flags;
	char tag;   /* PRESENT: the pages' content is made from this tag and the page's address */
	int style;  /* 0: flags + field 2 (CRIU 3.17); 1: + field 5 (CRIU 4); 2: in_parent, no flags */
};

static size_t put_varint(uint8_t *p, uint64_t v) {
	size_t n = 0;
	do {
		p[n] = v & 0x7f;
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static void put_record(FILE *f, const uint8_t *m, size_t n) {
	uint32_t len = (uint32_t) n;
	fwrite(&len, 4, 1, f); /* little-endian host */
	fwrite(m, 1, n, f);
}

static void fill_page(uint8_t *page, uint64_t vaddr, char tag) {
	for (size_t i = 0; i < PS; i++)
		page[i] = (uint8_t) (tag + (vaddr >> 12) * 7 + i % 251);
}

/* pagemap-NAME.img and pages-ID.img in dir */
static void write_images(const char *dir, const char *name, unsigned id, const struct ent *e, size_t n) {
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	uint32_t magic[2] = { 0x54564319U, 0x56084025U };
	fwrite(magic, 4, 2, f);
	uint8_t m[64];
	size_t k = 0;
	k += put_varint(m + k, 1 << 3);
	k += put_varint(m + k, id);
	put_record(f, m, k);
	snprintf(path, sizeof(path), "%s/pages-%u.img", dir, id);
	FILE *pf = fopen(path, "we");
	for (size_t i = 0; i < n; i++) {
		k = 0;
		k += put_varint(m + k, 1 << 3);
		k += put_varint(m + k, e[i].vaddr);
		k += put_varint(m + k, 2 << 3);
		k += put_varint(m + k, e[i].style == 1 ? 0 : e[i].nr);
		if (e[i].style == 2) {
			if (e[i].flags & PARENT) {
				k += put_varint(m + k, 3 << 3);
				k += put_varint(m + k, 1);
			}
		} else {
			k += put_varint(m + k, 4 << 3);
			k += put_varint(m + k, e[i].flags);
		}
		if (e[i].style == 1) {
			k += put_varint(m + k, 5 << 3);
			k += put_varint(m + k, e[i].nr);
		}
		put_record(f, m, k);
		if (e[i].flags & PRESENT)
			for (uint64_t p = 0; p < e[i].nr; p++) {
				uint8_t page[PS];
				fill_page(page, e[i].vaddr + p * PS, e[i].tag);
				fwrite(page, 1, PS, pf);
			}
	}
	fclose(f);
	fclose(pf);
}

static char *make_dir(const char *base, const char *name) {
	char *p = path_join(base, name);
	mkdir(p, 0700);
	return p;
}

static char *tmp_base(void) {
	char t[] = "/tmp/test-criu-pagemap.XXXXXX";
	return strdup(mkdtemp(t));
}

static int open_dir(const char *p) {
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static char *read_all(const char *path, size_t *ret_size) {
	char *buf = NULL;
	if (read_full_file(path, &buf, ret_size) < 0)
		return NULL;
	return buf;
}

/* The chain: predump-1 has 8 pages at 0x10000 (tag A); predump-2 rewrote the first two (B) and
 * has the rest in its parent; the final dump rewrote the first (C) and has 2 new pages at
 * 0x40000 (C), the other 7 at 0x10000 in its parent. */
static void make_chain(const char *base, int style, char **ret_final, char **ret_p1, char **ret_p2) {
	char *final = make_dir(base, "images"), *p1 = make_dir(final, "predump-1"), *p2 = make_dir(final, "predump-2");
	const struct ent e1[] = { { 0x10000, 8, PRESENT, 'A', style } };
	const struct ent e2[] = { { 0x10000, 2, PRESENT, 'B', style }, { 0x12000, 6, PARENT, 0, style } };
	/* CRIU marks private anonymous pages it wrote PE_PRESENT | PE_LAZY */
	const struct ent e3[] = { { 0x10000, 1, PRESENT | LAZY, 'C', style }, { 0x11000, 7, PARENT, 0, style },
		                  { 0x40000, 2, PRESENT | LAZY, 'C', style } };
	write_images(p1, "pagemap-1.img", 11, e1, 1);
	write_images(p2, "pagemap-1.img", 12, e2, 2);
	write_images(final, "pagemap-1.img", 13, e3, 3);
	/* a map of another task with nothing in the parent: left as it is */
	const struct ent e4[] = { { 0x20000, 1, PRESENT, 'D', style } };
	write_images(final, "pagemap-2.img", 14, e4, 1);
	char link[4096];
	snprintf(link, sizeof(link), "%s/parent", final);
	ASSERT_OK(symlink("predump-2", link) < 0 ? -errno : 0);
	*ret_final = final;
	*ret_p1 = p1;
	*ret_p2 = p2;
}

static void check_merged(const char *final, int style) {
	char path[4096];
	size_t size;
	snprintf(path, sizeof(path), "%s/pages-13.img", final);
	_cleanup_free_ char *pages = read_all(path, &size);
	ASSERT_NOT_NULL(pages);
	ASSERT_EQ_U(size, 10 * PS);
	const char want_tag[10] = { 'C', 'B', 'A', 'A', 'A', 'A', 'A', 'A', 'C', 'C' };
	for (size_t i = 0; i < 10; i++) {
		uint64_t vaddr = i < 8 ? 0x10000 + i * PS : 0x40000 + (i - 8) * PS;
		uint8_t page[PS];
		fill_page(page, vaddr, want_tag[i]);
		if (memcmp(pages + i * PS, page, PS) != 0)
			TEST_FAIL_("page %zu (0x%llx) is not from %c", i, (unsigned long long) vaddr, want_tag[i]);
	}
	/* The new map: the same entries, all present. */
	snprintf(path, sizeof(path), "%s/pagemap-1.img", final);
	_cleanup_free_ char *map = read_all(path, &size);
	ASSERT_NOT_NULL(map);
	ASSERT_TRUE(size > 8);
	uint32_t magic;
	memcpy(&magic, map + 4, sizeof(magic));
	ASSERT_EQ_U(magic, 0x56084025U);
	size_t off = 8, records = 0;
	while (off + 4 <= size) {
		uint32_t len;
		memcpy(&len, map + off, sizeof(len)); /* records are not aligned */
		const uint8_t *r = (const uint8_t *) map + off + 4;
		if (records > 0) {
			/* field 3 (in_parent) absent, field 4 (flags) PRESENT, with LAZY where the
			 * dump's own entries had it (the first and the last; style 2 writes no flags) */
			unsigned want = records == 2 || style == 2 ? PRESENT : PRESENT | LAZY;
			bool flags_ok = false;
			for (uint32_t i = 0; i + 1 < len; i++)
				if (r[i] == (4 << 3) && r[i + 1] == want)
					flags_ok = true;
			ASSERT_TRUE(flags_ok);
			for (uint32_t i = 0; i < len; i++)
				ASSERT_TRUE(r[i] != (3 << 3));
		}
		off += 4 + len;
		records++;
	}
	ASSERT_EQ_U(off, size);
	ASSERT_EQ_U(records, 4);
	struct stat st;
	snprintf(path, sizeof(path), "%s/parent", final);
	ASSERT_TRUE(lstat(path, &st) < 0 && errno == ENOENT);
	/* no leftovers of the merge */
	snprintf(path, sizeof(path), "%s/.ckptd-merge-pagemap-1.img", final);
	ASSERT_TRUE(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/.ckptd-merge-pages-13.img", final);
	ASSERT_TRUE(access(path, F_OK) < 0);
}

static void merge_chain(int style) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = NULL, *p1 = NULL, *p2 = NULL;
	make_chain(base, style, &final, &p1, &p2);
	_cleanup_close_ int dfd = open_dir(final), f2 = open_dir(p2), f1 = open_dir(p1);
	int parents[2] = { f2, f1 };
	struct criu_pagemap_merge_stats st = {};
	_cleanup_free_ char *error = NULL;
	int r = criu_pagemap_merge_parents(dfd, parents, 2, &st, &error);
	if (r < 0)
		TEST_FAIL_("merge failed: %s", error);
	ASSERT_EQ_U(st.files, 1);
	ASSERT_EQ_U(st.own_pages, 3);
	ASSERT_EQ_U(st.inherited_pages, 7);
	check_merged(final, style);
	(void) rm_rf(base);
}

TEST(merge_criu_3_17_encoding) {
	merge_chain(0);
}

TEST(merge_criu_4_encoding) {
	merge_chain(1);
}

TEST(merge_in_parent_field) {
	merge_chain(2);
}

/* A page the final dump says is in the parent, which no pre-dump has: refused, nothing changed. */
TEST(page_in_no_parent) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = make_dir(base, "images"), *p1 = make_dir(final, "predump-1");
	const struct ent e1[] = { { 0x10000, 2, PRESENT, 'A', 0 } };
	const struct ent e2[] = { { 0x10000, 4, PARENT, 0, 0 } };
	write_images(p1, "pagemap-1.img", 1, e1, 1);
	write_images(final, "pagemap-1.img", 2, e2, 1);
	char path[4096];
	size_t before_size, after_size;
	snprintf(path, sizeof(path), "%s/pagemap-1.img", final);
	_cleanup_free_ char *before = read_all(path, &before_size);
	_cleanup_close_ int dfd = open_dir(final), f1 = open_dir(p1);
	_cleanup_free_ char *error = NULL;
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, &f1, 1, NULL, &error), EBADMSG);
	ASSERT_TRUE(error && strstr(error, "pagemap-1.img") && strstr(error, "0x12000"));
	_cleanup_free_ char *after = read_all(path, &after_size);
	ASSERT_TRUE(before_size == after_size && memcmp(before, after, before_size) == 0);
	snprintf(path, sizeof(path), "%s/.ckptd-merge-pages-2.img", final);
	ASSERT_TRUE(access(path, F_OK) < 0);
	(void) rm_rf(base);
}

/* A pre-dump's page map that is a symlink to images elsewhere: refused, and the pages it points
 * to are neither read into the dump nor punched out of their file. */
TEST(parent_map_symlink_refused) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = make_dir(base, "images"), *p1 = make_dir(final, "predump-1");
	_cleanup_free_ char *outside = make_dir(base, "outside");
	const struct ent eo[] = { { 0x10000, 2, PRESENT, 'X', 0 } };
	write_images(outside, "pagemap-1.img", 1, eo, 1);
	const struct ent e2[] = { { 0x10000, 2, PARENT, 0, 0 } };
	write_images(final, "pagemap-1.img", 2, e2, 1);
	char link[4096], target[4096];
	snprintf(link, sizeof(link), "%s/pagemap-1.img", p1);
	snprintf(target, sizeof(target), "%s/pagemap-1.img", outside);
	ASSERT_OK(symlink(target, link) < 0 ? -errno : 0);
	snprintf(link, sizeof(link), "%s/pages-1.img", p1);
	snprintf(target, sizeof(target), "%s/pages-1.img", outside);
	ASSERT_OK(symlink(target, link) < 0 ? -errno : 0);
	size_t before_size, after_size;
	_cleanup_free_ char *before = read_all(target, &before_size);
	_cleanup_close_ int dfd = open_dir(final), f1 = open_dir(p1);
	_cleanup_free_ char *error = NULL;
	ASSERT_TRUE(criu_pagemap_merge_parents(dfd, &f1, 1, NULL, &error) < 0);
	ASSERT_NOT_NULL(error);
	_cleanup_free_ char *after = read_all(target, &after_size);
	ASSERT_TRUE(before_size == after_size && memcmp(before, after, before_size) == 0);
	(void) rm_rf(base);
}

/* The dump's own pages file a symlink: refused; its target unchanged. */
TEST(own_pages_symlink_refused) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = NULL, *p1 = NULL, *p2 = NULL;
	make_chain(base, 0, &final, &p1, &p2);
	char path[4096], moved[4096];
	snprintf(path, sizeof(path), "%s/pages-13.img", final);
	snprintf(moved, sizeof(moved), "%s/elsewhere.img", base);
	ASSERT_OK(rename(path, moved) < 0 ? -errno : 0);
	ASSERT_OK(symlink(moved, path) < 0 ? -errno : 0);
	size_t before_size, after_size;
	_cleanup_free_ char *before = read_all(moved, &before_size);
	_cleanup_close_ int dfd = open_dir(final), f2 = open_dir(p2), f1 = open_dir(p1);
	int parents[2] = { f2, f1 };
	_cleanup_free_ char *error = NULL;
	ASSERT_TRUE(criu_pagemap_merge_parents(dfd, parents, 2, NULL, &error) < 0);
	ASSERT_TRUE(error && strstr(error, "pages-13.img"));
	_cleanup_free_ char *after = read_all(moved, &after_size);
	ASSERT_TRUE(before_size == after_size && memcmp(before, after, before_size) == 0);
	struct stat st;
	ASSERT_TRUE(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	(void) rm_rf(base);
}

/* "parent" that is a directory, not CRIU's symlink: not removed. */
TEST(parent_not_a_symlink_kept) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = make_dir(base, "images");
	const struct ent e[] = { { 0x10000, 1, PRESENT, 'A', 0 } };
	write_images(final, "pagemap-1.img", 1, e, 1);
	_cleanup_free_ char *parent = make_dir(final, "parent");
	char keep[4096];
	snprintf(keep, sizeof(keep), "%s/keep", parent);
	FILE *f = fopen(keep, "we");
	ASSERT_NOT_NULL(f);
	fclose(f);
	_cleanup_close_ int dfd = open_dir(final);
	_cleanup_free_ char *error = NULL;
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, NULL, 0, NULL, &error), EBADMSG);
	ASSERT_TRUE(access(keep, F_OK) == 0);
	(void) rm_rf(base);
}

/* Damaged maps: a truncated record, entries out of order, an entry both present and in the
 * parent. */
TEST(damaged_maps_refused) {
	_cleanup_free_ char *base = tmp_base();
	_cleanup_free_ char *final = make_dir(base, "images");
	const struct ent unordered[] = { { 0x20000, 1, PRESENT, 'A', 0 }, { 0x10000, 1, PARENT, 0, 0 } };
	write_images(final, "pagemap-1.img", 1, unordered, 2);
	_cleanup_close_ int dfd = open_dir(final);
	_cleanup_free_ char *error = NULL;
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, NULL, 0, NULL, &error), EBADMSG);
	ASSERT_TRUE(error && strstr(error, "pagemap-1.img"));
	free(error);
	error = NULL;
	const struct ent both[] = { { 0x10000, 1, PRESENT | PARENT, 'A', 0 } };
	write_images(final, "pagemap-1.img", 1, both, 1);
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, NULL, 0, NULL, &error), EBADMSG);
	free(error);
	error = NULL;
	const struct ent lazy_only[] = { { 0x10000, 1, LAZY, 'A', 0 } };
	write_images(final, "pagemap-1.img", 1, lazy_only, 1);
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, NULL, 0, NULL, &error), EBADMSG);
	ASSERT_TRUE(error && strstr(error, "lazy"));
	free(error);
	error = NULL;
	char path[4096];
	snprintf(path, sizeof(path), "%s/pagemap-1.img", final);
	ASSERT_OK(truncate(path, 13) < 0 ? -errno : 0);
	ASSERT_ERROR(criu_pagemap_merge_parents(dfd, NULL, 0, NULL, &error), EBADMSG);
	(void) rm_rf(base);
}

TEST_MAIN()
