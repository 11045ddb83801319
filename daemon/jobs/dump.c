/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* freeze-and-dump: the pipeline of DESIGN.md, steps 1-7, in that order.
 *   validate -> record intent + syncfs -> [criu warm-up] -> freeze -> snapshot -> dump -> thaw
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
#include "criu-log.h"
#include "discover.h"
#include "json-util.h"
#include "nspawn.h"
#include "dump.h"
#include "error.h"
#include "fileio.h"
#include "freezer-warm.h"
#include "intent.h"
#include "proc-holders.h"
#include "job.h"
#include "log.h"
#include "machine-container.h"
#include "netns-config.h"
#include "netns-external.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "persist.h"
#include "predump.h"
#include "time-util.h"

struct dump {
	struct job *job;
	const struct container_config *cfg;
	enum cgroup_kind kind;
	int freezer_fd; /* cgroup.freeze / freezer.state, opened before freezing: thawing needs no new fd */
	struct freezer_warm warm; /* v1: an empty frozen cgroup of ours keeps the freeze fast */
	pid_t root;
	bool shell_job;
	struct discovery *discovery;
	struct criu_ns_options ns; /* points into discovery */
	uint64_t id;
	size_t n;
	const struct snapshot_backend **backends;
	struct snapshot_params params;
	char **snapshots;
	json_t **nested; /* per volume: paths of the nested subvolumes snapshotted with it, or NULL */
	bool *prepared; /* prepare() succeeded: what is there below .ckptd/NAME/ID is this job's */
	char *pair_dir, *images, *staged; /* staged: the directory in memory CRIU writes to, or NULL */
	const char *criu_images;          /* staged or images */
	json_t *intent;
	struct predump predump; /* PreDump=: the passes before the window, merged after it */
	bool frozen;
	/* NetworkConfig=presave: the container's network namespace, and where its configuration
	 * was saved before the freeze (NULL: CRIU saves it itself) */
	int netns_fd;
	char *netns_dir;
	uint64_t netns_presave_usec, netns_verify_usec;
	/* NetworkConfig=auto|external, proven: CRIU leaves the namespace out (netns-external.h); the
	 * container's fingerprint at the proof, checked again after the thaw */
	bool netns_external;
	unsigned long netns_inode;
	char *netns_fingerprint;
	json_t *netns_record; /* discovery's network.config: the mode used and why */
	/* Timestamps, CLOCK_MONOTONIC µs. */
	uint64_t t_start, t_discover, t_discovered, t_sync, t_synced, t_criu_spawned, t_freeze, t_frozen,
	        t_snapshotted, t_dumped, t_thawed;
	/* What failed inside the window (CRIU's callbacks cannot return a message): the code, and
	 * the message goes to *window_error, pair_make()'s own. */
	int window_r;
	char **window_error;
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
	free(d->pair_dir);
	free(d->images);
	free(d->staged);
	free(d->netns_dir);
	free(d->netns_fingerprint);
	if (d->netns_record)
		json_decref(d->netns_record);
	if (d->netns_fd >= 0)
		close(d->netns_fd);
	if (d->intent)
		json_decref(d->intent);
	discovery_free(d->discovery);
	predump_done(&d->predump);
	if (d->freezer_fd >= 0)
		close(d->freezer_fd);
	freezer_warm_release(&d->warm); /* after the thaw: the kernel's switch flips outside the window */
}

/* CRIU outlives a killed ckptd (adapters/criu.c says why): the intent names it, so that the next
 * start waits for it before it thaws or removes anything. */
static int on_criu_spawned(pid_t pid, int service_fd, void *userdata) {
	struct dump *d = userdata;
	d->t_criu_spawned = now_usec(CLOCK_MONOTONIC);
	job_set_criu(d->job, pid, service_fd);
	unsigned long long start;
	if (proc_stat(pid, NULL, &start) >= 0 &&
	    json_object_set_new(d->intent, "criu", json_pack("{s:i,s:I}", "pid", (int) pid, "starttime",
	                                                       (json_int_t) start)) >= 0)
		(void) intent_record(d->job->state_dir, d->job->container, d->intent);
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
	job_set_step(j, "freeze");
	int r = cgroup_freeze_fd(d->freezer_fd, d->cfg->cgroup, d->kind, d->cfg->freeze_timeout_usec, &stragglers);
	if (r == -ETIMEDOUT)
		d->window_r = error_setf(d->window_error, r,
		                         "cgroup %s did not freeze within FreezeTimeoutSec=%.3gs; not frozen: %s", d->cfg->cgroup,
		                         (double) d->cfg->freeze_timeout_usec / USEC_PER_SEC, strna(stragglers));
	else if (r < 0)
		d->window_r = error_setf(d->window_error, r, "cannot freeze cgroup %s: %m", d->cfg->cgroup);
	if (r < 0)
		return -1;
	d->frozen = true;
	d->t_frozen = now_usec(CLOCK_MONOTONIC);
	job_set_frozen(j, true);

	job_set_step(j, "snapshot");
	for (size_t i = 0; i < d->n; i++) {
		_cleanup_free_ char *error = NULL;
		r = d->backends[i]->snapshot(d->cfg->volumes[i], d->snapshots[i], &d->params, &d->nested[i], &error);
		if (r < 0) {
			d->window_r = error_pass(d->window_error, r, &error);
			return -1;
		}
	}
	d->t_snapshotted = now_usec(CLOCK_MONOTONIC);
	job_set_step(j, "dump");
	hold_for_testing(j);
	/* Over budget already (a slow snapshot): CRIU must not go on and freeze the tasks itself. */
	return job_budget_exceeded(j) ? -1 : 0;
}

