/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* freeze-and-dump: the pipeline of DESIGN.md, steps 1-7, in that order.
 *   validate -> syncfs + record intent -> [criu warm-up] -> freeze -> snapshot -> dump -> thaw
 *   -> persist images, checksums -> pair.json (complete) -> forget the intent.
 * Freeze and snapshot run at CRIU's pre-dump notification; any failure after freezing thaws
 * first, then cleans up, then reports. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "backend.h"
#include "cgroup-memory.h"
#include "cgroup.h"
#include "criu.h"
#include "discover.h"
#include "fileio.h"
#include "intent.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "time-util.h"

struct dump {
	struct job *job;
	const char *cgroup;
	enum cgroup_kind kind;
	int freezer_fd; /* cgroup.freeze / freezer.state, opened before freezing: thawing needs no new fd */
	uint64_t id;
	size_t n;
	const struct snapshot_backend **backends;
	struct snapshot_params params;
	char **snapshots;
	json_t **nested; /* per volume: paths of the nested subvolumes snapshotted with it, or NULL */
	bool *prepared; /* prepare() succeeded: what is there below .ckptd/NAME/ID is this job's */
	bool frozen;
	/* Timestamps, CLOCK_MONOTONIC µs. */
	uint64_t t_start, t_criu_spawned, t_freeze, t_frozen, t_snapshotted, t_dumped, t_thawed;
	uint64_t pair_id_out;
	/* What failed inside the window. */
	const char *failed_step;
	char *error;
	int error_code;
};

/* Dumps whose root task has no procfs of its own run one at a time: CRIU's parasite mounts a
 * private procfs at a fixed name in the root task's working directory, and two at once collide
 * there ("Can't create a directory (-17)"; see discover_procfs()). */
static pthread_mutex_t private_procfs_dump_lock = PTHREAD_MUTEX_INITIALIZER;

static void dump_done(struct dump *d) {
	for (size_t i = 0; i < d->n && d->snapshots; i++)
		free(d->snapshots[i]);
	free(d->snapshots);
	for (size_t i = 0; i < d->n && d->nested; i++)
		if (d->nested[i])
			json_decref(d->nested[i]);
	free(d->nested);
	free(d->backends);
	free(d->prepared);
	free(d->error);
	if (d->freezer_fd >= 0)
		close(d->freezer_fd);
}

static int on_criu_spawned(pid_t pid, void *userdata) {
	struct dump *d = userdata;
	d->t_criu_spawned = now_usec(CLOCK_MONOTONIC);
	job_set_criu_pid(d->job, pid);
	return 0;
}

/* Fault injection, for the crash and budget tests only (documented in ckptd(8)): keeps the
 * window open after the snapshots, while CRIU waits for our answer, as a slow CRIU would. Ends
 * early when the MaxFrozenSec watchdog fires. */
static void hold_for_testing(struct job *j) {
	const char *e = getenv("CKPTD_TEST_HOLD_FROZEN_MSEC");
	if (!e)
		return;
	uint64_t until = now_usec(CLOCK_MONOTONIC) + strtoull(e, NULL, 10) * USEC_PER_MSEC;
	log_warning("%s: CKPTD_TEST_HOLD_FROZEN_MSEC=%s: holding the frozen window open", j->container, e);
	while (now_usec(CLOCK_MONOTONIC) < until && !job_budget_exceeded(j))
		usleep(10000);
}

