/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state: configured containers (containers.c), running jobs (their registry), the
 * listening socket and connections (server.c). Everything here is touched by the event-loop
 * thread only, except what struct job marks as shared. */

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "config.h"
#include "client-limits.h"
#include "job.h"
#include "registry.h"

struct job;
struct connection;

struct container {
	char *name;
	struct container_config *config; /* NULL when the file does not parse */
	char *config_error;              /* why, naming file, line and key */
	struct volume_identity *volume_ids; /* per config->volumes, recorded at load (id 0: not known) */
	char *lxc_cgroup;                /* LXC= (Machine=): the cgroup the last job found LXC's container (the
	                                  * machine) in */
};

struct manager {
	sd_event *event;
	char *config_dir;
	char *state_dir;
	char *socket_path;
	char *criu_path;      /* resolved at start */
	int criu_version;     /* 0 if unknown */
	struct daemon_config daemon;
	char *daemon_config_error;
	gid_t read_gid;       /* (gid_t) -1 = no read group */

	struct container **containers;
	size_t n_containers;

	struct connection **connections;
	size_t n_connections;
	size_t output_total;   /* unread reply bytes of all connections */
	struct fd_budget fds;  /* descriptors kept for jobs */
	struct ratelimit refusal_log, drop_log, accept_error_log;

	struct job_registry jobs;

	int listen_fd;
	bool listen_fd_owned;  /* we created the socket (unlink at exit) */
	sd_event_source *listen_source;
	sd_event_source *accept_retry_timer; /* accept() failed: listening resumes when it fires */
	bool shutting_down;
	uint64_t started_usec;
	/* The byte counts of Status's "storage" (they read every pair.json): kept until a job ends,
	 * since only jobs change the catalog. NULL: not computed yet. */
	json_t *storage_cache;
};

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
static inline void manager_freep(struct manager **m) {
	manager_free(*m);
}

/* containers.c: (re)reads ckptd.conf and containers.d/; broken files are remembered and
 * reported, the others keep working. */
int manager_load_config(struct manager *m);
/* SIGHUP: a container with a running job keeps its job (which works on its own copy of the
 * configuration); one whose file went away stays listed until its job ends. */
int manager_reload_config(struct manager *m);
struct container *manager_find_container(struct manager *m, const char *name);
void container_free(struct container *c);
/* The job that holds the container (one at a time), or NULL. */
static inline struct job *manager_container_job(struct manager *m, const char *name) {
	return job_registry_holder(&m->jobs, name);
}
/* StagingDir= when ckptd.conf does not set it: /run/ckptd/staging for the default state
 * directory, else a directory of its own per state directory (/run/ckptd/staging-HASH of its path), so
 * that daemons on different state directories never share staging paths. Caller frees. */
char *manager_default_staging_dir(struct manager *m);
/* Another container whose running job acts on a cgroup or volume of ct (configured twice under
 * two names): its job would kill the tasks or swap the volume under ct's. *ret_key is "Cgroup" or
 * "Volume", *ret_what the shared one. NULL if none. */
struct container *manager_find_sharing_job(struct manager *m, struct container *ct, const char **ret_key,
                                           const char **ret_what);
/* job-start.c: a job on container ct (or on name, when ct is NULL: not configured) with the
 * daemon's settings and the container's volume identities; holding the container if hold. */
int manager_job_new(struct manager *m, struct container *ct, const char *name, enum job_kind kind, job_body_t body,
                    bool hold, struct job **ret);
/* Starts a job that finishes each rollback a predecessor was interrupted in (see job-start.c). */
int manager_finish_interrupted(struct manager *m);
/* server.c */
int manager_start_listening(struct manager *m);
/* Called when SIGTERM arrives: stop accepting work, exit once the jobs are done. */
void manager_begin_shutdown(struct manager *m);
void manager_update_status(struct manager *m);
