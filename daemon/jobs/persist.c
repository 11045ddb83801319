/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Step 7 of freeze-and-dump, after thaw: the images made durable and checksummed. */
#include <fcntl.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "macro.h"
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

/* Copies (when staged in memory) or syncs every image, checksumming each, into im. */
int persist_images(const char *from, const char *to, struct pair_images *im, char **ret_error) {
	bool staged = !streq(from, to);
	im->has_sums = true;
	int r = mkdir_p(to, 0700);
	if (r < 0)
		return error_setf(ret_error, r, "cannot create %s: %m", to);
	_cleanup_closedir_ DIR *dir = opendir(from);
	if (!dir)
		return error_setf(ret_error, negative_errno(), "cannot read %s: %m", from);
	uint64_t bytes = 0, files = 0;
	for (struct dirent *de; (de = readdir(dir));) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		_cleanup_free_ char *src = path_join(from, de->d_name), *dst = path_join(to, de->d_name);
		if (!src || !dst)
			return -ENOMEM;
		r = staged ? copy_file_fsync(src, dst, 0600) : fsync_path(dst);
		if (r < 0)
			return error_setf(ret_error, r, "cannot store image %s: %m", dst);
		char hex[65];
		r = pair_checksum_file(dst, hex);
		if (r < 0)
			return error_setf(ret_error, r, "cannot checksum image %s: %m", dst);
		r = add_sum(im, de->d_name, hex);
		if (r < 0)
			return error_setf(ret_error, r, "%m");
		bytes += (uint64_t) st.st_size;
		files++;
	}
	r = fsync_path(to);
	if (r < 0)
		return error_setf(ret_error, r, "cannot sync %s: %m", to);
	im->bytes = bytes;
	im->files = files;
	return 0;
}
