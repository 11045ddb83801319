/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The io.ckptd.Manager methods (and org.varlink.service for generic clients). Quick methods
 * answer here, on the event loop; long ones start a job (job.h) that replies when done. */
#include <inttypes.h>

#include "build-config.h"
#include "config.h"

#include "backend.h"
#include "cgroup.h"
#include "fileio.h"
#include "discover.h"
#include "intent.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "pair.h"
#include "pair-ops.h"
#include "prune.h"
#include "quarantine.h"
#include "server.h"
#include "time-util.h"

#define ERR(name) "io.ckptd.Manager." name

static int invalid_parameter(struct connection *c, const char *name) {
	return connection_error(c, VARLINK_ERROR_INVALID_PARAMETER, json_pack("{s:s}", "parameter", name));
}

static int check_params(struct connection *c, json_t *params, const char *const *known) {
	const char *bad = NULL;
	if (varlink_params_check_known(params, known, &bad) < 0) {
		invalid_parameter(c, bad ? bad : "parameters");
		return -EINVAL;
	}
	return 0;
}

/* A container named by the caller: valid name, configured, config parses. Sends the error and
 * returns NULL otherwise (*ret_r gets what connection_error returned). */
static struct container *lookup(struct connection *c, const char *name, bool need_config, int *ret_r) {
	if (!container_name_is_valid(name)) {
		*ret_r = connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
		return NULL;
	}
	struct container *ct = manager_find_container(c->manager, name);
	if (!ct) {
		*ret_r = connection_error(c, ERR("NoSuchContainer"), json_pack("{s:s}", "container", name));
		return NULL;
	}
	if (need_config && !ct->config) {
		*ret_r = connection_error(c, ERR("ConfigInvalid"),
		                          json_pack("{s:s,s:s}", "container", name, "message", strna(ct->config_error)));
		return NULL;
	}
	*ret_r = 0;
	return ct;
}

static int get_container_and_id(struct connection *c, json_t *params, const char **ret_name, uint64_t *ret_id) {
	const char *bad = NULL, *name;
	unsigned long long id;
	if (varlink_param_string(params, "container", true, &name, &bad) < 0 ||
	    varlink_param_uint(params, "id", true, &id, &bad) < 0 || id == 0) {
		invalid_parameter(c, bad ? bad : "id");
		return -EINVAL;
	}
	*ret_name = name;
	*ret_id = id;
	return 0;
}

static int reply_load_error(struct connection *c, const char *name, uint64_t id, int r, const char *why) {
	_cleanup_free_ char *path = NULL, *reason = NULL, *msg = NULL;
	if (r == -ENOENT && catalog_find_damaged(c->manager->state_dir, name, id, &path, &reason) >= 0 &&
	    asprintf(&msg, "pair %s/%" PRIu64 " is damaged (%s); it is kept at %s; 'ckptctl delete %s %" PRIu64
	             " --force' removes it", name, id, reason, path, name, id) >= 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "load", "message", msg));
	if (r == -ENOENT || r == -EINPROGRESS)
		return connection_error(c, ERR("NoSuchPair"), json_pack("{s:s,s:I}", "container", name, "id", (json_int_t) id));
	return connection_error(c, ERR("OperationFailed"),
	                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "load", "message",
	                                  why ? why : strerror(-r)));
}

struct job_args {
	const char *tag;
	uint64_t pair;
	bool safety_pair;
	bool force;
};

