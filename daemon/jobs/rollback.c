/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback: verify the pair -> safety pair of the current state -> stop the tasks -> roll every
 * volume back (the pair's snapshots stay) -> CRIU restore -> check the root task runs.
 * restore --processes-only: check the files the image needs, then CRIU restore only.
 * verify: checksums of the images and presence of the snapshots.
 * The restore itself (CRIU, the veths around it, the checks) is restore.c's. */
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>

#include "backend.h"
#include "cgroup.h"
#include "lxc-container.h"
#include "dump.h"
#include "error.h"
#include "fileio.h"
#include "intent.h"
#include "job.h"
#include "json-util.h"
#include "log.h"
#include "machine-container.h"
#include "macro.h"
#include "nspawn.h"
#include "pair.h"
#include "pair-ops.h"
#include "quarantine.h"
#include "restore.h"
#include "rollback.h"
#include "time-util.h"

static int load_pair(struct job *j, struct pair **ret, char **ret_error) {
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair_record(j->state_dir, j->container, j->pair, true, ret, &why);
	_cleanup_free_ char *kept_at = NULL, *damage = NULL;
	if (r == -ENOENT && catalog_find_damaged(j->state_dir, j->container, j->pair, &kept_at, &damage) >= 0)
		return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 " is damaged (%s); it is kept at %s; 'ckptctl "
		                  "delete %s %" PRIu64 " --force' removes it", j->container, j->pair, damage, kept_at,
		                  j->container, j->pair);
	if (r == -ENOENT || r == -EINPROGRESS)
		return error_setf(ret_error, -ENOENT, "pair %s/%" PRIu64 " does not exist", j->container, j->pair);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "pair %s/%" PRIu64 " is damaged", j->container, j->pair);
	return 0;
}

/* [Network] BridgeMap=: the veths the pair recorded in a bridge of another name (a pair imported
 * from another host) go into this host's bridge; the in-memory record is changed, which the
 * network check and the restore then use. Said in warnings. */
static void apply_bridge_map(struct job *j, struct pair *p, json_t *warnings) {
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(json_object_get(p->discovery, "network"), "veths"), i, v) {
		const char *bridge = json_string_value(json_object_get(v, "bridge"));
		for (char **m = j->config->bridge_map; bridge && m && *m; m++) {
			size_t len = strcspn(*m, "=");
			if (strncmp(*m, bridge, len) != 0 || bridge[len] != '\0')
				continue;
			_cleanup_free_ char *w = NULL;
			if (asprintf(&w, "BridgeMap=: veth %s goes into bridge %s instead of %s",
			             strna(json_string_value(json_object_get(v, "host_if"))), *m + len + 1, bridge) >= 0 &&
			    warnings)
				json_array_append_new(warnings, json_string(w));
			json_object_set_new(v, "bridge", json_string(*m + len + 1));
			break;
		}
	}
}

static int verify_pair(struct job *j, const struct pair *p, char **ret_error) {
	json_t *problems = json_array();
	if (!problems)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	int r = pair_verify(j->state_dir, p, problems);
	if (r < 0 || json_array_size(problems) > 0) {
		job_set_details(j, problems);
		return error_setf(ret_error, r < 0 ? r : -EBADMSG, "pair %s/%" PRIu64 " cannot be used: %s", j->container,
		                  j->pair, r < 0 ? strerror(-r) : json_string_value(json_array_get(problems, 0)));
	}
	json_decref(problems);
	return 0;
}

/* One volume to roll back: the configured volume (an index into the job's configuration) and
 * the pair's record of it, checked to be ckptd's. */
struct rollback_volume {
	size_t index;
	const struct snapshot_backend *backend;
	const struct pair_volume *record;
};

static void append_list(char **list, const char *item) {
	char *n = NULL;
	if (asprintf(&n, "%s%s%s", *list ? *list : "", *list ? ", " : "", item) >= 0) {
		free(*list);
		*list = n;
	}
}

