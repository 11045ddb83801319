/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "cgroup-memory.h"
#include "error.h"
#include "fileio.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "predump.h"
#include "time-util.h"

/* How often the stop of a pass is looked at: CRIU says nothing about it. */
#define STOP_POLL_USEC 1000

static inline uint64_t max_u64(uint64_t a, uint64_t b) {
	return a > b ? a : b;
}

void predump_done(struct predump *p) {
	free(p->images_dir);
	free(p->parent);
	p->images_dir = p->parent = NULL;
}

/* ---- how long a pass stops the tasks ----------------------------------------------------- */

/* CRIU freezes the cgroup while it seizes the tasks (ptrace), thaws it, and keeps them seized
 * while its parasite collects their memory; it lets them go before it writes the pages. The
 * tasks are stopped while the cgroup is frozen or the root task has a tracer: polled every
 * millisecond, and the job's MaxFrozenSec watchdog is told (job_set_frozen()), so a pass is held
 * to the same budget as the dump's window. */
struct stop_watch {
	struct job *job;
	const char *cgroup;
	enum cgroup_kind kind;
	pid_t root;
	pthread_t thread;
	atomic_bool quit;
	uint64_t since, total, longest;
};

static bool root_is_traced(pid_t pid) {
	char path[64];
	(void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "TracerPid:", 10) == 0)
			return strtol(line + 10, NULL, 10) > 0;
	return false;
}

static void stop_watch_account(struct stop_watch *w) {
	if (!w->since)
		return;
	uint64_t d = now_usec(CLOCK_MONOTONIC) - w->since;
	w->total += d;
	w->longest = max_u64(w->longest, d);
	w->since = 0;
	job_set_frozen(w->job, false);
}

static void *stop_watch_thread(void *userdata) {
	struct stop_watch *w = userdata;
	while (!atomic_load(&w->quit)) {
		bool stopped = cgroup_is_frozen(w->cgroup, w->kind) > 0 || root_is_traced(w->root);
		if (stopped && !w->since) {
			w->since = now_usec(CLOCK_MONOTONIC);
			job_set_frozen(w->job, true);
		} else if (!stopped)
			stop_watch_account(w);
		usleep(STOP_POLL_USEC);
	}
	stop_watch_account(w);
	return NULL;
}

/* ---- the passes ---------------------------------------------------------------------------- */

static char *pass_name(unsigned k) {
	char *s = NULL;
	return asprintf(&s, "predump-%u", k) < 0 ? NULL : s;
}

/* Removes the pass directories 1..n that this job made below images_dir; something else in
 * their place (a symlink, a file) is left alone and reported. */
static int remove_passes(const char *images_dir, unsigned n) {
	int ret = 0;
	for (unsigned k = 1; k <= n; k++) {
		_cleanup_free_ char *name = pass_name(k);
		_cleanup_free_ char *path = name ? path_join(images_dir, name) : NULL;
		if (!path)
			return -ENOMEM;
		struct stat st;
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				ret = negative_errno();
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			log_warning("%s is not the pre-dump directory this job made: left alone", path);
			ret = -EEXIST;
			continue;
		}
		int r = rm_rf(path);
		if (r < 0) {
			log_warning_errno(r, "cannot remove the pre-dump %s: %m", path);
			ret = r;
		}
	}
	return ret;
}

/* How many passes PreDump= asks for here; 0 with the reason logged. */
static unsigned passes_wanted(const struct predump_target *t) {
	struct job *j = t->job;
	int want = t->cfg->pre_dump;
	if (want == 0)
		return 0;
	if (!criu_dirty_tracking_available(j->criu_path)) {
		if (want == PRE_DUMP_AUTO)
			log_debug("%s: PreDump=auto: the kernel does not track dirty memory ('criu check --feature "
			          "mem_dirty_track'); a full dump", j->container);
		else
			log_warning("%s: PreDump=%d, but the kernel does not track dirty memory ('criu check --feature "
			            "mem_dirty_track' says no: a kernel without CONFIG_MEM_SOFT_DIRTY); a full dump instead",
			            j->container, want);
		return 0;
	}
	uint64_t resident = 0;
	const char *source;
	(void) cgroup_memory_estimate(t->cfg->cgroup, &resident, &source);
	/* A pre-dump of everything, a dump of what changed (at worst everything again). */
	uint64_t needed = 2 * (resident + resident / 5 + 16ULL * 1024 * 1024);
	struct statvfs sv;
	if (statvfs(t->images_dir, &sv) >= 0 && (uint64_t) sv.f_bavail * sv.f_frsize < needed) {
		log_warning("%s: no room for a pre-dump in %s (about %" PRIu64 " MiB needed, %" PRIu64 " MiB free); a full "
		            "dump instead", j->container, t->images_dir, needed >> 20,
		            ((uint64_t) sv.f_bavail * sv.f_frsize) >> 20);
		return 0;
	}
	return want == PRE_DUMP_AUTO ? 1 : (unsigned) want;
}