static int start_job(struct connection *c, struct varlink_call *call, struct container *ct, enum job_kind kind,
                     job_body_t body, const struct job_args *args) {
	struct manager *m = c->manager;
	if (m->shutting_down)
		return connection_error(c, ERR("ShuttingDown"), NULL);
	/* A read-only caller's job (verify) never takes what root's need: it has its own
	 * MaxParallelJobs slots and does not hold the container (root's jobs there go ahead; a
	 * pair deleted meanwhile makes the verify report it missing). */
	bool read_only = !c->may_write;
	if (ct->job && !read_only)
		return connection_error(c, ERR("JobInProgress"),
		                        json_pack("{s:s,s:s}", "container", ct->name, "kind", job_kind_to_string(ct->job->kind)));
	const char *key = NULL, *shared = NULL;
	struct container *other = read_only ? NULL : manager_find_sharing_job(m, ct, &key, &shared);
	if (other) {
		_cleanup_free_ char *what = NULL;
		if (asprintf(&what, "%s=%s", key, shared) < 0)
			return -ENOMEM;
		return connection_error(c, ERR("JobInProgress"),
		                        json_pack("{s:s,s:s,s:s}", "container", other->name, "kind",
		                                  job_kind_to_string(other->job->kind), "shared", what));
	}
	size_t same_pool = 0;
	for (size_t i = 0; i < m->n_jobs; i++)
		if (m->jobs[i]->read_only_caller == read_only)
			same_pool++;
	if (same_pool >= m->daemon.max_parallel_jobs)
		return connection_error(c, ERR("TooManyJobs"), json_pack("{s:i}", "limit", (int) m->daemon.max_parallel_jobs));
	struct job *j;
	int r = job_new(m, ct, kind, body, &j);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", ct->name, "step", "start", "message",
		                                  "cannot reload the container's configuration"));
	struct job **a = realloc(m->jobs, (m->n_jobs + 1) * sizeof(*a));
	if (!a) {
		job_free(j);
		return -ENOMEM;
	}
	m->jobs = a;
	j->connection = call->oneway ? NULL : c;
	j->read_only_caller = read_only;
	j->more = call->more;
	j->pair = args->pair;
	j->safety_pair = args->safety_pair;
	j->force = args->force;
	if (args->tag && !(j->tag = strdup(args->tag))) {
		job_free(j);
		return -ENOMEM;
	}
	m->jobs[m->n_jobs++] = j;
	if (!read_only)
		ct->job = j;
	r = job_start(j);
	if (r < 0) {
		m->n_jobs--;
		if (!read_only)
			ct->job = NULL;
		job_free(j);
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", ct->name, "step", "start", "message",
		                                  "cannot start a worker thread"));
	}
	manager_update_status(m);
	return 0;
}

static int method_freeze_and_dump(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "tag", NULL };
	const char *name, *tag = NULL, *bad = NULL;
	int r;
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	if (varlink_param_string(call->parameters, "container", true, &name, &bad) < 0 ||
	    varlink_param_string(call->parameters, "tag", false, &tag, &bad) < 0 || (tag && strlen(tag) > 256))
		return invalid_parameter(c, bad ? bad : "tag");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, JOB_FREEZE_AND_DUMP, job_freeze_and_dump, &(struct job_args) { .tag = tag });
}

static int method_rollback(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "id", "safety_pair", "force", NULL };
	const char *name, *bad = NULL;
	uint64_t id;
	bool safety = true, force = false;
	int r;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	if (varlink_param_bool(call->parameters, "safety_pair", false, &safety, &bad) < 0 ||
	    varlink_param_bool(call->parameters, "force", false, &force, &bad) < 0)
		return invalid_parameter(c, bad);
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, JOB_ROLLBACK, job_rollback,
	                 &(struct job_args) { .pair = id, .safety_pair = safety, .force = force });
}

static int method_restore(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "id", "processes_only", NULL };
	const char *name, *bad = NULL;
	uint64_t id;
	bool processes_only = false;
	int r;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	if (varlink_param_bool(call->parameters, "processes_only", true, &processes_only, &bad) < 0 || !processes_only)
		return invalid_parameter(c, "processes_only");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, JOB_RESTORE, job_restore, &(struct job_args) { .pair = id });
}

static int method_verify(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "id", NULL };
	const char *name;
	uint64_t id;
	int r;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	struct container *ct = lookup(c, name, false, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, JOB_VERIFY, job_verify, &(struct job_args) { .pair = id });
}

