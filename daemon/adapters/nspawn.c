/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside a container's mount namespace: the preparation of an nspawn machine before its first
 * dump, and a bound file's content after a restore. See nspawn.h. */
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "error.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "nspawn.h"
#include "proc-holders.h"

/* What the thread inside the namespaces is to do, and what came of it. */
struct in_container {
	int mnt_fd, net_fd, proc_fd;
	/* nspawn_prepare() */
	const struct nspawn_preparation *prep;
	json_t *done;
	/* nspawn_restore_bound_file() */
	const char *path, *content;
	char *found;
	bool written;
	int r;
	char *error;
};

/* An absolute path inside the container, opened without following any symlink (the container
 * owns every component). */
static int open_in_container(int dir_fd, const char *path, int flags) {
	struct open_how how = {
		.flags = (uint64_t) (flags | O_CLOEXEC),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
	return fd < 0 ? negative_errno() : fd;
}

static void *thread_fail(struct in_container *t, int r, const char *what, const char *path) {
	t->r = r;
	(void) error_setf(&t->error, r, "cannot %s %s inside the container: %m", what, path);
	return NULL;
}

/* The thread leaves ckptd's namespaces for the container's and ends there. */
static int enter(struct in_container *t) {
	if (unshare(CLONE_FS) < 0)
		return negative_errno();
	if (t->net_fd >= 0 && setns(t->net_fd, CLONE_NEWNET) < 0)
		return negative_errno();
	if (setns(t->mnt_fd, CLONE_NEWNS) < 0)
		return negative_errno();
	return 0;
}

static int make_private(const char *path) {
	_cleanup_close_ int fd = open_in_container(AT_FDCWD, path, O_PATH);
	if (fd < 0)
		return fd;
	struct mount_attr attr = { .propagation = MS_PRIVATE };
	return mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 ? negative_errno() : 0;
}

/* The network namespace's sysfs at dir (made if missing), read-only. 1 if it was there already. */
static int mount_sysfs(const char *dir) {
	_cleanup_free_ char *parent = strdup(dir);
	if (!parent)
		return -ENOMEM;
	char *slash = strrchr(parent, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	const char *name = slash + 1;
	*slash = '\0';
	_cleanup_close_ int parent_fd = open_in_container(AT_FDCWD, *parent ? parent : "/", O_PATH | O_DIRECTORY);
	if (parent_fd < 0)
		return parent_fd;
	if (mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	_cleanup_close_ int dir_fd = open_in_container(parent_fd, name, O_PATH | O_DIRECTORY);
	if (dir_fd < 0)
		return dir_fd;
	struct statfs sf;
	if (fstatfs(dir_fd, &sf) >= 0 && sf.f_type == SYSFS_MAGIC)
		return 1;
	/* The source must read "sysfs" as nspawn's mounts do: CRIU takes mounts with different
	 * sources for different file systems, and would not see this one as their root. */
	_cleanup_close_ int fs_fd = fsopen("sysfs", FSOPEN_CLOEXEC);
	if (fs_fd < 0 || fsconfig(fs_fd, FSCONFIG_SET_STRING, "source", "sysfs", 0) < 0 ||
	    fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return negative_errno();
	_cleanup_close_ int mnt_fd = fsmount(fs_fd, FSMOUNT_CLOEXEC,
	                                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt_fd < 0)
		return negative_errno();
	if (move_mount(mnt_fd, "", dir_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return negative_errno();
	return 0;
}

static void *prepare_thread(void *userdata) {
	struct in_container *t = userdata;
	const struct nspawn_preparation *p = t->prep;
	int r = enter(t);
	if (r < 0)
		return thread_fail(t, r, "enter the namespaces of", "the machine");
	for (size_t i = 0; i < p->n_private; i++) {
		if ((r = make_private(p->make_private[i])) < 0)
			return thread_fail(t, r, "make private the mounts at and below", p->make_private[i]);
		json_array_append_printf(t->done, "made the mounts at and below %s private", p->make_private[i]);
	}
	if (p->sysfs_dir) {
		if ((r = mount_sysfs(p->sysfs_dir)) < 0)
			return thread_fail(t, r, "mount the network namespace's sysfs at", p->sysfs_dir);
		json_array_append_printf(t->done, "%s the network namespace's sysfs at %s (read-only)",
		                         r > 0 ? "found" : "mounted", p->sysfs_dir);
	}
	return NULL;
}

static int open_ns(pid_t pid, const char *name) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int) pid, name);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

static int run_inside(pid_t pid, bool net, void *(*fn)(void *), struct in_container *t, char **ret_error) {
	_cleanup_close_ int mnt_fd = open_ns(pid, "mnt"), net_fd = net ? open_ns(pid, "net") : -EBADF;
	if (mnt_fd < 0 || (net && net_fd < 0))
		return error_setf(ret_error, mnt_fd < 0 ? mnt_fd : net_fd, "cannot open the namespaces of pid %d: %m",
		                  (int) pid);
	t->mnt_fd = mnt_fd;
	t->net_fd = net_fd;
	pthread_t th;
	int k = pthread_create(&th, NULL, fn, t);
	if (k != 0)
		return error_setf(ret_error, -k, "cannot start a thread for the namespaces of pid %d: %m", (int) pid);
	(void) pthread_join(th, NULL);
	if (t->r < 0)
		return error_pass(ret_error, t->r, &t->error);
	return 0;
}

int nspawn_prepare(pid_t pid, const struct nspawn_preparation *p, json_t *done, char **ret_error) {
	struct in_container t = { .proc_fd = -EBADF, .prep = p, .done = done };
	return run_inside(pid, p->sysfs_dir != NULL, prepare_thread, &t, ret_error);
}

int nspawn_preparation_from_report(json_t *report, struct nspawn_preparation *ret, const char ***ret_private) {
	json_t *prep = json_object_get(report, "preparation");
	json_t *priv = json_object_get(prep, "make_private");
	*ret = (struct nspawn_preparation) { .sysfs_dir = json_string_value(json_object_get(prep, "sysfs_dir")) };
	*ret_private = NULL;
	size_t n = json_array_size(priv);
	if (n > 0) {
		const char **a = calloc(n, sizeof(char *));
		if (!a)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			if ((a[ret->n_private] = json_string_value(json_array_get(priv, i))))
				ret->n_private++;
		ret->make_private = *ret_private = a;
	}
	return ret->sysfs_dir || ret->n_private > 0;
}

/* ---- a bound file's content ----------------------------------------------------------- */

static void *bound_file_thread(void *userdata) {
	struct in_container *t = userdata;
	int r = enter(t);
	if (r < 0)
		return thread_fail(t, r, "enter the mount namespace of", "the container");
	_cleanup_close_ int path_fd = open_in_container(AT_FDCWD, t->path, O_PATH);
	if (path_fd < 0)
		return thread_fail(t, path_fd, "open", t->path);
	/* A clone of the mount, detached: made writable, it leaves the container's own read-only. */
	_cleanup_close_ int tree_fd = open_tree(path_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree_fd < 0)
		return thread_fail(t, negative_errno(), "clone the mount at", t->path);
	struct mount_attr attr = { .attr_clr = MOUNT_ATTR_RDONLY };
	if (mount_setattr(tree_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return thread_fail(t, negative_errno(), "make writable a clone of the mount at", t->path);
	char fdpath[64];
	snprintf(fdpath, sizeof(fdpath), "thread-self/fd/%d", tree_fd);
	_cleanup_close_ int fd = openat(t->proc_fd, fdpath, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return thread_fail(t, negative_errno(), "open for writing a clone of", t->path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return thread_fail(t, -EBADFD, "find a regular file at", t->path);
	if (st.st_size > 0) {
		char buf[256];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			return thread_fail(t, negative_errno(), "read", t->path);
		buf[n] = '\0';
		t->found = strdup(buf);
		return NULL;
	}
	size_t len = strlen(t->content);
	ssize_t n = pwrite(fd, t->content, len, 0);
	if (n < 0 || (size_t) n != len)
		return thread_fail(t, n < 0 ? negative_errno() : -EIO, "write", t->path);
	t->written = true;
	return NULL;
}

int nspawn_restore_bound_file(pid_t pid, const char *path, const char *content, char **ret_found, char **ret_error) {
	_cleanup_close_ int proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open /proc: %m");
	struct in_container t = { .proc_fd = proc_fd, .path = path, .content = content };
	int r = run_inside(pid, false, bound_file_thread, &t, ret_error);
	if (r < 0)
		return r;
	if (ret_found)
		*ret_found = TAKE_PTR(t.found);
	free(t.found);
	return t.written ? 1 : 0;
}

/* ---- the supervisor ------------------------------------------------------------------- */

static int proc_stat_ppid(pid_t pid, pid_t *ret) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int) pid);
	_cleanup_free_ char *buf = NULL;
	int r = read_full_file(p, &buf, NULL);
	if (r < 0)
		return r;
	const char *e = strrchr(buf, ')');
	char state;
	int ppid;
	if (!e || sscanf(e + 1, " %c %d", &state, &ppid) != 2)
		return -EBADMSG;
	*ret = (pid_t) ppid;
	return 0;
}

int nspawn_supervisor_open(pid_t root) {
	pid_t ppid;
	int r = proc_stat_ppid(root, &ppid);
	if (r < 0)
		return r;
	_cleanup_free_ char *comm = ppid > 1 ? proc_comm(ppid) : NULL;
	if (!streq_ptr(comm, "systemd-nspawn"))
		return -ESRCH;
	int fd = (int) syscall(SYS_pidfd_open, ppid, 0);
	if (fd < 0)
		return negative_errno();
	/* Still root's parent: the pid was not reused between the two reads. */
	pid_t again;
	if (proc_stat_ppid(root, &again) < 0 || again != ppid) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int nspawn_supervisor_wait(int pidfd, uint64_t timeout_usec) {
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n = poll(&p, 1, (int) (timeout_usec / 1000));
	if (n < 0)
		return negative_errno();
	return n == 0 ? -ETIMEDOUT : 0;
}