/* A pair imported from another host (it has an origin) may be rolled back to where the
 * container never ran: a configured volume that does not exist at all is made from the pair's
 * snapshot (by a backend that can) instead of being rolled back. Anything at the path, even a
 * dangling symlink, is not "missing": the usual checks then say what is wrong with it. */
static bool volume_to_create(const struct pair *pair, const struct snapshot_backend *b, const char *volume) {
	struct stat st;
	return pair->origin.host && b->create_from && volume[0] == '/' && lstat(volume, &st) < 0 && errno == ENOENT;
}

/* Matches the pair's volumes to the configured ones: a rollback acts on what the configuration
 * names now, never on a path only the pair names. Each record must be ckptd's
 * (pair_volume_check). A configured volume the pair has no snapshot of, or a volume of the pair
 * the configuration no longer names, refuses the rollback, unless j->force: then only the
 * volumes both name are rolled back and the others are said in warnings. Each planned volume
 * must still be the one ckptd loaded, reached without a symlink. */
static int plan_volumes(struct job *j, const struct pair *pair, json_t *warnings, struct rollback_volume **ret,
                        size_t *ret_n, char **ret_error) {
	const struct container_config *cfg = j->config;
	_cleanup_free_ struct rollback_volume *plan = calloc(cfg->n_volumes + 1, sizeof(*plan));
	if (!plan)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	_cleanup_free_ char *not_in_pair = NULL, *not_configured = NULL;
	size_t n = 0;
	for (size_t i = 0; i < pair->n_volumes; i++) {
		const struct pair_volume *v = &pair->volumes[i];
		const char *source = v->source;
		const struct snapshot_backend *b;
		int r = pair_volume_check(j->container, j->pair, v, &b, ret_error);
		if (r < 0)
			return r;
		size_t k = 0;
		while (k < cfg->n_volumes && !streq(cfg->volumes[k], source))
			k++;
		if (k == cfg->n_volumes) {
			append_list(&not_configured, source);
			continue;
		}
		for (size_t x = 0; x < n; x++)
			if (plan[x].index == k)
				return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 " names volume %s twice: its record is "
				                  "damaged", j->container, j->pair, source);
		plan[n++] = (struct rollback_volume) { .index = k, .backend = b, .record = v };
	}
	for (size_t k = 0; k < cfg->n_volumes; k++) {
		bool found = false;
		for (size_t x = 0; x < n; x++)
			found = found || plan[x].index == k;
		if (!found)
			append_list(&not_in_pair, cfg->volumes[k]);
	}
	if (not_in_pair || not_configured) {
		_cleanup_free_ char *a = NULL, *b = NULL, *what = NULL;
		if (not_in_pair)
			(void) asprintf(&a, "the configuration names %s, of which the pair has no snapshot", not_in_pair);
		if (not_configured)
			(void) asprintf(&b, "the pair holds %s, which the configuration no longer names", not_configured);
		(void) asprintf(&what, "%s%s%s", a ? a : "", a && b ? "; " : "", b ? b : "");
		if (!j->force || n == 0)
			return error_setf(ret_error, -ESTALE,
			                  "pair %s/%" PRIu64 " does not match the configured volumes: %s. Put the volumes back "
			                  "in %s, or roll back only the volumes both name with 'ckptctl rollback %s %" PRIu64
			                  " --force'%s", j->container, j->pair, strna(what), strna(cfg->file), j->container,
			                  j->pair, n == 0 ? " (here: none, so not even that)" : "");
		_cleanup_free_ char *warning = NULL;
		(void) asprintf(&warning, "--force: only the volumes that both pair %" PRIu64 " and the configuration name "
		                "were rolled back; left as they are: %s", j->pair, strna(what));
		if (warning) {
			log_warning("%s: %s", j->container, warning);
			json_array_append_new(warnings, json_string(warning));
		}
	}
	for (size_t x = 0; x < n; x++) {
		_cleanup_free_ char *why = NULL;
		if (volume_to_create(pair, plan[x].backend, cfg->volumes[plan[x].index]))
			continue; /* made from the snapshot at the volumes step */
		int r = plan[x].backend->check(cfg->volumes[plan[x].index], job_volume_identity(j, plan[x].index), &why);
		if (r < 0)
			return error_pass(ret_error, r, &why);
	}
	*ret = TAKE_PTR(plan);
	*ret_n = n;
	return 0;
}

