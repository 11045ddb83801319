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
 * refused with its path, never followed.
 *
 * This file is the backend's vtable; ckptd's directories are btrfs-snapdir.c's, the nested
 * subvolumes btrfs-nested.c's. */
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
#include "btrfs-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "mountinfo.h"

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
	int r = btrfs_subvolume_check_fd(fd, what, ret_error);
	if (r < 0)
		return r;
	r = btrfs_nested_check_reachable(fd, volume, ret_error);
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
	json_t *paths = NULL;
	r = btrfs_nested_snapshot(fd, volume, &d, &paths, ret_error);
	if (r < 0) {
		(void) snapdir_remove(&d, NULL); /* nothing of a failed snapshot stays */
		return r;
	}
	*ret_nested = paths;
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

/* One volume's rollback on its way: the pair's snapshot, the live volume, and the copy that
 * replaces it. */
struct rollback {
	const char *volume, *snapshot;
	struct snapdir d;
	int snap_fd;                  /* the pair's snapshot, ID/<base> */
	char *dir_buf, *base_buf;     /* for dirname() and basename() of the volume */
	const char *vdir, *vbase;
	int vol_fd, parent_fd;        /* the live volume and its directory */
	struct volume_identity live;
	int rb_fd;                    /* NAME/rollback, where the copy is made */
	char *rdir, *next;            /* its path, and the copy's */
};

static void rollback_done(struct rollback *rb) {
	snapdir_done(&rb->d);
	closep(&rb->snap_fd);
	closep(&rb->vol_fd);
	closep(&rb->parent_fd);
	closep(&rb->rb_fd);
	free(rb->dir_buf);
	free(rb->base_buf);
	free(rb->rdir);
	free(rb->next);
}

/* The pair's snapshot, a subvolume in ckptd's directory; its nested paths plain relative ones. */
static int rollback_open_snapshot(struct rollback *rb, json_t *nested, char **ret_error) {
	size_t i;
	json_t *v;
	json_array_foreach(nested, i, v)
		if (!btrfs_nested_path_is_valid(json_string_value(v)))
			return error_setf(ret_error, -EBADMSG, "nested subvolume path '%s' of %s is not a plain relative path",
			                  strna(json_string_value(v)), rb->snapshot);

	int r = snapdir_open(rb->snapshot, false, &rb->d, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "snapshot %s is missing", rb->snapshot);
	if (r < 0)
		return r;
	rb->snap_fd = openat(rb->d.id_fd, rb->d.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rb->snap_fd < 0 || btrfs_util_is_subvolume_fd(rb->snap_fd) != BTRFS_UTIL_OK)
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing or not a subvolume", rb->snapshot);
	return 0;
}

/* The live volume: its directory and its name there, both reached without a symlink; its
 * identity, and no other volume's snapshots in it. */
static int rollback_open_live(struct rollback *rb, char **ret_error) {
	rb->dir_buf = strdup(rb->volume);
	rb->base_buf = strdup(rb->volume);
	if (!rb->dir_buf || !rb->base_buf)
		return -ENOMEM;
	rb->vdir = dirname(rb->dir_buf);
	rb->vbase = basename(rb->base_buf);
	rb->vol_fd = open_volume(rb->volume, ret_error);
	if (rb->vol_fd < 0)
		return rb->vol_fd;
	rb->parent_fd = open_nofollow(rb->vdir, O_RDONLY | O_DIRECTORY);
	if (rb->parent_fd < 0)
		return error_setf(ret_error, rb->parent_fd, "%s: %m", rb->vdir);
	int r = identify_fd(rb->vol_fd, &rb->live);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read its subvolume id: %m", rb->volume);
	return btrfs_nested_check_not_foreign(rb->vol_fd, rb->volume, ret_error);
}

/* A writable snapshot of the pair's snapshot, with its nested ones put back, at NAME/rollback/
 * <volume basename>. */