/* What discovery sees in a running container, and whether it could be checkpointed now. Quick
 * (reads /proc and asks netlink), so it runs here on the event loop. */
static int method_inspect(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", NULL };
	const char *name, *bad = NULL;
	int r;
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	if (varlink_param_string(call->parameters, "container", true, &name, &bad) < 0)
		return invalid_parameter(c, bad ? bad : "container");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	struct container_config *cfg = ct->config;
	_cleanup_free_ char *why = NULL;
	pid_t root = cfg->root_pid;
	enum cgroup_kind kind;
	r = cgroup_detect(cfg->cgroup, &kind);
	if (r < 0)
		(void) asprintf(&why, "cgroup %s %s", cfg->cgroup, r == -ENOENT ? "does not exist" : "is not usable");
	else if (root <= 0)
		r = cgroup_find_root(cfg->cgroup, &root, &why);
	json_t *discovery = NULL;
	if (r >= 0)
		r = discover_container(cfg, root, &discovery, &why);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "discover", "message",
		                                  why ? why : strerror(-r)));
	json_object_set_new(discovery, "container", json_string(name));
	json_object_set_new(discovery, "cgroup", json_string(cfg->cgroup));
	json_object_set_new(discovery, "frozen", json_boolean(cgroup_is_frozen(cfg->cgroup, kind) > 0));
	json_t *reply = json_pack("{s:o}", "inspection", discovery);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

static int method_list(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", NULL };
	const char *name = NULL, *bad = NULL;
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	if (varlink_param_string(call->parameters, "container", false, &name, &bad) < 0)
		return invalid_parameter(c, bad);
	if (name && !container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	json_t *pairs;
	int r = catalog_list_pairs(c->manager->state_dir, name, &pairs);
	if (r >= 0)
		r = catalog_list_damaged(c->manager->state_dir, name, pairs);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", strna(name), "step", "list", "message", strerror(-r)));
	if (name && json_array_size(pairs) == 0 && !manager_find_container(c->manager, name)) {
		json_decref(pairs);
		return connection_error(c, ERR("NoSuchContainer"), json_pack("{s:s}", "container", name));
	}
	json_t *reply = json_pack("{s:o}", "pairs", pairs);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

static int method_show(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "id", NULL };
	const char *name;
	uint64_t id;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	json_t *pair;
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair(c->manager->state_dir, name, id, true, &pair, &why);
	if (r < 0)
		return reply_load_error(c, name, id, r, why);
	_cleanup_(json_decrefp) json_t *attention = NULL;
	(void) intent_attention(c->manager->state_dir, name, &attention);
	json_t *reply = json_pack("{s:o,s:s?}", "pair", pair, "attention",
	                          json_string_value(json_object_get(json_array_get(attention, 0), "message")));
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

/* delete --force of a pair whose pair.json does not load: removes what ckptd keeps for it in its
 * own state directory (pairs/ID, quarantine/ID-*), never a path read from the damaged record.
 * Snapshots at the places the configuration gives for this id are left, and named. */
static int delete_damaged(struct connection *c, struct container *ct, const char *name, uint64_t id) {
	_cleanup_(json_decrefp) json_t *removed = json_array(), *kept = json_array();
	_cleanup_free_ char *why = NULL;
	int r = catalog_remove_damaged(c->manager->state_dir, name, id, removed, &why);
	if (r == -ENOENT)
		return connection_error(c, ERR("NoSuchPair"), json_pack("{s:s,s:I}", "container", name, "id", (json_int_t) id));
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "delete", "message", strna(why)));
	for (size_t i = 0; ct && ct->config && i < ct->config->n_volumes; i++) {
		const struct snapshot_backend *b = snapshot_backend_for(ct->config->volumes[i]);
		_cleanup_free_ char *where = NULL;
		if (b && b->snapshot_location(ct->config->volumes[i], name, id, &where) >= 0 && b->exists(where, 0) > 0)
			json_array_append_new(kept, json_string(where));
	}
	log_container_event(LOG_WARNING, CKPTD_MESSAGE_PAIR_DELETED, name, id, UINT64_MAX,
	                    "%s: damaged pair %" PRIu64 " deleted by request (%zu record(s)); %zu snapshot(s) left in place",
	                    name, id, json_array_size(removed), json_array_size(kept));
	_cleanup_(json_decrefp) json_t *reply = json_pack("{s:O,s:O}", "removed", removed, "kept", kept);
	return connection_reply(c, reply, false);
}