/* Thawing must not fail silently: through the descriptor opened before freezing (no new fd, no
 * memory), retried; a failure is reported (and logged) once, by the job. */
static int thaw(struct dump *d) {
	int r = cgroup_thaw_fd(d->freezer_fd, d->kind);
	d->t_thawed = now_usec(CLOCK_MONOTONIC);
	if (r < 0 && r != -ENOENT && r != -ENODEV) {
		log_debug_errno(r, "%s: cannot thaw cgroup %s: %m", d->job->container, d->cfg->cgroup);
		return r;
	}
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
static int dump_volumes(struct dump *d, bool only_prepared, struct pair_volume **ret, size_t *ret_n) {
	struct pair_volume *v = calloc(d->n + 1, sizeof(*v));
	size_t n = 0;
	int r = v ? 0 : -ENOMEM;
	for (size_t i = 0; r >= 0 && i < d->n; i++) {
		if (only_prepared && !d->prepared[i])
			continue;
		struct pair_volume *e = &v[n++];
		e->backend = strdup(d->backends[i]->name);
		e->source = strdup(d->cfg->volumes[i]);
		e->snapshot = strdup(d->snapshots[i]);
		e->has_nested = d->nested[i];
		e->nested = calloc(json_array_size(d->nested[i]) + 1, sizeof(char *));
		if (!e->backend || !e->source || !e->snapshot || !e->nested)
			r = -ENOMEM;
		for (size_t k = 0; r >= 0 && k < json_array_size(d->nested[i]); k++)
			if (!(e->nested[e->n_nested++] = strdup(strempty(json_string_value(json_array_get(d->nested[i], k))))))
				r = -ENOMEM;
	}
	if (r < 0) {
		pair_volumes_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Removes what this job made of the pair: the snapshots it took, the pair directory, the
 * staging directory; then forgets the intent. */
static int dump_remove_partial(struct dump *d, char **ret_error) {
	struct pair_volume *made;
	size_t n;
	int r = dump_volumes(d, true, &made, &n);
	if (r < 0)
		return error_setf(ret_error, r, "%m");
	r = pair_remove_volumes(d->job->state_dir, d->job->container, d->id, made, n, d->staged, ret_error);
	pair_volumes_free(made, n);
	if (r >= 0)
		(void) intent_clear(d->job->state_dir, d->intent);
	return r;
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

/* CRIU's log lives in the pair directory, which the cleanup removes: keep it as
 * containers/NAME/failed-dump.log (the latest failure only) and point the message there. When
 * the images' file system is full, say so first: CRIU's own lines often do not. */
static void explain_dump_failure(struct dump *d, int r, char **error) {
	struct job *j = d->job;
	_cleanup_free_ char *log = path_join(d->pair_dir, "dump.log");
	_cleanup_free_ char *cdir = catalog_container_dir(j->state_dir, j->container);
	_cleanup_free_ char *kept = cdir ? path_join(cdir, "failed-dump.log") : NULL;
	_cleanup_free_ char *full = NULL, *moved = NULL;
	struct statvfs sv;
	if (statvfs(d->criu_images, &sv) >= 0 && (uint64_t) sv.f_bavail * sv.f_frsize < 1024 * 1024)
		(void) error_setf(&full, r, "no space left on the file system of %s (%" PRIu64 " KiB free): ", d->criu_images,
		                  (uint64_t) sv.f_bavail * sv.f_frsize / 1024);
	if (log && kept && rename(log, kept) >= 0)
		(void) error_setf(&moved, r, " (CRIU's log of this dump is kept as %s)", kept);
	if (full || moved)
		(void) error_setf(error, r, "%s%s%s", strempty(full), *error ? *error : strerror(-r), strempty(moved));
}

static char *criu_version_string(int v) {
	char *s = NULL;
	if (v > 0)
		(void) asprintf(&s, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
	return s;
}

/* 1. Validate, before anything changes: the cgroup, CRIU, the root task. */
static int dump_validate(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	const char *cgroup = d->cfg->cgroup;
	job_progress(j, "validate", "checking cgroup %s and %zu volume(s)", cgroup, d->cfg->n_volumes);
	int r = cgroup_detect(cgroup, &d->kind);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "cgroup %s does not exist", cgroup);
	if (r < 0)
		return error_setf(ret_error, r, "%s is neither a cgroup v2 directory nor a v1 freezer cgroup: %m", cgroup);
	if (cgroup_is_frozen(cgroup, d->kind) > 0)
		return error_setf(ret_error, -EBUSY, "cgroup %s is already frozen (by someone else, or left so by a failed "
		                  "thaw, which ckptd logged); thaw it first", cgroup);
	d->freezer_fd = cgroup_freezer_open(cgroup, d->kind);
	if (d->freezer_fd < 0)
		return error_setf(ret_error, d->freezer_fd, "cannot open the freezer of cgroup %s: %m", cgroup);
	r = job_set_freezer(j, d->freezer_fd, d->kind); /* MaxFrozenSec: the job's own watchdog */
	if (r < 0)
		return error_setf(ret_error, r, "cannot start the MaxFrozenSec watchdog: %m");
	if (d->kind == CGROUP_V1_FREEZER) {
		r = freezer_warm_acquire(cgroup, &d->warm);
		if (r < 0)
			log_debug_errno(r, "%s: no warm-up cgroup for the v1 freezer (the freeze is only slower): %m",
			                d->cfg->name);
	}
	if (!j->criu_path)
		return error_setf(ret_error, -ENOENT, "no criu binary found (set Criu= in ckptd.conf or run tools/setup)");
	d->root = d->cfg->root_pid;
	if (d->root <= 0) {
		_cleanup_free_ char *why = NULL;
		r = cgroup_find_root(cgroup, &d->root, &why);
		if (r < 0)
			return error_pass(ret_error, r, &why);
	}
	d->shell_job = getsid(d->root) != d->root;
	return 0;
}

/* Before the first dump of an nspawn machine: ckptd's preparation of its mount namespace
 * (nspawn.h) that discovery planned, then discovery again, which must find nothing left to
 * prepare. What was done is recorded in the pair (discovery.preparation.done_now). */
static int dump_prepare_mount_namespace(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	struct nspawn_preparation p;
	_cleanup_free_ const char **private = NULL;
	int r = nspawn_preparation_from_report(d->discovery->report, &p, &private);
	if (r <= 0)
		return r < 0 ? error_setf(ret_error, r, "out of memory") : 0;
	if (json_array_size(d->discovery->problems) > 0)
		return 0; /* refused anyway: the container is left as it is */
	job_progress(j, "prepare", "preparing the mount namespace of pid %d before its first checkpoint", (int) d->root);
	_cleanup_(json_decrefp) json_t *done = json_array();
	_cleanup_free_ char *why = NULL;
	r = done ? nspawn_prepare(d->root, &p, done, &why) : -ENOMEM;
	d->discovery = discovery_free(d->discovery); /* p pointed into it */
	if (r >= 0)
		r = discover(d->cfg, d->root, &d->discovery, &why);
	if (r < 0) {
		job_set_state(j, "the container was not frozen; its mount namespace may be partly prepared (%zu step(s) "
		              "done)", json_array_size(done));
		return error_prefixf(ret_error, r, &why, "cannot prepare the mount namespace of container %s", j->container);
	}
	json_t *prep = json_object_get(d->discovery->report, "preparation");
	_cleanup_free_ const char **private_after = NULL;
	if (nspawn_preparation_from_report(d->discovery->report, &p, &private_after) != 0 || !prep)
		json_array_append_printf(d->discovery->problems, "the preparation of the mount namespace did not take: "
		                         "discovery still asks for it after %zu step(s)", json_array_size(done));
	else
		json_object_set(prep, "done_now", done);
	return 0;
}

/* What the container is made of, and whether CRIU can take it: refused here, before anything
 * is frozen or created. */
static int dump_discover(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	job_progress(j, "discover", "inspecting process tree %d", (int) d->root);
	d->t_discover = now_usec(CLOCK_MONOTONIC);
	_cleanup_free_ char *why = NULL;
	int r = discover(d->cfg, d->root, &d->discovery, &why);
	if (r < 0)
		return error_pass(ret_error, r, &why);
	if ((r = dump_prepare_mount_namespace(d, ret_error)) < 0)
		return r;
	json_t *problems = d->discovery->problems;
	if (json_array_size(problems) > 0) {
		job_set_state(j, "nothing changed; the container was not frozen");
		job_set_details(j, json_incref(problems));
		return error_setf(ret_error, -EOPNOTSUPP, "container %s cannot be checkpointed: %s%s", j->container,
		                  json_string_value(json_array_get(problems, 0)),
		                  json_array_size(problems) > 1 ? " (and more, see details)" : "");
	}
	discovery_criu_options(d->discovery, &d->ns);
	d->t_discovered = now_usec(CLOCK_MONOTONIC);
	return 0;
}

/* Every volume has a backend, and is still the volume ckptd loaded. */
static int dump_check_volumes(struct dump *d, char **ret_error) {
	d->backends = calloc(d->n + 1, sizeof(*d->backends));
	d->snapshots = calloc(d->n + 1, sizeof(char *));
	d->nested = calloc(d->n + 1, sizeof(json_t *));
	d->prepared = calloc(d->n + 1, sizeof(bool));
	if (!d->backends || !d->snapshots || !d->nested || !d->prepared)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	for (size_t i = 0; i < d->n; i++) {
		const char *volume = d->cfg->volumes[i];
		_cleanup_free_ char *why = NULL;
		int r = snapshot_backend_probe(volume, &d->backends[i], &why);
		if (r >= 0)
			r = d->backends[i]->check(volume, job_volume_identity(d->job, i), &why);
		if (r < 0)
			return error_pass(ret_error, r, &why);
	}
	return 0;
}

/* Room for the images, a pair id, and where CRIU writes while frozen: memory is faster, disk
 * when memory has no room. */
static int dump_allocate(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	uint64_t resident = 0;
	const char *estimated_from = NULL;
	(void) cgroup_memory_estimate(d->cfg->cgroup, &resident, &estimated_from);
	uint64_t needed = images_needed(resident);
	int r = mkdir_p(j->state_dir, 0700);
	if (r < 0)
		return error_setf(ret_error, r, "cannot create state directory %s: %m", j->state_dir);
	if (free_bytes(j->state_dir) < needed)
		return error_setf(ret_error, -ENOSPC, "not enough space in %s for the images: need about %" PRIu64
		                  " MiB (estimated from %s), %" PRIu64 " MiB free", j->state_dir, needed >> 20,
		                  strna(estimated_from), free_bytes(j->state_dir) >> 20);
	r = catalog_allocate_id(j->state_dir, j->container, &d->id);
	if (r == -EOVERFLOW)
		return error_setf(ret_error, r, "the pair ids of container %s are used up (%s/containers/%s/last-id or a "
		                  "pair directory holds the largest id, %" PRId64 "); ids are never reused", j->container,
		                  j->state_dir, j->container, INT64_MAX);
	if (r < 0)
		return error_setf(ret_error, r, "cannot allocate a pair id in %s: %m", j->state_dir);
	d->pair_dir = catalog_pair_dir(j->state_dir, j->container, d->id);
	d->images = d->pair_dir ? path_join(d->pair_dir, "images") : NULL;
	if (!d->images)
		return error_setf(ret_error, -ENOMEM, "out of memory");

	enum staging_mode staging = d->cfg->staging;
	bool use_memory = staging == STAGING_MEMORY;
	if (staging != STAGING_DISK && mkdir_p(j->staging_dir, 0700) >= 0) {
		bool fits = free_bytes(j->staging_dir) >= needed;
		if (staging == STAGING_AUTO)
			use_memory = fits && is_memory_fs(j->staging_dir);
		else if (!fits) {
			(void) rm_rf(d->pair_dir);
			return error_setf(ret_error, -ENOSPC, "Staging=memory, but %s has only %" PRIu64 " MiB free for about "
			                  "%" PRIu64 " MiB of images (estimated from %s)", j->staging_dir,
			                  free_bytes(j->staging_dir) >> 20, needed >> 20, strna(estimated_from));
		}
	}
	if (use_memory && asprintf(&d->staged, "%s/%s-%" PRIu64, j->staging_dir, j->container, d->id) < 0) {
		d->staged = NULL;
		return error_setf(ret_error, -ENOMEM, "out of memory");
	}
	d->criu_images = d->staged ? d->staged : d->images;
	return 0;
}

/* The image directory, the snapshots' places and the intent that names them. */
static int dump_prepare(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	int r = mkdir_p(d->criu_images, 0700);
	for (size_t i = 0; r >= 0 && i < d->n; i++)
		r = d->backends[i]->snapshot_location(d->cfg->volumes[i], j->container, d->id, &d->snapshots[i]);
	struct pair_volume *v = NULL;
	size_t n = 0;
	if (r >= 0)
		r = dump_volumes(d, false, &v, &n);
	json_t *volumes = r >= 0 ? pair_volumes_to_json(v, n) : NULL;
	pair_volumes_free(v, n);
	d->intent = volumes ? json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:s?,s:i}", "kind", "freeze-and-dump", "container",
	                                j->container, "pair", (json_int_t) d->id, "cgroup", d->cfg->cgroup, "cgroup_kind",
	                                cgroup_kind_to_string(d->kind), "snapshots", volumes, "staging", d->staged,
	                                "daemon_pid", (int) getpid()) : NULL;
	if (r < 0 || !d->intent) {
		(void) rm_rf(d->pair_dir);
		if (d->staged)
			(void) rm_rf(d->staged);
		return error_setf(ret_error, r < 0 ? r : -ENOMEM, "cannot prepare the image directory %s: %m",
		                  d->criu_images);
	}
	return 0;
}

static int dump_run_criu(struct dump *d, char **ret_error);

/* 2-5. Outside the window: record the intent durably, pre-dump (PreDump=), flush the volumes.
 * Then CRIU starts; at its pre-dump point we freeze and snapshot; then it dumps. */
static int dump_run(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	/* The intent first: a crash from here on leaves a journal entry naming every place this job
	 * may create (the pair directory, the snapshots' directories), so recovery removes them all. */
	job_set_step(j, "intent");
	int r = intent_record(j->state_dir, j->container, d->intent);
	if (r < 0)
		return error_setf(ret_error, r, "cannot record the intent in %s/journal: %m", j->state_dir);
	/* Taken before CRIU starts (a pre-dump's or the dump's), so any wait happens before the
	 * freeze, not inside it. */
	if (d->ns.private_procfs && pthread_mutex_trylock(&private_procfs_dump_lock) != 0) {
		job_progress(j, "dump", "waiting for another dump of a container without its own /proc");
		pthread_mutex_lock(&private_procfs_dump_lock);
	}
	r = dump_run_criu(d, ret_error);
	if (d->ns.private_procfs)
		pthread_mutex_unlock(&private_procfs_dump_lock);
	return r;
}

/* Under the private procfs lock: the pre-dump passes, the sync, the dump. */
static int dump_run_criu(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	struct predump_target pt = { .job = j, .cfg = d->cfg, .root = d->root, .shell_job = d->shell_job, .ns = d->ns,
		                     .freezer_fd = d->freezer_fd, .kind = d->kind, .images_dir = d->criu_images,
		                     .spawned = on_criu_spawned, .userdata = d };
	int r = predump_run(&d->predump, &pt, ret_error);
	if (r < 0)
		return r;

	job_progress(j, "sync", "flushing %zu volume(s)", d->n);
	d->t_sync = now_usec(CLOCK_MONOTONIC);
	for (size_t i = 0; r >= 0 && i < d->n; i++) {
		_cleanup_free_ char *error = NULL;
		r = d->backends[i]->prepare(d->cfg->volumes[i], d->snapshots[i], &d->params, &error);
		d->prepared[i] = r >= 0;
		if (r < 0)
			return error_pass(ret_error, r, &error);
	}
	d->t_synced = now_usec(CLOCK_MONOTONIC);

	job_progress(j, "dump", "CRIU dumps process tree %d", (int) d->root);
	struct criu_dump_options o = {
		.criu_path = j->criu_path,
		.root_pid = d->root,
		.images_dir = d->criu_images,
		.work_dir = d->pair_dir,
		.freeze_cgroup = d->cfg->cgroup,
		.tcp_established = d->cfg->tcp_established,
		.file_locks = d->cfg->file_locks,
		.shell_job = d->shell_job,
		.stop = j->stop_after_dump,
		.ns = d->ns,
		.netns_replay_dir = d->netns_dir,
		.external_netns_inode = d->netns_external ? d->netns_inode : 0,
		.parent_images = d->predump.parent,
	};
	struct criu_hooks hooks = { .spawned = on_criu_spawned, .pre_dump = on_pre_dump, .dumped = on_dumped,
		                    .userdata = d };
	_cleanup_free_ char *error = NULL;
	d->window_error = ret_error;
	r = criu_run_dump(&o, &hooks, &error);
	d->window_error = NULL;
	job_set_criu(j, 0, -EBADF);
	if (!d->t_dumped)
		d->t_dumped = now_usec(CLOCK_MONOTONIC);
	if (d->window_r < 0) /* the window itself failed: its message is the decisive one */
		return d->window_r;
	return r < 0 ? error_pass(ret_error, r, &error) : 0;
}

/* Before the freeze (NetworkConfig=presave, the container has a network namespace of its own):
 * run CRIU's network tools now, in that namespace, and let CRIU replay their answers inside the
 * window (adapters/netns-config.h). Where this cannot stand in for CRIU's tools, CRIU runs them
 * itself, as before, and the log says why. */
static int dump_netns_presave(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	json_t *net = json_object_get(d->discovery->report, "network");
	if (d->cfg->network_config == NETWORK_CONFIG_CRIU || !json_is_true(json_object_get(net, "own_namespace")))
		return 0;
	const char *unsupported = netns_config_unsupported();
	_cleanup_free_ char *replay = NULL;
	if (!unsupported && netns_config_find_replay(&replay) < 0)
		unsupported = "ckptd-netns-replay is neither next to ckptd nor in its libexec directory";
	if (unsupported) {
		log_warning("%s: CRIU saves the network configuration inside the frozen window: %s", j->container,
		            unsupported);
		return 0;
	}
	pid_t other = netns_config_other_netns_task(d->root);
	if (other) {
		log_warning("%s: CRIU saves the network configuration inside the frozen window: task %d is in another "
		            "network namespace than the root task %d", j->container, (int) other, (int) d->root);
		return 0;
	}
	job_progress(j, "netns-presave", "saving the network configuration of process %d's namespace", (int) d->root);
	uint64_t t = now_usec(CLOCK_MONOTONIC);
	char ns[64];
	(void) snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int) d->root);
	d->netns_fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (d->netns_fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open the network namespace %s: %m", ns);
	d->netns_dir = path_join(d->pair_dir, "netns-config");
	if (!d->netns_dir)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	_cleanup_free_ char *why = NULL;
	int r = netns_config_presave(d->netns_fd, d->netns_dir, replay, &why);
	if (r < 0)
		return error_pass(ret_error, r, &why);
	d->netns_presave_usec = now_usec(CLOCK_MONOTONIC) - t;
	return 0;
}

/* After the thaw: the configuration CRIU recorded (the pre-save) must still be the namespace's,
 * or the pair would claim a state the container did not have at the freeze: the pair is then
 * not made (README, "Design notes": a change of the network configuration during a checkpoint). */
static int dump_netns_verify(struct dump *d, char **ret_error) {
	if (!d->netns_dir)
		return 0;
	job_progress(d->job, "netns-verify", "checking that the network configuration did not change");
	uint64_t t = now_usec(CLOCK_MONOTONIC);
	_cleanup_free_ char *why = NULL;
	int r = netns_config_verify(d->netns_fd, d->netns_dir, &why);
	if (r >= 0 && d->netns_external) {
		/* Everything the proof compared (sysctls and nftables too) must still be so. */
		_cleanup_free_ char *now = NULL, *diff = NULL;
		r = netns_fingerprint(d->netns_fd, &now, &why);
		if (r >= 0 && (diff = netns_fingerprint_difference(d->netns_fingerprint, now, "the saved configuration",
		                                                   "the namespace after the thaw")))
			r = error_setf(&why, -ESTALE, "the network namespace changed between its save before the freeze and "
			               "the check after the thaw: %s", diff);
	}
	d->netns_verify_usec = now_usec(CLOCK_MONOTONIC) - t;
	if (d->netns_record)
		(void) json_object_set_new(d->netns_record, "verify_usec", json_integer((json_int_t) d->netns_verify_usec));
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "pair %" PRIu64 " of %s not made", d->id, d->job->container);
	return 0;
}

