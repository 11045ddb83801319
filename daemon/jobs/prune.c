/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Retention: the decisions come from policy/retention.c (pure); applying them happens here. */
#include <inttypes.h>

#include "backend.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "prune.h"
#include "retention.h"
#include "time-util.h"

/* The retention policy's view of a pair. */
static struct retention_pair retention_pair_of(const struct pair *p) {
	uint64_t created = 0;
	(void) parse_timestamp_utc(p->created, &created);
	return (struct retention_pair) {
		.id = p->id,
		.created_usec = (int64_t) created,
		.complete = pair_is_complete_record(p),
		.pinned = p->pinned,
		.bytes = p->images.bytes == PAIR_ABSENT ? 0 : p->images.bytes,
	};
}

/* Deletes (unless dry_run) what retention decided; one object per pair appended to decisions
 * if non-NULL. pairs[i] is the pair of decision i. */
static void apply_decisions(const char *state_dir, const char *name, struct pair **pairs,
                            const struct retention_result *res, bool dry_run, json_t *decisions) {
	for (size_t i = 0; i < res->n_decisions; i++) {
		struct retention_decision *d = &res->decisions[i];
		json_t *entry = json_pack("{s:s,s:I,s:b,s:s}", "container", name, "id", (json_int_t) d->id, "remove",
		                          d->remove, "reason", d->reason);
		if (d->remove && !dry_run) {
			_cleanup_free_ char *why = NULL;
			int k = pair_remove_volumes(state_dir, name, d->id, pairs[i]->volumes, pairs[i]->n_volumes, NULL,
			                            &why);
			if (k < 0) {
				log_error("%s: retention could not delete pair %" PRIu64 ": %s", name, d->id,
				          why ? why : strerror(-k));
				json_object_set_new(entry, "error", json_string(why ? why : strerror(-k)));
			} else
				log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_DELETED, name, d->id, UINT64_MAX,
				                    "%s: retention deleted pair %" PRIu64 " (%s)", name, d->id, d->reason);
		}
		if (decisions)
			json_array_append(decisions, entry);
		json_decref(entry);
	}
}

/* One container's retention over its complete pairs (n > 0). */
static int retain(const char *state_dir, const char *name, const struct container_config *cfg, bool dry_run,
                  struct pair **pairs, size_t n, json_t *decisions) {
	_cleanup_free_ struct retention_pair *rp = calloc(n, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		rp[i] = retention_pair_of(pairs[i]);
	struct retention_space space = {};
	bool have_space = false;
	if (cfg->n_volumes > 0) {
		const struct snapshot_backend *b = snapshot_backend_for(cfg->volumes[0]);
		have_space = b && b->space(cfg->volumes[0], &space.total_bytes, &space.free_bytes) >= 0;
	}
	struct retention_result res = {};
	int r = retention_decide(&cfg->retention, rp, n, have_space ? &space : NULL, &res);
	if (r < 0)
		return r;
	apply_decisions(state_dir, name, pairs, &res, dry_run, decisions);
	if (res.message)
		log_warning("%s: %s", name, res.message);
	retention_result_done(&res);
	return 0;
}

/* One container's retention; one object per pair appended to decisions if non-NULL. */
static int prune_container(const char *state_dir, const char *name, const struct container_config *cfg, bool dry_run,
                           json_t *decisions) {
	if (!cfg)
		return -EINVAL;
	struct pair **pairs = NULL;
	size_t n = 0;
	int r = catalog_list_pairs(state_dir, name, &pairs, &n);
	if (r < 0 || n == 0)
		return r;
	r = retain(state_dir, name, cfg, dry_run, pairs, n, decisions);
	pair_array_free(pairs, n);
	return r;
}

int job_prune(struct job *j) {
	_cleanup_(json_decrefp) json_t *decisions = json_array();
	if (!decisions)
		return -ENOMEM;
	for (size_t i = 0; i < j->n_held; i++) {
		int r = prune_container(j->state_dir, j->held[i], job_held_config(j, j->held[i]), j->dry_run, decisions);
		if (r < 0)
			return job_finish_error(j, "io.ckptd.Manager.OperationFailed",
			                        json_pack("{s:s,s:s,s:s}", "container", j->held[i], "step", "prune", "message",
			                                  strerror(-r)));
	}
	return job_succeed(j, json_pack("{s:O}", "decisions", decisions));
}

void job_retain(struct job *j) {
	(void) prune_container(j->state_dir, j->container, j->config, false, NULL);
}
