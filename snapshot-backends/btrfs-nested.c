/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The subvolumes nested in a btrfs volume: a volume's snapshot holds only an empty directory
 * where each of them is, so each gets a snapshot of its own, beside the volume's, and a
 * rollback puts them back in place. Each is reached below the volume through directory fds,
 * without following a symlink (openat_beneath()). See btrfs.c. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "btrfs-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

int btrfs_subvolume_check_fd(int fd, const char *what, char **ret_error) {
	enum btrfs_util_error e = btrfs_util_is_subvolume_fd(fd);
	if (e == BTRFS_UTIL_ERROR_NOT_BTRFS)
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is not on a btrfs filesystem", what);
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is a directory, not a btrfs subvolume", what);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "%s: %s: %m", what, btrfs_util_strerror(e));
	return 0;
}

/* A path relative to a volume, as snapshot() records it: no empty, ".", ".." or ".ckptd"
 * component. */
bool btrfs_nested_path_is_valid(const char *p) {
	if (!p || !*p || *p == '/' || strlen(p) >= PATH_MAX)
		return false;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') ||
		    (n == 6 && strncmp(c, ".ckptd", 6) == 0))
			return false;
		c += n;
		if (*c == '/')
			c++;
		if (*c == '\0' && c[-1] == '/')
			return false;
	}
	return true;
}

/* Opens the directory of a nested path below DIRFD (its parent, for "a/b": "a"; DIRFD itself
 * for "b") and points *ret_leaf at the last component. */
static int open_nested_parent(int dirfd, const char *path, char *buf, size_t size, const char **ret_leaf) {
	if (snprintf(buf, size, "%s", path) >= (int) size)
		return -ENAMETOOLONG;
	char *slash = strrchr(buf, '/');
	if (!slash) {
		*ret_leaf = buf;
		int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? negative_errno() : fd;
	}
	*slash = '\0';
	*ret_leaf = slash + 1;
	return openat_beneath(dirfd, buf, O_RDONLY | O_DIRECTORY);
}

/* Calls fn for every subvolume nested in the subvolume at FD (paths relative to it; parents
 * first, or children first with post_order) until fn returns a negative errno. WHAT names the
 * subvolume in messages. */
typedef int (*nested_fn)(int fd, const char *what, const char *path, void *userdata, char **ret_error);
static int for_each_nested(int fd, const char *what, bool post_order, nested_fn fn, void *userdata, char **ret_error) {
	struct btrfs_util_subvolume_iterator *it = NULL;
	enum btrfs_util_error e = btrfs_util_create_subvolume_iterator_fd(
	        fd, 0, post_order ? BTRFS_UTIL_SUBVOLUME_ITERATOR_POST_ORDER : 0, &it);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot list the subvolumes in %s: %s", what, btrfs_util_strerror(e));
	int r = 0;
	for (;;) {
		char *p = NULL;
		e = btrfs_util_subvolume_iterator_next(it, &p, NULL);
		if (e != BTRFS_UTIL_OK) {
			if (e != BTRFS_UTIL_ERROR_STOP_ITERATION)
				r = error_setf(ret_error, btrfs_errno(e), "cannot list the subvolumes in %s: %s", what,
				               btrfs_util_strerror(e));
			break;
		}
		r = fn(fd, what, p, userdata, ret_error);
		free(p);
		if (r < 0)
			break;
	}
	btrfs_util_destroy_subvolume_iterator(it);
	return r;
}

static int delete_nested(int fd, const char *what, const char *path, _unused_ void *userdata, char **ret_error) {
	char buf[PATH_MAX];
	const char *leaf;
	_cleanup_close_ int pfd = open_nested_parent(fd, path, buf, sizeof(buf), &leaf);
	if (pfd < 0)
		return error_setf(ret_error, pfd, "cannot reach subvolume %s/%s: %m", what, path);
	enum btrfs_util_error e = btrfs_util_delete_subvolume_fd(pfd, leaf, 0);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot delete subvolume %s/%s: %s: %m", what, path,
		                  btrfs_util_strerror(e));
	return 0;
}

/* Deletes the subvolume NAME in DIRFD with every subvolume nested in it, children first, each
 * reached below it without following a symlink. For ckptd's own working copies only. */
int btrfs_delete_tree_at(int dirfd, const char *dir, const char *name, char **ret_error) {
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : btrfs_refuse(ret_error, negative_errno(), dir, name);
	_cleanup_free_ char *what = path_join(dir, name);
	if (!what)
		return -ENOMEM;
	int r = btrfs_subvolume_check_fd(fd, what, ret_error);
	if (r < 0)
		return r;
	r = for_each_nested(fd, what, true, delete_nested, NULL, ret_error);
	if (r < 0)
		return r;
	enum btrfs_util_error e = btrfs_util_delete_subvolume_fd(dirfd, name, 0);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot delete %s: %s: %m", what, btrfs_util_strerror(e));
	return 0;
}

/* Before freezing: every subvolume nested in the volume (snapshot() takes them in the window)
 * can be reached below it without a symlink. */
static int nested_reachable(int fd, const char *what, const char *path, _unused_ void *userdata, char **ret_error) {
	if (!btrfs_nested_path_is_valid(path))
		return 0; /* below a .ckptd directory: not snapshotted */
	int sfd = openat_beneath(fd, path, O_RDONLY | O_DIRECTORY);
	if (sfd < 0)
		return error_setf(ret_error, sfd, "nested subvolume %s/%s cannot be reached without a symlink: %m", what, path);
	close(sfd);
	return 0;
}

