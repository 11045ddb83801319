/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's heart: the event loop's signals, the job registry's callbacks (progress and
 * results to the clients), shutdown and the status line for the service manager. */
#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "job.h"
#include "log.h"
#include "json-util.h"
#include "macro.h"
#include "manager.h"
#include "registry.h"
#include "server.h"
#include "time-util.h"

struct manager *manager_free(struct manager *m) {
	if (!m)
		return NULL;
	while (m->n_connections > 0)
		connection_close(m->connections[0]);
	free(m->connections);
	job_registry_done(&m->jobs); /* waits for every job */
	m->storage_cache = json_decref_null(m->storage_cache);
	for (size_t i = 0; i < m->n_containers; i++)
		container_free(m->containers[i]);
	free(m->containers);
	sd_event_source_disable_unref(m->listen_source);
	sd_event_source_disable_unref(m->accept_retry_timer);
	fd_budget_done(&m->fds);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		if (m->listen_fd_owned && m->socket_path)
			(void) unlink(m->socket_path);
	}
	daemon_config_done(&m->daemon);
	free(m->daemon_config_error);
	free(m->config_dir);
	free(m->state_dir);
	free(m->socket_path);
	free(m->criu_path);
	sd_event_unref(m->event);
	free(m);
	return NULL;
}

static void on_job_progress(struct job *j, json_t *progress, void *userdata) {
	if (!j->connection || !j->more)
		return;
	size_t i;
	json_t *p;
	json_array_foreach(progress, i, p) {
		json_t *params = json_pack("{s:O}", "progress", p);
		int r = connection_reply(j->connection, params, true);
		json_decref(params);
		if (r < 0) {
			connection_close(j->connection); /* also detaches it from the job */
			return;
		}
	}
}

static void on_job_finished(struct job *j, void *userdata) {
	struct manager *m = userdata;
	struct container *ct = j->config && (j->config->lxc || j->config->machine) && j->config->cgroup
	                               ? manager_find_container(m, j->container)
	                               : NULL;
	if (ct && ct->config && streq_ptr(ct->config->lxc, j->config->lxc) &&
	    streq_ptr(ct->config->machine, j->config->machine)) {
		free(ct->lxc_cgroup);
		ct->lxc_cgroup = strdup(j->config->cgroup);
	}
	m->storage_cache = json_decref_null(m->storage_cache); /* a job may have changed the catalog */
	/* The volumes a rollback replaced are new subvolumes: every container that names them
	 * (two may share a volume) takes their identities. */
	for (size_t c = 0; j->kind == JOB_ROLLBACK && c < m->n_containers; c++) {
		struct container *o = m->containers[c];
		for (size_t i = 0; o->config && o->volume_ids && i < j->config->n_volumes; i++)
			for (size_t k = 0; k < o->config->n_volumes; k++)
				if (j->volume_ids[i].id != 0 && streq(j->config->volumes[i], o->config->volumes[k]))
					o->volume_ids[k] = j->volume_ids[i];
	}
	if (j->connection) {
		int r;
		if (j->error_name)
			r = connection_error(j->connection, j->error_name, json_incref(j->error_parameters));
		else
			r = connection_reply(j->connection, j->result, false);
		if (r < 0)
			connection_close(j->connection);
	}
}

static void on_jobs_drained(void *userdata) {
	struct manager *m = userdata;
	manager_update_status(m);
	if (m->shutting_down && job_registry_size(&m->jobs) == 0)
		sd_event_exit(m->event, 0);
}

static const struct job_registry_ops job_ops = {
	.progress = on_job_progress,
	.finished = on_job_finished,
	.drained = on_jobs_drained,
};

/* Restored process trees end up as our children (we are a subreaper): reap them at once, so a
 * later restore never finds their PIDs taken. Only the main thread's children: each CRIU
 * process is a child of its job thread, which waits for it itself. */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
	_cleanup_free_ char *buf = NULL;
	if (read_full_file(path, &buf, NULL) < 0)
		return 0;
	for (char *p = buf, *e; *p; p = e) {
		long pid = strtol(p, &e, 10);
		if (e == p)
			break;
		int status;
		if (waitpid((pid_t) pid, &status, WNOHANG) > 0)
			log_debug("Reaped process %ld", pid);
	}
	return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	struct manager *m = userdata;
	(void) sd_notify(0, "RELOADING=1");
	int r = manager_reload_config(m);
	if (r < 0)
		log_error_errno(r, "Reloading the configuration failed: %m");
	else
		log_info("Configuration reloaded");
	(void) sd_notify(0, "READY=1");
	manager_update_status(m);
	return 0;
}

static int on_signal_exit(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
	struct manager *m = userdata;
	log_info("Received %s, %s", strsignal((int) si->ssi_signo),
	         job_registry_size(&m->jobs) > 0 ? "finishing running jobs first" : "exiting");
	manager_begin_shutdown(m);
	return 0;
}

void manager_begin_shutdown(struct manager *m) {
	m->shutting_down = true;
	(void) sd_notify(0, "STOPPING=1");
	if (job_registry_size(&m->jobs) == 0)
		sd_event_exit(m->event, 0);
}

void manager_update_status(struct manager *m) {
	size_t n = job_registry_size(&m->jobs);
	if (n == 0) {
		(void) sd_notifyf(0, "STATUS=Idle, %zu container(s)", m->n_containers);
		return;
	}
	struct job *j = job_registry_at(&m->jobs, 0);
	pthread_mutex_lock(&j->lock);
	(void) sd_notifyf(0, "STATUS=%s %s: %s%s", job_kind_to_string(j->kind), j->container, strna(j->phase),
	                  n > 1 ? " (and more)" : "");
	pthread_mutex_unlock(&j->lock);
}

int manager_new(struct manager **ret) {
	struct manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->listen_fd = -EBADF;
	m->jobs.eventfd = -EBADF;
	m->read_gid = (gid_t) -1;
	m->started_usec = now_usec(CLOCK_MONOTONIC);
	m->fds.proc_fd_dir = -EBADF;
	m->refusal_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 5);
	m->drop_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 5);
	m->accept_error_log = (struct ratelimit) RATELIMIT_INIT(10 * USEC_PER_SEC, 3);
	int r = fd_budget_init(&m->fds, 8);
	if (r < 0) {
		log_error_errno(r, "Cannot open /proc/self/fd to count descriptors: %m");
		goto fail;
	}
	r = sd_event_default(&m->event);
	if (r < 0)
		goto fail;
	r = job_registry_init(&m->jobs, m->event, &job_ops, m);
	if (r < 0)
		goto fail;
	if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal_exit, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal_exit, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m)) < 0)
		goto fail;
	(void) sd_event_set_watchdog(m->event, true);
	*ret = m;
	return 0;
fail:
	manager_free(m);
	return r;
}
