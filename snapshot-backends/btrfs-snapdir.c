/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptd's directories of a btrfs snapshot, <parent>/.ckptd/NAME/ID/<volume basename>: reached
 * one level at a time through directory fds, never through a symlink, each level a directory
 * owned by root that nobody else may write to (open_private_dir()); made when asked for, and
 * removed again, each only when empty, after the snapshot in it. See btrfs.c. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "btrfs-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

/* libbtrfsutil reports its own error codes and leaves errno from the failing call. */
int btrfs_errno(enum btrfs_util_error e) {
	switch (e) {
	case BTRFS_UTIL_ERROR_NOT_BTRFS:
	case BTRFS_UTIL_ERROR_NOT_SUBVOLUME:
		return -EMEDIUMTYPE;
	default:
		return errno > 0 ? -errno : -EIO;
	}
}

static void close_fd(int *fd) {
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}

/* Why a directory that ckptd looks for is not usable, as a sentence naming DIR/NAME. */
int btrfs_refuse(char **ret_error, int r, const char *dir, const char *name) {
	if (r == -ELOOP)
		return error_setf(ret_error, r, "%s/%s is a symlink, not ckptd's: refusing to follow it", dir, name);
	if (r == -EPERM)
		return error_setf(ret_error, r,
		                  "%s/%s is owned by someone other than root or writable by others, so not ckptd's: "
		                  "refusing to use it", dir, name);
	if (r == -ENOTDIR)
		return error_setf(ret_error, r, "%s/%s is not a directory, not ckptd's: refusing to use it", dir, name);
	return error_setf(ret_error, r, "%s/%s: %m", dir, name);
}

void snapdir_done(struct snapdir *d) {
	close_fd(&d->parent_fd);
	close_fd(&d->ckptd_fd);
	close_fd(&d->name_fd);
	close_fd(&d->id_fd);
	free(d->buf);
	free(d->ckptd_path);
	free(d->name_path);
	free(d->id_path);
	*d = (struct snapdir) { .parent_fd = -EBADF, .ckptd_fd = -EBADF, .name_fd = -EBADF, .id_fd = -EBADF };
}

static int snapdir_parse(const char *snapshot, struct snapdir *d) {
	*d = (struct snapdir) { .parent_fd = -EBADF, .ckptd_fd = -EBADF, .name_fd = -EBADF, .id_fd = -EBADF };
	d->buf = strdup(snapshot);
	if (!d->buf)
		return -ENOMEM;
	const char *parts[4]; /* base, id, name, ".ckptd" */
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(d->buf, '/');
		if (!slash || (slash == d->buf && i < 3) || !slash[1])
			return -EINVAL;
		*slash = '\0';
		parts[i] = slash + 1;
	}
	if (!streq(parts[3], ".ckptd") || strspn(parts[1], "0123456789") != strlen(parts[1]))
		return -EINVAL;
	d->base = parts[0];
	d->id = parts[1];
	d->name = parts[2];
	d->parent = d->buf[0] ? d->buf : "/";
	d->ckptd_path = path_join(d->parent, ".ckptd");
	d->name_path = d->ckptd_path ? path_join(d->ckptd_path, d->name) : NULL;
	d->id_path = d->name_path ? path_join(d->name_path, d->id) : NULL;
	return d->id_path ? 0 : -ENOMEM;
}

/* Opens (create: makes) .ckptd/NAME/ID below the snapshot's parent. -ENOENT (without a
 * message) when a level is missing and create is false. */