int btrfs_nested_check_reachable(int fd, const char *what, char **ret_error) {
	return for_each_nested(fd, what, false, nested_reachable, NULL, ret_error);
}

struct snapshot_nested {
	struct snapdir *d;
	json_t *paths;   /* what was snapshotted: nested snapshot k is paths[k - 1] */
	int dir_fd;      /* ID/<base>.nested, made at the first one */
};

/* Those below a .ckptd directory are ckptd's own snapshots of another volume, not the
 * container's data: skipped. */
static int snapshot_nested_one(int fd, const char *what, const char *path, void *userdata, char **ret_error) {
	struct snapshot_nested *n = userdata;
	if (!btrfs_nested_path_is_valid(path))
		return 0;
	if (n->dir_fd < 0) {
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "%s" NESTED_SUFFIX, n->d->base) < 0)
			return -ENOMEM;
		n->dir_fd = open_private_dir(n->d->id_fd, name, true);
		if (n->dir_fd < 0)
			return btrfs_refuse(ret_error, n->dir_fd, n->d->id_path, name);
	}
	_cleanup_close_ int sfd = openat_beneath(fd, path, O_RDONLY | O_DIRECTORY);
	if (sfd < 0)
		return error_setf(ret_error, sfd, "nested subvolume %s/%s cannot be reached without a symlink: %m", what, path);
	char k[32];
	snprintf(k, sizeof(k), "%zu", json_array_size(n->paths) + 1);
	enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(sfd, n->dir_fd, k, BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY,
	                                                         NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "snapshot of nested subvolume %s/%s failed: %s: %m", what, path,
		                  btrfs_util_strerror(e));
	return json_array_append_new(n->paths, json_string(path)) < 0 ? -ENOMEM : 0;
}

int btrfs_nested_snapshot(int fd, const char *what, struct snapdir *d, json_t **ret_paths, char **ret_error) {
	struct snapshot_nested n = { .d = d, .paths = json_array(), .dir_fd = -EBADF };
	int r = n.paths ? for_each_nested(fd, what, false, snapshot_nested_one, &n, ret_error) : -ENOMEM;
	if (n.dir_fd >= 0)
		close(n.dir_fd);
	if (r < 0 || json_array_size(n.paths) == 0)
		json_decref(TAKE_PTR(n.paths));
	if (r < 0)
		return r;
	*ret_paths = n.paths;
	return 0;
}

/* A subvolume nested in the volume below a .ckptd directory is another volume's snapshot, which
 * a rollback of this one would delete with the replaced state. */
static int not_foreign_snapshot(_unused_ int fd, const char *what, const char *path, _unused_ void *userdata,
                                char **ret_error) {
	if (btrfs_nested_path_is_valid(path))
		return 0;
	return error_setf(ret_error, -EBUSY, "volume %s holds ckptd snapshots of another volume (%s/%s): rolling it back "
	                  "would delete them; move that volume out of this one", what, what, path);
}

int btrfs_nested_check_not_foreign(int fd, const char *what, char **ret_error) {
	return for_each_nested(fd, what, false, not_foreign_snapshot, NULL, ret_error);
}

/* Puts the pair's nested snapshots into the fresh copy at COPY_FD, each where its empty
 * placeholder directory is. */
int btrfs_nested_restore(struct snapdir *d, int copy_fd, const char *copy_path, json_t *nested, char **ret_error) {
	_cleanup_free_ char *name = NULL, *path = NULL;
	if (asprintf(&name, "%s" NESTED_SUFFIX, d->base) < 0 || !(path = path_join(d->id_path, name)))
		return -ENOMEM;
	_cleanup_close_ int nfd = open_private_dir(d->id_fd, name, false);
	if (nfd < 0)
		return btrfs_refuse(ret_error, nfd, d->id_path, name);
	size_t i;
	json_t *v;
	json_array_foreach(nested, i, v) {
		const char *p = json_string_value(v);
		char k[32], buf[PATH_MAX];
		const char *leaf;
		snprintf(k, sizeof(k), "%zu", i + 1);
		_cleanup_close_ int sfd = openat(nfd, k, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || btrfs_util_is_subvolume_fd(sfd) != BTRFS_UTIL_OK)
			return error_setf(ret_error, sfd < 0 ? negative_errno() : -EMEDIUMTYPE,
			                  "snapshot %s/%s of nested subvolume %s is missing or not a subvolume", path, k, strna(p));
		_cleanup_close_ int pfd = open_nested_parent(copy_fd, p, buf, sizeof(buf), &leaf);
		if (pfd < 0)
			return error_setf(ret_error, pfd, "cannot reach %s/%s without a symlink: %m", copy_path, p);
		if (unlinkat(pfd, leaf, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return error_setf(ret_error, negative_errno(), "cannot make room for nested subvolume %s/%s: %m",
			                  copy_path, p);
		enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(sfd, pfd, leaf, 0, NULL, NULL);
		if (e != BTRFS_UTIL_OK)
			return error_setf(ret_error, btrfs_errno(e), "cannot put nested subvolume %s back from %s/%s: %s: %m", p,
			                  path, k, btrfs_util_strerror(e));
	}
	return 0;
}