/* CRIU has finished probing the kernel and is about to seize the tasks: the window opens. */
static int on_pre_dump(void *userdata) {
	struct dump *d = userdata;
	struct job *j = d->job;
	_cleanup_free_ char *stragglers = NULL;

	d->t_freeze = now_usec(CLOCK_MONOTONIC);
	int r = cgroup_freeze_fd(d->freezer_fd, d->cgroup, d->kind, j->config->freeze_timeout_usec, &stragglers);
	if (r < 0) {
		d->failed_step = "freeze";
		d->error_code = r;
		if (r == -ETIMEDOUT)
			(void) asprintf(&d->error, "cgroup %s did not freeze within FreezeTimeoutSec=%.3gs; not frozen: %s",
			                d->cgroup, (double) j->config->freeze_timeout_usec / USEC_PER_SEC,
			                strna(stragglers));
		else
			(void) asprintf(&d->error, "cannot freeze cgroup %s: %s", d->cgroup, strerror(-r));
		return -1;
	}
	d->frozen = true;
	d->t_frozen = now_usec(CLOCK_MONOTONIC);
	job_set_frozen(j, true);

	for (size_t i = 0; i < d->n; i++) {
		r = d->backends[i]->snapshot(j->config->volumes[i], d->snapshots[i], &d->params, &d->nested[i], &d->error);
		if (r < 0) {
			d->failed_step = "snapshot";
			d->error_code = r;
			return -1;
		}
	}
	d->t_snapshotted = now_usec(CLOCK_MONOTONIC);
	hold_for_testing(j);
	return 0;
}

/* Thawing must not fail silently: through the descriptor opened before freezing (no new fd, no
 * memory), retried, and said loudly if it fails all the same. */
static int thaw(struct dump *d) {
	int r = cgroup_thaw_fd(d->freezer_fd, d->kind);
	d->t_thawed = now_usec(CLOCK_MONOTONIC);
	if (r < 0 && r != -ENOENT && r != -ENODEV)
		return log_error_errno(r, "%s: cannot thaw cgroup %s: %m. The container stays frozen!", d->job->container,
		                       d->cgroup);
	d->frozen = false;
	job_set_frozen(d->job, false);
	return 0;
}

/* CRIU answered with success: the images are written and the tasks detached from it, so the
 * window closes now rather than after the criu process has exited (3-4 ms here). */
static void on_dumped(void *userdata) {
	struct dump *d = userdata;
	d->t_dumped = now_usec(CLOCK_MONOTONIC);
	if (d->frozen && !job_budget_exceeded(d->job))
		(void) thaw(d);
}

/* The volume records of the pair (only_prepared: those this job made something of, for a
 * cleanup: what failed to be prepared may be someone else's). */
static json_t *volumes_json(struct dump *d, bool only_prepared) {
	json_t *a = json_array();
	for (size_t i = 0; a && i < d->n; i++)
		if (!only_prepared || d->prepared[i])
			json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:O*}", "backend", d->backends[i]->name, "source",
			                                   d->job->config->volumes[i], "snapshot", d->snapshots[i], "nested",
			                                   d->nested[i]));
	return a;
}

/* Removes what this job made of the pair: the snapshots it took, the pair directory, the
 * staging directory. */
static int dump_remove_partial(struct dump *d, const char *staged, char **ret_error) {
	_cleanup_(json_decrefp) json_t *made = volumes_json(d, true);
	if (!made)
		return -ENOMEM;
	return pair_remove(d->job->state_dir, d->job->container, d->id, made, staged, ret_error);
}

static bool is_memory_fs(const char *path) {
	struct statfs sf;
	return statfs(path, &sf) >= 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

static uint64_t free_bytes(const char *path) {
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	return (uint64_t) sv.f_bavail * sv.f_frsize;
}

/* Room for the images: what the tasks have resident, with a margin. */
static uint64_t images_needed(uint64_t resident) {
	return resident + resident / 5 + 16ULL * 1024 * 1024;
}

/* Copies (when staged in memory) or syncs every image, checksumming each. */
static int persist_images(const char *from, const char *to, json_t *sums, uint64_t *ret_bytes, uint64_t *ret_files,
                          char **ret_error) {
	bool staged = !streq(from, to);
	int r = mkdir_p(to, 0700);
	if (r < 0)
		return asprintf(ret_error, "cannot create %s: %s", to, strerror(-r)), r;
	_cleanup_closedir_ DIR *dir = opendir(from);
	if (!dir)
		return r = negative_errno(), asprintf(ret_error, "cannot read %s: %s", from, strerror(-r)), r;
	uint64_t bytes = 0, files = 0;
	for (struct dirent *de; (de = readdir(dir));) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		_cleanup_free_ char *src = path_join(from, de->d_name), *dst = path_join(to, de->d_name);
		if (!src || !dst)
			return -ENOMEM;
		r = staged ? copy_file_fsync(src, dst, 0600) : fsync_path(dst);
		if (r < 0)
			return asprintf(ret_error, "cannot store image %s: %s", dst, strerror(-r)), r;
		char hex[65];
		r = pair_checksum_file(dst, hex);
		if (r < 0)
			return asprintf(ret_error, "cannot checksum image %s: %s", dst, strerror(-r)), r;
		json_object_set_new(sums, de->d_name, json_string(hex));
		bytes += (uint64_t) st.st_size;
		files++;
	}
	r = fsync_path(to);
	if (r < 0)
		return asprintf(ret_error, "cannot sync %s: %s", to, strerror(-r)), r;
	*ret_bytes = bytes;
	*ret_files = files;
	return 0;
}