/* Before the freeze, after the pre-save (NetworkConfig=auto|external, a namespace of its own):
 * prove that a namespace rebuilt from ckptd's own save is the container's (netns-external.h);
 * then CRIU leaves it out, and the save goes into the images (NETNS_EXTERNAL_FILE). Not proven:
 * auto stays with the pre-save, external refuses; the reason goes into the log and the pair
 * (discovery.network.config). */
static int dump_netns_external(struct dump *d, char **ret_error) {
	struct job *j = d->job;
	enum network_config mode = d->cfg->network_config;
	json_t *net = json_object_get(d->discovery->report, "network");
	if (!json_is_true(json_object_get(net, "own_namespace")))
		return 0;
	static const char *const names[] = { [NETWORK_CONFIG_PRESAVE] = "presave", [NETWORK_CONFIG_CRIU] = "criu",
		                             [NETWORK_CONFIG_AUTO] = "auto", [NETWORK_CONFIG_EXTERNAL] = "external" };
	d->netns_record = json_pack("{s:s}", "requested", names[mode]);
	if (!d->netns_record || json_object_set(net, "config", d->netns_record) < 0)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	_cleanup_free_ char *reason = NULL, *why = NULL;
	struct netns_saved saved = {};
	uint64_t t = now_usec(CLOCK_MONOTONIC);
	job_set_step(j, "netns-prove");
	if (mode == NETWORK_CONFIG_AUTO || mode == NETWORK_CONFIG_EXTERNAL) {
		job_progress(j, "netns-prove", "proving that the network namespace can be rebuilt from its configuration");
		if (!d->netns_dir)
			reason = strdup("the network configuration could not be saved before the freeze (see the log)");
		else
			netns_external_check(d->netns_fd, d->discovery->report, &saved, &reason);
		(void) json_object_set_new(d->netns_record, "proof_usec",
		                           json_integer((json_int_t) (now_usec(CLOCK_MONOTONIC) - t)));
	}
	if ((mode == NETWORK_CONFIG_AUTO || mode == NETWORK_CONFIG_EXTERNAL) && !reason) {
		struct stat st;
		_cleanup_free_ char *file = path_join(d->criu_images, NETNS_EXTERNAL_FILE);
		int r = fstat(d->netns_fd, &st) < 0 ? negative_errno() : file ? 0 : -ENOMEM;
		if (r >= 0 && !(d->netns_fingerprint = strdup(netns_saved_fingerprint(&saved))))
			r = -ENOMEM;
		if (r >= 0)
			r = netns_saved_write_file(&saved, file, &why);
		netns_saved_done(&saved);
		if (r < 0)
			return error_prefixf(ret_error, r, &why, "cannot keep the network configuration in the pair");
		d->netns_external = true;
		d->netns_inode = (unsigned long) st.st_ino;
	} else
		netns_saved_done(&saved);
	const char *used = d->netns_external ? "external" : d->netns_dir ? "presave" : "criu";
	(void) json_object_set_new(d->netns_record, "mode", json_string(used));
	if (reason)
		(void) json_object_set_new(d->netns_record, "reason", json_string(reason));
	if (reason && mode == NETWORK_CONFIG_EXTERNAL) {
		job_set_state(j, "nothing changed; the container was not frozen");
		return error_setf(ret_error, -EOPNOTSUPP, "NetworkConfig=external, but the network namespace of container "
		                  "%s cannot be treated as external: %s", j->container, reason);
	}
	if (reason && mode == NETWORK_CONFIG_AUTO)
		log_info("%s: network namespace not treated as external (NetworkConfig=auto, %s is used): %s", j->container,
		         used, reason);
	return 0;
}

