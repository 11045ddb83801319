/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu-pagemap.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

#define IMG_COMMON_MAGIC 0x54564319U
#define PAGEMAP_MAGIC 0x56084025U
#define PE_PARENT (1U << 0)
#define PE_LAZY (1U << 1)
#define PE_PRESENT (1U << 2)
#define PAGEMAP_MAX_BYTES (256U << 20) /* a sanity bound: 16 bytes per run of pages */
#define MERGE_PREFIX ".ckptd-merge-"

static inline uint64_t min_u64(uint64_t a, uint64_t b) {
	return a < b ? a : b;
}

struct pm_entry {
	uint64_t vaddr, nr_pages;
	uint64_t compat_nr_pages; /* field 2 as it was written */
	bool has_nr_pages64;      /* field 5 was written (CRIU >= 4) */
	uint64_t flags;           /* as read (in_parent turned into PE_PARENT) */
	bool parent, present;
	uint64_t offset;          /* present: where its pages start in the data file */
};

struct pagemap {
	uint32_t pages_id;
	struct pm_entry *e;
	size_t n;
	int pages_fd; /* the data file, when opened */
};

static void pagemap_done(struct pagemap *m) {
	free(m->e);
	m->e = NULL;
	m->n = 0;
	if (m->pages_fd >= 0)
		close(m->pages_fd);
	m->pages_fd = -EBADF;
}

/* ---- protobuf, the little of it page maps use ----------------------------------------- */

