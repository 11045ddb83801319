/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The quick methods, answered on the event loop from the catalog and the daemon's state: List,
 * Show, Pin/Unpin, Containers, Status, Acknowledge. */
#include <inttypes.h>

#include "build-config.h"
#include "cgroup.h"
#include "fileio.h"
#include "image-share.h"
#include "intent.h"
#include "job.h"
#include "macro.h"
#include "manager.h"
#include "methods.h"
#include "pair.h"
#include "quarantine.h"
#include "registry.h"
#include "replicate.h"
#include "server.h"
#include "storage-info.h"
#include "time-util.h"

/* The complete pairs of one container (or all) as the JSON array List replies with. */
static int list_pairs_json(const char *state_dir, const char *name, json_t **ret) {
	struct pair **pairs = NULL;
	size_t n = 0;
	int r = catalog_list_pairs(state_dir, name, &pairs, &n);
	if (r < 0)
		return r;
	json_t *a = json_array();
	for (size_t i = 0; r >= 0 && i < n; i++) {
		json_t *j = NULL;
		r = a ? catalog_pair_to_json(pairs[i], &j) : -ENOMEM;
		if (r >= 0 && json_array_append_new(a, j) < 0)
			r = -ENOMEM;
	}
	pair_array_free(pairs, n);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int method_list(struct connection *c, struct varlink_call *call) {
	const char *name = NULL;
	int r = unpack_params(c, call->parameters, "{s?s}", "container", &name);
	if (r <= 0)
		return r;
	if (name && !container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	json_t *pairs = NULL;
	r = list_pairs_json(c->manager->state_dir, name, &pairs);
	if (r >= 0)
		r = catalog_list_damaged(c->manager->state_dir, name, pairs);
	if (r < 0) {
		json_decref(pairs);
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", strna(name), "step", "list", "message", strerror(-r)));
	}
	if (name && json_array_size(pairs) == 0 && !manager_find_container(c->manager, name)) {
		json_decref(pairs);
		return connection_error(c, ERR("NoSuchContainer"), json_pack("{s:s}", "container", name));
	}
	json_t *reply = json_pack("{s:o}", "pairs", pairs);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

/* Show and Pin: the pair named by "container" and "id", loaded. 1 with *ret_pair, or the reply
 * already sent (0, or what sending it returned). */
static int load_pair_param(struct connection *c, struct varlink_call *call, const char **ret_name,
                           struct pair **ret_pair) {
	uint64_t id;
	int r = get_container_and_id(c, call->parameters, ret_name, &id);
	if (r <= 0)
		return r;
	if (!container_name_is_valid(*ret_name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", *ret_name));
	_cleanup_free_ char *why = NULL;
	r = catalog_load_pair_record(c->manager->state_dir, *ret_name, id, true, ret_pair, &why);
	if (r < 0)
		return reply_load_error(c, *ret_name, id, r, why);
	return 1;
}

int method_show(struct connection *c, struct varlink_call *call) {
	const char *name;
	_cleanup_(pair_freep) struct pair *p = NULL;
	int r = load_pair_param(c, call, &name, &p);
	if (r <= 0)
		return r;
	json_t *pair;
	r = catalog_pair_to_json(p, &pair);
	if (r < 0)
		return r;
	_cleanup_(json_decrefp) json_t *attention = NULL;
	(void) intent_attention(c->manager->state_dir, name, &attention);
	json_t *reply = json_pack("{s:o,s:s?}", "pair", pair, "attention",
	                          json_string_value(json_object_get(json_array_get(attention, 0), "message")));
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

int method_pin(struct connection *c, struct varlink_call *call, bool pin) {
	const char *name;
	_cleanup_(pair_freep) struct pair *p = NULL;
	int r = load_pair_param(c, call, &name, &p);
	if (r <= 0)
		return r;
	p->pinned = pin;
	r = catalog_write_pair_record(c->manager->state_dir, p);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", pin ? "pin" : "unpin",
		                                  "message", strerror(-r)));
	return connection_reply(c, NULL, false);
}

/* Cgroup=, or where the last job found an LXC= container or a Machine=. */
static const char *container_cgroup(const struct container *ct) {
	return ct->config->cgroup ? ct->config->cgroup : ct->lxc_cgroup;
}

static const char *container_state(struct container *ct, bool busy) {
	enum cgroup_kind kind;
	const char *cgroup = ct->config ? container_cgroup(ct) : NULL;
	if (!cgroup && ct->config && (ct->config->lxc || ct->config->machine))
		return "unresolved"; /* no job has asked LXC (machined) yet */
	if (!cgroup || cgroup_detect(cgroup, &kind) < 0)
		return "missing";
	if (cgroup_is_frozen(cgroup, kind) > 0)
		return "frozen";
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (cgroup_list_pids(cgroup, &pids, &n) < 0 || n == 0)
		return "empty";
	/* A CRIU left in the cgroup by an interrupted restore is not the container running. */
	for (size_t i = 0; !busy && i < n; i++) {
		char path[64];
		_cleanup_free_ char *comm = NULL;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int) pids[i]);
		if (read_one_line_file(path, &comm) >= 0 && streq(comm, "criu"))
			return "criu-left-over";
	}
	return "running";
}

int method_containers(struct connection *c, struct varlink_call *call) {
	int r = unpack_params(c, call->parameters, "{}");
	if (r <= 0)
		return r;
	struct manager *m = c->manager;
	json_t *list = json_array();
	for (size_t i = 0; i < m->n_containers; i++) {
		struct container *ct = m->containers[i];
		struct job *job = manager_container_job(m, ct->name);
		struct pair **pairs = NULL;
		size_t n = 0;
		if (catalog_list_pairs(m->state_dir, ct->name, &pairs, &n) < 0)
			n = 0;
		_cleanup_(json_decrefp) json_t *attention = NULL;
		(void) intent_attention(m->state_dir, ct->name, &attention);
		json_t *volumes = json_array();
		for (size_t v = 0; ct->config && v < ct->config->n_volumes; v++)
			json_array_append_new(volumes, json_string(ct->config->volumes[v]));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:s,s:i,s:o?,s:s?,s:s?}",
		        "name", ct->name, "config", ct->config ? "ok" : "config-error", "error", ct->config_error,
		        "cgroup", ct->config ? container_cgroup(ct) : NULL, "volumes", volumes,
		        "state", container_state(ct, job != NULL), "pairs", (int) n,
		        "last_pair", n > 0 ? json_integer((json_int_t) pairs[n - 1]->id) : NULL,
		        "job", job ? job_kind_to_string(job->kind) : NULL,
		        "attention", json_string_value(json_object_get(json_array_get(attention, 0), "message"))));
		pair_array_free(pairs, n);
	}
	json_t *reply = json_pack("{s:o}", "containers", list);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

