/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "fileio.h"
#include "error.h"
#include "macro.h"
#include "time-util.h"

/* About 5 s of retrying a thaw (10 x 1 ms, then 20 ms steps). */
#define THAW_ATTEMPTS 260U

const char *cgroup_kind_to_string(enum cgroup_kind k) {
	return k == CGROUP_V2 ? "v2" : "v1-freezer";
}

int cgroup_kind_from_string(const char *s, enum cgroup_kind *ret) {
	if (streq_ptr(s, "v2"))
		*ret = CGROUP_V2;
	else if (streq_ptr(s, "v1-freezer"))
		*ret = CGROUP_V1_FREEZER;
	else
		return -EINVAL;
	return 0;
}

static char *cg_file(const char *path, const char *file) {
	return path_join(path, file);
}

int cgroup_detect(const char *path, enum cgroup_kind *ret) {
	struct stat st;
	if (stat(path, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	_cleanup_free_ char *v2 = cg_file(path, "cgroup.freeze"), *v1 = cg_file(path, "freezer.state");
	if (!v2 || !v1)
		return -ENOMEM;
	if (access(v2, F_OK) >= 0)
		*ret = CGROUP_V2;
	else if (access(v1, F_OK) >= 0)
		*ret = CGROUP_V1_FREEZER;
	else
		return -EMEDIUMTYPE;
	return 0;
}

/* Reads a "key value" line out of a flat-keyed cgroup file such as cgroup.events. */
static int read_keyed_fd(int fd, const char *key, long *ret) {
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	size_t kl = strlen(key);
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			*ret = strtol(line + kl + 1, NULL, 10);
			return 0;
		}
	return -ENODATA;
}

static int read_keyed(const char *path, const char *file, const char *key, long *ret) {
	_cleanup_free_ char *f = cg_file(path, file);
	if (!f)
		return -ENOMEM;
	_cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	return read_keyed_fd(fd, key, ret);
}

static int v1_state(const char *path, char **ret) {
	_cleanup_free_ char *f = cg_file(path, "freezer.state");
	if (!f)
		return -ENOMEM;
	return read_one_line_file(f, ret);
}

/* v2: the kernel signals a change of cgroup.events by POLLPRI; no sleeping in steps. */
static int wait_frozen_v2(const char *path, uint64_t deadline) {
	_cleanup_free_ char *f = cg_file(path, "cgroup.events");
	if (!f)
		return -ENOMEM;
	_cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (;;) {
		long frozen;
		int r = read_keyed_fd(fd, "frozen", &frozen);
		if (r < 0)
			return r;
		if (frozen == 1)
			return 0;
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		int ms = (int) ((deadline - now + 999) / 1000);
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return negative_errno();
	}
}

/* v1 has no notification: poll the state, starting at 50 µs and backing off to 1 ms. */
static int wait_frozen_v1(const char *path, uint64_t deadline) {
	uint64_t step = 50;
	for (;;) {
		_cleanup_free_ char *state = NULL;
		int r = v1_state(path, &state);
		if (r < 0)
			return r;
		if (streq(state, "FROZEN"))
			return 0;
		if (now_usec(CLOCK_MONOTONIC) >= deadline)
			return -ETIMEDOUT;
		usleep((useconds_t) step);
		if (step < 1000)
			step *= 2;
	}
}

int cgroup_freezer_open(const char *path, enum cgroup_kind kind) {
	_cleanup_free_ char *f = cg_file(path, kind == CGROUP_V2 ? "cgroup.freeze" : "freezer.state");
	if (!f)
		return -ENOMEM;
	int fd = open(f, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? negative_errno() : fd;
}

int cgroup_freezer_write(int fd, const char *value) {
	ssize_t k = pwrite(fd, value, strlen(value), 0);
	if (k < 0)
		return negative_errno();
	return (size_t) k == strlen(value) ? 0 : -EIO;
}

int cgroup_freeze_fd(int freezer_fd, const char *path, enum cgroup_kind kind, uint64_t timeout_usec,
                     char **ret_stragglers) {
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	int r = cgroup_freezer_write(freezer_fd, kind == CGROUP_V2 ? "1" : "FROZEN");
	if (r < 0)
		return r;
	r = kind == CGROUP_V2 ? wait_frozen_v2(path, deadline) : wait_frozen_v1(path, deadline);
	if (r == -ETIMEDOUT && ret_stragglers)
		(void) cgroup_describe_tasks(path, true, ret_stragglers);
	if (r < 0)
		(void) cgroup_thaw_fd(freezer_fd, kind);
	return r;
}

/* Transient failures of the write (the kernel's buffer allocation, a signal) are retried for a
 * while; nothing here needs a new file descriptor or memory of ours. */
int cgroup_thaw_fd(int freezer_fd, enum cgroup_kind kind) {
	int r = -EBADF;
	for (unsigned attempt = 0; attempt < THAW_ATTEMPTS; attempt++) {
		r = cgroup_freezer_write(freezer_fd, kind == CGROUP_V2 ? "0" : "THAWED");
		if (r >= 0 || r == -ENODEV || r == -ENOENT || r == -EBADF)
			break; /* done, or the cgroup is gone */
		(void) usleep(attempt < 10 ? 1000 : 20000);
	}
	return r;
}

int cgroup_freeze(const char *path, enum cgroup_kind kind, uint64_t timeout_usec, char **ret_stragglers) {
	_cleanup_close_ int fd = cgroup_freezer_open(path, kind);
	if (fd < 0)
		return fd;
	return cgroup_freeze_fd(fd, path, kind, timeout_usec, ret_stragglers);
}

int cgroup_thaw(const char *path, enum cgroup_kind kind) {
	int fd = -EBADF;
	/* Opening may fail for want of a descriptor for a moment: retried like the write. */
	for (unsigned attempt = 0; attempt < THAW_ATTEMPTS; attempt++) {
		fd = cgroup_freezer_open(path, kind);
		if (fd >= 0 || fd == -ENOENT || fd == -ENOTDIR || fd == -EACCES)
			break;
		(void) usleep(attempt < 10 ? 1000 : 20000);
	}
	if (fd < 0)
		return fd;
	int r = cgroup_thaw_fd(fd, kind);
	close(fd);
	return r;
}

int cgroup_is_frozen(const char *path, enum cgroup_kind kind) {
	if (kind == CGROUP_V2) {
		long v;
		/* cgroup.freeze says what was asked; a frozen parent also freezes us (events). */
		int r = read_keyed(path, "cgroup.events", "frozen", &v);
		if (r < 0)
			return r;
		if (v == 1)
			return 1;
		_cleanup_free_ char *f = cg_file(path, "cgroup.freeze"), *line = NULL;
		if (!f)
			return -ENOMEM;
		r = read_one_line_file(f, &line);
		if (r < 0)
			return r;
		return streq(line, "1");
	}
	_cleanup_free_ char *state = NULL;
	int r = v1_state(path, &state);
	if (r < 0)
		return r;
	return !streq(state, "THAWED");
}

int cgroup_attach(const char *path, pid_t pid) {
	_cleanup_free_ char *f = cg_file(path, "cgroup.procs");
	if (!f)
		return -ENOMEM;
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int) pid);
	return write_string_file(f, buf);
}

