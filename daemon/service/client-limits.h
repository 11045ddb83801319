/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What hostile or careless clients may use of the daemon: file descriptors (the jobs keep a
 * reserve), connections, and a rate limit for the log lines they can provoke. */

#include <stdbool.h>
#include <stdint.h>

struct fd_budget {
	unsigned limit;   /* soft RLIMIT_NOFILE, after raising it */
	unsigned reserve; /* descriptors kept free for jobs: clients get none of these */
	int proc_fd_dir;  /* /proc/self/fd, open for counting without a new descriptor */
};

/* Raises the soft RLIMIT_NOFILE towards the hard one (at most 16384), opens /proc/self/fd and
 * computes the reserve for jobs_max jobs at once. */
int fd_budget_init(struct fd_budget *b, unsigned jobs_max);
void fd_budget_set_jobs(struct fd_budget *b, unsigned jobs_max);
void fd_budget_done(struct fd_budget *b);
/* How many descriptors the process has open now; -errno if /proc cannot tell. */
int fd_budget_count_open(const struct fd_budget *b);

/* At most `burst` events per `interval_usec`; the rest are counted, not logged. */
struct ratelimit {
	uint64_t interval_usec;
	unsigned burst;
	uint64_t begin;
	unsigned n;
	unsigned suppressed; /* dropped in this interval, reported by the first event of the next */
};
#define RATELIMIT_INIT(interval, b) { .interval_usec = (interval), .burst = (b) }
/* true if this event may be logged; *ret_suppressed gets how many were dropped before it. */
bool ratelimit_below(struct ratelimit *rl, unsigned *ret_suppressed);