/* Fault injection, for test-netns-race only (documented in ckptd(8)): a pause between the
 * pre-save of the network configuration and the freeze, for the test to change it there. */
static void hold_after_presave_for_testing(struct dump *d) {
	const char *e = getenv("CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC");
	if (!e || !d->netns_dir)
		return;
	log_warning("%s: CKPTD_TEST_HOLD_AFTER_NETNS_PRESAVE_MSEC=%s: pausing before the freeze", d->job->container, e);
	unsigned long long msec = strtoull(e, NULL, 10);
	(void) usleep((useconds_t) (msec < 60000 ? msec : 60000) * 1000);
}

/* 6. Thaw, whatever happened (on success it happened as soon as CRIU answered); after a failure
 * clean up and say what the container looks like. r: what dump_run() returned. */
static int dump_close_window(struct dump *d, int r, char **ret_error) {
	struct job *j = d->job;
	bool was_frozen = d->frozen || d->t_thawed;
	int thaw_r = d->frozen ? thaw(d) : 0;
	uint64_t frozen_usec = was_frozen ? d->t_thawed - d->t_freeze : 0;
	if (was_frozen && thaw_r >= 0)
		log_container_event(LOG_INFO, CKPTD_MESSAGE_THAWED, j->container, d->id, frozen_usec,
		                    "%s: thawed after %.1f ms frozen", j->container, (double) frozen_usec / USEC_PER_MSEC);
	if (job_budget_exceeded(j)) {
		job_set_step(j, "dump");
		r = error_setf(ret_error, -ETIME, "the frozen window exceeded MaxFrozenSec=%.3gs; CRIU was stopped",
		               (double) d->cfg->max_frozen_usec / USEC_PER_SEC);
	}
	if (thaw_r < 0) {
		/* The truth, and what to do: the intent stays, so a restarted ckptd thaws and cleans up. */
		job_set_step(j, "thaw");
		job_set_state(j, "THAW FAILED, the container is still frozen (thaw it with 'echo 0 >cgroup.freeze' or "
		              "'echo THAWED >freezer.state', or restart ckptd, which thaws it); the partial pair is kept "
		              "until then");
		if (r < 0)
			return error_setf(ret_error, thaw_r, "cannot thaw cgroup %s: %s; before that, %s", d->cfg->cgroup,
			                  strerror(-thaw_r), ret_error && *ret_error ? *ret_error : strerror(-r));
		return error_setf(ret_error, thaw_r, "cannot thaw cgroup %s: %m", d->cfg->cgroup);
	}
	if (r >= 0)
		return 0;
	if (streq_ptr(j->step, "dump"))
		explain_dump_failure(d, r, ret_error);
	_cleanup_free_ char *cleanup_error = NULL;
	int k = dump_remove_partial(d, &cleanup_error);
	const char *now = was_frozen ? "container thawed" :
	                  d->predump.stopped_usec > 0 ? "container was not frozen (a pre-dump pass stopped it briefly and "
	                                                "let it go: it runs)" :
	                  streq_ptr(j->step, "freeze") ? "the partial freeze was undone, the container runs" :
	                  "container was not frozen";
	job_set_state(j, "%s; %s", now, k < 0 ? strna(cleanup_error) : "the partial pair was removed");
	return r;
}

