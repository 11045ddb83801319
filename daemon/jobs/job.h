/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A job runs one operation in its own thread: everything that touches storage, CRIU or /proc
 * (the event loop only decodes, authorizes, starts a job and encodes its replies). It reports
 * progress and its result through its queue, which the registry (registry.h) drains on the
 * event loop. A job that freezes a cgroup enforces MaxFrozenSec itself (job_set_freezer()). */

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "cgroup.h"
#include "config.h"

struct connection;
struct machine_info;
struct snapshot_backend;

enum job_kind {
	JOB_FREEZE_AND_DUMP,
	JOB_ROLLBACK,
	JOB_RESTORE,
	JOB_VERIFY,
	JOB_DELETE,
	JOB_PRUNE,
	JOB_INSPECT,
	JOB_EXPORT,
	JOB_IMPORT,
};

/* Which MaxParallelJobs slots a job takes: root's, a ReadGroup member's, or the quick queries'
 * (inspect), so that no pool can starve another. */
enum job_pool {
	JOB_POOL_ROOT,
	JOB_POOL_READ_ONLY,
	JOB_POOL_QUERY,
	_JOB_POOL_MAX,
};

struct job;
typedef int (*job_body_t)(struct job *j);

struct job {
	/* Fixed at creation; read by both threads. */
	enum job_kind kind;
	char *container;                  /* name */
	struct container_config *config;  /* the job's own copy of the configuration */
	char *state_dir;
	char *criu_path;
	char *staging_dir;
	int criu_version;
	char *tag;
	/* Per config->volumes: what each was when ckptd loaded it (id 0: not known). A rollback
	 * updates the ones it replaced, and the manager takes them over when the job ends. */
	struct volume_identity *volume_ids;
	struct machine_info *machine;     /* Machine=: what systemd-machined said when the job started */
	uint64_t pair;                    /* target pair (rollback, restore, verify) */
	bool safety_pair;
	bool force;                       /* rollback: only the volumes both the pair and the config have;
	                                   * delete: also a pair whose pair.json does not load */
	bool dry_run;                     /* prune */
	bool stop_after_dump;             /* freeze-and-dump: CRIU kills the tasks once dumped (migrate) */
	/* export, import (export.h): the client's descriptor the stream goes to or comes from (the
	 * job owns it), the base pair of an incremental export (0: full), the import's volume map
	 * ("SRC=DST" strings, NULL-terminated, or NULL) and this host's name for the record. */
	int stream_fd;
	uint64_t base_pair;
	char **volume_map;
	/* The containers this job holds: no other job that holds one of them runs meanwhile (one
	 * job per container). A job of a ReadGroup member or an inspect holds none. A prune of all
	 * containers holds each it prunes, with the job's own copy of its configuration. */
	char **held;                      /* NULL-terminated names */
	struct container_config **held_configs; /* per held, or NULL (not configured, or broken) */
	size_t n_held;
	uint64_t started_usec;
	job_body_t body;
	/* Runs in the job's thread after the body succeeded, before the client hears of it (the
	 * retention after a freeze-and-dump). */
	void (*after_success)(struct job *j);

	/* Event-loop side only. */
	struct connection *connection;    /* NULL if the client went away */
	bool more;                        /* the client asked for progress replies */
	enum job_pool pool;
	bool read_only_caller;            /* started by a ReadGroup member: own slots, container not held */
	pthread_t thread;
	bool thread_started;

	/* The MaxFrozenSec watchdog (job_set_freezer()): its own thread and its own descriptor of
	 * the cgroup's freeze file, so that nothing else in the daemon can delay a thaw. */
	pthread_t watchdog;
	bool watchdog_started;
	bool watchdog_stop;               /* under lock */
	pthread_cond_t watchdog_cond;     /* signalled under lock when frozen_since or watchdog_stop change */
	int freezer_fd;
	enum cgroup_kind freezer_kind;