/* Fault injection, for the crash tests only (documented in ckptd(8)):
 * CKPTD_TEST_HOLD_ROLLBACK_STEP=STEP[:MSEC] pauses a rollback right after it recorded STEP in
 * the journal (default 60 s), so that a test can kill ckptd there. */
static void hold_step_for_testing(struct job *j, const char *step) {
	const char *e = getenv("CKPTD_TEST_HOLD_ROLLBACK_STEP");
	size_t len = strlen(step);
	if (!e || strncmp(e, step, len) != 0 || (e[len] != '\0' && e[len] != ':'))
		return;
	uint64_t msec = e[len] == ':' ? strtoull(e + len + 1, NULL, 10) : 60000;
	log_warning("%s: CKPTD_TEST_HOLD_ROLLBACK_STEP=%s: holding the rollback at step '%s'", j->container, e, step);
	uint64_t until = now_usec(CLOCK_MONOTONIC) + msec * USEC_PER_MSEC;
	while (now_usec(CLOCK_MONOTONIC) < until)
		usleep(10000);
}

/* Every step of a rollback is in the journal before it starts: a ckptd killed in the middle
 * knows at its next start what state the container may be in (see manager_recover()). */
static int record_step(struct job *j, json_t *intent, const char *step) {
	json_object_set_new(intent, "step", json_string(step));
	int r = intent_record(j->state_dir, j->container, intent);
	if (r < 0)
		log_warning_errno(r, "%s: cannot record rollback step '%s' in %s/journal: %m", j->container, step,
		                  j->state_dir);
	hold_step_for_testing(j, step);
	return r;
}

/* A rollback that failed after it changed something: its record stays in the journal, marked,
 * and the container is reported as needing attention until a rollback or restore succeeds or the
 * user acknowledges it. */
static void keep_for_attention(struct job *j, json_t *intent, const char *step) {
	json_object_set_new(intent, "step", json_string(step));
	_cleanup_free_ char *msg = intent_rollback_attention(j->container, intent, "failed");
	if (!msg)
		return;
	json_object_set_new(intent, "attention", json_string(msg));
	if (intent_record(j->state_dir, j->container, intent) < 0)
		(void) intent_clear(j->state_dir, intent);
}

/* A rollback's state across its steps. */
struct rollback {
	struct job *job;
	const char *cgroup;
	enum cgroup_kind kind;
	struct pair *pair;
	json_t *intent;
	/* What a backend did beyond the plain rollback (a thick LVM snapshot merged away) and what
	 * --force left out: the user hears of it in the result. */
	json_t *warnings;
	struct rollback_volume *plan;
	size_t n_plan;
	uint64_t safety_id;
	char *undo; /* how the state before the rollback can be had back */
};

static void rollback_done(struct rollback *rb) {
	pair_free(rb->pair);
	if (rb->intent)
		json_decref(rb->intent);
	if (rb->warnings)
		json_decref(rb->warnings);
	free(rb->plan);
	free(rb->undo);
}

/* The pair, its volumes against the configuration, its images and snapshots, the network it
 * needs; then the intent, recorded before anything changes. */
