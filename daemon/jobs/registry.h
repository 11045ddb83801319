/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one owner of the running jobs: it starts them, answers which job holds a container, drains
 * their queues on the event loop and hands progress and results to the service through
 * callbacks (a job never calls into the service), and waits for them at exit. Event-loop thread
 * only; nothing else touches the array. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "job.h"

struct job_registry_ops {
	/* New progress objects of j (an array, borrowed). */
	void (*progress)(struct job *j, json_t *progress, void *userdata);
	/* j has finished (result or error set); it is freed when this returns. */
	void (*finished)(struct job *j, void *userdata);
	/* After each drain: the number of running jobs may have changed. */
	void (*drained)(void *userdata);
};

struct job_registry {
	struct job **jobs;
	size_t n_jobs;
	int eventfd;
	sd_event_source *source;
	const struct job_registry_ops *ops;
	void *userdata;
};

int job_registry_init(struct job_registry *reg, sd_event *e, const struct job_registry_ops *ops, void *userdata);
/* Waits for every job's thread, then frees them. */
void job_registry_done(struct job_registry *reg);

/* Takes j and starts its thread; on failure j is freed and -errno returned. */
int job_registry_start(struct job_registry *reg, struct job *j);
/* The job that holds container name, or NULL. */
struct job *job_registry_holder(struct job_registry *reg, const char *name);
/* How many jobs take slots of pool. */
size_t job_registry_count(struct job_registry *reg, enum job_pool pool);
static inline size_t job_registry_size(const struct job_registry *reg) {
	return reg->n_jobs;
}
static inline struct job *job_registry_at(const struct job_registry *reg, size_t i) {
	return reg->jobs[i];
}
/* The client went away: its jobs go on, their results go nowhere. */
void job_registry_forget_connection(struct job_registry *reg, const struct connection *c);
