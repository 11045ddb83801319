/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* btrfs volumes: a subvolume by path. Snapshots are read-only subvolumes beside it, at
 * <volume's parent>/.ckptd/NAME/ID/<volume basename>, through libbtrfsutil; the subvolumes
 * nested in the volume go to <...>/ID/<volume basename>.nested/1, 2, ... (parents first), so
 * that a rollback puts them back in place.
 *
 * Path safety. Whoever can write to the volume's parent (a container whose root is that
 * directory, say) can plant a symlink or a directory of its own where ckptd is about to work.
 * So: the volume is opened without following a symlink anywhere in its path; everything below
 * <parent> is reached through directory fds, one component at a time, never through a symlink;
 * .ckptd, NAME, ID and NAME/rollback must be directories owned by root that nobody else may
 * write to; a snapshot is deleted only when it is a read-only subvolume there. Anything else is
 * refused with its path, never followed. */
#include <btrfsutil.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "backend.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "mountinfo.h"

#define NESTED_SUFFIX ".nested"
#define ROLLBACK_DIR "rollback"

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

static void close_fd(int *fd) {
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}

/* Why a directory that ckptd looks for is not usable, as a sentence naming DIR/NAME. */
static int refuse(char **ret_error, int r, const char *dir, const char *name) {
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

/* The volume, opened without following a symlink in its path. */
static int open_volume(const char *volume, char **ret_error) {
	int fd = open_nofollow(volume, O_RDONLY | O_DIRECTORY);
	if (fd >= 0)
		return fd;
	if (fd == -ELOOP) {
		_cleanup_free_ char *real = realpath(volume, NULL);
		return error_setf(ret_error, fd,
		                  "volume %s is reached through a symlink%s%s%s: ckptd does not follow symlinks to "
		                  "volumes; name the real path in Volume=", volume, real ? " (it resolves to " : "",
		                  real ? real : "", real ? ")" : "");
	}
	return error_setf(ret_error, fd, "volume %s: %m", volume);
}

static int subvolume_check_fd(int fd, const char *what, char **ret_error) {
	enum btrfs_util_error e = btrfs_util_is_subvolume_fd(fd);
	if (e == BTRFS_UTIL_ERROR_NOT_BTRFS)
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is not on a btrfs filesystem", what);
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is a directory, not a btrfs subvolume", what);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "%s: %s: %m", what, btrfs_util_strerror(e));
	return 0;
}

static int identify_fd(int fd, struct volume_identity *ret) {
	struct stat st;
	uint64_t id;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	enum btrfs_util_error e = btrfs_util_subvolume_id_fd(fd, &id);
	if (e != BTRFS_UTIL_OK)
		return btrfs_errno(e);
	*ret = (struct volume_identity) { .dev = st.st_dev, .id = id };
	return 0;
}

/* A path relative to a volume, as snapshot() records it: no empty, ".", ".." or ".ckptd"
 * component. */
static bool nested_path_is_valid(const char *p) {
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

/* The directories of a snapshot <parent>/.ckptd/NAME/ID/<base>, opened one by one. */
struct snapdir {
	int parent_fd, ckptd_fd, name_fd, id_fd;
	char *buf;
	const char *parent, *name, *id, *base;
	char *ckptd_path, *name_path, *id_path; /* for messages */
};

static void snapdir_done(struct snapdir *d) {
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
static int snapdir_open(const char *snapshot, bool create, struct snapdir *d, char **ret_error) {
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
		return refuse(ret_error, r, d->parent, ".ckptd");
	if (d->name_fd < 0)
		return refuse(ret_error, r, d->ckptd_path, d->name);
	return refuse(ret_error, r, d->name_path, d->id);
}

/* Deletes the read-only subvolume NAME in DIRFD (a ckptd snapshot); a missing one is success. */
static int delete_snapshot_at(int dirfd, const char *dir, const char *name, char **ret_error) {
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		struct stat st;
		if (errno == ENOENT)
			return 0;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
			return refuse(ret_error, -ELOOP, dir, name);
		return refuse(ret_error, negative_errno(), dir, name);
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
static int delete_tree_at(int dirfd, const char *dir, const char *name, char **ret_error) {
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : refuse(ret_error, negative_errno(), dir, name);
	_cleanup_free_ char *what = path_join(dir, name);
	if (!what)
		return -ENOMEM;
	int r = subvolume_check_fd(fd, what, ret_error);
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

/* Removes the snapshot at d (its nested snapshots first), then the levels that became empty. */
static int snapdir_remove(struct snapdir *d, char **ret_error) {
	_cleanup_free_ char *nested = NULL, *nested_path = NULL;
	if (asprintf(&nested, "%s" NESTED_SUFFIX, d->base) < 0 || !(nested_path = path_join(d->id_path, nested)))
		return -ENOMEM;
	int nfd = open_private_dir(d->id_fd, nested, false);
	if (nfd < 0 && nfd != -ENOENT)
		return refuse(ret_error, nfd, d->id_path, nested);
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

/* Before freezing: every subvolume nested in the volume (snapshot() takes them in the window)
 * can be reached below it without a symlink. */
static int nested_reachable(int fd, const char *what, const char *path, _unused_ void *userdata, char **ret_error) {
	if (!nested_path_is_valid(path))
		return 0; /* below a .ckptd directory: not snapshotted */
	int sfd = openat_beneath(fd, path, O_RDONLY | O_DIRECTORY);
	if (sfd < 0)
		return error_setf(ret_error, sfd, "nested subvolume %s/%s cannot be reached without a symlink: %m", what, path);
	close(sfd);
	return 0;
}

static bool btrfs_recognizes(const char *volume) {
	return volume[0] == '/';
}

/* The name of the file system PATH is on ("ext4", "tmpfs"), from the mount table. */
static char *fstype_of(const char *path, unsigned long magic) {
	struct stat st;
	_cleanup_(mounts_done) struct mounts ms = {};
	char *name = NULL;
	if (stat(path, &st) >= 0 && mounts_parse("/proc/self/mountinfo", &ms) >= 0)
		for (size_t i = 0; i < ms.n && !name; i++)
			if (makedev(ms.m[i].major, ms.m[i].minor) == st.st_dev)
				name = strdup(ms.m[i].fstype);
	if (!name && asprintf(&name, "a file system of type 0x%lx", magic) < 0)
		name = NULL;
	return name;
}

/* A path is the btrfs backend's only on btrfs; whether it is a subvolume (and reached without a
 * symlink) check() says, in its words. */
static int btrfs_probe(const char *volume, char **ret_error) {
	struct statfs sfs;
	if (statfs(volume, &sfs) < 0 || sfs.f_type == BTRFS_SUPER_MAGIC)
		return 0; /* a missing volume: check() names the problem */
	_cleanup_free_ char *fstype = fstype_of(volume, (unsigned long) sfs.f_type);
	return error_setf(ret_error, -EMEDIUMTYPE, "%s is on %s", volume, strna(fstype));
}

static int btrfs_check(const char *volume, const struct volume_identity *expect, char **ret_error) {
	_cleanup_close_ int fd = open_volume(volume, ret_error);
	if (fd < 0)
		return fd;
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "volume %s", volume) < 0)
		return -ENOMEM;
	int r = subvolume_check_fd(fd, what, ret_error);
	if (r < 0)
		return r;
	r = for_each_nested(fd, volume, false, nested_reachable, NULL, ret_error);
	if (r < 0 || !expect || expect->id == 0)
		return r;
	struct volume_identity now;
	r = identify_fd(fd, &now);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read its subvolume id: %m", volume);
	if (now.dev != expect->dev || now.id != expect->id)
		return error_setf(ret_error, -ESTALE,
		                  "volume %s is no longer the subvolume it was when ckptd loaded its configuration "
		                  "(subvolume id %" PRIu64 " then, %" PRIu64 " now): it was replaced by something else; check "
		                  "it, then reload ckptd to accept it", volume, expect->id, now.id);
	return 0;
}

static int btrfs_identify(const char *volume, struct volume_identity *ret, char **ret_error) {
	_cleanup_close_ int fd = open_volume(volume, ret_error);
	if (fd < 0)
		return fd;
	int r = identify_fd(fd, ret);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read its subvolume id: %m", volume);
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
	/* A snapshot with hundreds of MB dirty takes hundreds of ms: flush now, outside the window. */
	_cleanup_close_ int fd = open_volume(volume, ret_error);
	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		return error_setf(ret_error, negative_errno(), "syncfs of volume %s failed: %m", volume);

	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, true, &d, ret_error);
	if (r < 0)
		return r;
	_cleanup_free_ char *nested = NULL;
	if (asprintf(&nested, "%s" NESTED_SUFFIX, d.base) < 0)
		return -ENOMEM;
	struct stat st;
	if (fstatat(d.id_fd, d.base, &st, AT_SYMLINK_NOFOLLOW) >= 0 || fstatat(d.id_fd, nested, &st, AT_SYMLINK_NOFOLLOW) >= 0)
		return error_setf(ret_error, -EEXIST, "%s already exists: a leftover, not made by this job; refusing to "
		                  "touch it", snapshot);
	return 0;
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
	if (!nested_path_is_valid(path))
		return 0;
	if (n->dir_fd < 0) {
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "%s" NESTED_SUFFIX, n->d->base) < 0)
			return -ENOMEM;
		n->dir_fd = open_private_dir(n->d->id_fd, name, true);
		if (n->dir_fd < 0)
			return refuse(ret_error, n->dir_fd, n->d->id_path, name);
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

static int btrfs_snapshot(const char *volume, const char *snapshot, _unused_ const struct snapshot_params *params,
                          json_t **ret_nested, char **ret_error) {
	_cleanup_close_ int fd = open_volume(volume, ret_error);
	if (fd < 0)
		return fd;
	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, false, &d, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "%s vanished after it was prepared", snapshot);
	if (r < 0)
		return r;
	enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(fd, d.id_fd, d.base, BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY,
	                                                         NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "snapshot of %s at %s failed: %s: %m", volume, snapshot,
		                  btrfs_util_strerror(e));

	/* The subvolumes nested in the volume are not in its snapshot (only an empty directory is):
	 * each gets its own, in the same window. */
	struct snapshot_nested n = { .d = &d, .paths = json_array(), .dir_fd = -EBADF };
	r = n.paths ? for_each_nested(fd, volume, false, snapshot_nested_one, &n, ret_error) : -ENOMEM;
	if (n.dir_fd >= 0)
		close(n.dir_fd);
	if (r < 0) {
		json_decref(n.paths);
		(void) snapdir_remove(&d, NULL); /* nothing of a failed snapshot stays */
		return r;
	}
	if (json_array_size(n.paths) == 0)
		json_decref(TAKE_PTR(n.paths));
	*ret_nested = n.paths;
	return 0;
}

static int btrfs_remove(const char *snapshot, char **ret_error) {
	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, false, &d, ret_error);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return snapdir_remove(&d, ret_error);
}

static int btrfs_exists(const char *snapshot, size_t n_nested) {
	_cleanup_(snapdir_done) struct snapdir d = {};
	if (snapdir_open(snapshot, false, &d, NULL) < 0)
		return 0;
	_cleanup_close_ int fd = openat(d.id_fd, d.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || btrfs_util_is_subvolume_fd(fd) != BTRFS_UTIL_OK)
		return 0;
	if (n_nested == 0)
		return 1;
	_cleanup_free_ char *nested = NULL;
	if (asprintf(&nested, "%s" NESTED_SUFFIX, d.base) < 0)
		return -ENOMEM;
	_cleanup_close_ int nfd = open_private_dir(d.id_fd, nested, false);
	if (nfd < 0)
		return 0;
	for (size_t k = 1; k <= n_nested; k++) {
		char name[32];
		snprintf(name, sizeof(name), "%zu", k);
		_cleanup_close_ int sfd = openat(nfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || btrfs_util_is_subvolume_fd(sfd) != BTRFS_UTIL_OK)
			return 0;
	}
	return 1;
}

/* A subvolume nested in the volume below a .ckptd directory is another volume's snapshot, which
 * a rollback of this one would delete with the replaced state. */
static int not_foreign_snapshot(_unused_ int fd, const char *what, const char *path, _unused_ void *userdata,
                                char **ret_error) {
	if (nested_path_is_valid(path))
		return 0;
	return error_setf(ret_error, -EBUSY, "volume %s holds ckptd snapshots of another volume (%s/%s): rolling it back "
	                  "would delete them; move that volume out of this one", what, what, path);
}

/* Puts the pair's nested snapshots into the fresh copy at COPY_FD, each where its empty
 * placeholder directory is. */
static int restore_nested(struct snapdir *d, int copy_fd, const char *copy_path, json_t *nested, char **ret_error) {
	_cleanup_free_ char *name = NULL, *path = NULL;
	if (asprintf(&name, "%s" NESTED_SUFFIX, d->base) < 0 || !(path = path_join(d->id_path, name)))
		return -ENOMEM;
	_cleanup_close_ int nfd = open_private_dir(d->id_fd, name, false);
	if (nfd < 0)
		return refuse(ret_error, nfd, d->id_path, name);
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

static int btrfs_rollback(const char *volume, const char *snapshot, json_t *nested, char **ret_error) {
	size_t i;
	json_t *v;
	json_array_foreach(nested, i, v)
		if (!nested_path_is_valid(json_string_value(v)))
			return error_setf(ret_error, -EBADMSG, "nested subvolume path '%s' of %s is not a plain relative path",
			                  strna(json_string_value(v)), snapshot);

	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, false, &d, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "snapshot %s is missing", snapshot);
	if (r < 0)
		return r;
	_cleanup_close_ int sfd = openat(d.id_fd, d.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || btrfs_util_is_subvolume_fd(sfd) != BTRFS_UTIL_OK)
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing or not a subvolume", snapshot);

	/* The live volume: its directory and its name there, both reached without a symlink. */
	_cleanup_free_ char *a = strdup(volume), *b = strdup(volume);
	if (!a || !b)
		return -ENOMEM;
	const char *vdir = dirname(a), *vbase = basename(b);
	_cleanup_close_ int vfd = open_volume(volume, ret_error);
	if (vfd < 0)
		return vfd;
	_cleanup_close_ int pfd = open_nofollow(vdir, O_RDONLY | O_DIRECTORY);
	if (pfd < 0)
		return error_setf(ret_error, pfd, "%s: %m", vdir);
	struct volume_identity live;
	r = identify_fd(vfd, &live);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read its subvolume id: %m", volume);
	r = for_each_nested(vfd, volume, false, not_foreign_snapshot, NULL, ret_error);
	if (r < 0)
		return r;

	/* A writable snapshot of the pair's snapshot (with its nested ones put back) is made in
	 * ckptd's own directory, then swapped in atomically: the live path is either all old or all
	 * new, and the pair's snapshots stay as they were. */
	_cleanup_close_ int rfd = open_private_dir(d.name_fd, ROLLBACK_DIR, true);
	if (rfd < 0)
		return refuse(ret_error, rfd, d.name_path, ROLLBACK_DIR);
	_cleanup_free_ char *rdir = path_join(d.name_path, ROLLBACK_DIR);
	_cleanup_free_ char *next = rdir ? path_join(rdir, vbase) : NULL;
	if (!next)
		return -ENOMEM;
	/* A leftover of an interrupted rollback: never the live volume, drop it. */
	r = delete_tree_at(rfd, rdir, vbase, ret_error);
	if (r < 0)
		return r;
	enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(sfd, rfd, vbase, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot create %s from snapshot %s: %s: %m", next, snapshot,
		                  btrfs_util_strerror(e));
	if (json_array_size(nested) > 0) {
		_cleanup_close_ int cfd = openat(rfd, vbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = cfd < 0 ? error_setf(ret_error, negative_errno(), "%s: %m", next) :
		              restore_nested(&d, cfd, next, nested, ret_error);
		if (r < 0) {
			(void) delete_tree_at(rfd, rdir, vbase, NULL);
			return r;
		}
	}

	if (renameat2(rfd, vbase, pfd, vbase, RENAME_EXCHANGE) < 0) {
		r = negative_errno();
		(void) delete_tree_at(rfd, rdir, vbase, NULL);
		if (r == -EBUSY)
			return error_setf(ret_error, r, "cannot replace volume %s: it is a mount point or in use", volume);
		return error_setf(ret_error, r, "cannot replace volume %s: %m", volume);
	}
	/* What came out must be the volume checked above, not something swapped in since. */
	struct volume_identity out = {};
	_cleanup_close_ int ofd = openat(rfd, vbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0 || identify_fd(ofd, &out) < 0 || out.dev != live.dev || out.id != live.id) {
		if (renameat2(rfd, vbase, pfd, vbase, RENAME_EXCHANGE) < 0)
			return error_setf(ret_error, -ESTALE,
			                  "volume %s was replaced by something else during the rollback; what was there is now "
			                  "at %s and the pair's copy at %s: check both by hand", volume, next, volume);
		(void) delete_tree_at(rfd, rdir, vbase, NULL);
		return error_setf(ret_error, -ESTALE, "volume %s was replaced by something else during the rollback: "
		                  "nothing was changed", volume);
	}
	/* "next" now holds the replaced state; the live volume is the pair's. */
	_cleanup_free_ char *why = NULL;
	r = delete_tree_at(rfd, rdir, vbase, &why);
	(void) unlinkat(d.name_fd, ROLLBACK_DIR, AT_REMOVEDIR);
	if (r < 0)
		return error_setf(ret_error, 0, "volume %s rolled back, but the replaced state %s could not be deleted: %s",
		                  volume, next, strna(why));
	return 0;
}

static int btrfs_space(const char *volume, uint64_t *ret_total, uint64_t *ret_free) {
	_cleanup_close_ int fd = open_nofollow(volume, O_RDONLY | O_DIRECTORY);
	struct statvfs sv;
	if (fd < 0)
		return fd;
	if (fstatvfs(fd, &sv) < 0)
		return negative_errno();
	*ret_total = (uint64_t) sv.f_blocks * sv.f_frsize;
	*ret_free = (uint64_t) sv.f_bavail * sv.f_frsize;
	return 0;
}

const struct snapshot_backend btrfs_backend = {
	.name = "btrfs",
	.recognizes = btrfs_recognizes,
	.probe = btrfs_probe,
	.check = btrfs_check,
	.identify = btrfs_identify,
	.snapshot_location = btrfs_snapshot_location,
	.prepare = btrfs_prepare,
	.snapshot = btrfs_snapshot,
	.remove = btrfs_remove,
	.exists = btrfs_exists,
	.rollback = btrfs_rollback,
	.space = btrfs_space,
};