static int rollback_verify(struct rollback *rb, char **ret_error) {
	struct job *j = rb->job;
	int r;
	job_progress(j, "verify", "checking pair %s/%" PRIu64, j->container, j->pair);
	if ((r = load_pair(j, &rb->pair, ret_error)) < 0)
		return r;
	apply_bridge_map(j, rb->pair, rb->warnings);
	if ((r = plan_volumes(j, rb->pair, rb->warnings, &rb->plan, &rb->n_plan, ret_error)) < 0 ||
	    (r = verify_pair(j, rb->pair, ret_error)) < 0 || (r = restore_check_network(j, rb->pair, ret_error)) < 0)
		return r;
	/* A stopped LXC= container has no cgroup: LXC makes one when it restores; nor has a Machine=
	 * machined did not know: ckptd makes a unit for it when it restores. */
	r = rb->cgroup ? cgroup_detect(rb->cgroup, &rb->kind) : 0;
	if (r < 0)
		return error_setf(ret_error, r, "cgroup %s is not usable: %m", rb->cgroup);
	if (!j->criu_path)
		return error_setf(ret_error, -ENOENT, "no criu binary found");
	rb->intent = json_pack("{s:s,s:s,s:I,s:s?,s:s?}", "kind", "rollback", "container", j->container, "pair",
	                       (json_int_t) j->pair, "cgroup", rb->cgroup, "cgroup_kind",
	                       rb->cgroup ? cgroup_kind_to_string(rb->kind) : NULL);
	if (!rb->intent || (r = record_step(j, rb->intent, "verify")) < 0)
		return error_setf(ret_error, r < 0 ? r : -ENOMEM, "cannot record the intent in %s/journal: %m",
		                  j->state_dir);
	return 0;
}

/* A pair of the current state first, so that the rollback itself can be undone. */
static int rollback_safety_pair(struct rollback *rb, size_t n_pids, char **ret_error) {
	struct job *j = rb->job;
	if (j->safety_pair && n_pids > 0) {
		job_progress(j, "safety-pair", "checkpointing the current state first");
		(void) record_step(j, rb->intent, "safety-pair");
		_cleanup_free_ char *tag = NULL, *error = NULL;
		(void) asprintf(&tag, "safety pair before rollback to %" PRIu64, j->pair);
		_cleanup_(pair_freep) struct pair *safety = NULL;
		int r = pair_make(j, tag, &safety, &error);
		if (r < 0) { /* the state pair_make() left says what is left */
			job_set_step(j, "safety-pair");
			(void) intent_clear(j->state_dir, rb->intent);
			return error_setf(ret_error, r, "cannot take the safety pair: %s (use --no-safety-pair to skip it)",
			                  error ? error : strerror(-r));
		}
		rb->safety_id = safety->id;
	} else if (j->safety_pair)
		job_progress(j, "safety-pair", "skipped: the container has no running tasks");
	if (rb->safety_id > 0) {
		(void) asprintf(&rb->undo, "safety pair %" PRIu64 " holds the state before the rollback", rb->safety_id);
		json_object_set_new(rb->intent, "safety_pair", json_integer((json_int_t) rb->safety_id));
	} else
		rb->undo = strdup("no safety pair was taken");
	return 0;
}

