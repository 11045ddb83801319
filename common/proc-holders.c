/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who holds what, from /proc: see proc-holders.h. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "macro.h"
#include "proc-holders.h"

static bool is_pid(const char *name) {
	return name[0] >= '1' && name[0] <= '9';
}

static int pid_fds_foreach(const char *pid, int (*fn)(const struct proc_fd *fd, void *userdata), void *userdata) {
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	_cleanup_closedir_ DIR *d = opendir(dir);
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		char link[384], target[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		struct proc_fd fd = { .pid = (pid_t) atoi(pid), .fd = de->d_name, .link = link, .target = target };
		int r = fn(&fd, userdata);
		if (r != PROC_FD_CONTINUE)
			return r;
	}
	return 0;
}

int proc_fds_foreach(pid_t pid, int (*fn)(const struct proc_fd *fd, void *userdata), void *userdata) {
	if (pid > 0) {
		char p[16];
		snprintf(p, sizeof(p), "%d", (int) pid);
		int r = pid_fds_foreach(p, fn, userdata);
		return r == PROC_FD_NEXT_PID ? 0 : r;
	}
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	if (!proc)
		return negative_errno();
	for (struct dirent *de; (de = readdir(proc));) {
		if (!is_pid(de->d_name))
			continue;
		int r = pid_fds_foreach(de->d_name, fn, userdata);
		if (r < 0 || r == PROC_FD_STOP)
			return r;
	}
	return 0;
}

char *proc_comm(pid_t pid) {
	char p[300];
	char *comm = NULL;
	snprintf(p, sizeof(p), "/proc/%d/comm", (int) pid);
	if (read_one_line_file(p, &comm) < 0)
		return strdup("?");
	return comm;
}

struct fd_search {
	const char *target;
	char *found;
};

static int match_target(const struct proc_fd *fd, void *userdata) {
	struct fd_search *s = userdata;
	if (!streq(fd->target, s->target))
		return PROC_FD_CONTINUE;
	_cleanup_free_ char *comm = proc_comm(fd->pid);
	if (asprintf(&s->found, "pid %d (%s)", (int) fd->pid, strna(comm)) < 0)
		s->found = NULL;
	return PROC_FD_STOP;
}

char *proc_fd_holder(const char *target) {
	struct fd_search s = { .target = target };
	(void) proc_fds_foreach(0, match_target, &s);
	return s.found;
}

/* ---- what keeps a device busy ------------------------------------------------------------ */

struct holders {
	char *list;
	size_t n;
	dev_t dev;
	const struct mounts *points;
	const char *comm; /* of the process being looked at */
};