/* 7. After thaw: make the images durable, checksum them, write pair.json last. */
static int dump_persist(struct dump *d, const char *tag, struct pair **ret, char **ret_error) {
	struct job *j = d->job;
	job_progress(j, "persist", "storing images");
	uint64_t t_persist = now_usec(CLOCK_MONOTONIC);
	_cleanup_(pair_freep) struct pair *p = pair_new();
	struct persist_sharing sh = { .enabled = d->cfg->share_images, .full_every = d->cfg->full_image_every,
		                      .pair_dir = d->pair_dir };
	_cleanup_free_ char *prev_dir = NULL;
	int r = p ? predump_finish(&d->predump, ret_error) : -ENOMEM; /* first: the images stand alone */
	if (r >= 0)
		r = persist_find_previous(j->state_dir, j->container, d->id, &sh.prev_id, &prev_dir);
	sh.prev_dir = prev_dir;
	if (r >= 0)
		r = persist_images(d->criu_images, d->images, &sh, &p->images, ret_error);
	if (d->staged)
		(void) rm_rf(d->staged);
	uint64_t t_done = now_usec(CLOCK_MONOTONIC);
	char created[64];
	(void) format_timestamp_utc(now_usec(CLOCK_REALTIME) - (t_done - d->t_freeze), created, sizeof(created));
	if (r >= 0) {
		p->id = d->id;
		p->frozen_usec = d->t_thawed - d->t_freeze;
		p->timings = (struct pair_timings) {
			.discover_usec = d->t_discovered - d->t_discover,
			.sync_usec = d->t_synced - d->t_sync,
			.criu_start_usec = d->t_freeze - d->t_criu_spawned,
			.freeze_usec = d->t_frozen - d->t_freeze,
			.snapshot_usec = d->t_snapshotted - d->t_frozen,
			.dump_usec = d->t_dumped - d->t_snapshotted,
			.thaw_usec = d->t_thawed - d->t_dumped,
			.persist_usec = t_done - t_persist,
			.total_usec = t_done - d->t_start,
			.netns_presave_usec = d->netns_dir ? d->netns_presave_usec : PAIR_ABSENT,
			.netns_verify_usec = d->netns_dir ? d->netns_verify_usec : PAIR_ABSENT,
		};
		pair_predump_timings_clear(&p->timings);
		if (d->predump.passes > 0) {
			p->timings.predump_passes = d->predump.passes;
			p->timings.predump_usec = d->predump.usec;
			p->timings.predump_stopped_usec = d->predump.stopped_usec;
			p->timings.predump_stopped_max_usec = d->predump.stopped_max_usec;
			p->timings.predump_merge_usec = d->predump.merge_usec;
		}
		/* After the thaw: where the window went, by CRIU's log (phases it lacks stay absent). */
		_cleanup_free_ char *log = path_join(d->pair_dir, "dump.log");
		(void) criu_log_phases_read(log, &p->timings.criu_phases, NULL);
		p->images.staging = strdup(d->staged ? "memory" : "disk");
		p->root_pid = d->root;
		p->shell_job = d->shell_job;
		p->tcp_established = d->cfg->tcp_established;
		p->file_locks = d->cfg->file_locks;
		p->criu_version = criu_version_string(j->criu_version);
		if (!(p->container = strdup(j->container)) || !(p->state = strdup("complete")) ||
		    !(p->created = strdup(created)) || (tag && !(p->tag = strdup(tag))) || !p->images.staging ||
		    !(p->cgroup = strdup(d->cfg->cgroup)) || !(p->cgroup_kind = strdup(cgroup_kind_to_string(d->kind))))
			r = error_setf(ret_error, -ENOMEM, "out of memory");
	}
	if (r >= 0)
		r = discovery_to_json(d->discovery, &p->discovery);
	/* Machine=: the registration the machine had, which a rollback to this pair makes again. */
	if (r >= 0 && j->machine && p->discovery &&
	    json_object_set_new(p->discovery, "machine", machine_info_to_json(j->machine, d->cfg->cgroup)) < 0)
		r = error_setf(ret_error, -ENOMEM, "out of memory");
	if (r >= 0)
		r = dump_volumes(d, false, &p->volumes, &p->n_volumes);
	if (r >= 0 && (r = catalog_write_pair_record(j->state_dir, p)) < 0)
		(void) error_setf(ret_error, r, "cannot write %s/pair.json: %m", d->pair_dir);
	if (r < 0) {
		_cleanup_free_ char *cleanup_error = NULL;
		int k = dump_remove_partial(d, &cleanup_error);
		job_set_state(j, "%s", k < 0 ? strna(cleanup_error) : "container thawed; the partial pair was removed");
		return r;
	}
	(void) intent_clear(j->state_dir, d->intent);
	*ret = TAKE_PTR(p);
	return 0;
}

