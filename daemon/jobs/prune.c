/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Retention: the decisions come from policy/retention.c (pure); applying them happens here. */
#include <inttypes.h>

#include "backend.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "pair.h"
#include "pair-ops.h"
#include "prune.h"
#include "retention.h"
#include "server.h"
#include "time-util.h"

int prune_container(struct manager *m, struct container *ct, bool dry_run, json_t *decisions) {
	if (!ct->config)
		return -EINVAL;
	_cleanup_(json_decrefp) json_t *pairs = NULL;
	int r = catalog_list_pairs(m->state_dir, ct->name, &pairs);
	if (r < 0)
		return r;
	size_t n = json_array_size(pairs);
	if (n == 0)
		return 0;
	_cleanup_free_ struct retention_pair *rp = calloc(n, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(pairs, i);
		uint64_t created = 0;
		(void) parse_timestamp_utc(json_string_value(json_object_get(p, "created")), &created);
		rp[i] = (struct retention_pair) {
			.id = pair_id(p),
			.created_usec = (int64_t) created,
			.complete = pair_is_complete(p),
			.pinned = json_is_true(json_object_get(p, "pinned")),
			.bytes = (uint64_t) json_integer_value(json_object_get(json_object_get(p, "images"), "bytes")),
		};
	}
	struct retention_space space = {};
	bool have_space = false;
	if (ct->config->n_volumes > 0) {
		const struct snapshot_backend *b = snapshot_backend_for(ct->config->volumes[0]);
		have_space = b && b->space(ct->config->volumes[0], &space.total_bytes, &space.free_bytes) >= 0;
	}
	struct retention_result res = {};
	r = retention_decide(&ct->config->retention, rp, n, have_space ? &space : NULL, &res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.n_decisions; i++) {
		struct retention_decision *d = &res.decisions[i];
		json_t *entry = json_pack("{s:s,s:I,s:b,s:s}", "container", ct->name, "id", (json_int_t) d->id, "remove",
		                          d->remove, "reason", d->reason);
		if (d->remove && !dry_run) {
			_cleanup_free_ char *why = NULL;
			json_t *p = json_array_get(pairs, i);
			int k = pair_remove(m->state_dir, ct->name, d->id, json_object_get(p, "volumes"), NULL, &why);
			if (k < 0) {
				log_error("%s: retention could not delete pair %" PRIu64 ": %s", ct->name, d->id,
				          why ? why : strerror(-k));
				json_object_set_new(entry, "error", json_string(why ? why : strerror(-k)));
			} else
				log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_DELETED, ct->name, d->id, UINT64_MAX,
				                    "%s: retention deleted pair %" PRIu64 " (%s)", ct->name, d->id, d->reason);
		}
		if (decisions)
			json_array_append(decisions, entry);
		json_decref(entry);
	}
	if (res.message)
		log_warning("%s: %s", ct->name, res.message);
	retention_result_done(&res);
	return 0;
}

int method_prune(struct connection *c, struct varlink_call *call) {
	static const char *const known[] = { "container", "dry_run", NULL };
	const char *name = NULL, *bad = NULL;
	bool dry_run = false;
	struct manager *m = c->manager;
	if (varlink_params_check_known(call->parameters, known, &bad) < 0 ||
	    varlink_param_string(call->parameters, "container", false, &name, &bad) < 0 ||
	    varlink_param_bool(call->parameters, "dry_run", false, &dry_run, &bad) < 0)
		return connection_error(c, VARLINK_ERROR_INVALID_PARAMETER, json_pack("{s:s}", "parameter", strna(bad)));
	if (name && !container_name_is_valid(name))
		return connection_error(c, "io.ckptd.Manager.InvalidContainerName", json_pack("{s:s}", "name", name));
	struct container *only = name ? manager_find_container(m, name) : NULL;
	if (name && !only)
		return connection_error(c, "io.ckptd.Manager.NoSuchContainer", json_pack("{s:s}", "container", name));
	if (only && only->job)
		return connection_error(c, "io.ckptd.Manager.JobInProgress",
		                        json_pack("{s:s,s:s}", "container", name, "kind", job_kind_to_string(only->job->kind)));

	_cleanup_(json_decrefp) json_t *decisions = json_array();
	for (size_t i = 0; i < m->n_containers; i++) {
		struct container *ct = m->containers[i];
		if ((only && ct != only) || !ct->config || ct->job)
			continue;
		int r = prune_container(m, ct, dry_run, decisions);
		if (r < 0)
			return connection_error(c, "io.ckptd.Manager.OperationFailed",
			                        json_pack("{s:s,s:s,s:s}", "container", ct->name, "step", "prune", "message",
			                                  strerror(-r)));
	}
	json_t *reply = json_pack("{s:O}", "decisions", decisions);
	int r = connection_reply(c, reply, false);
	json_decref(reply);
	return r;
}
