/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A job runs one long operation on one container in its own thread (the event loop keeps
 * answering). It reports progress and its result through a queue the event loop drains. */

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "cgroup.h"
#include "config.h"

struct manager;
struct container;
struct connection;
struct snapshot_backend;

enum job_kind {
	JOB_FREEZE_AND_DUMP,
	JOB_ROLLBACK,
	JOB_RESTORE,
	JOB_VERIFY,
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
	uint64_t pair;                    /* target pair (rollback, restore, verify) */
	bool safety_pair;
	bool force;                       /* rollback: only the volumes both the pair and the config have */
	uint64_t started_usec;
	job_body_t body;

	/* Event-loop side only. */
	struct manager *manager;
	struct connection *connection;    /* NULL if the client went away */
	bool more;                        /* the client asked for progress replies */
	bool read_only_caller;            /* started by a ReadGroup member: own slots, container not held */
	pthread_t thread;
	bool thread_started;

	/* Shared, under lock. */
	pthread_mutex_t lock;
	char *phase;
	pid_t criu_pid;                   /* running criu, 0 if none */
	uint64_t frozen_since;            /* CLOCK_MONOTONIC µs, 0 when not frozen */
	bool budget_exceeded;             /* MaxFrozenSec ran out: the watchdog killed criu */
	json_t *pending;                  /* array of progress objects not yet sent */
	bool finished;
	json_t *result;                   /* reply parameters on success */
	char *error_name;                 /* Varlink error on failure */
	json_t *error_parameters;
	int notify_fd;                    /* eventfd of the manager */
};

const char *job_kind_to_string(enum job_kind k);

/* Thread side. */
void job_progress(struct job *j, const char *phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void job_set_criu_pid(struct job *j, pid_t pid);
void job_set_frozen(struct job *j, bool frozen);
bool job_budget_exceeded(struct job *j);
const struct volume_identity *job_volume_identity(struct job *j, size_t i);
/* Ends the job: exactly one of these, as the body's last act. */
int job_succeed(struct job *j, json_t *result /* stolen */);
int job_fail(struct job *j, const char *step, const char *state, json_t *details /* stolen array or NULL */,
             int error, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* What went wrong in a step, to be reported by job_fail_with() or wrapped by a caller. */
struct failure {
	const char *step;  /* static */
	char *state;       /* what the container and its volumes look like now */
	char *message;
	json_t *details;   /* array of strings, or NULL */
	int error;
};
int failure_set(struct failure *f, const char *step, const char *state, int error, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
void failure_done(struct failure *f);
int job_fail_with(struct job *j, struct failure *f);

/* Event-loop side. */
int job_new(struct manager *m, struct container *c, enum job_kind kind, job_body_t body, struct job **ret);
int job_start(struct job *j);
struct job *job_free(struct job *j);

/* Bodies. */
/* The freeze-and-dump pipeline; a new complete pair in *ret_pair. Rollback uses it for the
 * safety pair. */
int pair_make(struct job *j, const char *tag, json_t **ret_pair, struct failure *f);
int job_freeze_and_dump(struct job *j);
int job_rollback(struct job *j);
int job_restore(struct job *j);
int job_verify(struct job *j);