int pair_make(struct job *j, const char *tag, struct pair **ret_pair, char **ret_error) {
	struct container_config *cfg = j->config;
	_cleanup_(dump_done) struct dump d = { .job = j, .cfg = cfg, .n = cfg->n_volumes, .freezer_fd = -EBADF,
		.warm = FREEZER_WARM_NONE, .netns_fd = -EBADF,
		.params = { .size_percent = cfg->snapshot_size_percent, .size_bytes = cfg->snapshot_size_bytes } };
	d.t_start = now_usec(CLOCK_MONOTONIC);
	job_set_state(j, "nothing changed");
	int r;
	if ((r = dump_validate(&d, ret_error)) < 0 || (r = dump_discover(&d, ret_error)) < 0)
		return r;
	job_set_step(j, "validate");
	if ((r = dump_check_volumes(&d, ret_error)) < 0 || (r = dump_allocate(&d, ret_error)) < 0 ||
	    (r = dump_prepare(&d, ret_error)) < 0)
		return r;
	r = dump_netns_presave(&d, ret_error);
	if (r >= 0)
		r = dump_netns_external(&d, ret_error);
	if (r >= 0) {
		hold_after_presave_for_testing(&d);
		r = dump_run(&d, ret_error);
	}
	if (r >= 0 && !d.frozen)
		r = dump_netns_verify(&d, ret_error);
	r = dump_close_window(&d, r, ret_error);
	if (r < 0)
		return r;
	_cleanup_(pair_freep) struct pair *p = NULL;
	r = dump_persist(&d, tag, &p, ret_error);
	if (r < 0)
		return r;
	uint64_t frozen_usec = p->frozen_usec;
	if (d.predump.passes > 0)
		log_info("%s: pair %" PRIu64 " after %u pre-dump pass(es): the final dump wrote %" PRIu64 " pages, %" PRIu64
		         " came from the pre-dumps (merged in %.1f ms)", j->container, d.id, d.predump.passes,
		         d.predump.merged.own_pages, d.predump.merged.inherited_pages,
		         (double) d.predump.merge_usec / USEC_PER_MSEC);
	log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_COMPLETE, j->container, d.id, frozen_usec,
	                    "%s: pair %" PRIu64 " complete, frozen %.1f ms (freeze %.2f, snapshot %.2f, dump %.1f ms), "
	                    "%" PRIu64 " bytes of images",
	                    j->container, d.id, (double) frozen_usec / 1000, (double) (d.t_frozen - d.t_freeze) / 1000,
	                    (double) (d.t_snapshotted - d.t_frozen) / 1000,
	                    (double) (d.t_dumped - d.t_snapshotted) / 1000, p->images.bytes);
	*ret_pair = TAKE_PTR(p);
	return 0;
}

int job_freeze_and_dump(struct job *j) {
	_cleanup_free_ char *error = NULL;
	_cleanup_(pair_freep) struct pair *p = NULL;
	int r = pair_make(j, j->tag, &p, &error);
	if (r < 0)
		return job_fail(j, r, &error);
	json_t *pair = NULL;
	r = pair_to_json(p, &pair);
	if (r < 0)
		return job_fail(j, r, NULL);
	j->pair = p->id;
	return job_succeed(j, json_pack("{s:o}", "pair", pair));
}