/* One pass into images_dir/predump-K. *ret_stopped: how long it stopped the tasks; *ret_created:
 * whether it made predump-K (only then is it ours to remove). */
static int run_pass(const struct predump_target *t, unsigned k, uint64_t *ret_stopped, bool *ret_created,
                    char **ret_error) {
	struct job *j = t->job;
	_cleanup_free_ char *name = pass_name(k), *prev = k > 1 ? pass_name(k - 1) : NULL, *parent = NULL;
	_cleanup_free_ char *dir = name ? path_join(t->images_dir, name) : NULL;
	if (!dir || (k > 1 && (!prev || asprintf(&parent, "../%s", prev) < 0)))
		return error_setf(ret_error, -ENOMEM, "out of memory");
	*ret_created = false;
	if (mkdir(dir, 0700) < 0)
		return error_setf(ret_error, negative_errno(), "cannot create %s: %m", dir);
	*ret_created = true;
	struct criu_pre_dump_options o = {
		.criu_path = j->criu_path,
		.root_pid = t->root,
		.images_dir = dir,
		.work_dir = dir,
		.log_name = "predump.log",
		.parent_images = parent,
		.freeze_cgroup = t->cfg->cgroup,
		.shell_job = t->shell_job,
		.ns = t->ns,
		/* MaxFrozenSec, rounded up: CRIU stops trying to seize by itself once the budget is
		 * spent. Killed instead (the watchdog's last resort), a pre-dump's CRIU once left the
		 * next dump unable to seize the tasks (tests/vm/guest-predump.sh, under heavy load). */
		.timeout_sec = (unsigned) ((t->cfg->max_frozen_usec + USEC_PER_SEC - 1) / USEC_PER_SEC),
	};
	struct criu_hooks hooks = { .spawned = t->spawned, .userdata = t->userdata };
	struct stop_watch w = { .job = j, .cgroup = t->cfg->cgroup, .kind = t->kind, .root = t->root };
	int r = -pthread_create(&w.thread, NULL, stop_watch_thread, &w);
	if (r < 0)
		return error_setf(ret_error, r, "cannot start a thread: %m");
	r = criu_run_pre_dump(&o, &hooks, ret_error);
	atomic_store(&w.quit, true);
	pthread_join(w.thread, NULL);
	job_set_criu(j, 0, -EBADF);
	/* Never left frozen: a CRIU that died while it seized the tasks leaves the cgroup frozen
	 * (it was not before: the dump checked). */
	if (cgroup_is_frozen(t->cfg->cgroup, t->kind) > 0) {
		log_warning("%s: cgroup %s is still frozen after pre-dump pass %u: thawing it", j->container, t->cfg->cgroup, k);
		int k2 = cgroup_thaw_fd(t->freezer_fd, t->kind);
		if (k2 < 0 && r >= 0)
			r = error_setf(ret_error, k2, "cannot thaw cgroup %s after pre-dump pass %u: %m", t->cfg->cgroup, k);
	}
	*ret_stopped = w.total;
	log_debug("%s: pre-dump pass %u: %s, tasks stopped %.1f ms (longest %.1f ms)", j->container, k,
	          r < 0 ? "failed" : "done", (double) w.total / USEC_PER_MSEC, (double) w.longest / USEC_PER_MSEC);
	return r;
}

int predump_run(struct predump *p, const struct predump_target *t, char **ret_error) {
	struct job *j = t->job;
	*p = (struct predump) {};
	unsigned n = passes_wanted(t);
	if (n == 0)
		return 0;
	if (!(p->images_dir = strdup(t->images_dir)))
		return error_setf(ret_error, -ENOMEM, "out of memory");
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	unsigned made = 0, k = 0;
	int r = 0;
	_cleanup_free_ char *error = NULL;
	while (r >= 0 && k < n) {
		k++;
		job_progress(j, "pre-dump", "pass %u of %u: CRIU copies the memory of process tree %d while it runs", k, n,
		             (int) t->root);
		uint64_t stopped = 0;
		bool created = false;
		r = run_pass(t, k, &stopped, &created, &error);
		if (created)
			made = k;
		p->stopped_usec += stopped;
		p->stopped_max_usec = max_u64(p->stopped_max_usec, stopped);
	}
	p->usec = now_usec(CLOCK_MONOTONIC) - t0;
	if (job_budget_exceeded(j)) {
		(void) remove_passes(t->images_dir, made);
		return error_setf(ret_error, -ETIME, "a pre-dump pass kept the tasks stopped for longer than MaxFrozenSec="
		                  "%.3gs; CRIU was stopped and the container thawed", (double) t->cfg->max_frozen_usec / USEC_PER_SEC);
	}
	if (r < 0) {
		/* A failed pass may have reset the dirty bits after the earlier ones: none can be a parent. */
		log_warning("%s: pre-dump pass %u failed; a full dump instead: %s", j->container, k, strna(error));
		(void) remove_passes(t->images_dir, made);
		return 0;
	}
	p->passes = n;
	if (!(p->parent = pass_name(n)))
		return error_setf(ret_error, -ENOMEM, "out of memory");
	log_info("%s: %u pre-dump pass(es) in %.1f ms, tasks stopped %.1f ms in all (longest %.1f ms)", j->container, n,
	         (double) p->usec / USEC_PER_MSEC, (double) p->stopped_usec / USEC_PER_MSEC,
	         (double) p->stopped_max_usec / USEC_PER_MSEC);
	return 0;
}