/* Every planned volume back to the pair's snapshot; the journal counts them. */
static int rollback_volumes(struct rollback *rb, char **ret_error) {
	struct job *j = rb->job;
	job_progress(j, "rollback-volumes", "rolling back %zu volume(s)", rb->n_plan);
	json_object_set_new(rb->intent, "volumes_total", json_integer((json_int_t) rb->n_plan));
	json_object_set_new(rb->intent, "volumes_done", json_integer(0));
	(void) record_step(j, rb->intent, "volumes");
	for (size_t i = 0; i < rb->n_plan; i++) {
		const struct snapshot_backend *b = rb->plan[i].backend;
		const struct pair_volume *v = rb->plan[i].record;
		const char *volume = j->config->volumes[rb->plan[i].index];
		_cleanup_free_ char *error = NULL;
		_cleanup_(json_decrefp) json_t *nested = v->has_nested ? json_array() : NULL;
		for (size_t k = 0; nested && k < v->n_nested; k++)
			json_array_append_new(nested, json_string(v->nested[k]));
		int r = volume_to_create(rb->pair, b, volume) ? b->create_from(volume, v->snapshot, &error)
		                                               : b->rollback(volume, v->snapshot, nested, &error);
		if (r < 0) {
			job_set_state(j, "container stopped; %zu of %zu volume(s) rolled back (%s not); %s", i, rb->n_plan,
			              volume, rb->undo);
			keep_for_attention(j, rb->intent, "volumes");
			return error_pass(ret_error, r, &error);
		}
		json_object_set_new(rb->intent, "volumes_done", json_integer((json_int_t) i + 1));
		(void) intent_record(j->state_dir, j->container, rb->intent);
		if (error) {
			log_warning("%s: %s", j->container, error);
			json_array_append_new(rb->warnings, json_string(error));
		}
		/* The live volume is a new one now: the identity the next job checks against. */
		if (b->identify && j->volume_ids)
			(void) b->identify(volume, &j->volume_ids[rb->plan[i].index], NULL);
	}
	return 0;
}

/* An nspawn machine's supervisor (nspawn.h) removes the machine's propagation directory and
 * veth when the machine's tasks die: a pidfd of it, taken before the kill, or -ESRCH. */
static int supervisor_open(struct rollback *rb) {
	pid_t root = rb->job->config->root_pid;
	if (root <= 0 && cgroup_find_root(rb->cgroup, &root, NULL) < 0)
		return -ESRCH;
	return nspawn_supervisor_open(root);
}

/* After the kill: the supervisor's clean-up done before the restore re-creates what it removes. */
static void supervisor_wait(struct rollback *rb, int pidfd) {
	if (pidfd < 0)
		return;
	job_progress(rb->job, "kill", "waiting for the machine's systemd-nspawn to exit");
	int r = nspawn_supervisor_wait(pidfd, 5 * USEC_PER_SEC);
	if (r < 0)
		json_array_append_printf(rb->warnings, "the machine's systemd-nspawn did not exit within 5 s after its "
		                         "tasks were stopped (%s): its clean-up may race with the restore", strerror(-r));
}