static int method_delete(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "id", "force", NULL };
	const char *name, *bad = NULL;
	uint64_t id;
	bool force = false;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	if (varlink_param_bool(call->parameters, "force", false, &force, &bad) < 0)
		return invalid_parameter(c, bad);
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	struct container *ct = manager_find_container(c->manager, name);
	if (ct && ct->job)
		return connection_error(c, ERR("JobInProgress"),
		                        json_pack("{s:s,s:s}", "container", name, "kind", job_kind_to_string(ct->job->kind)));
	_cleanup_(json_decrefp) json_t *pair = NULL;
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair(c->manager->state_dir, name, id, true, &pair, &why);
	if (r < 0 && force && r != -EINPROGRESS)
		return delete_damaged(c, ct, name, id);
	if (r == -EBADMSG) {
		_cleanup_free_ char *reason = TAKE_PTR(why);
		if (asprintf(&why, "pair %s/%" PRIu64 " is damaged (%s); 'ckptctl delete %s %" PRIu64 " --force' removes it",
		             name, id, strna(reason), name, id) < 0)
			why = NULL;
	}
	if (r < 0)
		return reply_load_error(c, name, id, r, why);
	r = pair_remove(c->manager->state_dir, name, id, json_object_get(pair, "volumes"), NULL, &why);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s,s:s}", "container", name, "step", "delete", "message",
		                                  why ? why : strerror(-r), "state", "the pair is still listed"));
	log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_DELETED, name, id, UINT64_MAX, "%s: pair %" PRIu64 " deleted",
	                    name, id);
	return connection_reply(c, NULL, false);
}

static int method_pin(struct connection *c, struct varlink_call *call, bool pin) {
	static const char *const known[] = { "container", "id", NULL };
	const char *name;
	uint64_t id;
	if (check_params(c, call->parameters, known) < 0 || get_container_and_id(c, call->parameters, &name, &id) < 0)
		return 0;
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	_cleanup_(json_decrefp) json_t *pair = NULL;
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair(c->manager->state_dir, name, id, true, &pair, &why);
	if (r < 0)
		return reply_load_error(c, name, id, r, why);
	json_object_set_new(pair, "pinned", json_boolean(pin));
	r = catalog_write_pair(c->manager->state_dir, name, id, pair);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", pin ? "pin" : "unpin",
		                                  "message", strerror(-r)));
	return connection_reply(c, NULL, false);
}

static const char *container_state(struct container *ct) {
	enum cgroup_kind kind;
	if (!ct->config || cgroup_detect(ct->config->cgroup, &kind) < 0)
		return "missing";
	if (cgroup_is_frozen(ct->config->cgroup, kind) > 0)
		return "frozen";
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (cgroup_list_pids(ct->config->cgroup, &pids, &n) < 0 || n == 0)
		return "empty";
	/* A CRIU left in the cgroup by an interrupted restore is not the container running. */
	for (size_t i = 0; !ct->job && i < n; i++) {
		char path[64];
		_cleanup_free_ char *comm = NULL;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int) pids[i]);
		if (read_one_line_file(path, &comm) >= 0 && streq(comm, "criu"))
			return "criu-left-over";
	}
	return "running";
}

