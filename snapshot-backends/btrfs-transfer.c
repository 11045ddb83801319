/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* btrfs snapshots between hosts (export, import) and a volume made from an imported snapshot.
 *
 * send: the kernel's send stream of a snapshot (BTRFS_IOC_SEND on the snapshot opened through
 * ckptd's directories, never by a path that could be a symlink), incremental against a base
 * snapshot when given (its subvolume id as parent and clone source), written into a descriptor.
 *
 * receive: `btrfs receive` (the stream is parsed and applied in user space) into the snapshot's
 * directory .ckptd/NAME/ID (root's, 0700, reached through fds), which must be empty: it runs in
 * it (fchdir, then `-C .`: btrfs receive chroots into its working directory, so the paths in the
 * stream cannot leave it). Afterwards exactly one read-only subvolume must be there; it is
 * renamed to the volume's basename (a read-only subvolume can be renamed within its directory
 * only, which is why it is received in place). On any failure what is deleted is only what is in
 * that directory, which was empty before and only root may write to, reached through its fd: a
 * leftover or planted entry refuses the receive before it starts and is left alone, and nothing
 * outside the directory is touched.
 *
 * create_from: a writable snapshot of a pair's snapshot made at the volume's path when nothing
 * is there (a pair imported to a host where the container never ran). */
#include <btrfsutil.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "backend.h"
#include "btrfs-internal.h"
#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "process.h"

/* The snapshot at its ckptd location, opened without following a symlink; must be a subvolume,
 * and read-only if want_ro (send refuses anything else). */
static int open_snapshot(const char *snapshot, bool want_ro, int *ret_fd, char **ret_error) {
	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, false, &d, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "snapshot %s is missing", snapshot);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = openat(d.id_fd, d.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool ro = false;
	if (fd < 0 || btrfs_util_is_subvolume_fd(fd) != BTRFS_UTIL_OK ||
	    (want_ro && (btrfs_util_get_subvolume_read_only_fd(fd, &ro) != BTRFS_UTIL_OK || !ro)))
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing or not a %ssubvolume", snapshot,
		                  want_ro ? "read-only " : "");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int btrfs_send_snapshot(const char *snapshot, const char *base, int out_fd, char **ret_error) {
	_cleanup_close_ int fd = -EBADF, base_fd = -EBADF;
	int r = open_snapshot(snapshot, true, &fd, ret_error);
	if (r < 0)
		return r;
	uint64_t base_id = 0;
	if (base) {
		r = open_snapshot(base, true, &base_fd, ret_error);
		if (r < 0)
			return r;
		enum btrfs_util_error e = btrfs_util_subvolume_id_fd(base_fd, &base_id);
		if (e != BTRFS_UTIL_OK)
			return error_setf(ret_error, btrfs_errno(e), "base snapshot %s: %s", base, btrfs_util_strerror(e));
	}
	__u64 clone_source = base_id;
	struct btrfs_ioctl_send_args args = {
		.send_fd = out_fd,
		.clone_sources_count = base ? 1 : 0,
		.clone_sources = base ? &clone_source : NULL,
		.parent_root = base_id,
	};
	if (ioctl(fd, BTRFS_IOC_SEND, &args) < 0)
		return error_setf(ret_error, negative_errno(), "btrfs send of %s%s%s failed: %m", snapshot,
		                  base ? " against " : "", base ? base : "");
	return 0;
}

/* A new open file description of the directory: btrfs lists only the entries that existed when
 * a directory was opened (kernel 6.5 on), and the receive makes its entries after we opened it. */
static DIR *reopen_dir(int fd) {
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL;
	DIR *d = fdopendir(dfd);
	if (!d)
		close(dfd);
	return d;
}

/* The entries of the directory: *ret_first the first one's name (NULL: empty), *ret_n how many. */
static int dir_entries(int fd, const char *path, char **ret_first, size_t *ret_n, char **ret_error) {
	_cleanup_closedir_ DIR *dir = reopen_dir(fd);
	if (!dir)
		return error_setf(ret_error, negative_errno(), "%s: %m", path);
	_cleanup_free_ char *first = NULL;
	size_t n = 0;
	for (struct dirent *de; (de = readdir(dir));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (n++ == 0 && !(first = strdup(de->d_name)))
			return -ENOMEM;
	}
	*ret_first = TAKE_PTR(first);
	*ret_n = n;
	return 0;
}

/* After a failed receive: deletes what it made in the snapshot's directory (which was empty
 * before and only root may write to), reached through the directory's fd only. */
static int receive_undo(int id_fd, const char *id_path, char **ret_error) {
	_cleanup_closedir_ DIR *dir = reopen_dir(id_fd);
	if (!dir)
		return error_setf(ret_error, negative_errno(), "%s: %m", id_path);
	for (struct dirent *de; (de = readdir(dir));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_close_ int fd = openat(id_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && btrfs_util_is_subvolume_fd(fd) == BTRFS_UTIL_OK) {
			closep(&fd);
			int r = btrfs_delete_tree_at(id_fd, id_path, de->d_name, ret_error);
			if (r < 0)
				return r;
		} else if (unlinkat(id_fd, de->d_name, fd >= 0 ? AT_REMOVEDIR : 0) < 0)
			return error_setf(ret_error, negative_errno(), "cannot remove %s/%s: %m", id_path, de->d_name);
	}
	return 0;
}

/* The one read-only subvolume the receive made, renamed to the snapshot's name (a read-only
 * subvolume can be renamed within its directory, not moved to another one). */
