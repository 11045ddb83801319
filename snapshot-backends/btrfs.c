/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* btrfs volumes: a subvolume by path. Snapshots are read-only subvolumes beside it, at
 * <volume's parent>/.ckptd/NAME/ID/<volume basename>, through libbtrfsutil. */
#include <btrfsutil.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "backend.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

/* libbtrfsutil reports its own error codes and leaves errno from the failing call. */
static int btrfs_errno(enum btrfs_util_error e) {
	switch (e) {
	case BTRFS_UTIL_ERROR_NOT_BTRFS:
	case BTRFS_UTIL_ERROR_NOT_SUBVOLUME:
		return -EMEDIUMTYPE;
	default:
		return errno > 0 ? -errno : -EIO;
	}
}

static bool btrfs_recognizes(const char *volume) {
	return volume[0] == '/';
}

static int btrfs_check(const char *volume, char **ret_error) {
	struct stat st;
	if (stat(volume, &st) < 0)
		return error_setf(ret_error, negative_errno(), "volume %s: %m", volume);
	enum btrfs_util_error e = btrfs_util_is_subvolume(volume);
	if (e == BTRFS_UTIL_ERROR_NOT_BTRFS)
		return error_setf(ret_error, -EMEDIUMTYPE, "volume %s is not on a btrfs filesystem", volume);
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
		return error_setf(ret_error, -EMEDIUMTYPE, "volume %s is a directory, not a btrfs subvolume", volume);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "volume %s: %s: %m", volume, btrfs_util_strerror(e));
	return 0;
}

static int btrfs_snapshot_location(const char *volume, const char *container, uint64_t id, char **ret) {
	_cleanup_free_ char *a = strdup(volume), *b = strdup(volume);
	if (!a || !b)
		return -ENOMEM;
	char idstr[32];
	snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
	char *p = path_join(dirname(a), ".ckptd", container, idstr, basename(b));
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

static int btrfs_prepare(const char *volume, const char *snapshot, _unused_ const struct snapshot_params *params,
                         char **ret_error) {
	_cleanup_free_ char *parent = strdup(snapshot);
	if (!parent)
		return -ENOMEM;
	int r = mkdir_p(dirname(parent), 0700);
	if (r < 0)
		return error_setf(ret_error, r, "cannot create %s: %m", parent);

	/* A snapshot with hundreds of MB dirty takes hundreds of ms: flush now, outside the window. */
	_cleanup_close_ int fd = open(volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "volume %s: %m", volume);
	if (syncfs(fd) < 0)
		return error_setf(ret_error, negative_errno(), "syncfs of volume %s failed: %m", volume);
	return 0;
}

static int btrfs_snapshot(const char *volume, const char *snapshot, _unused_ const struct snapshot_params *params,
                          char **ret_error) {
	enum btrfs_util_error e =
	        btrfs_util_create_snapshot(volume, snapshot, BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
	if (e != BTRFS_UTIL_OK) {
		int r = btrfs_errno(e);
		return error_setf(ret_error, r, "snapshot of %s at %s failed: %s: %m", volume, snapshot, btrfs_util_strerror(e));
	}
	return 0;
}

/* Removes the pair's directory levels (ID, then NAME, then .ckptd) when they became empty. */
static void remove_empty_parents(const char *snapshot) {
	_cleanup_free_ char *p = strdup(snapshot);
	if (!p)
		return;
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			return;
		*slash = '\0';
		if (rmdir(p) < 0)
			return;
	}
}

static int btrfs_remove(const char *snapshot, char **ret_error) {
	enum btrfs_util_error e = btrfs_util_is_subvolume(snapshot);
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME || (e != BTRFS_UTIL_OK && errno == ENOENT)) {
		remove_empty_parents(snapshot);
		return 0;
	}
	e = btrfs_util_delete_subvolume(snapshot, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot delete snapshot %s: %s: %m", snapshot,
		            btrfs_util_strerror(e));
	remove_empty_parents(snapshot);
	return 0;
}

static int btrfs_exists(const char *snapshot) {
	return btrfs_util_is_subvolume(snapshot) == BTRFS_UTIL_OK;
}

static int btrfs_rollback(const char *volume, const char *snapshot, char **ret_error) {
	_cleanup_free_ char *a = strdup(volume), *b = strdup(volume), *next = NULL;
	if (!a || !b)
		return -ENOMEM;
	if (asprintf(&next, "%s/.%s.ckptd-rollback", dirname(a), basename(b)) < 0)
		return -ENOMEM;

	if (!btrfs_exists(snapshot))
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing", snapshot);
	/* A leftover of an interrupted rollback: it is never the live volume, drop it. */
	if (btrfs_exists(next)) {
		enum btrfs_util_error e = btrfs_util_delete_subvolume(next, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
		if (e != BTRFS_UTIL_OK)
			return error_setf(ret_error, btrfs_errno(e), "cannot delete leftover %s: %s: %m", next,
			            btrfs_util_strerror(e));
	}

	/* A writable snapshot of the pair's snapshot, swapped in atomically: the live path is
	 * either all old or all new, and the pair's snapshot stays as it was. */
	enum btrfs_util_error e = btrfs_util_create_snapshot(snapshot, next, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot create %s from snapshot %s: %s: %m", next, snapshot,
		            btrfs_util_strerror(e));
	if (renameat2(AT_FDCWD, next, AT_FDCWD, volume, RENAME_EXCHANGE) < 0) {
		int r = negative_errno();
		(void) btrfs_util_delete_subvolume(next, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
		if (r == -EBUSY)
			return error_setf(ret_error, r, "cannot replace volume %s: it is a mount point or in use", volume);
		return error_setf(ret_error, r, "cannot replace volume %s: %m", volume);
	}
	/* "next" now holds the replaced state; the live volume is the pair's. */
	e = btrfs_util_delete_subvolume(next, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, 0, "volume %s rolled back, but the replaced state %s could not be deleted: %s",
		            volume, next, btrfs_util_strerror(e));
	return 0;
}

static int btrfs_space(const char *volume, uint64_t *ret_total, uint64_t *ret_free) {
	struct statvfs sv;
	if (statvfs(volume, &sv) < 0)
		return negative_errno();
	*ret_total = (uint64_t) sv.f_blocks * sv.f_frsize;
	*ret_free = (uint64_t) sv.f_bavail * sv.f_frsize;
	return 0;
}

const struct snapshot_backend btrfs_backend = {
	.name = "btrfs",
	.recognizes = btrfs_recognizes,
	.check = btrfs_check,
	.snapshot_location = btrfs_snapshot_location,
	.prepare = btrfs_prepare,
	.snapshot = btrfs_snapshot,
	.remove = btrfs_remove,
	.exists = btrfs_exists,
	.rollback = btrfs_rollback,
	.space = btrfs_space,
};
