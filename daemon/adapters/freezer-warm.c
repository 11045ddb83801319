/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "freezer-warm.h"
#include "log.h"
#include "macro.h"
#include "mountinfo.h"

#define WARM_PREFIX "ckptd-warm."

/* The mount point of the v1 freezer hierarchy that cgroup_path is in (the longest match). */
static int freezer_root(const char *cgroup_path, char **ret) {
	_cleanup_(mounts_done) struct mounts ms = {};
	int r = mounts_parse("/proc/self/mountinfo", &ms);
	if (r < 0)
		return r;
	const struct mount *best = NULL;
	for (size_t i = 0; i < ms.n; i++)
		if (mount_is_cgroup_hierarchy(&ms.m[i], "freezer") && path_is_below(cgroup_path, ms.m[i].mountpoint) &&
		    (!best || strlen(ms.m[i].mountpoint) > strlen(best->mountpoint)))
			best = &ms.m[i];
	if (!best)
		return -ENOENT;
	*ret = strdup(best->mountpoint);
	return *ret ? 0 : -ENOMEM;
}

int freezer_warm_acquire(const char *cgroup_path, struct freezer_warm *ret) {
	static atomic_uint counter;
	*ret = FREEZER_WARM_NONE;
	_cleanup_free_ char *root = NULL;
	int r = freezer_root(cgroup_path, &root);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/" WARM_PREFIX "%d.%u", root, (int) getpid(), atomic_fetch_add(&counter, 1)) < 0)
		return -ENOMEM;
	if (mkdir(path, 0700) < 0)
		return negative_errno(); /* EEXIST included: a name of ours, taken, is not ours to use */
	_cleanup_free_ char *state = path_join(path, "freezer.state");
	int fd = state ? open(state, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -ENOMEM;
	if (fd < 0) {
		r = state ? negative_errno() : -ENOMEM;
		(void) rmdir(path);
		return r;
	}
	r = cgroup_freezer_write(fd, "FROZEN");
	if (r < 0) {
		close(fd);
		(void) rmdir(path);
		return r;
	}
	ret->fd = fd;
	ret->path = TAKE_PTR(path);
	return 0;
}

void freezer_warm_release(struct freezer_warm *w) {
	if (w->fd >= 0) {
		int r = cgroup_freezer_write(w->fd, "THAWED");
		if (r < 0)
			log_warning_errno(r, "cannot thaw %s, ckptd's empty warm-up cgroup: %m", w->path);
		close(w->fd);
		/* rmdir of a cgroup removes nothing but the (empty) cgroup itself. */
		if (r >= 0 && rmdir(w->path) < 0)
			log_warning_errno(negative_errno(), "cannot remove %s, ckptd's warm-up cgroup: %m", w->path);
	}
	free(w->path);
	*w = FREEZER_WARM_NONE;
}

static int remove_leftovers_in(const char *root) {
	_cleanup_closedir_ DIR *d = opendir(root);
	if (!d)
		return 0;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || strncmp(de->d_name, WARM_PREFIX, strlen(WARM_PREFIX)) != 0)
			continue;
		/* Another ckptd that runs (its pid is in the name) still uses its own. */
		int pid = atoi(de->d_name + strlen(WARM_PREFIX));
		if (pid <= 0 || (kill(pid, 0) >= 0 || errno == EPERM))
			continue;
		_cleanup_free_ char *path = path_join(root, de->d_name);
		_cleanup_free_ char *state = path ? path_join(path, "freezer.state") : NULL;
		if (!state)
			return -ENOMEM;
		_cleanup_close_ int fd = open(state, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			(void) cgroup_freezer_write(fd, "THAWED");
		if (rmdir(path) < 0) {
			log_warning_errno(negative_errno(), "%s (a warm-up cgroup of an earlier ckptd) cannot be removed: %m; "
			                  "it is thawed and left as it is", path);
			continue;
		}
		n++;
	}
	return n;
}

int freezer_warm_remove_leftovers(void) {
	_cleanup_(mounts_done) struct mounts ms = {};
	int r = mounts_parse("/proc/self/mountinfo", &ms);
	if (r < 0)
		return r;
	int n = 0;
	for (size_t i = 0; i < ms.n; i++)
		if (mount_is_cgroup_hierarchy(&ms.m[i], "freezer")) {
			r = remove_leftovers_in(ms.m[i].mountpoint);
			if (r < 0)
				return r;
			n += r;
		}
	return n;
}
