/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"
#include "job.h"
#include "lxc-container.h"
#include "machine-container.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

const char *job_kind_to_string(enum job_kind k) {
	switch (k) {
	case JOB_FREEZE_AND_DUMP: return "freeze-and-dump";
	case JOB_ROLLBACK: return "rollback";
	case JOB_RESTORE: return "restore";
	case JOB_VERIFY: return "verify";
	case JOB_DELETE: return "delete";
	case JOB_PRUNE: return "prune";
	case JOB_INSPECT: return "inspect";
	case JOB_EXPORT: return "export";
	case JOB_IMPORT: return "import";
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

void job_set_criu(struct job *j, pid_t pid, int service_fd) {
	int dup = service_fd >= 0 ? fcntl(service_fd, F_DUPFD_CLOEXEC, 3) : -EBADF;
	pthread_mutex_lock(&j->lock);
	j->criu_pid = pid;
	if (j->criu_fd >= 0)
		close(j->criu_fd);
	j->criu_fd = dup;
	pthread_cond_signal(&j->watchdog_cond); /* a watchdog may wait for CRIU to be gone */
	pthread_mutex_unlock(&j->lock);
}

/* How long CRIU gets, once MaxFrozenSec has run out, to give up by itself before it is killed. */
#define CRIU_GIVE_UP_USEC (2 * USEC_PER_SEC)

/* Waits for the CRIU of a window over budget to give up, after the watchdog shut down our end of
 * its socket: killed while it runs code in a task (the parasite) or has changed its registers,
 * CRIU can leave that task crashing, while, finding us gone at its next message, it releases the
 * tasks and exits. Only if it has not after CRIU_GIVE_UP_USEC is it killed. Called and returns
 * with j->lock held. */
static void watchdog_stop_criu(struct job *j) {
	pid_t criu = j->criu_pid;
	if (criu <= 0)
		return;
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + CRIU_GIVE_UP_USEC;
	while (j->criu_pid == criu && now_usec(CLOCK_MONOTONIC) < deadline) {
		struct timespec ts = { .tv_sec = (time_t) (deadline / USEC_PER_SEC),
			               .tv_nsec = (long) (deadline % USEC_PER_SEC) * 1000 };
		(void) pthread_cond_timedwait(&j->watchdog_cond, &j->lock, &ts);
	}
	if (j->criu_pid == criu) {
		log_warning("%s: criu (pid %d) did not give up within %.0f s after MaxFrozenSec: killing it", j->container,
		            (int) criu, (double) CRIU_GIVE_UP_USEC / USEC_PER_SEC);
		(void) kill(criu, SIGKILL);
	}
}

/* MaxFrozenSec, in a thread of the job's own: sleeps until the window it watches runs over its
 * budget, then thaws through the job's own descriptor and stops CRIU (watchdog_stop_criu()). The job's thread may be
 * waiting for a snapshot, for CRIU or for anything else meanwhile; the event loop plays no part. */
static void *watchdog_thread(void *userdata) {
	struct job *j = userdata;
	pthread_mutex_lock(&j->lock);
	while (!j->watchdog_stop) {
		if (j->frozen_since == 0 || j->budget_exceeded) {
			pthread_cond_wait(&j->watchdog_cond, &j->lock);
			continue;
		}
		uint64_t deadline = j->frozen_since + j->config->max_frozen_usec;
		if (now_usec(CLOCK_MONOTONIC) < deadline) {
			struct timespec ts = { .tv_sec = (time_t) (deadline / USEC_PER_SEC),
				               .tv_nsec = (long) (deadline % USEC_PER_SEC) * 1000 };
			(void) pthread_cond_timedwait(&j->watchdog_cond, &j->lock, &ts);
			continue;
		}
		j->budget_exceeded = true;
		pid_t criu = j->criu_pid;
		/* CRIU is told first, so that it cannot take our thaw for an answer and freeze again. */
		if (j->criu_fd >= 0)
			(void) shutdown(j->criu_fd, SHUT_RDWR);
		pthread_mutex_unlock(&j->lock);
		log_error("%s: frozen for longer than MaxFrozenSec=%.3gs; stopping criu (pid %d) and thawing", j->container,
		          (double) j->config->max_frozen_usec / USEC_PER_SEC, (int) criu);
		int r = cgroup_thaw_fd(j->freezer_fd, j->freezer_kind);
		if (r < 0)
			log_error_errno(r, "%s: cannot thaw cgroup %s after MaxFrozenSec: %m", j->container, j->config->cgroup);
		pthread_mutex_lock(&j->lock);
		watchdog_stop_criu(j);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int job_set_freezer(struct job *j, int freezer_fd, enum cgroup_kind kind) {
	if (j->watchdog_started || !j->config)
		return -EINVAL;
	j->freezer_fd = fcntl(freezer_fd, F_DUPFD_CLOEXEC, 3);
	if (j->freezer_fd < 0)
		return negative_errno();
	j->freezer_kind = kind;
	int r = -pthread_create(&j->watchdog, NULL, watchdog_thread, j);
	if (r < 0) {
		close(j->freezer_fd);
		j->freezer_fd = -EBADF;
		return r;
	}
	j->watchdog_started = true;
	return 0;
}

static void watchdog_stop(struct job *j) {
	if (!j->watchdog_started)
		return;
	pthread_mutex_lock(&j->lock);
	j->watchdog_stop = true;
	pthread_cond_signal(&j->watchdog_cond);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->watchdog, NULL);
	j->watchdog_started = false;
}

void job_set_frozen(struct job *j, bool frozen) {
	pthread_mutex_lock(&j->lock);
	j->frozen_since = frozen ? now_usec(CLOCK_MONOTONIC) : 0;
	pthread_cond_signal(&j->watchdog_cond);
	pthread_mutex_unlock(&j->lock);
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

/* The result is published by job_thread(), once after_success() has run. */
int job_succeed(struct job *j, json_t *result) {
	pthread_mutex_lock(&j->lock);
	j->result = result ? result : json_object();
	pthread_mutex_unlock(&j->lock);
	return 0;
}

int job_finish_error(struct job *j, const char *error_name, json_t *parameters) {
	char *name = strdup(error_name);
	pthread_mutex_lock(&j->lock);
	j->error_name = name;
	j->error_parameters = parameters;
	j->finished = true;
	pthread_mutex_unlock(&j->lock);
	wake_manager(j);
	return name ? -EIO : -ENOMEM;
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

int job_add_volume(struct job *j, const char *path, char **ret_why) {
	struct container_config *cfg = j->config;
	const struct snapshot_backend *b = snapshot_backend_for(path);
	int r = !b ? -EMEDIUMTYPE : b->probe ? b->probe(path, ret_why) : 0;
	if (r >= 0 && b)
		r = b->check(path, NULL, ret_why);
	if (r < 0)
		return r;
	struct volume_identity id = {};
	if (b->identify)
		(void) b->identify(path, &id, NULL);
	char **v = realloc(cfg->volumes, (cfg->n_volumes + 2) * sizeof(char *));
	if (!v)
		return -ENOMEM;
	cfg->volumes = v;
	struct volume_identity *ids = realloc(j->volume_ids, (cfg->n_volumes + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	j->volume_ids = ids;
	if (!(cfg->volumes[cfg->n_volumes] = strdup(path)))
		return -ENOMEM;
	j->volume_ids[cfg->n_volumes] = id;
	cfg->volumes[++cfg->n_volumes] = NULL;
	return 0;
}

/* An LXC= container's cgroup, init and rootfs, as LXC knows them now (lxc-container.h); a
 * Machine='s as systemd-machined knows them (machine-container.h). */
static int resolve_lxc(struct job *j) {
	_cleanup_free_ char *error = NULL;
	int r = job_is_lxc(j) ? lxc_job_resolve(j, &error) : job_is_machine(j) ? machine_job_resolve(j, &error) : 0;
	if (r < 0) {
		job_set_step(j, "validate");
		job_set_state(j, "nothing changed");
		return job_fail(j, r, &error);
	}
	return 0;
}

static void *job_thread(void *userdata) {
	struct job *j = userdata;
	int r = resolve_lxc(j);
	if (r >= 0)
		r = j->body(j);
	watchdog_stop(j); /* the window is closed: the body thawed, whatever happened */
	pthread_mutex_lock(&j->lock);
	bool finished = j->finished, succeeded = !finished && j->result;
	pthread_mutex_unlock(&j->lock);
	if (succeeded && j->after_success)
		j->after_success(j);
	if (succeeded) {
		pthread_mutex_lock(&j->lock);
		j->finished = true;
		pthread_mutex_unlock(&j->lock);
		wake_manager(j);
	} else if (!finished) { /* a body that forgot to report: never leave a client waiting */
		_cleanup_free_ char *error = NULL;
		job_set_step(j, "internal");
		job_set_state(j, NULL);
		(void) job_fail(j, r, (error_setf(&error, r, "job ended without a result: %m"), &error));
	}
	return NULL;
}

int job_new(const char *name, const char *config_file, enum job_kind kind, job_body_t body, struct job **ret) {
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the watchdog's deadlines */
	pthread_cond_init(&j->watchdog_cond, &ca);
	pthread_condattr_destroy(&ca);
	j->freezer_fd = -EBADF;
	j->criu_fd = -EBADF;
	j->stream_fd = -EBADF;
	j->notify_fd = -EBADF;
	j->kind = kind;
	j->body = body;
	j->started_usec = now_usec(CLOCK_REALTIME);
	j->container = strdup(name);
	j->pending = json_array();
	j->phase = strdup("queued");
	if (!j->container || !j->pending || !j->phase) {
		job_free(j);
		return -ENOMEM;
	}
	/* The file changed under us since the last load: the caller says so. */
	int r = config_file ? container_config_load(config_file, &j->config, NULL) : 0;
	if (r < 0) {
		job_free(j);
		return r;
	}
	*ret = j;
	return 0;
}

int job_hold(struct job *j, const char *name, const char *config_file) {
	struct container_config *cfg = NULL;
	int r = config_file ? container_config_load(config_file, &cfg, NULL) : 0;
	if (r < 0)
		return r;
	char **h = realloc(j->held, (j->n_held + 2) * sizeof(*h));
	if (h)
		j->held = h;
	struct container_config **c = realloc(j->held_configs, (j->n_held + 1) * sizeof(*c));
	if (c)
		j->held_configs = c;
	char *copy = strdup(name);
	if (!h || !c || !copy) {
		free(copy);
		container_config_free(cfg);
		return -ENOMEM;
	}
	j->held_configs[j->n_held] = cfg;
	j->held[j->n_held++] = copy;
	j->held[j->n_held] = NULL;
	return 0;
}

bool job_holds(struct job *j, const char *name) {
	for (size_t i = 0; i < j->n_held; i++)
		if (streq(j->held[i], name))
			return true;
	return false;
}

const struct container_config *job_held_config(struct job *j, const char *name) {
	for (size_t i = 0; i < j->n_held; i++)
		if (streq(j->held[i], name))
			return j->held_configs[i] ? j->held_configs[i] : streq(name, j->container) ? j->config : NULL;
	return NULL;
}

int job_start(struct job *j, int notify_fd) {
	j->notify_fd = notify_fd;
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
	watchdog_stop(j);
	if (j->freezer_fd >= 0)
		close(j->freezer_fd);
	if (j->criu_fd >= 0)
		close(j->criu_fd);
	if (j->stream_fd >= 0)
		close(j->stream_fd);
	strv_free(j->volume_map);
	pthread_cond_destroy(&j->watchdog_cond);
	for (size_t i = 0; i < j->n_held; i++) {
		free(j->held[i]);
		container_config_free(j->held_configs[i]);
	}
	free(j->held);
	free(j->held_configs);
	free(j->container);
	container_config_free(j->config);
	free(j->volume_ids);
	if (j->machine)
		machine_info_done(j->machine);
	free(j->machine);
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