static int method_containers(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { NULL };
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	struct manager *m = c->manager;
	json_t *list = json_array();
	for (size_t i = 0; i < m->n_containers; i++) {
		struct container *ct = m->containers[i];
		json_t *pairs = NULL;
		(void) catalog_list_pairs(m->state_dir, ct->name, &pairs);
		size_t n = pairs ? json_array_size(pairs) : 0;
		_cleanup_(json_decrefp) json_t *attention = NULL;
		(void) intent_attention(m->state_dir, ct->name, &attention);
		json_t *volumes = json_array();
		for (size_t v = 0; ct->config && v < ct->config->n_volumes; v++)
			json_array_append_new(volumes, json_string(ct->config->volumes[v]));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:s,s:i,s:o?,s:s?,s:s?}",
		        "name", ct->name, "config", ct->config ? "ok" : "config-error", "error", ct->config_error,
		        "cgroup", ct->config ? ct->config->cgroup : NULL, "volumes", volumes,
		        "state", container_state(ct), "pairs", (int) n,
		        "last_pair", n > 0 ? json_integer((json_int_t) pair_id(json_array_get(pairs, n - 1))) : NULL,
		        "job", ct->job ? job_kind_to_string(ct->job->kind) : NULL,
		        "attention", json_string_value(json_object_get(json_array_get(attention, 0), "message"))));
		if (pairs)
			json_decref(pairs);
	}
	json_t *reply = json_pack("{s:o}", "containers", list);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

static int method_status(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { NULL };
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	struct manager *m = c->manager;
	json_t *jobs = json_array(), *errors = json_array();
	for (size_t i = 0; i < m->n_jobs; i++) {
		struct job *j = m->jobs[i];
		pthread_mutex_lock(&j->lock);
		json_array_append_new(jobs, json_pack("{s:s,s:s,s:s,s:o?,s:I}", "container", j->container, "kind",
		        job_kind_to_string(j->kind), "phase", j->phase ? j->phase : "",
		        "pair", j->pair > 0 ? json_integer((json_int_t) j->pair) : NULL, "started_usec",
		        (json_int_t) j->started_usec));
		pthread_mutex_unlock(&j->lock);
	}
	if (m->daemon_config_error)
		json_array_append_new(errors, json_string(m->daemon_config_error));
	for (size_t i = 0; i < m->n_containers; i++)
		if (m->containers[i]->config_error)
			json_array_append_new(errors, json_string(m->containers[i]->config_error));
	json_t *damaged = json_array(), *attention = NULL;
	(void) catalog_list_damaged(m->state_dir, NULL, damaged);
	if (intent_attention(m->state_dir, NULL, &attention) >= 0) {
		size_t i;
		json_t *a;
		json_array_foreach(attention, i, a)
			json_object_del(a, "journal_file");
	}
	json_t *reply = json_pack("{s:s,s:i,s:I,s:s,s:o?,s:o,s:o,s:i,s:o*}", "version", CKPTD_VERSION, "pid", (int) getpid(),
	        "uptime_usec", (json_int_t) (now_usec(CLOCK_MONOTONIC) - m->started_usec), "criu",
	        m->criu_path ? m->criu_path : "(not found)", "criu_version",
	        m->criu_version > 0 ? json_integer(m->criu_version) : NULL, "jobs", jobs, "config_errors", errors,
	        "damaged_pairs", (int) json_array_size(damaged), "attention", attention ? attention : json_array());
	json_decref(damaged);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

/* The user has seen what an interrupted rollback left and dealt with it: stop reporting it. */
static int method_acknowledge(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", NULL };
	const char *name, *bad = NULL;
	int r;
	if (check_params(c, call->parameters, known) < 0)
		return 0;
	if (varlink_param_string(call->parameters, "container", true, &name, &bad) < 0)
		return invalid_parameter(c, bad ? bad : "container");
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	struct container *ct = manager_find_container(c->manager, name);
	if (ct && ct->job)
		return connection_error(c, ERR("JobInProgress"),
		                        json_pack("{s:s,s:s}", "container", name, "kind", job_kind_to_string(ct->job->kind)));
	r = intent_clear_attention(c->manager->state_dir, name);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "acknowledge", "message",
		                                  strerror(-r)));
	_cleanup_(json_decrefp) json_t *reply = json_pack("{s:i}", "cleared", r);
	return connection_reply(c, reply, false);
}