static int rollback_make_copy(struct rollback *rb, json_t *nested, char **ret_error) {
	rb->rb_fd = open_private_dir(rb->d.name_fd, ROLLBACK_DIR, true);
	if (rb->rb_fd < 0)
		return btrfs_refuse(ret_error, rb->rb_fd, rb->d.name_path, ROLLBACK_DIR);
	rb->rdir = path_join(rb->d.name_path, ROLLBACK_DIR);
	rb->next = rb->rdir ? path_join(rb->rdir, rb->vbase) : NULL;
	if (!rb->next)
		return -ENOMEM;
	/* A leftover of an interrupted rollback: never the live volume, drop it. */
	int r = btrfs_delete_tree_at(rb->rb_fd, rb->rdir, rb->vbase, ret_error);
	if (r < 0)
		return r;
	enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(rb->snap_fd, rb->rb_fd, rb->vbase, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot create %s from snapshot %s: %s: %m", rb->next,
		                  rb->snapshot, btrfs_util_strerror(e));
	if (json_array_size(nested) > 0) {
		_cleanup_close_ int cfd = openat(rb->rb_fd, rb->vbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = cfd < 0 ? error_setf(ret_error, negative_errno(), "%s: %m", rb->next) :
		              btrfs_nested_restore(&rb->d, cfd, rb->next, nested, ret_error);
		if (r < 0) {
			(void) btrfs_delete_tree_at(rb->rb_fd, rb->rdir, rb->vbase, NULL);
			return r;
		}
	}
	return 0;
}

/* The copy swapped in atomically, then the replaced state deleted. */
static int rollback_swap(struct rollback *rb, char **ret_error) {
	int rfd = rb->rb_fd, pfd = rb->parent_fd;
	const char *volume = rb->volume, *vbase = rb->vbase;
	if (renameat2(rfd, vbase, pfd, vbase, RENAME_EXCHANGE) < 0) {
		int r = negative_errno();
		(void) btrfs_delete_tree_at(rfd, rb->rdir, vbase, NULL);
		if (r == -EBUSY)
			return error_setf(ret_error, r, "cannot replace volume %s: it is a mount point or in use", volume);
		return error_setf(ret_error, r, "cannot replace volume %s: %m", volume);
	}
	/* What came out must be the volume checked before, not something swapped in since. */
	struct volume_identity out = {};
	_cleanup_close_ int ofd = openat(rfd, vbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0 || identify_fd(ofd, &out) < 0 || out.dev != rb->live.dev || out.id != rb->live.id) {
		if (renameat2(rfd, vbase, pfd, vbase, RENAME_EXCHANGE) < 0)
			return error_setf(ret_error, -ESTALE,
			                  "volume %s was replaced by something else during the rollback; what was there is now "
			                  "at %s and the pair's copy at %s: check both by hand", volume, rb->next, volume);
		(void) btrfs_delete_tree_at(rfd, rb->rdir, vbase, NULL);
		return error_setf(ret_error, -ESTALE, "volume %s was replaced by something else during the rollback: "
		                  "nothing was changed", volume);
	}
	/* "next" now holds the replaced state; the live volume is the pair's. */
	_cleanup_free_ char *why = NULL;
	int r = btrfs_delete_tree_at(rfd, rb->rdir, vbase, &why);
	(void) unlinkat(rb->d.name_fd, ROLLBACK_DIR, AT_REMOVEDIR);
	if (r < 0)
		return error_setf(ret_error, 0, "volume %s rolled back, but the replaced state %s could not be deleted: %s",
		                  volume, rb->next, strna(why));
	return 0;
}

/* A writable snapshot of the pair's snapshot (with its nested ones put back) is made in ckptd's
 * own directory, then swapped in atomically: the live path is either all old or all new, and
 * the pair's snapshots stay as they were. */
static int btrfs_rollback(const char *volume, const char *snapshot, json_t *nested, char **ret_error) {
	_cleanup_(rollback_done) struct rollback rb = {
		.volume = volume, .snapshot = snapshot,
		.d = { .parent_fd = -EBADF, .ckptd_fd = -EBADF, .name_fd = -EBADF, .id_fd = -EBADF },
		.snap_fd = -EBADF, .vol_fd = -EBADF, .parent_fd = -EBADF, .rb_fd = -EBADF,
	};
	int r;
	if ((r = rollback_open_snapshot(&rb, nested, ret_error)) < 0 || (r = rollback_open_live(&rb, ret_error)) < 0 ||
	    (r = rollback_make_copy(&rb, nested, ret_error)) < 0)
		return r;
	return rollback_swap(&rb, ret_error);
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
	.send = btrfs_send_snapshot,
	.send_incremental = true,
	.receive = btrfs_receive_snapshot,
	.receive_abort = btrfs_receive_abort,
	.create_from = btrfs_create_from_snapshot,
};