int snapdir_open(const char *snapshot, bool create, struct snapdir *d, char **ret_error) {
	int r = snapdir_parse(snapshot, d);
	if (r == -EINVAL)
		return error_setf(ret_error, r, "%s is not a ckptd snapshot path (PARENT/.ckptd/NAME/ID/BASENAME)", snapshot);
	if (r < 0)
		return r;
	d->parent_fd = open_nofollow(d->parent, O_RDONLY | O_DIRECTORY);
	if (d->parent_fd < 0) {
		if (d->parent_fd == -ENOENT && !create)
			return -ENOENT;
		return error_setf(ret_error, d->parent_fd, "%s: %m%s", d->parent,
		                  d->parent_fd == -ELOOP ? " (a symlink in the path: refusing to follow it)" : "");
	}
	/* A concurrent job of another container may remove an empty .ckptd between our mkdir and
	 * our open: try again. */
	for (int attempt = 0;; attempt++) {
		d->ckptd_fd = open_private_dir(d->parent_fd, ".ckptd", create);
		if (d->ckptd_fd >= 0)
			d->name_fd = open_private_dir(d->ckptd_fd, d->name, create);
		if (d->name_fd >= 0)
			d->id_fd = open_private_dir(d->name_fd, d->id, create);
		if (d->id_fd >= 0)
			return 0;
		r = d->ckptd_fd < 0 ? d->ckptd_fd : d->name_fd < 0 ? d->name_fd : d->id_fd;
		if (r != -ENOENT || !create || attempt >= 3)
			break;
		close_fd(&d->ckptd_fd);
		close_fd(&d->name_fd);
	}
	if (r == -ENOENT && !create)
		return -ENOENT;
	if (d->ckptd_fd < 0)
		return btrfs_refuse(ret_error, r, d->parent, ".ckptd");
	if (d->name_fd < 0)
		return btrfs_refuse(ret_error, r, d->ckptd_path, d->name);
	return btrfs_refuse(ret_error, r, d->name_path, d->id);
}

/* Deletes the read-only subvolume NAME in DIRFD (a ckptd snapshot); a missing one is success. */
static int delete_snapshot_at(int dirfd, const char *dir, const char *name, char **ret_error) {
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		struct stat st;
		if (errno == ENOENT)
			return 0;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
			return btrfs_refuse(ret_error, -ELOOP, dir, name);
		return btrfs_refuse(ret_error, negative_errno(), dir, name);
	}
	bool ro = false;
	if (btrfs_util_is_subvolume_fd(fd) != BTRFS_UTIL_OK || btrfs_util_get_subvolume_read_only_fd(fd, &ro) != BTRFS_UTIL_OK ||
	    !ro)
		return error_setf(ret_error, -EPERM, "%s/%s is not a read-only subvolume, so not a ckptd snapshot: left alone",
		                  dir, name);
	enum btrfs_util_error e = btrfs_util_delete_subvolume_fd(dirfd, name, 0);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot delete snapshot %s/%s: %s: %m", dir, name,
		                  btrfs_util_strerror(e));
	return 0;
}

/* Removes the snapshot at d (its nested snapshots first), then the levels that became empty. */
int snapdir_remove(struct snapdir *d, char **ret_error) {
	_cleanup_free_ char *nested = NULL, *nested_path = NULL;
	if (asprintf(&nested, "%s" NESTED_SUFFIX, d->base) < 0 || !(nested_path = path_join(d->id_path, nested)))
		return -ENOMEM;
	int nfd = open_private_dir(d->id_fd, nested, false);
	if (nfd < 0 && nfd != -ENOENT)
		return btrfs_refuse(ret_error, nfd, d->id_path, nested);
	if (nfd >= 0) {
		DIR *dir = fdopendir(nfd);
		if (!dir) {
			int r = negative_errno();
			close(nfd);
			return error_setf(ret_error, r, "%s: %m", nested_path);
		}
		_cleanup_closedir_ DIR *dd = dir;
		for (struct dirent *de; (de = readdir(dd));) {
			if (streq(de->d_name, ".") || streq(de->d_name, ".."))
				continue;
			if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
				return error_setf(ret_error, -EPERM, "%s/%s is not a ckptd snapshot: left alone", nested_path,
				                  de->d_name);
			int r = delete_snapshot_at(dirfd(dd), nested_path, de->d_name, ret_error);
			if (r < 0)
				return r;
		}
		if (unlinkat(d->id_fd, nested, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return error_setf(ret_error, negative_errno(), "cannot remove %s: %m", nested_path);
	}
	int r = delete_snapshot_at(d->id_fd, d->id_path, d->base, ret_error);
	if (r < 0)
		return r;
	/* ID, then NAME, then .ckptd, each only when empty. */
	if (unlinkat(d->name_fd, d->id, AT_REMOVEDIR) >= 0 && unlinkat(d->ckptd_fd, d->name, AT_REMOVEDIR) >= 0)
		(void) unlinkat(d->parent_fd, ".ckptd", AT_REMOVEDIR);
	return 0;
}
