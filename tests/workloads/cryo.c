/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cryo — the "seed" workload for ckptd's integration tests.
 *
 *   cryo FILE [LOCKFILE] [--interval-ms N]
 *
 * Opens FILE with O_RDWR|O_CREAT|O_TRUNC and then forever writes one byte at a time with
 * write(2) on that fd (so the file position advances): the byte at offset i is 'a' + i % 26.
 * A reader detects a gap, a duplicate or a hole: content[i] == 'a' + i % 26 for every i, and
 * there is never a NUL byte. Between two writes it sleeps N ms (default 5; 0 = no sleep).
 *
 * With LOCKFILE: after 200 writes it creates LOCKFILE with O_CREAT|O_EXCL and keeps the fd
 * open. If LOCKFILE already exists it prints an error on stderr and exits 3 (the seed's bug:
 * a process restored without rolling back the filesystem, or a filesystem rolled back without
 * its process, trips over its own lock).
 *
 * SIGTERM → exit 0. Exit codes: 0 SIGTERM, 1 I/O error, 2 usage, 3 lock file exists.
 * No stdio buffering: the file always holds exactly what was written; the only state is the
 * counter and the fd's position, both of which a checkpoint captures.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_AFTER 200

static void say(const char *a, const char *b, const char *c, const char *d)
{
	/* One message, a few write(2) calls, no stdio. Errors here are ignored. */
	const char *parts[] = { "cryo: ", a, b, c, d, "\n" };
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
		if (parts[k] && write(STDERR_FILENO, parts[k], strlen(parts[k])) < 0)
			return;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static int usage(void)
{
	say("usage: cryo FILE [LOCKFILE] [--interval-ms N]", NULL, NULL, NULL);
	return 2;
}

static int parse_ms(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 3600 * 1000L)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *file = NULL, *lockfile = NULL;
	long interval_ms = 5;

	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		if (strcmp(a, "--interval-ms") == 0) {
			if (++k >= argc || parse_ms(argv[k], &interval_ms) < 0)
				return usage();
		} else if (strncmp(a, "--interval-ms=", 14) == 0) {
			if (parse_ms(a + 14, &interval_ms) < 0)
				return usage();
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage();
		} else if (!file) {
			file = a;
		} else if (!lockfile) {
			lockfile = a;
		} else {
			return usage();
		}
	}
	if (!file)
		return usage();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		return 1;

	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		say("cannot open ", file, ": ", strerror(errno));
		return 1;
	}

	const struct timespec interval = {
		.tv_sec = interval_ms / 1000,
		.tv_nsec = (interval_ms % 1000) * 1000000L,
	};

	for (unsigned long i = 0;; i++) {
		char c = (char)('a' + i % 26);
		ssize_t n;
		do
			n = write(fd, &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) {
			say("write to ", file, ": ", n < 0 ? strerror(errno) : "short write");
			return 1;
		}

		if (lockfile && i + 1 == LOCK_AFTER) {
			int lfd = open(lockfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (lfd < 0 && errno == EEXIST) {
				say("lock file already exists: ", lockfile, NULL, NULL);
				return 3;
			}
			if (lfd < 0) {
				say("cannot create lock file ", lockfile, ": ", strerror(errno));
				return 1;
			}
			/* lfd stays open for the life of the process. */
		}

		if (interval_ms > 0) {
			struct timespec left = interval;
			while (nanosleep(&left, &left) < 0 && errno == EINTR)
				;
		}
	}
}