static int append_pids(const char *path, pid_t **pids, size_t *n) {
	_cleanup_free_ char *f = cg_file(path, "cgroup.procs"), *buf = NULL;
	if (!f)
		return -ENOMEM;
	int r = read_full_file(f, &buf, NULL);
	if (r < 0)
		return r;
	for (char *s = buf, *e; *s; s = e) {
		long v = strtol(s, &e, 10);
		if (e == s)
			break;
		pid_t *a = realloc(*pids, (*n + 1) * sizeof(pid_t));
		if (!a)
			return -ENOMEM;
		*pids = a;
		(*pids)[(*n)++] = (pid_t) v;
		while (*e == '\n')
			e++;
	}

	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return negative_errno();
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = path_join(path, de->d_name);
		if (!sub)
			return -ENOMEM;
		r = append_pids(sub, pids, n);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

int cgroup_list_pids(const char *path, pid_t **ret, size_t *ret_n) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r = append_pids(path, &pids, &n);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

/* Fields of /proc/PID/status we need. */
static int proc_status(pid_t pid, pid_t *ret_ppid, int *ret_ns_levels, pid_t *ret_innermost) {
	char f[64];
	snprintf(f, sizeof(f), "/proc/%d/status", (int) pid);
	_cleanup_free_ char *buf = NULL;
	int r = read_full_file(f, &buf, NULL);
	if (r < 0)
		return r;
	char *p = strstr(buf, "\nPPid:");
	if (!p)
		return -EIO;
	*ret_ppid = (pid_t) strtol(p + 6, NULL, 10);
	*ret_ns_levels = 1;
	*ret_innermost = pid;
	p = strstr(buf, "\nNSpid:");
	if (p) {
		int levels = 0;
		long last = pid;
		char *s = p + 7, *e;
		for (;;) {
			long v = strtol(s, &e, 10);
			if (e == s)
				break;
			levels++;
			last = v;
			s = e;
			if (*s == '\n')
				break;
		}
		if (levels > 0) {
			*ret_ns_levels = levels;
			*ret_innermost = (pid_t) last;
		}
	}
	return 0;
}

int cgroup_find_root(const char *path, pid_t *ret, char **ret_error) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n;
	int r = cgroup_list_pids(path, &pids, &n);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot list the tasks of cgroup %s: %s", path, strerror(-r));
		return r;
	}
	if (n == 0) {
		(void) error_setf(ret_error, 0, "cgroup %s has no tasks", path);
		return -ESRCH;
	}

	/* PID 1 of a PID namespace nested in ours, with the fewest nesting levels. */
	pid_t best = 0, orphan = 0;
	int best_levels = 0, orphans = 0;
	for (size_t i = 0; i < n; i++) {
		pid_t ppid, inner;
		int levels;
		if (proc_status(pids[i], &ppid, &levels, &inner) < 0)
			continue; /* exited meanwhile */
		if (levels > 1 && inner == 1 && (best == 0 || levels < best_levels)) {
			best = pids[i];
			best_levels = levels;
		}
		bool parent_inside = false;
		for (size_t j = 0; j < n; j++)
			if (pids[j] == ppid)
				parent_inside = true;
		if (!parent_inside) {
			orphan = pids[i];
			orphans++;
		}
	}
	if (best > 0) {
		*ret = best;
		return 0;
	}
	if (orphans == 1) {
		*ret = orphan;
		return 0;
	}
	return error_setf(ret_error, -ESRCH, "cannot tell the root task of cgroup %s: no PID namespace init and %d "
	                  "tasks whose parent is outside; set RootPid=", path, orphans);
}