	/* Shared, under lock. */
	pthread_mutex_t lock;
	char *phase;
	pid_t criu_pid;                   /* running criu, 0 if none */
	int criu_fd;                      /* a duplicate of our end of its socket, or -EBADF */
	uint64_t frozen_since;            /* CLOCK_MONOTONIC µs, 0 when not frozen */
	bool budget_exceeded;             /* MaxFrozenSec ran out: the watchdog killed criu */
	json_t *pending;                  /* array of progress objects not yet sent */
	bool finished;
	json_t *result;                   /* reply parameters on success */
	char *error_name;                 /* Varlink error on failure */
	json_t *error_parameters;
	int notify_fd;                    /* eventfd of the registry */

	/* Job thread only: what a failure reports (job_fail()). */
	const char *step;                 /* static; the phase of the last job_progress() unless set */
	char *state;                      /* what the container and its volumes look like now */
	json_t *details;                  /* array of strings, or NULL */
};

const char *job_kind_to_string(enum job_kind k);

/* Appends path to the job's copy of Volume= (a container's root directory, when the
 * configuration names no volume), with its identity now. Fails (*ret_why) if no snapshot backend
 * can snapshot it; -ENOMEM. */
int job_add_volume(struct job *j, const char *path, char **ret_why);

/* Thread side. */
void job_progress(struct job *j, const char *phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The running CRIU (pid 0: none any more) and, for a dump, our end of its socket (-EBADF: none;
 * the job keeps a duplicate until the next call), which MaxFrozenSec shuts down to stop it. */
void job_set_criu(struct job *j, pid_t pid, int service_fd);
/* Arms the MaxFrozenSec watchdog of a job that is about to freeze a cgroup (before freezing:
 * it needs a descriptor and a thread, which may be short later). freezer_fd is the cgroup's
 * opened freeze file (cgroup_freezer_open()); the job keeps its own duplicate. From then on,
 * whenever job_set_frozen(j, true) has opened the window for longer than the configuration's
 * MaxFrozenSec, the watchdog thread kills CRIU and thaws through that descriptor, whatever the
 * job's own thread is waiting for, and job_budget_exceeded() turns true. */
int job_set_freezer(struct job *j, int freezer_fd, enum cgroup_kind kind);
void job_set_frozen(struct job *j, bool frozen);
bool job_budget_exceeded(struct job *j);
const struct volume_identity *job_volume_identity(struct job *j, size_t i);
/* Ends the job with a Varlink error of the method's own (NoSuchPair, ...), not logged: for the
 * answers a quick method gave before it became a job. */
int job_finish_error(struct job *j, const char *error_name, json_t *parameters /* stolen */);
/* What a failure reports, kept up to date by the body as it goes: the step it is at (every
 * job_progress() sets it to its phase; job_set_step() names a finer one), what the container
 * and its volumes look like now ("nothing changed", "container thawed; the partial pair was
 * removed"; NULL: not said) and the list of problems behind the failure (stolen array). */
void job_set_step(struct job *j, const char *step /* static */);
void job_set_state(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void job_set_details(struct job *j, json_t *details /* stolen */);

/* Ends the job: exactly one of these, as the body's last act. job_fail() answers with
 * io.ckptd.Manager.OperationFailed (container, step, message, state, details), the message being
 * *error (taken; strerror(-r) when NULL), and logs the failure once. Returns r (-EIO if r >= 0). */
int job_succeed(struct job *j, json_t *result /* stolen */);
int job_fail(struct job *j, int r, char **error);

/* Event-loop side (through the registry). A job on container `name`; config_file is reloaded
 * into the job's own copy (NULL: the job has none, e.g. a delete of a pair whose container is no
 * longer configured). The caller fills in the rest (state_dir, criu_path, ...). */
int job_new(const char *name, const char *config_file, enum job_kind kind, job_body_t body, struct job **ret);
/* Adds a container the job holds (with its own copy of config_file's configuration, if any). */
int job_hold(struct job *j, const char *name, const char *config_file);
bool job_holds(struct job *j, const char *name);
/* The job's own copy of the configuration of a container it holds (NULL: none). */
const struct container_config *job_held_config(struct job *j, const char *name);
int job_start(struct job *j, int notify_fd);
struct job *job_free(struct job *j);