/* CRIU's log lives in the pair directory, which the cleanup removes: keep it as
 * containers/NAME/failed-dump.log (the latest failure only) and point the message there. When
 * the images' file system is full, say so first: CRIU's own lines often do not. */
static void explain_dump_failure(struct job *j, const char *pair_dir, const char *images, char **error) {
	_cleanup_free_ char *log = path_join(pair_dir, "dump.log");
	_cleanup_free_ char *cdir = catalog_container_dir(j->state_dir, j->container);
	_cleanup_free_ char *kept = cdir ? path_join(cdir, "failed-dump.log") : NULL;
	_cleanup_free_ char *full = NULL, *moved = NULL;
	struct statvfs sv;
	if (statvfs(images, &sv) >= 0 && (uint64_t) sv.f_bavail * sv.f_frsize < 1024 * 1024)
		(void) asprintf(&full, "no space left on the file system of %s (%" PRIu64 " KiB free): ", images,
		                (uint64_t) sv.f_bavail * sv.f_frsize / 1024);
	if (log && kept && rename(log, kept) >= 0)
		(void) asprintf(&moved, " (CRIU's log of this dump is kept as %s)", kept);
	if (!full && !moved)
		return;
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", strempty(full), strempty(*error), strempty(moved)) < 0)
		return;
	free(*error);
	*error = s;
}