static int method_get_info(struct connection *c, struct varlink_call *call) {
	json_t *reply = json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "vendor", "ckptd", "product", "ckptd", "version",
	        CKPTD_VERSION, "url", "https://github.com/ckptd/ckptd", "interfaces", "org.varlink.service",
	        VARLINK_INTERFACE);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

static int method_get_interface_description(struct connection *c, struct varlink_call *call) {
	const char *iface = NULL, *bad = NULL;
	if (varlink_param_string(call->parameters, "interface", true, &iface, &bad) < 0)
		return invalid_parameter(c, "interface");
	if (!streq(iface, VARLINK_INTERFACE))
		return connection_error(c, VARLINK_ERROR_INTERFACE_NOT_FOUND, json_pack("{s:s}", "interface", iface));
	json_t *reply = json_pack("{s:s}", "description", varlink_interface_description);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}


static const struct method {
	const char *name;
	bool writes;
	int (*handler)(struct connection *c, struct varlink_call *call);
	int (*handler_flag)(struct connection *c, struct varlink_call *call, bool flag);
	bool flag;
} methods[] = {
	{ "org.varlink.service.GetInfo", false, method_get_info },
	{ "org.varlink.service.GetInterfaceDescription", false, method_get_interface_description },
	{ VARLINK_INTERFACE ".FreezeAndDump", true, method_freeze_and_dump },
	{ VARLINK_INTERFACE ".List", false, method_list },
	{ VARLINK_INTERFACE ".Show", false, method_show },
	{ VARLINK_INTERFACE ".Delete", true, method_delete },
	{ VARLINK_INTERFACE ".Verify", false, method_verify },
	{ VARLINK_INTERFACE ".Rollback", true, method_rollback },
	{ VARLINK_INTERFACE ".Restore", true, method_restore },
	{ VARLINK_INTERFACE ".Prune", true, method_prune },
	{ VARLINK_INTERFACE ".Pin", true, NULL, method_pin, true },
	{ VARLINK_INTERFACE ".Unpin", true, NULL, method_pin, false },
	{ VARLINK_INTERFACE ".Containers", false, method_containers },
	{ VARLINK_INTERFACE ".Inspect", false, method_inspect },
	{ VARLINK_INTERFACE ".Status", false, method_status },
	{ VARLINK_INTERFACE ".Acknowledge", true, method_acknowledge },
};

int methods_dispatch(struct connection *c, struct varlink_call *call) {
	const struct method *found = NULL;
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (streq(methods[i].name, call->method))
			found = &methods[i];
	if (!found) {
		const char *dot = strrchr(call->method, '.');
		size_t iface_len = dot ? (size_t) (dot - call->method) : 0;
		bool known_iface = (iface_len == strlen(VARLINK_INTERFACE) &&
		                    strncmp(call->method, VARLINK_INTERFACE, iface_len) == 0) ||
		                   (iface_len == 19 && strncmp(call->method, "org.varlink.service", 19) == 0);
		if (!known_iface)
			return connection_error(c, VARLINK_ERROR_INTERFACE_NOT_FOUND,
			                        json_pack("{s:s%}", "interface", call->method, iface_len));
		return connection_error(c, VARLINK_ERROR_METHOD_NOT_FOUND, json_pack("{s:s}", "method", call->method));
	}
	if (!c->may_read || (found->writes && !c->may_write)) {
		log_notice("Refused %s for pid %d uid %d", call->method, (int) c->pid, (int) c->uid);
		/* A caller with no access at all has nothing more to do here: closed once it has the answer. */
		if (!c->may_read)
			c->close_after_flush = true;
		return connection_error(c, ERR("PermissionDenied"), json_pack("{s:s}", "method", call->method));
	}
	if (call->oneway && !found->writes)
		return 0; /* nothing to do for a reply nobody wants */
	return found->handler ? found->handler(c, call) : found->handler_flag(c, call, found->flag);
}
