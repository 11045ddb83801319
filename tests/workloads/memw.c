/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memw — a workload whose memory is mostly unchanged between checkpoints, for the image-sharing
 * tests.
 *
 *   memw MIB PERCENT STATEFILE [text]
 *
 * Holds MIB MiB of anonymous memory in 4 KiB pages, each filled with distinct pseudo-random
 * content derived from (page number, generation of that page): random bytes that no compressor
 * shrinks, or with "text" letters a..p (4 bits of entropy per byte, about half of it compresses,
 * as the text values of a key-value store do). On SIGUSR1 it rewrites PERCENT %
 * of its pages (chosen at random, each one's generation + 1); on SIGUSR2 it recomputes what every
 * page must hold and compares the whole memory. After each it reports by replacing STATEFILE
 * (written beside it and renamed; no fd stays open, so a checkpoint holds none):
 *
 *   ready PAGES          after start-up
 *   rewrote N            after SIGUSR1: N pages changed
 *   verify ok PAGES      after SIGUSR2: every page is what it should be
 *   verify BAD PAGE      the first page that is not
 *
 * Tests remove STATEFILE, send the signal and wait for it to reappear. SIGTERM → exit 0. Exit
 * codes: 0 SIGTERM, 1 out of memory or I/O error, 2 usage.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096U

static volatile sig_atomic_t want_rewrite, want_verify;
static uint8_t *mem;
static uint32_t *gen;
static size_t pages;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static bool text;

static uint64_t splitmix(uint64_t *x) {
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What page I holds at generation G; with check, compares instead of writing. */
static int fill(size_t i, bool check) {
	uint64_t x = ((uint64_t) i << 32) ^ gen[i] ^ 0x5eed5eedULL, *p = (uint64_t *) (mem + i * PAGE);
	for (size_t k = 0; k < PAGE / 8; k++) {
		uint64_t v = splitmix(&x);
		if (text) /* every byte a letter 'a' + its low 4 bits */
			v = (v & 0x0f0f0f0f0f0f0f0fULL) + 0x6161616161616161ULL;
		if (!check)
			p[k] = v;
		else if (p[k] != v)
			return -1;
	}
	return 0;
}

static int report(const char *path, const char *what, unsigned long long n) {
	char tmp[4096], line[128];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
		return -1;
	int len = snprintf(line, sizeof(line), "%s %llu\n", what, n);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	bool ok = fwrite(line, 1, (size_t) len, f) == (size_t) len;
	if (fclose(f) != 0 || !ok)
		return -1;
	return rename(tmp, path);
}

static void on_signal(int sig) {
	if (sig == SIGUSR1)
		want_rewrite = 1;
	else if (sig == SIGUSR2)
		want_verify = 1;
	else
		_exit(0);
}

static int step(const char *state, unsigned percent) {
	if (want_rewrite) {
		want_rewrite = 0;
		size_t n = pages * percent / 100;
		for (size_t k = 0; k < n; k++) {
			size_t i = (size_t) (splitmix(&rng) % pages);
			gen[i]++;
			fill(i, false);
		}
		return report(state, "rewrote", n);
	}
	if (want_verify) {
		want_verify = 0;
		for (size_t i = 0; i < pages; i++)
			if (fill(i, true) < 0)
				return report(state, "verify BAD", i);
		return report(state, "verify ok", pages);
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "text") != 0)) {
		fprintf(stderr, "usage: memw MIB PERCENT STATEFILE [text]\n");
		return 2;
	}
	text = argc == 5;
	unsigned long mib = strtoul(argv[1], NULL, 10), percent = strtoul(argv[2], NULL, 10);
	if (mib == 0 || mib > 65536 || percent > 100) {
		fprintf(stderr, "memw: MIB must be 1..65536, PERCENT 0..100\n");
		return 2;
	}
	pages = mib * (1024 * 1024 / PAGE);
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(pages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen) {
		perror("memw");
		return 1;
	}
	rng ^= (uint64_t) time(NULL);
	for (size_t i = 0; i < pages; i++)
		fill(i, false);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (report(argv[3], "ready", pages) < 0) {
		perror("memw");
		return 1;
	}
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (step(argv[3], (unsigned) percent) < 0) {
			perror("memw");
			return 1;
		}
	}
}