static char *criu_version_string(int v) {
	char *s = NULL;
	if (v > 0)
		(void) asprintf(&s, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
	return s;
}

int pair_make(struct job *j, const char *tag, json_t **ret_pair, struct failure *f) {
	struct container_config *cfg = j->config;
	_cleanup_(dump_done) struct dump d = { .job = j, .cgroup = cfg->cgroup, .n = cfg->n_volumes, .freezer_fd = -EBADF,
		.params = { .size_percent = cfg->snapshot_size_percent, .size_bytes = cfg->snapshot_size_bytes } };
	d.t_start = now_usec(CLOCK_MONOTONIC);
	int r;

	/* 1. Validate, before anything changes. */
	job_progress(j, "validate", "checking cgroup %s and %zu volume(s)", cfg->cgroup, cfg->n_volumes);
	r = cgroup_detect(cfg->cgroup, &d.kind);
	if (r == -ENOENT)
		return failure_set(f, "validate", "nothing changed", r, "cgroup %s does not exist", cfg->cgroup);
	if (r < 0)
		return failure_set(f, "validate", "nothing changed", r,
		                "%s is neither a cgroup v2 directory nor a v1 freezer cgroup: %m", cfg->cgroup);
	if (cgroup_is_frozen(cfg->cgroup, d.kind) > 0)
		return failure_set(f, "validate", "nothing changed", -EBUSY,
		                "cgroup %s is already frozen (by someone else, or left so by a failed thaw, which ckptd logged); "
		                "thaw it first", cfg->cgroup);
	d.freezer_fd = cgroup_freezer_open(cfg->cgroup, d.kind);
	if (d.freezer_fd < 0)
		return failure_set(f, "validate", "nothing changed", d.freezer_fd, "cannot open the freezer of cgroup %s: %m",
		                   cfg->cgroup);
	if (!j->criu_path)
		return failure_set(f, "validate", "nothing changed", -ENOENT,
		                "no criu binary found (set Criu= in ckptd.conf or run tools/setup)");

	pid_t root = cfg->root_pid;
	if (root <= 0) {
		_cleanup_free_ char *why = NULL;
		r = cgroup_find_root(cfg->cgroup, &root, &why);
		if (r < 0)
			return failure_set(f, "validate", "nothing changed", r, "%s", strna(why));
	}
	bool shell_job = getsid(root) != root;

	/* What the container is made of, and whether CRIU can take it: refused here, before
	 * anything is frozen or created. */
	job_progress(j, "discover", "inspecting process tree %d", (int) root);
	uint64_t t_discover = now_usec(CLOCK_MONOTONIC);
	_cleanup_(json_decrefp) json_t *discovery = NULL;
	{
		_cleanup_free_ char *why = NULL;
		r = discover_container(cfg, root, &discovery, &why);
		if (r < 0)
			return failure_set(f, "discover", "nothing changed", r, "%s", why ? why : strerror(-r));
		json_t *problems = json_object_get(discovery, "problems");
		if (json_array_size(problems) > 0) {
			failure_set(f, "discover", "nothing changed; the container was not frozen", -EOPNOTSUPP,
			            "container %s cannot be checkpointed: %s%s", j->container,
			            json_string_value(json_array_get(problems, 0)),
			            json_array_size(problems) > 1 ? " (and more, see details)" : "");
			f->details = json_incref(problems);
			return f->error;
		}
	}
	struct criu_ns_options ns;
	discovery_criu_options(discovery, &ns);
	uint64_t discover_usec = now_usec(CLOCK_MONOTONIC) - t_discover;

	d.backends = calloc(d.n, sizeof(*d.backends));
	d.snapshots = calloc(d.n, sizeof(char *));
	d.nested = calloc(d.n, sizeof(json_t *));
	d.prepared = calloc(d.n, sizeof(bool));
	if (!d.backends || !d.snapshots || !d.nested || !d.prepared)
		return failure_set(f, "validate", "nothing changed", -ENOMEM, "out of memory");
	for (size_t i = 0; i < d.n; i++) {
		_cleanup_free_ char *why = NULL;
		d.backends[i] = snapshot_backend_for(cfg->volumes[i]);
		if (!d.backends[i])
			return failure_set(f, "validate", "nothing changed", -EOPNOTSUPP,
			                "volume %s: no snapshot backend handles it", cfg->volumes[i]);
		r = d.backends[i]->check(cfg->volumes[i], job_volume_identity(j, i), &why);
		if (r < 0)
			return failure_set(f, "validate", "nothing changed", r, "%s", strna(why));
	}

	uint64_t resident = 0;
	const char *estimated_from = NULL;
	(void) cgroup_memory_estimate(cfg->cgroup, &resident, &estimated_from);
	uint64_t needed = images_needed(resident);
	r = mkdir_p(j->state_dir, 0700);
	if (r < 0)
		return failure_set(f, "validate", "nothing changed", r, "cannot create state directory %s: %m",
		                j->state_dir);
	if (free_bytes(j->state_dir) < needed)
		return failure_set(f, "validate", "nothing changed", -ENOSPC,
		                "not enough space in %s for the images: need about %" PRIu64 " MiB (estimated from %s), %"
		                PRIu64 " MiB free", j->state_dir, needed >> 20, strna(estimated_from), free_bytes(j->state_dir) >> 20);

	r = catalog_allocate_id(j->state_dir, j->container, &d.id);
	if (r == -EOVERFLOW)
		return failure_set(f, "validate", "nothing changed", r,
		                   "the pair ids of container %s are used up (%s/containers/%s/last-id or a pair directory "
		                   "holds the largest id, %" PRId64 "); ids are never reused", j->container, j->state_dir,
		                   j->container, INT64_MAX);
	if (r < 0)
		return failure_set(f, "validate", "nothing changed", r, "cannot allocate a pair id in %s: %m",
		                j->state_dir);
	d.pair_id_out = d.id;
	_cleanup_free_ char *pair_dir = catalog_pair_dir(j->state_dir, j->container, d.id);
	_cleanup_free_ char *images = pair_dir ? path_join(pair_dir, "images") : NULL;
	_cleanup_free_ char *staged = NULL;
	if (!images)
		return failure_set(f, "validate", "nothing changed", -ENOMEM, "out of memory");

	/* Where CRIU writes while frozen: memory is faster, disk when memory has no room. */
	bool use_memory = cfg->staging == STAGING_MEMORY;
	if (cfg->staging != STAGING_DISK && mkdir_p(j->staging_dir, 0700) >= 0) {
		bool fits = free_bytes(j->staging_dir) >= needed;
		if (cfg->staging == STAGING_AUTO)
			use_memory = fits && is_memory_fs(j->staging_dir);
		else if (!fits) {
			_cleanup_free_ char *dir = TAKE_PTR(pair_dir);
			(void) rm_rf(dir);
			return failure_set(f, "validate", "nothing changed", -ENOSPC,
			                "Staging=memory, but %s has only %" PRIu64 " MiB free for about %" PRIu64 " MiB of images "
			                "(estimated from %s)", j->staging_dir, free_bytes(j->staging_dir) >> 20, needed >> 20,
			                strna(estimated_from));
		}
	}
	if (use_memory && asprintf(&staged, "%s/%s-%" PRIu64, j->staging_dir, j->container, d.id) < 0)
		return failure_set(f, "validate", "nothing changed", -ENOMEM, "out of memory");
	const char *criu_images = staged ? staged : images;
	r = mkdir_p(criu_images, 0700);

	for (size_t i = 0; r >= 0 && i < d.n; i++)
		r = d.backends[i]->snapshot_location(cfg->volumes[i], j->container, d.id, &d.snapshots[i]);
	_cleanup_(json_decrefp) json_t *volumes = r >= 0 ? volumes_json(&d, false) : NULL;
	_cleanup_(json_decrefp) json_t *intent = volumes ? json_pack("{s:s,s:s,s:I,s:s,s:s,s:O,s:s?,s:i}",
	        "kind", "freeze-and-dump", "container", j->container, "pair", (json_int_t) d.id, "cgroup", cfg->cgroup,
	        "cgroup_kind", cgroup_kind_to_string(d.kind), "snapshots", volumes, "staging", staged,
	        "daemon_pid", (int) getpid()) : NULL;
	if (r < 0 || !intent) {
		(void) rm_rf(pair_dir);
		if (staged)
			(void) rm_rf(staged);
		return failure_set(f, "validate", "nothing changed", r < 0 ? r : -ENOMEM,
		                "cannot prepare the image directory %s: %m", criu_images);
	}

	/* 2. Outside the window: flush the volumes, record the intent durably. */
	job_progress(j, "sync", "flushing %zu volume(s)", d.n);
	uint64_t t_sync = now_usec(CLOCK_MONOTONIC);
	const char *step = "sync";
	_cleanup_free_ char *error = NULL;
	for (size_t i = 0; r >= 0 && i < d.n; i++) {
		r = d.backends[i]->prepare(cfg->volumes[i], d.snapshots[i], &d.params, &error);
		d.prepared[i] = r >= 0;
	}
	uint64_t t_synced = now_usec(CLOCK_MONOTONIC);
	if (r >= 0) {
		step = "intent";
		r = intent_record(j->state_dir, j->container, intent);
		if (r < 0)
			(void) asprintf(&error, "cannot record the intent in %s/journal: %s", j->state_dir, strerror(-r));
	}

	/* 3-5. CRIU starts; at its pre-dump point we freeze and snapshot; then it dumps. */
	if (r >= 0) {
		job_progress(j, "dump", "CRIU dumps process tree %d", (int) root);
		struct criu_dump_options o = {
			.criu_path = j->criu_path,
			.root_pid = root,
			.images_dir = criu_images,
			.work_dir = pair_dir,
			.freeze_cgroup = cfg->cgroup,
			.tcp_established = cfg->tcp_established,
			.file_locks = cfg->file_locks,
			.shell_job = shell_job,
			.ns = ns,
		};
		struct criu_hooks hooks = { .spawned = on_criu_spawned, .pre_dump = on_pre_dump, .dumped = on_dumped,
			                    .userdata = &d };
		step = "dump";
		/* Taken before CRIU starts, so any wait happens before the freeze, not inside it. */
		if (ns.private_procfs && pthread_mutex_trylock(&private_procfs_dump_lock) != 0) {
			job_progress(j, "dump", "waiting for another dump of a container without its own /proc");
			pthread_mutex_lock(&private_procfs_dump_lock);
		}
		r = criu_run_dump(&o, &hooks, &error);
		if (ns.private_procfs)
			pthread_mutex_unlock(&private_procfs_dump_lock);
		job_set_criu_pid(j, 0);
		if (!d.t_dumped)
			d.t_dumped = now_usec(CLOCK_MONOTONIC);
	}

	/* 6. Thaw, whatever happened (on success it happened as soon as CRIU answered). */
	bool was_frozen = d.frozen || d.t_thawed;
	int thaw_r = d.frozen ? thaw(&d) : 0;
	uint64_t frozen_usec = was_frozen ? d.t_thawed - d.t_freeze : 0;
	if (was_frozen && thaw_r >= 0)
		log_container_event(LOG_INFO, CKPTD_MESSAGE_THAWED, j->container, d.id, frozen_usec,
		                    "%s: thawed after %.1f ms frozen", j->container, (double) frozen_usec / USEC_PER_MSEC);

	if (d.failed_step) { /* the window itself failed: its message is the decisive one */
		step = d.failed_step;
		free(error);
		error = TAKE_PTR(d.error);
		r = d.error_code;
	}
	if (job_budget_exceeded(j)) {
		step = "dump";
		free(error);
		error = NULL;
		(void) asprintf(&error, "the frozen window exceeded MaxFrozenSec=%.3gs; CRIU was stopped",
		                (double) cfg->max_frozen_usec / USEC_PER_SEC);
		r = -ETIME;
	}
	if (thaw_r < 0) {
		/* The truth, and what to do: the intent stays, so a restarted ckptd thaws and cleans up. */
		_cleanup_free_ char *why = error ? TAKE_PTR(error) : NULL;
		if (asprintf(&error, "cannot thaw cgroup %s: %s%s%s", cfg->cgroup, strerror(-thaw_r),
		             r < 0 ? "; before that, " : "", r < 0 ? (why ? why : strerror(-r)) : "") < 0)
			error = NULL;
		step = "thaw";
		r = thaw_r;
	}
	if (r < 0 || thaw_r < 0) {
		_cleanup_free_ char *cleanup_error = NULL;
		if (streq(step, "dump"))
			explain_dump_failure(j, pair_dir, criu_images, &error);
		int k = thaw_r < 0 ? 0 : dump_remove_partial(&d, staged, &cleanup_error);
		if (k >= 0 && thaw_r >= 0)
			(void) intent_clear(j->state_dir, intent);
		_cleanup_free_ char *state = NULL;
		(void) asprintf(&state, "%s; %s", thaw_r < 0 ? "THAW FAILED, the container is still frozen (thaw it with "
		                "'echo 0 >cgroup.freeze' or 'echo THAWED >freezer.state', or restart ckptd, which thaws it)" :
		                was_frozen ? "container thawed" :
		                streq_ptr(d.failed_step, "freeze") ? "the partial freeze was undone, the container runs" :
		                "container was not frozen",
		                thaw_r < 0 ? "the partial pair is kept until then" :
		                k < 0 ? cleanup_error : "the partial pair was removed");
		return failure_set(f, step, state, r < 0 ? r : thaw_r, "%s", error ? error : strerror(-r));
	}

	/* 7. After thaw: make the images durable, checksum them, write pair.json last. */
	job_progress(j, "persist", "storing images");
	uint64_t t_persist = now_usec(CLOCK_MONOTONIC);
	_cleanup_(json_decrefp) json_t *sums = json_object();
	uint64_t bytes = 0, files = 0;
	r = persist_images(criu_images, images, sums, &bytes, &files, &error);
	if (staged)
		(void) rm_rf(staged);
	if (r < 0) {
		_cleanup_free_ char *cleanup_error = NULL;
		int k = dump_remove_partial(&d, NULL, &cleanup_error);
		if (k >= 0)
			(void) intent_clear(j->state_dir, intent);
		return failure_set(f, "persist", k < 0 ? cleanup_error : "container thawed; the partial pair was removed",
		                r, "%s", strna(error));
	}
	uint64_t t_done = now_usec(CLOCK_MONOTONIC);

	char created[64];
	(void) format_timestamp_utc(now_usec(CLOCK_REALTIME) - (t_done - d.t_freeze), created, sizeof(created));
	_cleanup_free_ char *version = criu_version_string(j->criu_version);
	json_t *timings = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	        "discover_usec", (json_int_t) discover_usec,
	        "sync_usec", (json_int_t) (t_synced - t_sync),
	        "criu_start_usec", (json_int_t) (d.t_freeze - d.t_criu_spawned),
	        "freeze_usec", (json_int_t) (d.t_frozen - d.t_freeze),
	        "snapshot_usec", (json_int_t) (d.t_snapshotted - d.t_frozen),
	        "dump_usec", (json_int_t) (d.t_dumped - d.t_snapshotted),
	        "thaw_usec", (json_int_t) (d.t_thawed - d.t_dumped),
	        "persist_usec", (json_int_t) (t_done - t_persist),
	        "total_usec", (json_int_t) (t_done - d.t_start));
	_cleanup_(json_decrefp) json_t *pair = json_pack(
	        "{s:s,s:I,s:s,s:s,s:s?,s:I,s:o,s:o,s:{s:I,s:I,s:s,s:O},s:s?,s:i,s:s,s:s,s:b,s:b,s:b,s:b,s:O}",
	        "container", j->container, "id", (json_int_t) d.id, "state", "complete", "created", created, "tag",
	        tag, "frozen_usec", (json_int_t) frozen_usec, "timings", timings, "volumes", volumes_json(&d, false), "images",
	        "bytes", (json_int_t) bytes, "files", (json_int_t) files, "staging", staged ? "memory" : "disk",
	        "sha256", sums, "criu_version", version, "root_pid", (int) root, "cgroup", cfg->cgroup,
	        "cgroup_kind", cgroup_kind_to_string(d.kind), "shell_job", shell_job, "tcp_established",
	        cfg->tcp_established, "file_locks", cfg->file_locks, "pinned", false, "discovery", discovery);
	if (!pair)
		r = -ENOMEM;
	else
		r = catalog_write_pair(j->state_dir, j->container, d.id, pair);
	if (r < 0) {
		_cleanup_free_ char *cleanup_error = NULL;
		int k = dump_remove_partial(&d, NULL, &cleanup_error);
		if (k >= 0)
			(void) intent_clear(j->state_dir, intent);
		return failure_set(f, "persist", k < 0 ? cleanup_error : "container thawed; the partial pair was removed",
		                r, "cannot write %s/pair.json: %m", pair_dir);
	}
	(void) intent_clear(j->state_dir, intent);
	log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_COMPLETE, j->container, d.id, frozen_usec,
	                    "%s: pair %" PRIu64 " complete, frozen %.1f ms (freeze %.2f, snapshot %.2f, dump %.1f ms), "
	                    "%" PRIu64 " bytes of images",
	                    j->container, d.id, (double) frozen_usec / 1000, (double) (d.t_frozen - d.t_freeze) / 1000,
	                    (double) (d.t_snapshotted - d.t_frozen) / 1000,
	                    (double) (d.t_dumped - d.t_snapshotted) / 1000, bytes);
	*ret_pair = TAKE_PTR(pair);
	return 0;
}

int job_freeze_and_dump(struct job *j) {
	_cleanup_(failure_done) struct failure f = {};
	json_t *pair = NULL;
	int r = pair_make(j, j->tag, &pair, &f);
	if (r < 0)
		return job_fail_with(j, &f);
	j->pair = pair_id(pair);
	return job_succeed(j, json_pack("{s:o}", "pair", pair));
}
