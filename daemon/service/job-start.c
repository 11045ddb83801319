/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs as the service makes them: the daemon's settings and the container's configuration go
 * into the job's own copy; the registry runs them. */
#include <inttypes.h>

#include "intent.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "rollback.h"
#include "registry.h"

/* The job's copy of an LXC= (Machine=) container's configuration gets LXC's (machined's) answers
 * in the job's thread: what the service compares while the job runs is a copy of its own. */
static const char *held_config_file(const struct container *ct) {
	return ct && ct->config && (ct->config->lxc || ct->config->machine) ? ct->config->file : NULL;
}

int manager_job_new(struct manager *m, struct container *ct, const char *name, enum job_kind kind, job_body_t body,
                    bool hold, struct job **ret) {
	struct job *j;
	int r = job_new(name, ct && ct->config ? ct->config->file : NULL, kind, body, &j);
	if (r < 0)
		return r;
	j->criu_version = m->criu_version;
	j->state_dir = strdup(m->state_dir);
	j->criu_path = m->criu_path ? strdup(m->criu_path) : NULL;
	j->staging_dir = m->daemon.staging_dir ? strdup(m->daemon.staging_dir) : manager_default_staging_dir(m);
	if (!j->state_dir || (m->criu_path && !j->criu_path) || !j->staging_dir || (hold && job_hold(j, name, held_config_file(ct)) < 0)) {
		job_free(j);
		return -ENOMEM;
	}
	/* The identities recorded at load, for the volumes the file still names. */
	size_t n = j->config ? j->config->n_volumes : 0;
	j->volume_ids = calloc(n ? n : 1, sizeof(*j->volume_ids));
	if (!j->volume_ids) {
		job_free(j);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && ct->volume_ids; i++)
		for (size_t k = 0; k < ct->config->n_volumes; k++)
			if (streq(j->config->volumes[i], ct->config->volumes[k]))
				j->volume_ids[i] = ct->volume_ids[k];
	*ret = j;
	return 0;
}

/* Finishes the rollbacks a predecessor was interrupted in, once each: the job verifies the pair
 * first (checksums, snapshots) and changes nothing when it is not intact; it takes no new safety
 * pair (the interrupted rollback's one stays, and its undo command works). The record stays, and
 * is reported, until a rollback or restore of the container succeeds. */
int manager_finish_interrupted(struct manager *m) {
	_cleanup_(json_decrefp) json_t *intents = NULL;
	int r = intent_load_all(m->state_dir, &intents);
	if (r < 0)
		return r;
	size_t i;
	json_t *intent;
	json_array_foreach(intents, i, intent) {
		const char *name = json_string_value(json_object_get(intent, "container"));
		uint64_t id = (uint64_t) json_integer_value(json_object_get(intent, "pair"));
		if (!json_is_true(json_object_get(intent, "interrupted")) ||
		    json_is_true(json_object_get(intent, "finish_attempted")) ||
		    !streq_ptr(json_string_value(json_object_get(intent, "kind")), "rollback") || id == 0)
			continue;
		struct container *ct = manager_find_container(m, name);
		if (!ct || !ct->config || manager_container_job(m, name) ||
		    job_registry_count(&m->jobs, JOB_POOL_ROOT) >= m->daemon.max_parallel_jobs) {
			log_warning("%s: cannot finish the interrupted rollback to pair %" PRIu64 " now (%s)", name, id,
			            !ct || !ct->config ? "the container's configuration is missing or invalid"
			                               : "other jobs are running");
			continue;
		}
		json_object_set_new(intent, "finish_attempted", json_true());
		struct job *j;
		if (intent_record(m->state_dir, name, intent) < 0 ||
		    manager_job_new(m, ct, name, JOB_ROLLBACK, job_rollback, true, &j) < 0)
			continue;
		j->pair = id;
		j->safety_pair = false;
		if (job_registry_start(&m->jobs, j) < 0)
			continue;
		log_container_event(LOG_WARNING, CKPTD_MESSAGE_RECOVERED, name, id, UINT64_MAX,
		                    "%s: finishing the rollback to pair %" PRIu64 " interrupted at step '%s' (the pair is "
		                    "verified first; no new safety pair)", name, id,
		                    strna(json_string_value(json_object_get(intent, "step"))));
	}
	return 0;
}

