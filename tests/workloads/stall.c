/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stall — benchmark workload: measures how long it is stopped by a checkpoint.
 *
 *   stall --mb N --report FILE [--data FILE]
 *
 * Allocates N MiB of anonymous memory and writes every page, then writes "ready\n" to FILE.
 * Then it ticks forever: sleep 1 ms (clock_nanosleep, relative), read CLOCK_MONOTONIC, and
 * keep the largest gap between two consecutive ticks (a tick that is not delayed is ≈ 1.05 ms;
 * a frozen window of W ms shows up as a gap of ≈ W + 1 ms). Every tick it re-writes a few
 * pages (round robin, so all of the memory stays in use) and, with --data, appends one byte
 * to the data file (opened O_CREAT|O_TRUNC at start; byte i is 'a' + i % 26, the same
 * pattern as cryo's), so the filesystem keeps changing.
 *
 * SIGUSR1: replace FILE (write FILE.tmp, rename) with "max_gap_us=NNN ticks=NNN\n" — the
 * largest gap and the number of ticks since the previous report (or since "ready") — and
 * start a new measurement. The time spent writing the report is not counted. A harness
 * removes FILE, sends SIGUSR1 and waits for FILE to reappear.
 * SIGTERM → exit 0. Exit codes: 0 SIGTERM, 1 error, 2 usage.
 *
 * No fd stays open on the report (each report opens, writes, closes, renames), and the data
 * fd is a plain file, so the process can be checkpointed and restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGES_PER_TICK 4

static volatile sig_atomic_t report_requested;

static void on_usr1(int sig)
{
	(void)sig;
	report_requested = 1;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "stall: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static int usage(void)
{
	fputs("usage: stall --mb N --report FILE [--data FILE]\n", stderr);
	return 2;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("cannot write", path);
		buf += n;
		len -= (size_t)n;
	}
}

/* Replace `path` atomically with `text`: write path.tmp, then rename. */
static void write_report(const char *path, const char *text)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		die("report path too long", path);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot create", tmp);
	write_all(fd, text, strlen(text), tmp);
	if (close(fd) < 0)
		die("cannot close", tmp);
	if (rename(tmp, path) < 0)
		die("cannot rename to", path);
}

int main(int argc, char **argv)
{
	const char *report = NULL, *data = NULL;
	long mb = -1;

	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		if (k + 1 >= argc)
			return usage();
		const char *v = argv[++k];
		if (strcmp(a, "--mb") == 0) {
			char *end;
			errno = 0;
			mb = strtol(v, &end, 10);
			if (errno || end == v || *end || mb < 0 || mb > (1L << 20))
				return usage();
		} else if (strcmp(a, "--report") == 0) {
			report = v;
		} else if (strcmp(a, "--data") == 0) {
			data = v;
		} else {
			return usage();
		}
	}
	if (mb < 0 || !report)
		return usage();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction", NULL);
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction", NULL);

	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (size_t)mb << 20, npages = len / page;
	volatile unsigned char *mem = NULL;
	if (len > 0) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("cannot allocate memory", NULL);
		mem = p;
		for (size_t i = 0; i < npages; i++)
			mem[i * page] = (unsigned char)(i | 1);
	}

	int dfd = -1;
	if (data) {
		dfd = open(data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (dfd < 0)
			die("cannot open", data);
	}

	write_report(report, "ready\n");

	const struct timespec tick = { 0, 1000000L };
	uint64_t prev = now_ns(), max_gap = 0, ticks = 0, written = 0;
	size_t next_page = 0;

	for (;;) {
		struct timespec left = tick;
		int r;
		while ((r = clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left)) == EINTR)
			;
		if (r != 0) {
			errno = r;
			die("clock_nanosleep", NULL);
		}

		uint64_t t = now_ns();
		if (t - prev > max_gap)
			max_gap = t - prev;
		prev = t;
		ticks++;

		for (int k = 0; k < PAGES_PER_TICK && npages > 0; k++) {
			mem[next_page * page]++;
			next_page = (next_page + 1) % npages;
		}

		if (dfd >= 0) {
			char c = (char)('a' + written % 26);
			write_all(dfd, &c, 1, data);
			written++;
		}

		if (report_requested) {
			char line[128];
			report_requested = 0;
			snprintf(line, sizeof(line), "max_gap_us=%llu ticks=%llu\n",
				 (unsigned long long)(max_gap / 1000), (unsigned long long)ticks);
			write_report(report, line);
			max_gap = 0;
			ticks = 0;
			prev = now_ns();
		}
	}
}