static int receive_result(struct snapdir *d, const char *snapshot, char **ret_error) {
	_cleanup_free_ char *name = NULL;
	size_t n;
	int r = dir_entries(d->id_fd, d->id_path, &name, &n, ret_error);
	if (r < 0)
		return r;
	if (n != 1)
		return error_setf(ret_error, -EBADMSG, "the stream made %zu entries in %s: one subvolume was expected", n,
		                  d->id_path);
	_cleanup_close_ int fd = openat(d->id_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool ro = false;
	if (fd < 0 || btrfs_util_is_subvolume_fd(fd) != BTRFS_UTIL_OK ||
	    btrfs_util_get_subvolume_read_only_fd(fd, &ro) != BTRFS_UTIL_OK || !ro)
		return error_setf(ret_error, -EBADMSG, "%s/%s is not a complete received subvolume", d->id_path, name);
	if (!streq(name, d->base) && renameat2(d->id_fd, name, d->id_fd, d->base, RENAME_NOREPLACE) < 0)
		return error_setf(ret_error, negative_errno(), "cannot rename %s/%s to %s: %m", d->id_path, name, snapshot);
	return 0;
}

static int run_receive(int dir_fd, int in_fd, const char *snapshot, char **ret_error) {
	const char *argv[] = { "btrfs", "receive", "-e", "-C", ".", NULL };
	struct process_spec spec = { .argv = argv, .stdin_fd = in_fd, .cwd_fd = dir_fd, .merge_stderr = true,
	                             .output_max = 64 * 1024 };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = process_run(&spec, &res, ret_error);
	if (r < 0)
		return r;
	log_debug("btrfs receive of %s: %s, said: %s", snapshot, res.exit_status == 0 ? "done" : "failed", res.out);
	if (res.exit_status != 0) {
		char buf[64];
		size_t n = res.out_size;
		while (n > 0 && (res.out[n - 1] == '\n' || res.out[n - 1] == ' '))
			res.out[--n] = '\0';
		const char *last = n > 0 ? strrchr(res.out, '\n') : NULL;
		return error_setf(ret_error, -EBADMSG, "btrfs receive of %s failed (%s): %s", snapshot,
		                  process_result_describe(&res, buf), last ? last + 1 : n > 0 ? res.out : "no message");
	}
	return 0;
}

int btrfs_receive_snapshot(const char *snapshot, int in_fd, char **ret_error) {
	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, true, &d, ret_error);
	if (r < 0)
		return r;
	/* The snapshot's directory must be empty: then everything in it afterwards is the receive's. */
	_cleanup_free_ char *found = NULL;
	size_t n;
	if ((r = dir_entries(d.id_fd, d.id_path, &found, &n, ret_error)) < 0)
		return r;
	if (n > 0)
		return error_setf(ret_error, -EEXIST, "%s already exists and holds %s%s: a leftover, not made by this import; "
		                  "refusing to touch it", d.id_path, found, n > 1 ? " and more" : "");
	_cleanup_free_ char *err = NULL;
	r = run_receive(d.id_fd, in_fd, snapshot, &err);
	if (r >= 0)
		r = receive_result(&d, snapshot, &err);
	if (r < 0) {
		_cleanup_free_ char *why = NULL;
		if (receive_undo(d.id_fd, d.id_path, &why) < 0)
			return error_setf(ret_error, r, "%s; what it received in %s could not be removed: %s", strna(err),
			                  d.id_path, strna(why));
		/* the levels ckptd made for this snapshot go too, each only when empty */
		if (unlinkat(d.name_fd, d.id, AT_REMOVEDIR) >= 0 && unlinkat(d.ckptd_fd, d.name, AT_REMOVEDIR) >= 0)
			(void) unlinkat(d.parent_fd, ".ckptd", AT_REMOVEDIR);
		return error_pass(ret_error, r, &err);
	}
	return r;
}

/* The snapshot's directory was empty when the receive started and only root writes there: what is
 * in it now is the interrupted receive's. */
int btrfs_receive_abort(const char *snapshot, char **ret_error) {
	_cleanup_(snapdir_done) struct snapdir d = {};
	int r = snapdir_open(snapshot, false, &d, ret_error);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = receive_undo(d.id_fd, d.id_path, ret_error);
	if (r < 0)
		return r;
	if (unlinkat(d.name_fd, d.id, AT_REMOVEDIR) >= 0 && unlinkat(d.ckptd_fd, d.name, AT_REMOVEDIR) >= 0)
		(void) unlinkat(d.parent_fd, ".ckptd", AT_REMOVEDIR);
	return 0;
}

int btrfs_create_from_snapshot(const char *volume, const char *snapshot, char **ret_error) {
	_cleanup_close_ int snap_fd = -EBADF;
	int r = open_snapshot(snapshot, false, &snap_fd, ret_error);
	if (r < 0)
		return r;
	_cleanup_free_ char *a = strdup(volume), *b = strdup(volume);
	if (!a || !b)
		return -ENOMEM;
	const char *vdir = dirname(a), *vbase = basename(b);
	_cleanup_close_ int pfd = open_nofollow(vdir, O_RDONLY | O_DIRECTORY);
	if (pfd < 0)
		return error_setf(ret_error, pfd, "the directory of volume %s, %s: %m", volume, vdir);
	/* Fails with EEXIST when anything has that name: only a missing volume is made. */
	enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(snap_fd, pfd, vbase, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return error_setf(ret_error, btrfs_errno(e), "cannot make volume %s from snapshot %s: %s: %m", volume,
		                  snapshot, btrfs_util_strerror(e));
	return 0;
}
