/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include "error.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "time-util.h"

const char *job_kind_to_string(enum job_kind k) {
	switch (k) {
	case JOB_FREEZE_AND_DUMP: return "freeze-and-dump";
	case JOB_ROLLBACK: return "rollback";
	case JOB_RESTORE: return "restore";
	case JOB_VERIFY: return "verify";
	}
	return "unknown";
}

static void wake_manager(struct job *j) {
	uint64_t one = 1;
	(void) !write(j->notify_fd, &one, sizeof(one));
}

void job_progress(struct job *j, const char *phase, const char *fmt, ...) {
	_cleanup_free_ char *msg = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
	}
	log_debug("%s: %s: %s", j->container, phase, strna(msg));
	json_t *p = json_pack("{s:s,s:s?}", "phase", phase, "message", msg);
	pthread_mutex_lock(&j->lock);
	free(j->phase);
	j->phase = strdup(phase);
	j->step = phase;
	if (p)
		json_array_append_new(j->pending, p);
	pthread_mutex_unlock(&j->lock);
	wake_manager(j);
}

void job_set_criu_pid(struct job *j, pid_t pid) {
	pthread_mutex_lock(&j->lock);
	j->criu_pid = pid;
	pthread_mutex_unlock(&j->lock);
}

void job_set_frozen(struct job *j, bool frozen) {
	pthread_mutex_lock(&j->lock);
	j->frozen_since = frozen ? now_usec(CLOCK_MONOTONIC) : 0;
	pthread_mutex_unlock(&j->lock);
	wake_manager(j); /* the watchdog arms itself */
}

bool job_budget_exceeded(struct job *j) {
	pthread_mutex_lock(&j->lock);
	bool b = j->budget_exceeded;
	pthread_mutex_unlock(&j->lock);
	return b;
}

const struct volume_identity *job_volume_identity(struct job *j, size_t i) {
	return j->volume_ids && i < j->config->n_volumes ? &j->volume_ids[i] : NULL;
}

int job_succeed(struct job *j, json_t *result) {
	pthread_mutex_lock(&j->lock);
	j->result = result ? result : json_object();
	j->finished = true;
	pthread_mutex_unlock(&j->lock);
	wake_manager(j);
	return 0;
}

void job_set_step(struct job *j, const char *step) {
	j->step = step;
}

void job_set_state(struct job *j, const char *fmt, ...) {
	char *s = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&s, fmt, ap) < 0)
			s = NULL;
		va_end(ap);
	}
	free(j->state);
	j->state = s;
}

void job_set_details(struct job *j, json_t *details) {
	if (j->details)
		json_decref(j->details);
	j->details = details;
}

int job_fail(struct job *j, int r, char **error) {
	if (r >= 0)
		r = -EIO;
	_cleanup_free_ char *msg = NULL;
	(void) error_pass(&msg, r, error);
	const char *step = j->step ? j->step : "unknown";
	log_container_event(LOG_ERR, CKPTD_MESSAGE_JOB_FAILED, j->container, j->pair, UINT64_MAX,
	                    "%s of %s failed at step '%s': %s%s%s", job_kind_to_string(j->kind), j->container, step,
	                    strna(msg), j->state ? "; state: " : "", strempty(j->state));
	json_t *params = json_pack("{s:s,s:s,s:s,s:s?}", "container", j->container, "step", step, "message",
	                           msg ? msg : "out of memory", "state", j->state);
	if (params && json_array_size(j->details) > 0)
		json_object_set(params, "details", j->details);

	pthread_mutex_lock(&j->lock);
	j->error_name = strdup("io.ckptd.Manager.OperationFailed");
	j->error_parameters = params;
	j->finished = true;
	pthread_mutex_unlock(&j->lock);
	wake_manager(j);
	return r;
}

static void *job_thread(void *userdata) {
	struct job *j = userdata;
	int r = j->body(j);
	pthread_mutex_lock(&j->lock);
	bool finished = j->finished;
	pthread_mutex_unlock(&j->lock);
	if (!finished) { /* a body that forgot to report: never leave a client waiting */
		_cleanup_free_ char *error = NULL;
		job_set_step(j, "internal");
		job_set_state(j, NULL);
		(void) job_fail(j, r, (error_setf(&error, r, "job ended without a result: %m"), &error));
	}
	return NULL;
}

int job_new(struct manager *m, struct container *c, enum job_kind kind, job_body_t body, struct job **ret) {
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	j->kind = kind;
	j->body = body;
	j->manager = m;
	j->notify_fd = m->job_eventfd;
	j->started_usec = now_usec(CLOCK_REALTIME);
	j->criu_version = m->criu_version;
	j->container = strdup(c->name);
	j->state_dir = strdup(m->state_dir);
	j->criu_path = m->criu_path ? strdup(m->criu_path) : NULL;
	j->staging_dir = m->daemon.staging_dir ? strdup(m->daemon.staging_dir) : manager_default_staging_dir(m);
	j->pending = json_array();
	j->phase = strdup("queued");
	if (!j->container || !j->state_dir || (m->criu_path && !j->criu_path) || !j->staging_dir || !j->pending ||
	    !j->phase) {
		job_free(j);
		return -ENOMEM;
	}
	int r = container_config_load(c->config->file, &j->config, NULL);
	if (r < 0) { /* the file changed under us since the last load: say so */
		job_free(j);
		return r;
	}
	/* The identities recorded at load, for the volumes the file still names. */
	j->volume_ids = calloc(j->config->n_volumes, sizeof(*j->volume_ids));
	if (!j->volume_ids && j->config->n_volumes > 0) {
		job_free(j);
		return -ENOMEM;
	}
	for (size_t i = 0; i < j->config->n_volumes && c->volume_ids; i++)
		for (size_t k = 0; k < c->config->n_volumes; k++)
			if (streq(j->config->volumes[i], c->config->volumes[k]))
				j->volume_ids[i] = c->volume_ids[k];
	*ret = j;
	return 0;
}

int job_start(struct job *j) {
	int r = -pthread_create(&j->thread, NULL, job_thread, j);
	if (r < 0)
		return r;
	j->thread_started = true;
	return 0;
}

struct job *job_free(struct job *j) {
	if (!j)
		return NULL;
	if (j->thread_started)
		pthread_join(j->thread, NULL);
	free(j->container);
	container_config_free(j->config);
	free(j->volume_ids);
	free(j->state_dir);
	free(j->criu_path);
	free(j->staging_dir);
	free(j->tag);
	free(j->phase);
	free(j->state);
	if (j->details)
		json_decref(j->details);
	free(j->error_name);
	if (j->pending)
		json_decref(j->pending);
	if (j->result)
		json_decref(j->result);
	if (j->error_parameters)
		json_decref(j->error_parameters);
	pthread_mutex_destroy(&j->lock);
	free(j);
	return NULL;
}