int cgroup_describe_tasks(const char *path, bool only_busy, char **ret) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n;
	int r = cgroup_list_pids(path, &pids, &n);
	if (r < 0)
		return r;
	size_t size = 0;
	_cleanup_free_ char *out = NULL;
	FILE *f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/stat", (int) pids[i]);
		_cleanup_free_ char *stat = NULL;
		if (read_one_line_file(p, &stat) < 0)
			continue;
		char *open_paren = strchr(stat, '('), *close_paren = strrchr(stat, ')');
		if (!open_paren || !close_paren || close_paren[1] == '\0')
			continue;
		char state = close_paren[2];
		if (only_busy && (state == 'S' || state == 'T' || state == 't'))
			continue;
		*close_paren = '\0';
		fprintf(f, "%spid %d (%s) state %c", first ? "" : ", ", (int) pids[i], open_paren + 1, state);
		first = false;
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	if (first && only_busy) /* everybody sleeps, yet the kernel did not report frozen: say so */
		return cgroup_describe_tasks(path, false, ret);
	*ret = TAKE_PTR(out);
	return 0;
}

static bool cgroup_is_empty(const char *path, enum cgroup_kind kind) {
	if (kind == CGROUP_V2) {
		long populated;
		if (read_keyed(path, "cgroup.events", "populated", &populated) >= 0)
			return populated == 0;
	}
	_cleanup_free_ pid_t *pids = NULL;
	size_t n;
	int r = cgroup_list_pids(path, &pids, &n);
	if (r == -ENOENT && access(path, F_OK) < 0 && errno == ENOENT)
		return true; /* removed (a systemd scope stops once its tasks died): only an empty cgroup can be */
	if (r < 0)
		return false;
	return n == 0;
}

int cgroup_kill_all(const char *path, enum cgroup_kind kind, uint64_t timeout_usec, char **ret_survivors) {
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	_cleanup_free_ char *killf = cg_file(path, "cgroup.kill");
	if (!killf)
		return -ENOMEM;
	bool have_kill = kind == CGROUP_V2 && access(killf, W_OK) >= 0;

	/* Frozen tasks die as well (SIGKILL wakes them), but a thawed cgroup dies faster. */
	(void) cgroup_thaw(path, kind);
	for (;;) {
		if (have_kill)
			(void) write_string_file(killf, "1");
		else {
			_cleanup_free_ pid_t *pids = NULL;
			size_t n;
			int r = cgroup_list_pids(path, &pids, &n);
			if (r == -ENOENT && access(path, F_OK) < 0 && errno == ENOENT)
				return 0; /* removed: it was empty */
			if (r < 0)
				return r;
			for (size_t i = 0; i < n; i++)
				(void) kill(pids[i], SIGKILL);
		}
		for (int i = 0; i < 20; i++) {
			if (cgroup_is_empty(path, kind))
				return 0;
			usleep(1000);
		}
		if (now_usec(CLOCK_MONOTONIC) >= deadline) {
			if (ret_survivors)
				(void) cgroup_describe_tasks(path, false, ret_survivors);
			return -ETIMEDOUT;
		}
	}
}