int predump_finish(struct predump *p, char **ret_error) {
	if (!p->parent)
		return 0;
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	_cleanup_close_ int dir_fd = open(p->images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open %s: %m", p->images_dir);
	int fds[PRE_DUMP_MAX_PASSES];
	size_t n = 0;
	int r = 0;
	/* The chain, newest first: predump-N, ..., predump-1, by their names, not by CRIU's links. */
	for (unsigned k = p->passes; k >= 1 && r >= 0; k--) {
		_cleanup_free_ char *name = pass_name(k);
		int fd = name ? openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -ENOMEM;
		if (fd < 0)
			r = error_setf(ret_error, name ? negative_errno() : -ENOMEM, "cannot open the pre-dump %s/%s: %m",
			               p->images_dir, strna(name));
		else
			fds[n++] = fd;
	}
	_cleanup_free_ char *error = NULL;
	if (r >= 0 && (r = criu_pagemap_merge_parents(dir_fd, fds, n, &p->merged, &error)) < 0)
		(void) error_setf(ret_error, r, "cannot make the images in %s self-contained after the pre-dump: %s",
		                  p->images_dir, strna(error));
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	if (r < 0)
		return r;
	r = remove_passes(p->images_dir, p->passes);
	if (r < 0)
		return error_setf(ret_error, r, "cannot remove the pre-dumps in %s: %m", p->images_dir);
	p->merge_usec = now_usec(CLOCK_MONOTONIC) - t0;
	return 0;
}

/* ---- transparent huge pages ------------------------------------------------------------- */

/* Anonymous and AnonHugePages of /proc/PID/smaps_rollup, in KiB. */
static int smaps_anon(pid_t pid, uint64_t *ret_anon, uint64_t *ret_huge) {
	char path[64];
	(void) snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return negative_errno();
	char line[256];
	unsigned long long v;
	*ret_anon = *ret_huge = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Anonymous: %llu kB", &v) == 1)
			*ret_anon = v;
		else if (sscanf(line, "AnonHugePages: %llu kB", &v) == 1)
			*ret_huge = v;
	}
	return 0;
}

int predump_huge_page_warning(const char *cgroup, char **ret_warning) {
	*ret_warning = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r = cgroup_list_pids(cgroup, &pids, &n);
	if (r < 0)
		return r;
	uint64_t anon = 0, huge = 0, most = 0;
	pid_t most_pid = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t a, h;
		if (smaps_anon(pids[i], &a, &h) < 0)
			continue; /* gone meanwhile, or a kernel thread */
		anon += a;
		huge += h;
		if (h > most) {
			most = h;
			most_pid = pids[i];
		}
	}
	/* At least a quarter, and more than a few huge pages: then scattered writes dirty most of it. */
	if (huge < 8 * 1024 || huge * 4 < anon)
		return 0;
	if (asprintf(ret_warning, "%" PRIu64 " MiB of the %" PRIu64 " MiB of anonymous memory of the container are "
	             "transparent huge pages (%" PRIu64 " MiB in pid %d): the kernel tracks dirty memory per 2 MiB huge "
	             "page, so after a pre-dump a few scattered writes make the final dump write nearly all of it again "
	             "and PreDump= shortens the frozen window by nothing. Turn transparent huge pages off for the "
	             "workload (echo madvise >/sys/kernel/mm/transparent_hugepage/enabled, or prctl(PR_SET_THP_DISABLE) "
	             "before it starts), or set PreDump=no to save the pre-dump's work",
	             huge >> 10, anon >> 10, most >> 10, (int) most_pid) < 0) {
		*ret_warning = NULL;
		return -ENOMEM;
	}
	return 0;
}