/* A line for the "held by" list; stops adding after a dozen. */
static void holders_add(struct holders *h, const char *fmt, ...) _printf_(2, 3);
static void holders_add(struct holders *h, const char *fmt, ...) {
	if (h->n++ >= 12) {
		char *s = NULL;
		if (h->n == 13 && asprintf(&s, "%s; ...", strempty(h->list)) >= 0)
			free(h->list), h->list = s;
		return;
	}
	va_list ap;
	char *item = NULL, *s = NULL;
	va_start(ap, fmt);
	int k = vasprintf(&item, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if (asprintf(&s, "%s%s%s", strempty(h->list), h->list ? "; " : "", item) >= 0)
		free(h->list), h->list = s;
	free(item);
}

static bool on_device(const char *path, dev_t dev) {
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	return st.st_dev == dev || (S_ISBLK(st.st_mode) && st.st_rdev == dev);
}

static void holders_mounts_below(struct holders *h) {
	_cleanup_(mounts_done) struct mounts all = {};
	if (mounts_parse("/proc/self/mountinfo", &all) < 0)
		return;
	for (size_t k = 0; k < all.n; k++)
		for (size_t i = 0; i < h->points->n; i++) {
			const char *p = all.m[k].mountpoint, *point = h->points->m[i].mountpoint;
			if (!streq(p, point) && path_is_below(p, point))
				holders_add(h, "mount %s is below it", p);
		}
}

static int open_file_on_device(const struct proc_fd *fd, void *userdata) {
	struct holders *h = userdata;
	if (!on_device(fd->link, h->dev))
		return PROC_FD_CONTINUE;
	holders_add(h, "pid %d (%s): open file %s", (int) fd->pid, h->comm, fd->target);
	return PROC_FD_NEXT_PID; /* one per process is enough */
}

static void holders_maps(struct holders *h, const char *pid) {
	char p[300], hexdev[32];
	snprintf(hexdev, sizeof(hexdev), " %02x:%02x ", major(h->dev), minor(h->dev));
	snprintf(p, sizeof(p), "/proc/%s/maps", pid);
	_cleanup_fclose_ FILE *maps = fopen(p, "re");
	_cleanup_free_ char *line = NULL;
	size_t allocated = 0;
	while (maps && getline(&line, &allocated, maps) > 0) {
		/* ADDR PERMS OFFSET MAJ:MIN INODE PATH; MAJ:MIN in hex */
		char *d = strchr(line, ' ');
		d = d ? strchr(d + 1, ' ') : NULL;
		d = d ? strchr(d + 1, ' ') : NULL;
		if (d && strncmp(d, hexdev, strlen(hexdev)) == 0) {
			char *path = strchr(line, '/');
			if (path)
				path[strcspn(path, "\n")] = '\0';
			holders_add(h, "pid %s (%s): mapped file %s", pid, h->comm, path ? path : "?");
			return;
		}
	}
}

/* Another mount namespace with the device mounted (once per namespace). */
static void holders_namespace(struct holders *h, const char *pid, const char *self_ns, char seen[16][64],
                              size_t *n_seen) {
	char p[300], ns[64] = "";
	snprintf(p, sizeof(p), "/proc/%s/ns/mnt", pid);
	(void) !readlink(p, ns, sizeof(ns) - 1);
	if (!*ns || streq(ns, self_ns))
		return;
	for (size_t i = 0; i < *n_seen; i++)
		if (streq(seen[i], ns))
			return;
	if (*n_seen < 16)
		snprintf(seen[(*n_seen)++], 64, "%s", ns);
	_cleanup_(mounts_done) struct mounts other = {};
	snprintf(p, sizeof(p), "/proc/%s/mountinfo", pid);
	if (mounts_of_device(p, major(h->dev), minor(h->dev), &other) >= 0 && other.n > 0)
		holders_add(h, "the mount namespace of pid %s (%s) has it mounted at %s", pid, h->comm,
		            other.m[0].mountpoint);
}

static void holders_processes(struct holders *h) {
	char self_ns[64] = "", seen[16][64];
	size_t n_seen = 0;
	(void) !readlink("/proc/self/ns/mnt", self_ns, sizeof(self_ns) - 1);
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	for (struct dirent *de; proc && (de = readdir(proc));) {
		if (!is_pid(de->d_name))
			continue;
		_cleanup_free_ char *comm = proc_comm((pid_t) atoi(de->d_name));
		h->comm = strna(comm);
		static const char *const links[] = { "cwd", "root" };
		for (size_t i = 0; i < ELEMENTSOF(links); i++) {
			char p[300];
			snprintf(p, sizeof(p), "/proc/%s/%s", de->d_name, links[i]);
			if (on_device(p, h->dev))
				holders_add(h, "pid %s (%s): %s directory on it", de->d_name, h->comm,
				            streq(links[i], "cwd") ? "working" : "root");
		}
		(void) pid_fds_foreach(de->d_name, open_file_on_device, h);
		holders_maps(h, de->d_name);
		holders_namespace(h, de->d_name, self_ns, seen, &n_seen);
	}
}

/* Loop devices backed by a file on it. */
static void holders_loops(struct holders *h) {
	_cleanup_closedir_ DIR *block = opendir("/sys/block");
	for (struct dirent *de; block && (de = readdir(block));) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		char p[PATH_MAX];
		_cleanup_free_ char *backing = NULL;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_one_line_file(p, &backing) < 0)
			continue;
		for (size_t i = 0; i < h->points->n; i++)
			if (path_is_below(backing, h->points->m[i].mountpoint)) {
				holders_add(h, "loop device /dev/%s is backed by %s", de->d_name, backing);
				break;
			}
	}
}

char *device_holders_describe(dev_t dev, const struct mounts *points) {
	struct holders h = { .dev = dev, .points = points };
	holders_mounts_below(&h);
	holders_processes(&h);
	holders_loops(&h);
	return h.list;
}

int proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_starttime) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	_cleanup_free_ char *buf = NULL;
	int r = read_full_file(path, &buf, NULL);
	if (r < 0)
		return r;
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p || p[1] != ' ' || p[2] == '\0')
		return -EIO;
	char state = p[2];
	p++;
	for (int field = 3; ret_starttime && field < 22; field++) { /* p is before field 3 (the state) */
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	if (ret_starttime) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p + 1, &end, 10);
		if (errno != 0 || end == p + 1)
			return -EIO;
		*ret_starttime = v;
	}
	if (ret_state)
		*ret_state = state;
	return 0;
}
