/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "client-limits.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

/* Enough for any number of clients we would serve; a larger soft limit only slows down children
 * that close every possible descriptor. */
#define FD_LIMIT_WANTED 16384U
/* What one job may hold open at once (CRIU's RPC socket and pipes, image and log files, the
 * freezer, a btrfs ioctl), with room to spare; and the daemon's own base. */
#define FD_RESERVE_PER_JOB 20U
#define FD_RESERVE_BASE 32U

void fd_budget_set_jobs(struct fd_budget *b, unsigned jobs_max) {
	unsigned reserve = FD_RESERVE_BASE + FD_RESERVE_PER_JOB * jobs_max;
	/* A tiny limit still leaves clients half of it: ckptctl must be able to connect. */
	b->reserve = reserve < b->limit / 2 ? reserve : b->limit / 2;
}

int fd_budget_init(struct fd_budget *b, unsigned jobs_max) {
	struct rlimit rl;
	*b = (struct fd_budget) { .proc_fd_dir = -EBADF };
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return negative_errno();
	rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_LIMIT_WANTED ? FD_LIMIT_WANTED : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_debug_errno(errno, "Cannot raise RLIMIT_NOFILE to %llu: %m", (unsigned long long) want);
		(void) getrlimit(RLIMIT_NOFILE, &rl);
	}
	b->limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (unsigned) rl.rlim_cur;
	fd_budget_set_jobs(b, jobs_max);
	b->proc_fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->proc_fd_dir < 0)
		return negative_errno();
	return 0;
}

void fd_budget_done(struct fd_budget *b) {
	if (b->proc_fd_dir >= 0)
		close(b->proc_fd_dir);
	b->proc_fd_dir = -EBADF;
}

int fd_budget_count_open(const struct fd_budget *b) {
	if (b->proc_fd_dir < 0)
		return -EBADF;
	if (lseek(b->proc_fd_dir, 0, SEEK_SET) < 0)
		return negative_errno();
	/* getdents64 on the directory we keep open: no new descriptor, no allocation. */
	union {
		char bytes[8192];
		uint64_t align;
	} buf;
	int n = 0;
	for (;;) {
		long k = syscall(SYS_getdents64, b->proc_fd_dir, buf.bytes, sizeof(buf.bytes));
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		for (long off = 0; off < k;) {
			/* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
			unsigned short reclen;
			memcpy(&reclen, buf.bytes + off + 16, sizeof(reclen));
			if (buf.bytes[off + 19] != '.')
				n++;
			off += reclen;
		}
	}
	return n; /* the directory's own descriptor included: it counts against the limit too */
}

bool ratelimit_below(struct ratelimit *rl, unsigned *ret_suppressed) {
	uint64_t now = now_usec(CLOCK_MONOTONIC);
	unsigned carried = 0;
	if (rl->begin == 0 || now - rl->begin >= rl->interval_usec) {
		carried = rl->suppressed;
		rl->suppressed = 0;
		rl->begin = now;
		rl->n = 0;
	}
	if (rl->n < rl->burst) {
		rl->n++;
		*ret_suppressed = carried;
		return true;
	}
	rl->suppressed++;
	*ret_suppressed = 0;
	return false;
}