int method_status(struct connection *c, struct varlink_call *call) {
	int r = unpack_params(c, call->parameters, "{}");
	if (r <= 0)
		return r;
	struct manager *m = c->manager;
	json_t *jobs = json_array(), *errors = json_array();
	for (size_t i = 0; i < job_registry_size(&m->jobs); i++) {
		struct job *j = job_registry_at(&m->jobs, i);
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
	_cleanup_free_ char *share_failure = image_share_failure(), *sharing = NULL;
	json_t *storage = NULL;
	if (!m->storage_cache)
		(void) storage_totals(m->state_dir, &m->storage_cache);
	if (m->storage_cache)
		(void) storage_info(m->state_dir, m->storage_cache, &storage);
	(void) storage_sharing(m->state_dir, storage, share_failure, &sharing);
	/* [Replicate]: what reached the destination last, and the last failure. */
	json_t *replication = json_array();
	for (size_t i = 0; replication && i < m->n_containers; i++) {
		json_t *rs = NULL;
		if (replicate_status(m->state_dir, m->containers[i]->name, &rs) >= 0 && rs) {
			json_object_set_new(rs, "container", json_string(m->containers[i]->name));
			json_array_append_new(replication, rs);
		}
	}
	if (replication && json_array_size(replication) == 0)
		json_decref(TAKE_PTR(replication));
	json_t *reply = json_pack("{s:s,s:i,s:I,s:s,s:o?,s:o,s:o,s:i,s:o*,s:s?,s:o?,s:o?}", "version", CKPTD_VERSION, "pid", (int) getpid(),
	        "uptime_usec", (json_int_t) (now_usec(CLOCK_MONOTONIC) - m->started_usec), "criu",
	        m->criu_path ? m->criu_path : "(not found)", "criu_version",
	        m->criu_version > 0 ? json_integer(m->criu_version) : NULL, "jobs", jobs, "config_errors", errors,
	        "damaged_pairs", (int) json_array_size(damaged), "attention", attention ? attention : json_array(),
	        "image_sharing", sharing, "storage", storage, "replication", replication);
	json_decref(damaged);
	r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}

/* The user has seen what an interrupted rollback left and dealt with it: stop reporting it. */
int method_acknowledge(struct connection *c, struct varlink_call *call) {
	const char *name;
	int r = get_container_only(c, call->parameters, &name);
	if (r <= 0)
		return r;
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	struct job *holder = manager_container_job(c->manager, name);
	if (holder)
		return connection_error(c, ERR("JobInProgress"),
		                        json_pack("{s:s,s:s}", "container", name, "kind", job_kind_to_string(holder->kind)));
	r = intent_clear_attention(c->manager->state_dir, name);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "acknowledge", "message",
		                                  strerror(-r)));
	_cleanup_(json_decrefp) json_t *reply = json_pack("{s:i}", "cleared", r);
	return connection_reply(c, reply, false);
}

