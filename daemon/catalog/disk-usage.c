/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The on-disk size of a directory's files through btrfs's EXTENT_DATA items (disk-usage.h). */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "disk-usage.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

/* Room for a few hundred items per call; the kernel fills as many as fit. */
#define SEARCH_BUF 65536

struct search {
	struct btrfs_ioctl_search_args_v2 args;
	uint8_t buf[SEARCH_BUF];
};

void disk_extents_done(struct disk_extents *e) {
	free(e->v);
	*e = (struct disk_extents) {};
}

static int extents_push(struct disk_extents *e, uint64_t bytenr, uint64_t disk_bytes) {
	if (e->n == e->allocated) {
		size_t m = e->allocated ? e->allocated * 2 : 256;
		struct disk_extent *v = reallocarray(e->v, m, sizeof(*v));
		if (!v)
			return -ENOMEM;
		e->v = v;
		e->allocated = m;
	}
	e->v[e->n++] = (struct disk_extent) { .bytenr = bytenr, .disk_bytes = disk_bytes };
	return 0;
}

/* One EXTENT_DATA item (LEN bytes at ITEM, little-endian, unaligned). */
static int extents_add_item(struct disk_extents *e, const uint8_t *item, uint32_t len) {
	struct btrfs_file_extent_item fi = {};
	const size_t inline_start = offsetof(struct btrfs_file_extent_item, disk_bytenr);
	if (len < inline_start)
		return -EBADMSG;
	memcpy(&fi, item, len < sizeof(fi) ? len : sizeof(fi));
	if (fi.type == BTRFS_FILE_EXTENT_INLINE) {
		e->inline_bytes += len - inline_start;
		return 0;
	}
	if (len < sizeof(fi))
		return -EBADMSG;
	if (le64toh(fi.disk_bytenr) == 0) /* a hole */
		return 0;
	return extents_push(e, le64toh(fi.disk_bytenr), le64toh(fi.disk_num_bytes));
}

/* The items found by one search call; *next_offset: where the next call starts (0: done). */
static int extents_add_found(struct disk_extents *e, struct search *s, uint64_t *next_offset) {
	size_t pos = 0;
	*next_offset = 0;
	for (uint32_t i = 0; i < s->args.key.nr_items; i++) {
		struct btrfs_ioctl_search_header h;
		if (pos + sizeof(h) > SEARCH_BUF)
			return -EBADMSG;
		memcpy(&h, s->buf + pos, sizeof(h));
		pos += sizeof(h);
		if (pos + h.len > SEARCH_BUF)
			return -EBADMSG;
		if (h.type == BTRFS_EXTENT_DATA_KEY) {
			int r = extents_add_item(e, s->buf + pos, h.len);
			if (r < 0)
				return r;
		}
		pos += h.len;
		if (h.offset == UINT64_MAX)
			return 0;
		*next_offset = h.offset + 1;
	}
	return 0;
}

int disk_extents_add_file(struct disk_extents *e, int fd, char **ret_error) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_setf(ret_error, negative_errno(), "cannot stat an image: %m");
	_cleanup_free_ struct search *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint64_t offset = 0;;) {
		/* tree_id 0: the subvolume the file is in; the key range is one inode's extents. */
		s->args = (struct btrfs_ioctl_search_args_v2) {
			.key = { .tree_id = 0, .min_objectid = st.st_ino, .max_objectid = st.st_ino,
			         .min_type = BTRFS_EXTENT_DATA_KEY, .max_type = BTRFS_EXTENT_DATA_KEY,
			         .min_offset = offset, .max_offset = UINT64_MAX,
			         .min_transid = 0, .max_transid = UINT64_MAX, .nr_items = UINT32_MAX },
			.buf_size = SEARCH_BUF,
		};
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, &s->args) < 0)
			return error_setf(ret_error, negative_errno(), "cannot read the extents of inode %ju: %m",
			                  (uintmax_t) st.st_ino);
		if (s->args.key.nr_items == 0)
			return 0;
		int r = extents_add_found(e, s, &offset);
		if (r < 0)
			return error_setf(ret_error, r, "unexpected extent items for inode %ju", (uintmax_t) st.st_ino);
		if (offset == 0)
			return 0;
	}
}

int disk_extents_add_dir(struct disk_extents *e, int dir_fd, char **ret_error) {
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open the images: %m");
	_cleanup_closedir_ DIR *d = fdopendir(TAKE_FD(fd));
	if (!d)
		return error_setf(ret_error, negative_errno(), "cannot read the images: %m");
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_close_ int f = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode))
			continue; /* not an image (a symlink, a directory) */
		_cleanup_free_ char *error = NULL;
		int r = disk_extents_add_file(e, f, &error);
		if (r < 0)
			return error_prefixf(ret_error, r, &error, "%s", de->d_name);
	}
	return 0;
}

static int extent_cmp(const void *a, const void *b) {
	const struct disk_extent *x = a, *y = b;
	return x->bytenr < y->bytenr ? -1 : x->bytenr > y->bytenr;
}

void disk_extents_sort(struct disk_extents *e) {
	if (e->n == 0)
		return;
	qsort(e->v, e->n, sizeof(*e->v), extent_cmp);
	size_t k = 0;
	for (size_t i = 1; i < e->n; i++)
		if (e->v[i].bytenr != e->v[k].bytenr)
			e->v[++k] = e->v[i];
	e->n = k + 1;
}

uint64_t disk_usage_added(const struct disk_extents *e, const struct disk_extents *previous) {
	uint64_t sum = e->inline_bytes;
	size_t j = 0, m = previous ? previous->n : 0;
	for (size_t i = 0; i < e->n; i++) {
		while (j < m && previous->v[j].bytenr < e->v[i].bytenr)
			j++;
		if (j < m && previous->v[j].bytenr == e->v[i].bytenr)
			continue;
		sum += e->v[i].disk_bytes;
	}
	return sum;
}
