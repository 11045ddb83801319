/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Delete, as a job: removing snapshots may wait long on storage (an lvm call, a busy file
 * system), and nothing on the event loop may wait for it. */
#include <inttypes.h>

#include "backend.h"
#include "delete.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "pair-ops.h"
#include "quarantine.h"

#define ERR(name) "io.ckptd.Manager." name

json_t *pair_load_error(const char *state_dir, const char *name, uint64_t id, int r, const char *why,
                        const char **ret_error_name) {
	_cleanup_free_ char *path = NULL, *reason = NULL, *msg = NULL;
	*ret_error_name = ERR("OperationFailed");
	if (r == -ENOENT && catalog_find_damaged(state_dir, name, id, &path, &reason) >= 0 &&
	    asprintf(&msg, "pair %s/%" PRIu64 " is damaged (%s); it is kept at %s; 'ckptctl delete %s %" PRIu64
	             " --force' removes it", name, id, reason, path, name, id) >= 0)
		return json_pack("{s:s,s:s,s:s}", "container", name, "step", "load", "message", msg);
	if (r == -ENOENT || r == -EINPROGRESS) {
		*ret_error_name = ERR("NoSuchPair");
		return json_pack("{s:s,s:I}", "container", name, "id", (json_int_t) id);
	}
	return json_pack("{s:s,s:s,s:s}", "container", name, "step", "load", "message", why ? why : strerror(-r));
}

static int finish_load_error(struct job *j, int r, const char *why) {
	const char *name;
	json_t *params = pair_load_error(j->state_dir, j->container, j->pair, r, why, &name);
	return job_finish_error(j, name, params);
}

/* Snapshots at the places the configuration gives for this id are left, and named. */
static int delete_damaged(struct job *j) {
	_cleanup_(json_decrefp) json_t *removed = json_array(), *kept = json_array();
	_cleanup_free_ char *why = NULL;
	int r = catalog_remove_damaged(j->state_dir, j->container, j->pair, removed, &why);
	if (r == -ENOENT)
		return job_finish_error(j, ERR("NoSuchPair"),
		                        json_pack("{s:s,s:I}", "container", j->container, "id", (json_int_t) j->pair));
	if (r < 0)
		return job_finish_error(j, ERR("OperationFailed"), json_pack("{s:s,s:s,s:s}", "container", j->container,
		                                                               "step", "delete", "message", strna(why)));
	for (size_t i = 0; j->config && i < j->config->n_volumes; i++) {
		const struct snapshot_backend *b = snapshot_backend_for(j->config->volumes[i]);
		_cleanup_free_ char *where = NULL;
		if (b && b->snapshot_location(j->config->volumes[i], j->container, j->pair, &where) >= 0 &&
		    b->exists(where, 0) > 0)
			json_array_append_new(kept, json_string(where));
	}
	log_container_event(LOG_WARNING, CKPTD_MESSAGE_PAIR_DELETED, j->container, j->pair, UINT64_MAX,
	                    "%s: damaged pair %" PRIu64 " deleted by request (%zu record(s)); %zu snapshot(s) left in place",
	                    j->container, j->pair, json_array_size(removed), json_array_size(kept));
	return job_succeed(j, json_pack("{s:O,s:O}", "removed", removed, "kept", kept));
}

int job_delete(struct job *j) {
	_cleanup_(pair_freep) struct pair *pair = NULL;
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair_record(j->state_dir, j->container, j->pair, true, &pair, &why);
	if (r < 0 && j->force && r != -EINPROGRESS)
		return delete_damaged(j);
	if (r == -EBADMSG) {
		_cleanup_free_ char *reason = TAKE_PTR(why);
		(void) error_setf(&why, r, "pair %s/%" PRIu64 " is damaged (%s); 'ckptctl delete %s %" PRIu64 " --force' "
		                  "removes it", j->container, j->pair, strna(reason), j->container, j->pair);
	}
	if (r < 0)
		return finish_load_error(j, r, why);
	r = pair_remove_volumes(j->state_dir, j->container, j->pair, pair->volumes, pair->n_volumes, NULL, &why);
	if (r < 0)
		return job_finish_error(j, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s,s:s}", "container", j->container, "step", "delete", "message",
		                                  why ? why : strerror(-r), "state", "the pair is still listed"));
	log_container_event(LOG_INFO, CKPTD_MESSAGE_PAIR_DELETED, j->container, j->pair, UINT64_MAX,
	                    "%s: pair %" PRIu64 " deleted", j->container, j->pair);
	return job_succeed(j, NULL);
}
