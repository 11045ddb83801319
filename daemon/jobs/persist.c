/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Step 7 of freeze-and-dump, after thaw: the images made durable and checksummed, the pages
 * files sharing their unchanged blocks with the previous pair where the state directory allows
 * (image-share.h). */
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "disk-usage.h"
#include "error.h"
#include "fileio.h"
#include "image-share.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "persist.h"

static int add_sum(struct pair_images *im, const char *file, const char *hex) {
	struct pair_image_sum *a = realloc(im->sums, (im->n_sums + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	im->sums = a;
	im->has_sums = true;
	a[im->n_sums] = (struct pair_image_sum) { .file = strdup(file), .sha256 = strdup(hex) };
	if (!a[im->n_sums].file || !a[im->n_sums].sha256) {
		free(a[im->n_sums].file);
		free(a[im->n_sums].sha256);
		return -ENOMEM;
	}
	im->n_sums++;
	return 0;
}

int persist_find_previous(const char *state_dir, const char *container, uint64_t id, uint64_t *ret_id,
                          char **ret_dir) {
	struct pair **pairs = NULL;
	size_t n = 0;
	uint64_t best = 0;
	*ret_id = 0;
	*ret_dir = NULL;
	if (catalog_list_pairs(state_dir, container, &pairs, &n) < 0)
		return 0; /* nothing to share with */
	for (size_t i = 0; i < n; i++)
		if (pair_is_complete_record(pairs[i]) && pairs[i]->id < id && pairs[i]->id > best)
			best = pairs[i]->id;
	pair_array_free(pairs, n);
	if (best == 0)
		return 0;
	if (!(*ret_dir = catalog_pair_dir(state_dir, container, best)))
		return -ENOMEM;
	*ret_id = best;
	return 0;
}

/* CRIU's memory contents: the files worth sharing. */
static bool is_pages_file(const char *name) {
	size_t n = strlen(name);
	return strncmp(name, "pages-", 6) == 0 && n > 10 && streq(name + n - 4, ".img");
}

/* One pages file through image_share_file(): staged, copied into TO; on disk already, rewritten
 * beside itself and renamed over it when there is something to share, else only read. */
static int persist_shared(struct image_share *s, int from_fd, int to_fd, bool staged, const char *name,
                          uint64_t size, uint64_t *added, char hex[65], char **ret_error) {
	_cleanup_free_ char *tmp = NULL;
	if (!staged && s->share && asprintf(&tmp, ".%s.share", name) < 0)
		return -ENOMEM;
	_cleanup_close_ int src = openat(from_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return error_setf(ret_error, negative_errno(), "cannot open image %s: %m", name);
	_cleanup_close_ int dst = -EBADF;
	if ((staged || tmp) &&
	    (dst = openat(to_fd, tmp ?: name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return error_setf(ret_error, negative_errno(), "cannot create image %s: %m", tmp ?: name);
	int r = image_share_file(s, name, src, dst, hex, ret_error);
	if (r >= 0 && dst < 0) {
		*added += size; /* written in place by CRIU */
		if (fsync(src) < 0)
			r = error_setf(ret_error, negative_errno(), "cannot sync image %s: %m", name);
	}
	if (r >= 0 && tmp && renameat(to_fd, tmp, to_fd, name) < 0)
		r = error_setf(ret_error, negative_errno(), "cannot replace image %s: %m", name);
	if (r < 0 && tmp)
		(void) unlinkat(to_fd, tmp, 0);
	return r;
}

/* Any other image: copied (or synced) whole, then checksummed. */
static int persist_plain(const char *from, const char *to, bool staged, const char *name, char hex[65],
                         char **ret_error) {
	_cleanup_free_ char *src = path_join(from, name), *dst = path_join(to, name);
	if (!src || !dst)
		return -ENOMEM;
	int r = staged ? copy_file_fsync(src, dst, 0600) : fsync_path(dst);
	if (r < 0)
		return error_setf(ret_error, r, "cannot store image %s: %m", dst);
	r = pair_checksum_file(dst, hex);
	if (r < 0)
		return error_setf(ret_error, r, "cannot checksum image %s: %m", dst);
	return 0;
}

static bool on_btrfs(const char *path) {
	struct statfs sfs;
	return statfs(path, &sfs) >= 0 && sfs.f_type == BTRFS_SUPER_MAGIC;
}

static int persist_one(const char *from, const char *to, int from_fd, int to_fd, struct image_share *s,
                       const char *name, struct pair_images *im, uint64_t *added, char **ret_error) {
	struct stat st;
	if (name[0] == '.' || fstatat(from_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	char hex[65];
	int r;
	if (s && is_pages_file(name))
		r = persist_shared(s, from_fd, to_fd, !streq(from, to), name, (uint64_t) st.st_size, added, hex, ret_error);
	else {
		r = persist_plain(from, to, !streq(from, to), name, hex, ret_error);
		*added += (uint64_t) st.st_size;
	}
	if (r >= 0 && (r = add_sum(im, name, hex)) < 0)
		return error_setf(ret_error, r, "%m");
	if (r < 0)
		return r;
	im->bytes += (uint64_t) st.st_size;
	im->files++;
	return 0;
}

/* The names first: a pages file written on disk is replaced while the directory is read. */
static int persist_loop(DIR *dir, const char *from, const char *to, int to_fd, struct image_share *s,
                        struct pair_images *im, char **ret_error) {
	_cleanup_strv_free_ char **names = NULL;
	size_t n = 0;
	for (struct dirent *de; (de = readdir(dir));) {
		char **a = realloc(names, (n + 2) * sizeof(char *));
		if (!a)
			return -ENOMEM;
		names = a;
		if (!(names[n] = strdup(de->d_name)))
			return -ENOMEM;
		names[++n] = NULL;
	}
	uint64_t added = 0;
	im->bytes = im->files = 0;
	for (size_t i = 0; i < n; i++) {
		int r = persist_one(from, to, dirfd(dir), to_fd, s, names[i], im, &added, ret_error);
		if (r < 0)
			return r;
	}
	im->added_bytes = added + (s ? s->written : 0);
	return 0;
}

/* What the images added on disk after compression, leaving out the extents of the pair they
 * share blocks with; absent (PAIR_ABSENT) where it cannot be read (not btrfs). */
static uint64_t measure_disk_bytes(int to_fd, const char *prev_dir, uint64_t shared_from) {
	struct disk_extents cur = {}, prev = {};
	uint64_t ret = PAIR_ABSENT;
	if (disk_extents_add_dir(&cur, to_fd, NULL) < 0)
		goto done;
	if (shared_from > 0 && prev_dir) {
		_cleanup_close_ int pfd = open_nofollow(prev_dir, O_RDONLY | O_DIRECTORY);
		_cleanup_close_ int ifd = pfd >= 0 ? openat_beneath(pfd, "images", O_RDONLY | O_DIRECTORY) : -EBADF;
		if (ifd < 0 || disk_extents_add_dir(&prev, ifd, NULL) < 0)
			goto done;
		disk_extents_sort(&prev);
	}
	disk_extents_sort(&cur);
	ret = disk_usage_added(&cur, &prev);
done:
	disk_extents_done(&cur);
	disk_extents_done(&prev);
	return ret;
}

/* Copies (when staged in memory) or syncs every image, checksumming each, into im. */
int persist_images(const char *from, const char *to, const struct persist_sharing *sh, struct pair_images *im,
                   char **ret_error) {
	im->has_sums = true;
	int r = mkdir_p(to, 0700);
	if (r < 0)
		return error_setf(ret_error, r, "cannot create %s: %m", to);
	_cleanup_closedir_ DIR *dir = opendir(from);
	if (!dir)
		return error_setf(ret_error, negative_errno(), "cannot read %s: %m", from);
	_cleanup_close_ int to_fd = open_nofollow(to, O_RDONLY | O_DIRECTORY);
	if (to_fd < 0)
		return error_setf(ret_error, to_fd, "cannot open %s: %m", to);
	bool share = sh && sh->enabled && on_btrfs(to);
	struct image_share s;
	if (share && (r = image_share_init(&s, sh->prev_id, sh->prev_dir, sh->full_every)) < 0) {
		image_share_done(&s);
		return error_setf(ret_error, r, "%m");
	}
	r = persist_loop(dir, from, to, to_fd, share ? &s : NULL, im, ret_error);
	if (r >= 0 && share && s.cloned > 0)
		im->shared_from = s.prev_id;
	if (r >= 0 && share) {
		/* Without it the next pair shares nothing; this one is complete either way. */
		_cleanup_close_ int pair_fd = open_nofollow(sh->pair_dir, O_RDONLY | O_DIRECTORY);
		if (pair_fd >= 0)
			(void) block_index_save(pair_fd, &s.next);
	}
	if (share)
		image_share_done(&s);
	if (r >= 0 && fsync(to_fd) < 0)
		return error_setf(ret_error, negative_errno(), "cannot sync %s: %m", to);
	if (r >= 0 && on_btrfs(to))
		im->disk_bytes = measure_disk_bytes(to_fd, sh ? sh->prev_dir : NULL, im->shared_from);
	return r;
}
