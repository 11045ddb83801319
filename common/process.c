/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a program: see process.h. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "process.h"
#include "time-util.h"

extern char **environ;

/* Everything the child needs, resolved before fork(): it only copies fds and calls execve(). */
struct child_plan {
	const char *path;
	char *const *argv, *const *env;
	int fd_in, fd_out, fd_err; /* -1: leave as inherited */
	int keep_fd, keep_as;      /* -1: none */
	int cwd_fd;                /* -1: stay where we are */
	int report_fd;             /* where the child writes its errno if exec fails */
	int netns_fd;              /* -1: stay in ours */
	bool own_group;
	bool survive_parent;
	pid_t parent;
};

_Noreturn static void child_fail(int report_fd, int error) {
	(void) !write(report_fd, &error, sizeof(error));
	_exit(127);
}

/* fd, moved above `floor` when it is at or below it (so that a dup2() onto a target cannot clobber
 * it). Async-signal-safe. */
static int fd_move_above(int fd, int floor) {
	if (fd < 0 || fd > floor)
		return fd;
	return fcntl(fd, F_DUPFD_CLOEXEC, floor + 1);
}

static int close_range_cloexec(unsigned first, unsigned last) {
	if (first > last)
		return 0;
	return (int) syscall(SYS_close_range, first, last, CLOSE_RANGE_CLOEXEC);
}

/* The child between fork() and execve(): async-signal-safe calls only (the parent has threads). */
_Noreturn static void child_exec(const struct child_plan *p) {
	int report = p->report_fd;
	if (!p->survive_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p->parent))
		_exit(127); /* the parent thread is gone already */
	if (p->own_group && setpgid(0, 0) < 0)
		child_fail(report, errno);
	if (p->cwd_fd >= 0 && fchdir(p->cwd_fd) < 0)
		child_fail(report, errno);
	if (p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) < 0)
		child_fail(report, errno);

	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void) sigaction(s, &dfl, NULL);

	int top = p->keep_fd >= 0 && p->keep_as > 2 ? p->keep_as : 2;
	int in = fd_move_above(p->fd_in, top), out = fd_move_above(p->fd_out, top),
	    err = fd_move_above(p->fd_err, top), keep = fd_move_above(p->keep_fd, top);
	report = fd_move_above(report, top);
	if ((p->fd_in >= 0 && in < 0) || (p->fd_out >= 0 && out < 0) || (p->fd_err >= 0 && err < 0) ||
	    (p->keep_fd >= 0 && keep < 0) || report < 0)
		child_fail(p->report_fd, errno);
	if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) || (out >= 0 && dup2(out, STDOUT_FILENO) < 0) ||
	    (err >= 0 && dup2(err, STDERR_FILENO) < 0))
		child_fail(report, errno);
	/* Everything from 3 on is closed by execve(), but the fd kept on purpose (dup2() onto its
	 * number clears close-on-exec) and, until then, the report pipe. */
	if (close_range_cloexec(3, ~0U) < 0)
		child_fail(report, errno);
	if (keep >= 0 && dup2(keep, p->keep_as) < 0)
		child_fail(report, errno);

	sigset_t none;
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
	execve(p->path, p->argv, p->env);
	child_fail(report, errno);
}

/* Forks and execs; returns the pid once the program runs (its exec succeeded), or the errno of
 * a failed exec. Signals are blocked across fork() so that no handler of ours runs in the child. */