static int rollback(struct job *j, json_t **ret_result, char **ret_error) {
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	_cleanup_(rollback_done) struct rollback rb = { .job = j, .cgroup = j->config->cgroup, .warnings = json_array() };
	job_set_state(j, "nothing changed");
	int r = rb.warnings ? rollback_verify(&rb, ret_error) : -ENOMEM;
	if (r < 0)
		return r;
	uint64_t t_verified = now_usec(CLOCK_MONOTONIC);

	_cleanup_free_ pid_t *pids = NULL;
	size_t n_pids = 0;
	if (rb.cgroup)
		(void) cgroup_list_pids(rb.cgroup, &pids, &n_pids);
	if ((r = rollback_safety_pair(&rb, n_pids, ret_error)) < 0)
		return r;
	uint64_t t_safety = now_usec(CLOCK_MONOTONIC);
	job_set_step(j, "kill");
	job_set_state(j, "nothing changed");
	if ((r = record_step(j, rb.intent, "stop")) < 0) {
		(void) intent_clear(j->state_dir, rb.intent);
		return error_setf(ret_error, r, "cannot record the intent in %s/journal: %m", j->state_dir);
	}

	job_progress(j, "kill", "stopping %zu task(s)", n_pids);
	/* An LXC= container's monitor is waited for by lxc-stop (and a stopped one has no cgroup). */
	/* A Machine= that was not running has no cgroup: nothing to stop. */
	_cleanup_close_ int supervisor = job_is_lxc(j) || !rb.cgroup ? -EBADF : supervisor_open(&rb);
	_cleanup_free_ char *survivors = NULL;
	r = job_is_lxc(j) ? lxc_rollback_stop(j, &survivors)
	    : rb.cgroup   ? cgroup_kill_all(rb.cgroup, rb.kind, 10 * USEC_PER_SEC, &survivors)
	                  : 0;
	if (r < 0) {
		job_set_state(j, "volumes untouched; some tasks may be gone; %s", rb.undo);
		keep_for_attention(j, rb.intent, "stop");
		return error_setf(ret_error, r, "cgroup %s cannot be emptied: %s", strna(rb.cgroup),
		                  r == -ETIMEDOUT || job_is_lxc(j) ? strna(survivors) : strerror(-r));
	}
	supervisor_wait(&rb, supervisor);
	uint64_t t_killed = now_usec(CLOCK_MONOTONIC);
	if ((r = rollback_volumes(&rb, ret_error)) < 0)
		return r;
	uint64_t t_volumes = now_usec(CLOCK_MONOTONIC);

	job_progress(j, "restore", "restoring the processes of pair %" PRIu64, j->pair);
	(void) record_step(j, rb.intent, "restore");
	job_set_state(j, "container stopped; volumes rolled back to pair %" PRIu64 "; %s", j->pair, rb.undo);
	pid_t pid;
	_cleanup_free_ char *lxc_cgroup = NULL; /* LXC restores into a cgroup it makes anew */
	/* A Machine= gets a unit of its own again before its tasks come back into it. */
	_cleanup_(machine_scope_done) struct machine_scope scope = {};
	r = job_is_machine(j) ? machine_rollback_scope(j, rb.pair->discovery, &scope, ret_error) : 0;
	if (r >= 0 && scope.cgroup) {
		rb.cgroup = scope.cgroup;
		if ((r = cgroup_detect(rb.cgroup, &rb.kind)) < 0)
			(void) error_setf(ret_error, r, "cgroup %s is not usable: %m", rb.cgroup);
	}
	if (r >= 0)
		r = job_is_lxc(j) ? lxc_rollback_restore(j, rb.warnings, &pid, &lxc_cgroup, &rb.kind, ret_error)
		                  : restore_processes(j, rb.pair, rb.cgroup, rb.kind, rb.warnings, &pid, ret_error);
	if (lxc_cgroup)
		rb.cgroup = lxc_cgroup;
	if (r >= 0) {
		(void) record_step(j, rb.intent, "check");
		r = restore_check_running(j, rb.cgroup, rb.kind, pid, ret_error);
	}
	if (r < 0) {
		keep_for_attention(j, rb.intent, "restore");
		return r;
	}
	/* Registered again: machinectl shows the restored machine. A failure leaves it running,
	 * unregistered: a warning, not a failed rollback. */
	_cleanup_(json_decrefp) json_t *registered = NULL;
	_cleanup_free_ char *reg_error = NULL;
	if (job_is_machine(j) &&
	    machine_rollback_register(j, &scope, rb.pair->discovery, pid, &registered, &reg_error) < 0)
		json_array_append_printf(rb.warnings, "the restored machine runs but is not registered with "
		                         "systemd-machined: %s", strna(reg_error));
	(void) intent_clear(j->state_dir, rb.intent);
	(void) intent_clear_attention(j->state_dir, j->container); /* the user acted: this rollback succeeded */
	uint64_t t_restored = now_usec(CLOCK_MONOTONIC);

	log_container_event(LOG_INFO, CKPTD_MESSAGE_ROLLBACK, j->container, j->pair, UINT64_MAX,
	                    "%s: rolled back to pair %" PRIu64 ", root task %d", j->container, j->pair, (int) pid);
	*ret_result = json_pack("{s:s,s:I,s:o?,s:i,s:O?,s:O,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "container", j->container,
	        "pair", (json_int_t) j->pair, "safety_pair", rb.safety_id ? json_integer((json_int_t) rb.safety_id) : NULL,
	        "root_pid", (int) pid, "machine_registered", registered, "warnings", rb.warnings, "timings",
	        "verify_usec", (json_int_t) (t_verified - t0),
	        "safety_pair_usec", (json_int_t) (t_safety - t_verified), "kill_usec", (json_int_t) (t_killed - t_safety),
	        "volumes_usec", (json_int_t) (t_volumes - t_killed), "restore_usec", (json_int_t) (t_restored - t_volumes),
	        "total_usec", (json_int_t) (t_restored - t0));
	return 0;
}

