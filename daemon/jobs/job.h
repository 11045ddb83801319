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
#include "pair-record.h"

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

	/* Job thread only: what a failure reports (job_fail()). */
	const char *step;                 /* static; the phase of the last job_progress() unless set */
	char *state;                      /* what the container and its volumes look like now */
	json_t *details;                  /* array of strings, or NULL */
};

const char *job_kind_to_string(enum job_kind k);

/* Thread side. */
void job_progress(struct job *j, const char *phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void job_set_criu_pid(struct job *j, pid_t pid);
void job_set_frozen(struct job *j, bool frozen);
bool job_budget_exceeded(struct job *j);
const struct volume_identity *job_volume_identity(struct job *j, size_t i);
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

/* Event-loop side. */
int job_new(struct manager *m, struct container *c, enum job_kind kind, job_body_t body, struct job **ret);
int job_start(struct job *j);
struct job *job_free(struct job *j);

/* Bodies. */
/* The freeze-and-dump pipeline; a new complete pair in *ret_pair. Rollback uses it for the
 * safety pair. On failure the job's step and state say where it stopped and what is left. */
int pair_make(struct job *j, const char *tag, struct pair **ret_pair, char **ret_error);
int job_freeze_and_dump(struct job *j);
int job_rollback(struct job *j);
int job_restore(struct job *j);
int job_verify(struct job *j);
