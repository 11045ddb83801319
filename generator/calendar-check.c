/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "calendar-check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"

#define OUTPUT_MAX 4096

const char *calendar_analyzer(void) {
	const char *e = getenv("CKPTD_SYSTEMD_ANALYZE");

	if (e && *e)
		return e;
	/* Merged /usr (Debian 12) has both; older layouts may have only one of them. */
	if (access("/usr/bin/systemd-analyze", X_OK) >= 0)
		return "/usr/bin/systemd-analyze";
	return "/bin/systemd-analyze";
}

static uint64_t now_msec(void) {
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* The child: stdout and stderr into the pipe, stdin from /dev/null, plain C messages. */
_Noreturn static void exec_analyzer(const char *path, const char *expr, int out_fd) {
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		_exit(126);
	/* No colours, no pager, untranslated messages: we quote them in ours. */
	setenv("SYSTEMD_COLORS", "0", 1);
	setenv("SYSTEMD_PAGER", "", 1);
	setenv("LC_ALL", "C", 1);
	/* "--": an expression starting with '-' is an expression, not an option. */
	execl(path, path, "calendar", "--", expr, (char *) NULL);
	_exit(127);
}

/* Reads what the child writes until EOF, the buffer is full or the deadline passes.
 * Returns 0 at EOF, -ETIME at the deadline. */
static int read_output(int fd, uint64_t deadline, char *buf, size_t size, size_t *ret_len) {
	size_t len = 0;

	for (;;) {
		uint64_t now = now_msec();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char discard[512];
		ssize_t n;

		if (now >= deadline)
			return -ETIME;
		if (poll(&p, 1, (int) (deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p.revents == 0)
			continue;
		if (len + 1 < size)
			n = read(fd, buf + len, size - 1 - len);
		else
			n = read(fd, discard, sizeof(discard)); /* keep draining, or the child blocks */
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		if (len + 1 < size)
			len += (size_t) n;
	}
	buf[len] = '\0';
	*ret_len = len;
	return 0;
}

/* Waits for pid until the deadline, then kills it. Returns its wait status or -ETIME. */
static int wait_until(pid_t pid, uint64_t deadline) {
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_msec() >= deadline) {
			(void) kill(pid, SIGKILL);
			(void) waitpid(pid, &status, 0);
			return -ETIME;
		}
		(void) nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

/* The lines of systemd-analyze's output joined with "; ", without trailing newlines. */
static char *one_line(const char *out) {
	size_t n = strlen(out);
	char *s = malloc(2 * n + 1), *p = s;

	if (!s)
		return NULL;
	for (const char *c = out; *c; c++) {
		if (*c != '\n')
			*p++ = *c;
		else if (c[1] != '\0' && p > s && p[-1] != ' ') {
			*p++ = ';';
			*p++ = ' ';
		}
	}
	while (p > s && (p[-1] == ' ' || p[-1] == ';'))
		p--;
	*p = '\0';
	return s;
}

int calendar_check(const char *expr, char **ret_message) {
	const char *path = calendar_analyzer();
	uint64_t deadline = now_msec() + CALENDAR_CHECK_TIMEOUT_MSEC;
	char out[OUTPUT_MAX];
	size_t len = 0;
	int fds[2], r, status;
	pid_t pid;

	*ret_message = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0)
		exec_analyzer(path, expr, fds[1]);
	close(fds[1]);
	r = read_output(fds[0], deadline, out, sizeof(out), &len);
	close(fds[0]);
	status = wait_until(pid, r == -ETIME ? 0 : deadline);
	if (r == -ETIME || status == -ETIME) {
		if (asprintf(ret_message, "%s did not answer within %d ms", path, CALENDAR_CHECK_TIMEOUT_MSEC) < 0)
			*ret_message = NULL;
		return -ETIME;
	}
	if (r < 0 || status < 0) {
		if (asprintf(ret_message, "cannot read the answer of %s: %s", path, strerror(-(r < 0 ? r : status))) < 0)
			*ret_message = NULL;
		return r < 0 ? r : status;
	}
	if (WIFSIGNALED(status)) {
		if (asprintf(ret_message, "%s was killed by signal %d", path, WTERMSIG(status)) < 0)
			*ret_message = NULL;
		return -EIO;
	}
	if (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127) {
		if (asprintf(ret_message, "cannot run %s", path) < 0)
			*ret_message = NULL;
		return -ENOENT;
	}
	if (WEXITSTATUS(status) != 0) {
		*ret_message = one_line(len > 0 ? out : "rejected without a message");
		return 0;
	}
	if (strstr(out, "Next elapse: never"))
		*ret_message = strdup("valid, but it never elapses (a time in the past?)");
	return 1;
}