static int finish(struct job *j, int r, char **error, json_t *result) {
	if (r < 0)
		return job_fail(j, r, error);
	return job_succeed(j, json_pack("{s:o}", "result", result));
}

int job_rollback(struct job *j) {
	_cleanup_free_ char *error = NULL;
	json_t *result = NULL;
	int r = rollback(j, &result, &error);
	return finish(j, r, &error, result);
}

static int restore_only(struct job *j, json_t **ret_result, char **ret_error) {
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	_cleanup_(pair_freep) struct pair *pair = NULL;
	const char *cgroup = j->config->cgroup;
	enum cgroup_kind kind;
	int r;

	job_set_state(j, "nothing changed");
	job_progress(j, "verify", "checking pair %s/%" PRIu64, j->container, j->pair);
	if ((r = load_pair(j, &pair, ret_error)) < 0)
		return r;
	_cleanup_(json_decrefp) json_t *warnings = json_array();
	apply_bridge_map(j, pair, warnings);
	r = cgroup_detect(cgroup, &kind);
	if (r < 0)
		return error_setf(ret_error, r, "cgroup %s is not usable: %m", cgroup);
	if (!j->criu_path)
		return error_setf(ret_error, -ENOENT, "no criu binary found");
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	(void) cgroup_list_pids(cgroup, &pids, &n);
	if (n > 0)
		return error_setf(ret_error, -EBUSY, "cgroup %s still has %zu task(s): stop them first, or use rollback",
		                  cgroup, n);
	if ((r = restore_check_files(j, pair, ret_error)) < 0)
		return r;

	job_progress(j, "restore", "restoring the processes of pair %" PRIu64, j->pair);
	job_set_state(j, "no process is running from this pair");
	pid_t pid;
	r = restore_processes(j, pair, cgroup, kind, warnings, &pid, ret_error);
	if (r >= 0)
		r = restore_check_running(j, cgroup, kind, pid, ret_error);
	if (r < 0)
		return r;
	(void) intent_clear_attention(j->state_dir, j->container);
	*ret_result = json_pack("{s:s,s:I,s:i,s:O,s:{s:I}}", "container", j->container, "pair", (json_int_t) j->pair,
	                        "root_pid", (int) pid, "warnings", warnings, "timings", "total_usec",
	                        (json_int_t) (now_usec(CLOCK_MONOTONIC) - t0));
	return 0;
}

int job_restore(struct job *j) {
	_cleanup_free_ char *error = NULL;
	json_t *result = NULL;
	int r = restore_only(j, &result, &error);
	return finish(j, r, &error, result);
}

int job_verify(struct job *j) {
	_cleanup_free_ char *error = NULL;
	_cleanup_(pair_freep) struct pair *pair = NULL;
	job_set_state(j, "nothing changed");
	job_progress(j, "verify", "checking pair %s/%" PRIu64, j->container, j->pair);
	int r = load_pair(j, &pair, &error);
	if (r < 0)
		return job_fail(j, r, &error);
	json_t *problems = json_array();
	r = problems ? pair_verify(j->state_dir, pair, problems) : -ENOMEM;
	if (r < 0) {
		json_decref(problems);
		job_set_state(j, NULL);
		return job_fail(j, r, (error_setf(&error, r, "cannot verify pair %s/%" PRIu64 ": %m", j->container,
		                                  j->pair), &error));
	}
	return job_succeed(j, json_pack("{s:b,s:o}", "ok", json_array_size(problems) == 0, "problems", problems));
}