static int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *ret) {
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EBADMSG;
		uint8_t b = *(*p)++;
		v |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static size_t varint_put(uint8_t *out, uint64_t v) {
	size_t n = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		out[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

/* Calls field(number, value) for every varint field of the message; skips the others. */
static int message_fields(const uint8_t *p, const uint8_t *end, void *userdata,
                          void (*field)(void *userdata, uint64_t number, uint64_t value)) {
	while (p < end) {
		uint64_t key, v;
		if (varint_get(&p, end, &key) < 0)
			return -EBADMSG;
		switch (key & 7) {
		case 0:
			if (varint_get(&p, end, &v) < 0)
				return -EBADMSG;
			field(userdata, key >> 3, v);
			break;
		case 1:
			if (end - p < 8)
				return -EBADMSG;
			p += 8;
			break;
		case 2:
			if (varint_get(&p, end, &v) < 0 || v > (uint64_t) (end - p))
				return -EBADMSG;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return -EBADMSG;
			p += 4;
			break;
		default:
			return -EBADMSG;
		}
	}
	return 0;
}

struct entry_fields {
	struct pm_entry *e;
	bool has_flags, in_parent;
	uint64_t flags;
	unsigned seen; /* bit per field number 1..5 */
};

static void entry_field(void *userdata, uint64_t number, uint64_t v) {
	struct entry_fields *f = userdata;
	if (number < 32)
		f->seen |= 1U << number;
	switch (number) {
	case 1: f->e->vaddr = v; break;
	case 2: f->e->compat_nr_pages = v; break;
	case 3: f->in_parent = v != 0; break;
	case 4: f->has_flags = true; f->flags = v; break;
	case 5: f->e->has_nr_pages64 = true; f->e->nr_pages = v; break;
	}
}

static void head_field(void *userdata, uint64_t number, uint64_t v) {
	if (number == 1) {
		uint64_t *id = userdata;
		*id = v;
	}
}

static uint32_t le32(const uint8_t *p) {
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Reads page map NAME of dir_fd (not through a symlink). */
static int pagemap_load(int dir_fd, const char *name, long page_size, struct pagemap *ret, char **ret_error) {
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open %s: %m", name);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_setf(ret_error, negative_errno(), "cannot stat %s: %m", name);
	if (!S_ISREG(st.st_mode) || st.st_size > PAGEMAP_MAX_BYTES)
		return error_setf(ret_error, -EBADMSG, "%s is not a regular file of a sensible size", name);
	_cleanup_free_ uint8_t *buf = malloc((size_t) st.st_size + 1);
	if (!buf)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	size_t size = 0;
	for (;;) {
		ssize_t k = read_eintr(fd, buf + size, (size_t) st.st_size + 1 - size);
		if (k < 0)
			return error_setf(ret_error, (int) k, "cannot read %s: %m", name);
		if (k == 0)
			break;
		size += (size_t) k;
		if (size > (size_t) st.st_size)
			return error_setf(ret_error, -EBADMSG, "%s grew while it was read", name);
	}
	const uint8_t *p = buf, *end = buf + size;
	if (size < 8 || le32(p) != IMG_COMMON_MAGIC || le32(p + 4) != PAGEMAP_MAGIC)
		return error_setf(ret_error, -EBADMSG, "%s is not a CRIU page map (wrong magic)", name);
	p += 8;
	struct pagemap m = { .pages_fd = -EBADF };
	size_t allocated = 0;
	bool head = true;
	uint64_t offset = 0;
	int r = 0;
	while (r >= 0 && p < end) {
		if (end - p < 4) {
			r = -EBADMSG;
			break;
		}
		uint32_t len = le32(p);
		p += 4;
		if (len > (uint64_t) (end - p)) {
			r = -EBADMSG;
			break;
		}
		if (head) {
			uint64_t id = UINT64_MAX;
			r = message_fields(p, p + len, &id, head_field);
			if (r >= 0 && id > UINT32_MAX)
				r = -EBADMSG;
			m.pages_id = (uint32_t) id;
			head = false;
		} else {
			if (m.n == allocated) {
				allocated = allocated ? allocated * 2 : 256;
				struct pm_entry *n = reallocarray(m.e, allocated, sizeof(*n));
				if (!n) {
					r = -ENOMEM;
					break;
				}
				m.e = n;
			}
			struct pm_entry *e = &m.e[m.n];
			*e = (struct pm_entry) {};
			struct entry_fields f = { .e = e };
			r = message_fields(p, p + len, &f, entry_field);
			if (r < 0)
				break;
			if (!e->has_nr_pages64)
				e->nr_pages = e->compat_nr_pages;
			uint64_t flags = f.has_flags ? f.flags : f.in_parent ? PE_PARENT : PE_PRESENT;
			if (f.in_parent)
				flags |= PE_PARENT;
			e->flags = flags;
			e->parent = flags & PE_PARENT;
			e->present = flags & PE_PRESENT;
			/* Required fields, one place per page. PE_LAZY (pages a lazy restore may fetch later)
			 * comes with PE_PRESENT on CRIU's private anonymous memory; alone it means pages
			 * that are nowhere in the images (a lazy dump, which ckptd never asks for). */
			const char *bad = !(f.seen & (1U << 1)) ? "no address" :
			                  e->nr_pages == 0 ? "no pages" :
			                  (flags & PE_LAZY) && !e->present ? "lazy pages not in the images" :
			                  e->parent == e->present ? "neither or both present and in the parent" :
			                  e->nr_pages > (UINT64_MAX - e->vaddr) / (uint64_t) page_size ? "past the address space" :
			                  m.n > 0 && m.e[m.n - 1].vaddr + m.e[m.n - 1].nr_pages * (uint64_t) page_size > e->vaddr ?
			                  "not in address order" : NULL;
			if (bad) {
				r = error_setf(ret_error, -EBADMSG, "%s is damaged: entry %zu (address 0x%" PRIx64 ", %" PRIu64
				               " pages, flags 0x%" PRIx64 ") has %s", name, m.n + 1, e->vaddr, e->nr_pages, flags, bad);
				pagemap_done(&m);
				return r;
			}
			if (e->present) {
				e->offset = offset;
				offset += e->nr_pages * (uint64_t) page_size;
			}
			m.n++;
		}
		p += len;
	}
	if (r >= 0 && head)
		r = -EBADMSG;
	if (r < 0) {
		pagemap_done(&m);
		return r == -ENOMEM ? error_setf(ret_error, r, "out of memory") :
		       error_setf(ret_error, r, "%s is damaged (a record that is not a page map record)", name);
	}
	*ret = m;
	return 0;
}

static int pages_open(int dir_fd, const char *map_name, struct pagemap *m, int flags, char **ret_error) {
	char name[64];
	(void) snprintf(name, sizeof(name), "pages-%" PRIu32 ".img", m->pages_id);
	m->pages_fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	if (m->pages_fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open %s (the pages of %s): %m", name, map_name);
	struct stat st;
	if (fstat(m->pages_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_setf(ret_error, -EBADMSG, "%s (the pages of %s) is not a regular file", name, map_name);
	return 0;
}

/* ---- the merge --------------------------------------------------------------------------- */

static int copy_range(int in_fd, uint64_t in_off, int out_fd, uint64_t len) {
	loff_t off = (loff_t) in_off;
	while (len > 0) {
		ssize_t k = copy_file_range(in_fd, &off, out_fd, NULL, len, 0);
		if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			break; /* fall back to read and write */
		if (k < 0)
			return negative_errno();
		if (k == 0)
			return -EBADMSG; /* the data file is shorter than its map says */
		len -= (uint64_t) k;
	}
	char buf[65536];
	while (len > 0) {
		ssize_t k = pread(in_fd, buf, min_u64(len, sizeof(buf)), off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			return -EBADMSG;
		int r = write_all(out_fd, buf, (size_t) k);
		if (r < 0)
			return r;
		off += k;
		len -= (uint64_t) k;
	}
	return 0;
}

struct merge {
	int dir_fd;
	const int *parent_fds;
	size_t n_parents;
	long page_size;
	const char *name;       /* the page map being merged */
	struct pagemap *levels; /* per parent: its page map of the same name, loaded when first needed */
	bool *loaded;
	struct criu_pagemap_merge_stats stats;
};

/* Appends to out_fd the pages [vaddr, vaddr + n pages) from parent LEVEL (0: the direct one). */
static int merge_from_parent(struct merge *x, size_t level, uint64_t vaddr, uint64_t n, int out_fd, char **ret_error) {
	uint64_t ps = (uint64_t) x->page_size;
	if (level >= x->n_parents)
		return error_setf(ret_error, -EBADMSG, "%s: pages at 0x%" PRIx64 " are marked as in the parent, but the "
		                  "oldest pre-dump has them in its parent", x->name, vaddr);
	struct pagemap *m = &x->levels[level];
	if (!x->loaded[level]) {
		int r = pagemap_load(x->parent_fds[level], x->name, x->page_size, m, ret_error);
		if (r == -ENOENT)
			return error_setf(ret_error, -EBADMSG, "%s: pages at 0x%" PRIx64 " are marked as in the parent, but "
			                  "pre-dump %zu has no %s", x->name, vaddr, x->n_parents - level, x->name);
		if (r >= 0)
			r = pages_open(x->parent_fds[level], x->name, m, O_RDWR, ret_error);
		if (r < 0)
			return r;
		x->loaded[level] = true;
	}
	uint64_t cur = vaddr, end = vaddr + n * ps;
	/* The first entry that ends after cur. */
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->e[mid].vaddr + m->e[mid].nr_pages * ps <= cur)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; cur < end; i++) {
		if (i >= m->n || m->e[i].vaddr > cur)
			return error_setf(ret_error, -EBADMSG, "%s: the page at 0x%" PRIx64 " is marked as in the parent, but "
			                  "pre-dump %zu does not have it", x->name, cur, x->n_parents - level);
		const struct pm_entry *e = &m->e[i];
		uint64_t take = min_u64(end, e->vaddr + e->nr_pages * ps) - cur;
		int r;
		if (e->present) {
			uint64_t off = e->offset + (cur - e->vaddr);
			r = copy_range(m->pages_fd, off, out_fd, take);
			if (r < 0)
				return error_setf(ret_error, r, "%s: cannot copy the pages at 0x%" PRIx64 " from pre-dump %zu: %s",
				                  x->name, cur, x->n_parents - level,
				                  r == -EBADMSG ? "its data file is too short" : strerror(-r));
			/* Read once only (entries do not overlap): free the room now. */
			(void) fallocate(m->pages_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) off, (off_t) take);
			x->stats.inherited_pages += take / ps;
		} else {
			r = merge_from_parent(x, level + 1, cur, take / ps, out_fd, ret_error);
			if (r < 0)
				return r;
		}
		cur += take;
	}
	return 0;
}

static int entry_write(int fd, const struct pm_entry *e) {
	uint8_t buf[4 + 4 * 11 + 4], *p = buf + 4;
	p += varint_put(p, 1 << 3);
	p += varint_put(p, e->vaddr);
	p += varint_put(p, 2 << 3);
	p += varint_put(p, e->has_nr_pages64 ? e->compat_nr_pages : e->nr_pages);
	p += varint_put(p, 4 << 3);
	p += varint_put(p, (e->flags & ~(uint64_t) PE_PARENT) | PE_PRESENT);
	if (e->has_nr_pages64) {
		p += varint_put(p, 5 << 3);
		p += varint_put(p, e->nr_pages);
	}
	uint32_t len = (uint32_t) (p - buf - 4);
	buf[0] = len & 0xff;
	buf[1] = (len >> 8) & 0xff;
	buf[2] = (len >> 16) & 0xff;
	buf[3] = (len >> 24) & 0xff;
	return write_all(fd, buf, (size_t) (p - buf));
}

static int pagemap_write_present(int fd, const struct pagemap *m) {
	uint8_t head[8 + 4 + 11] = { 0 }, *p = head;
	const uint32_t magics[2] = { IMG_COMMON_MAGIC, PAGEMAP_MAGIC };
	for (size_t i = 0; i < 2; i++)
		for (size_t b = 0; b < 4; b++)
			*p++ = (magics[i] >> (8 * b)) & 0xff;
	uint8_t *len = p;
	p += 4;
	p += varint_put(p, 1 << 3);
	p += varint_put(p, m->pages_id);
	len[0] = (uint8_t) (p - len - 4);
	int r = write_all(fd, head, (size_t) (p - head));
	for (size_t i = 0; r >= 0 && i < m->n; i++)
		r = entry_write(fd, &m->e[i]);
	return r;
}

/* Merges one page map of x->dir_fd (x->name). */
static int merge_one(struct merge *x, char **ret_error) {
	struct pagemap m = { .pages_fd = -EBADF };
	int r = pagemap_load(x->dir_fd, x->name, x->page_size, &m, ret_error);
	if (r < 0)
		return r;
	bool any_parent = false;
	for (size_t i = 0; i < m.n; i++)
		any_parent |= m.e[i].parent;
	if (!any_parent) {
		pagemap_done(&m);
		return 0;
	}
	char pages_name[64], tmp_pages[96], tmp_map[NAME_MAX + 1];
	(void) snprintf(pages_name, sizeof(pages_name), "pages-%" PRIu32 ".img", m.pages_id);
	(void) snprintf(tmp_pages, sizeof(tmp_pages), MERGE_PREFIX "%s", pages_name);
	if (snprintf(tmp_map, sizeof(tmp_map), MERGE_PREFIX "%s", x->name) >= (int) sizeof(tmp_map)) {
		pagemap_done(&m);
		return error_setf(ret_error, -ENAMETOOLONG, "%s: name too long", x->name);
	}
	_cleanup_close_ int out = -EBADF, map_out = -EBADF;
	r = pages_open(x->dir_fd, x->name, &m, O_RDONLY, ret_error);
	if (r >= 0) {
		out = openat(x->dir_fd, tmp_pages, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			r = error_setf(ret_error, negative_errno(), "cannot create %s: %m", tmp_pages);
	}
	uint64_t ps = (uint64_t) x->page_size;
	for (size_t i = 0; r >= 0 && i < m.n; i++) {
		struct pm_entry *e = &m.e[i];
		if (e->present) {
			r = copy_range(m.pages_fd, e->offset, out, e->nr_pages * ps);
			if (r < 0)
				r = error_setf(ret_error, r, "%s: cannot copy its own pages at 0x%" PRIx64 ": %s", x->name, e->vaddr,
				               r == -EBADMSG ? "its data file is too short" : strerror(-r));
			x->stats.own_pages += e->nr_pages;
		} else
			r = merge_from_parent(x, 0, e->vaddr, e->nr_pages, out, ret_error);
	}
	if (r >= 0) {
		map_out = openat(x->dir_fd, tmp_map, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (map_out < 0)
			r = error_setf(ret_error, negative_errno(), "cannot create %s: %m", tmp_map);
	}
	if (r >= 0 && (r = pagemap_write_present(map_out, &m)) < 0)
		(void) error_setf(ret_error, r, "cannot write %s: %m", tmp_map);
	if (r >= 0 && (renameat(x->dir_fd, tmp_pages, x->dir_fd, pages_name) < 0 ||
	               renameat(x->dir_fd, tmp_map, x->dir_fd, x->name) < 0))
		r = error_setf(ret_error, negative_errno(), "cannot rename the merged %s into place: %m", x->name);
	if (r < 0) {
		(void) unlinkat(x->dir_fd, tmp_pages, 0);
		(void) unlinkat(x->dir_fd, tmp_map, 0);
	} else
		x->stats.files++;
	pagemap_done(&m);
	return r;
}

static bool is_pagemap_name(const char *name) {
	size_t n = strlen(name);
	return strncmp(name, "pagemap-", 8) == 0 && n > 12 && streq(name + n - 4, ".img");
}

int criu_pagemap_merge_parents(int dir_fd, const int *parent_fds, size_t n_parents,
                               struct criu_pagemap_merge_stats *ret_stats, char **ret_error) {
	struct merge x = { .dir_fd = dir_fd, .parent_fds = parent_fds, .n_parents = n_parents,
		           .page_size = sysconf(_SC_PAGESIZE) };
	int d = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
	if (d < 0)
		return error_setf(ret_error, negative_errno(), "cannot read the image directory: %m");
	_cleanup_closedir_ DIR *dir = fdopendir(d);
	if (!dir) {
		close(d);
		return error_setf(ret_error, negative_errno(), "cannot read the image directory: %m");
	}
	rewinddir(dir); /* the duplicate shares dir_fd's position */
	_cleanup_free_ struct pagemap *levels = calloc(n_parents + 1, sizeof(*levels));
	_cleanup_free_ bool *loaded = calloc(n_parents + 1, sizeof(*loaded));
	if (!levels || !loaded)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	x.levels = levels;
	x.loaded = loaded;
	/* The names first: the merge adds and renames files while the directory is read. */
	_cleanup_strv_free_ char **names = NULL;
	size_t n_names = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(dir))) {
		if (!is_pagemap_name(de->d_name))
			continue;
		char **nn = reallocarray(names, n_names + 2, sizeof(char *));
		if (!nn || !(nn[n_names] = strdup(de->d_name))) {
			if (nn)
				names = nn;
			return error_setf(ret_error, -ENOMEM, "out of memory");
		}
		names = nn;
		names[++n_names] = NULL;
	}
	if (errno != 0)
		return error_setf(ret_error, negative_errno(), "cannot read the image directory: %m");
	int r = 0;
	for (size_t i = 0; r >= 0 && i < n_names; i++) {
		x.name = names[i];
		for (size_t k = 0; k < n_parents; k++) {
			x.levels[k].pages_fd = -EBADF;
			x.loaded[k] = false;
		}
		r = merge_one(&x, ret_error);
		for (size_t k = 0; k < n_parents; k++)
			if (x.loaded[k])
				pagemap_done(&x.levels[k]);
	}
	if (r < 0)
		return r;
	struct stat st;
	if (fstatat(dir_fd, "parent", &st, AT_SYMLINK_NOFOLLOW) >= 0) {
		if (!S_ISLNK(st.st_mode))
			return error_setf(ret_error, -EBADMSG, "the image directory's \"parent\" is not CRIU's symlink");
		if (unlinkat(dir_fd, "parent", 0) < 0)
			return error_setf(ret_error, negative_errno(), "cannot remove the image directory's \"parent\" link: %m");
	}
	if (ret_stats)
		*ret_stats = x.stats;
	return 0;
}
