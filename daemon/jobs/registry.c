/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/eventfd.h>
#include <unistd.h>

#include "macro.h"
#include "registry.h"

static void registry_remove(struct job_registry *reg, size_t i) {
	memmove(reg->jobs + i, reg->jobs + i + 1, (reg->n_jobs - i - 1) * sizeof(*reg->jobs));
	reg->n_jobs--;
}

static int on_job_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	struct job_registry *reg = userdata;
	uint64_t v;
	(void) !read(fd, &v, sizeof(v));

	for (size_t i = 0; i < reg->n_jobs;) {
		struct job *j = reg->jobs[i];
		pthread_mutex_lock(&j->lock);
		json_t *progress = j->pending;
		j->pending = json_array();
		bool finished = j->finished;
		pthread_mutex_unlock(&j->lock);

		if (json_array_size(progress) > 0)
			reg->ops->progress(j, progress, reg->userdata);
		json_decref(progress);
		if (finished) {
			reg->ops->finished(j, reg->userdata);
			registry_remove(reg, i);
			job_free(j);
			continue;
		}
		i++;
	}
	reg->ops->drained(reg->userdata);
	return 0;
}

int job_registry_init(struct job_registry *reg, sd_event *e, const struct job_registry_ops *ops, void *userdata) {
	*reg = (struct job_registry) { .eventfd = -EBADF, .ops = ops, .userdata = userdata };
	reg->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (reg->eventfd < 0)
		return negative_errno();
	return sd_event_add_io(e, &reg->source, reg->eventfd, EPOLLIN, on_job_event, reg);
}

void job_registry_done(struct job_registry *reg) {
	for (size_t i = 0; i < reg->n_jobs; i++)
		job_free(reg->jobs[i]); /* joins its thread */
	free(reg->jobs);
	reg->jobs = NULL;
	reg->n_jobs = 0;
	sd_event_source_disable_unref(reg->source);
	reg->source = NULL;
	if (reg->eventfd >= 0)
		close(reg->eventfd);
	reg->eventfd = -EBADF;
}

int job_registry_start(struct job_registry *reg, struct job *j) {
	struct job **a = realloc(reg->jobs, (reg->n_jobs + 1) * sizeof(*a));
	if (!a) {
		job_free(j);
		return -ENOMEM;
	}
	reg->jobs = a;
	int r = job_start(j, reg->eventfd);
	if (r < 0) {
		job_free(j);
		return r;
	}
	reg->jobs[reg->n_jobs++] = j;
	return 0;
}

struct job *job_registry_holder(struct job_registry *reg, const char *name) {
	for (size_t i = 0; i < reg->n_jobs; i++)
		if (job_holds(reg->jobs[i], name))
			return reg->jobs[i];
	return NULL;
}

size_t job_registry_count(struct job_registry *reg, enum job_pool pool) {
	size_t n = 0;
	for (size_t i = 0; i < reg->n_jobs; i++)
		if (reg->jobs[i]->pool == pool)
			n++;
	return n;
}

void job_registry_forget_connection(struct job_registry *reg, const struct connection *c) {
	for (size_t i = 0; i < reg->n_jobs; i++)
		if (reg->jobs[i]->connection == c)
			reg->jobs[i]->connection = NULL;
}