static int fork_exec(struct child_plan *p, pid_t *ret_pid) {
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0)
		return negative_errno();
	p->report_fd = report[1];
	p->parent = getpid();

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(p);
	int r = pid < 0 ? negative_errno() : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(report[1]);
	if (r < 0) {
		close(report[0]);
		return r;
	}
	if (p->own_group)
		(void) setpgid(pid, pid); /* both sides, so that kill(-pid) works at once */

	int child_errno = 0;
	ssize_t k;
	while ((k = read(report[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (k == (ssize_t) sizeof(child_errno)) {
		(void) process_reap(pid);
		return child_errno > 0 ? -child_errno : -EIO;
	}
	*ret_pid = pid;
	return 0;
}

/* argv[0] as a path: itself when it has a '/', else looked up in $PATH. */
static int resolve_program(const char *name, char **ret, char **ret_error) {
	if (strchr(name, '/')) {
		*ret = strdup(name);
		return *ret ? 0 : -ENOMEM;
	}
	int r = find_executable(name, ret);
	if (r < 0)
		return error_setf(ret_error, r, "cannot find %s in $PATH", name);
	return 0;
}

static int plan_init(const struct process_spec *spec, struct child_plan *p, char **ret_path, int *ret_null,
                     char **ret_error) {
	if (!spec->argv || !spec->argv[0] || (spec->keep_fd > 0 && spec->keep_fd_as < 3))
		return error_setf(ret_error, -EINVAL, "invalid process spec");
	int r = resolve_program(spec->argv[0], ret_path, ret_error);
	if (r < 0)
		return r;
	*p = (struct child_plan) {
		.path = *ret_path,
		.argv = (char *const *) spec->argv,
		.env = spec->env ? spec->env : environ,
		.fd_in = spec->stdin_fd > 0 ? spec->stdin_fd : -1,
		.fd_out = spec->output_fd > 0 ? spec->output_fd : -1,
		.fd_err = spec->output_fd > 0 ? spec->output_fd : -1,
		.keep_fd = spec->keep_fd > 0 ? spec->keep_fd : -1,
		.keep_as = spec->keep_fd_as,
		.cwd_fd = spec->cwd_fd > 0 ? spec->cwd_fd : -1,
		.netns_fd = spec->netns_fd > 0 ? spec->netns_fd : -1,
		.own_group = !spec->same_process_group,
		.survive_parent = spec->survive_parent,
	};
	if (p->fd_in < 0) {
		*ret_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (*ret_null < 0)
			return error_setf(ret_error, negative_errno(), "cannot open /dev/null: %m");
		p->fd_in = *ret_null;
	}
	return 0;
}

static int spawn_failed(int r, const struct process_spec *spec, char **ret_error) {
	return error_setf(ret_error, r, "cannot run %s: %m", spec->argv[0]);
}

int process_spawn(const struct process_spec *spec, pid_t *ret_pid, char **ret_error) {
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int devnull = -EBADF;
	struct child_plan p;
	int r = plan_init(spec, &p, &path, &devnull, ret_error);
	if (r < 0)
		return r;
	pid_t pid;
	r = fork_exec(&p, &pid);
	if (r < 0)
		return spawn_failed(r, spec, ret_error);
	if (spec->spawned)
		spec->spawned(pid, spec->userdata);
	*ret_pid = pid;
	return 0;
}

int process_reap(pid_t pid) {
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	return status;
}

/* ---- capture --------------------------------------------------------------------------- */

struct capture {
	int fd;
	char *data;
	size_t size, allocated, max;
	bool truncated, eof;
};

static int capture_read(struct capture *c) {
	char discard[4096], *dst = discard;
	size_t room = sizeof(discard);
	if (c->size < c->max) {
		if (c->allocated - c->size < 4096 && c->allocated < c->max + 1) {
			size_t n = c->allocated ? c->allocated * 2 : 16384;
			n = n > c->max + 1 ? c->max + 1 : n;
			char *d = realloc(c->data, n);
			if (!d)
				return -ENOMEM;
			c->data = d;
			c->allocated = n;
		}
		dst = c->data + c->size;
		room = c->allocated - 1 - c->size;
	}
	ssize_t k = read(c->fd, dst, room);
	if (k < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : negative_errno();
	if (k == 0)
		c->eof = true;
	else if (dst == discard)
		c->truncated = true;
	else
		c->size += (size_t) k;
	return 0;
}

static char *capture_take(struct capture *c) {
	if (!c->data)
		return strdup("");
	c->data[c->size] = '\0';
	return TAKE_PTR(c->data);
}

struct watch {
	pid_t pid, target; /* target: -pid for the process group */
	uint64_t deadline, grace;
	bool termed, killed;
};

/* At the deadline: SIGTERM, then (after the grace) SIGKILL. false once there is no point in
 * reading further (SIGKILL sent and its grace passed: a grandchild outside the group may hold
 * the pipes). */
static bool watch_expire(struct watch *w, uint64_t now) {
	if (w->killed)
		return false;
	(void) kill(w->target, w->termed ? SIGKILL : SIGTERM);
	w->killed = w->termed;
	w->termed = true;
	w->deadline = now + w->grace;
	return true;
}

/* Reads both pipes until EOF (or the end of the timeout). */
static int capture_all(struct capture c[2], struct watch *w) {
	while (!c[0].eof || !c[1].eof) {
		struct pollfd p[2];
		struct capture *which[2];
		nfds_t np = 0;
		for (size_t i = 0; i < 2; i++)
			if (!c[i].eof) {
				which[np] = &c[i];
				p[np++] = (struct pollfd) { .fd = c[i].fd, .events = POLLIN };
			}
		int wait_ms = -1;
		if (w->deadline) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			if (now >= w->deadline) {
				if (!watch_expire(w, now))
					return 0;
				continue;
			}
			wait_ms = (int) ((w->deadline - now + 999) / 1000);
		}
		int k = poll(p, np, wait_ms);
		if (k < 0 && errno != EINTR)
			return negative_errno();
		for (nfds_t i = 0; k > 0 && i < np; i++)
			if (p[i].revents) {
				int r = capture_read(which[i]);
				if (r < 0)
					return r;
			}
	}
	return 0;
}

static void result_from_status(struct process_result *res, int status) {
	res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void close_pair(int p[2]) {
	for (size_t i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

int process_run(const struct process_spec *spec, struct process_result *ret, char **ret_error) {
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int devnull = -EBADF;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct child_plan p;
	int r = plan_init(spec, &p, &path, &devnull, ret_error);
	if (r < 0)
		return r;
	if (pipe2(out, O_CLOEXEC) < 0 || (!spec->merge_stderr && pipe2(err, O_CLOEXEC) < 0)) {
		r = negative_errno();
		close_pair(out);
		return error_setf(ret_error, r, "cannot make pipes for %s: %m", spec->argv[0]);
	}
	p.fd_out = out[1];
	p.fd_err = spec->merge_stderr ? out[1] : err[1];

	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	pid_t pid;
	r = fork_exec(&p, &pid);
	close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	if (r < 0) {
		close(out[0]);
		if (err[0] >= 0)
			close(err[0]);
		return spawn_failed(r, spec, ret_error);
	}
	if (spec->spawned)
		spec->spawned(pid, spec->userdata);

	size_t max = spec->output_max ? spec->output_max : PROCESS_OUTPUT_MAX_DEFAULT;
	struct capture c[2] = { { .fd = out[0], .max = max }, { .fd = err[0], .max = max, .eof = err[0] < 0 } };
	struct watch w = {
		.pid = pid,
		.target = spec->same_process_group ? pid : -pid,
		.deadline = spec->timeout_usec ? t0 + spec->timeout_usec : 0,
		.grace = spec->term_grace_usec ? spec->term_grace_usec : PROCESS_TERM_GRACE_USEC_DEFAULT,
	};
	r = capture_all(c, &w);
	close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	if (r < 0)
		(void) kill(w.target, SIGKILL);
	int status = process_reap(pid);

	*ret = (struct process_result) {
		.timed_out = w.termed,
		.out = capture_take(&c[0]), .out_size = c[0].size, .out_truncated = c[0].truncated,
		.err = capture_take(&c[1]), .err_size = c[1].size, .err_truncated = c[1].truncated,
		.usec = now_usec(CLOCK_MONOTONIC) - t0,
	};
	free(c[0].data);
	free(c[1].data);
	if (status >= 0)
		result_from_status(ret, status);
	if (r >= 0 && status < 0)
		r = status;
	if (r >= 0 && (!ret->out || !ret->err))
		r = -ENOMEM;
	if (r < 0) {
		process_result_done(ret);
		return error_setf(ret_error, r, "running %s failed: %m", spec->argv[0]);
	}
	return 0;
}

void process_result_done(struct process_result *res) {
	free(res->out);
	free(res->err);
	*res = (struct process_result) {};
}

const char *process_result_describe(const struct process_result *res, char buf[static 64]) {
	if (res->timed_out)
		snprintf(buf, 64, "timed out after %.1f s and was killed", (double) res->usec / USEC_PER_SEC);
	else if (res->signal)
		snprintf(buf, 64, "killed by signal %d (%s)", res->signal, sigabbrev_np(res->signal) ?: "?");
	else
		snprintf(buf, 64, "exit status %d", res->exit_status);
	return buf;
}
