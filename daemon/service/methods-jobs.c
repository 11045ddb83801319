/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The methods that do work: each starts a job (job.h) through the registry, which replies when
 * it is done; here only decoding, authorization and the refusals (one job per container, slots). */
#include <fcntl.h>

#include "delete.h"
#include "dump.h"
#include "export.h"
#include "inspect.h"
#include "job.h"
#include "macro.h"
#include "manager.h"
#include "methods.h"
#include "prune.h"
#include "registry.h"
#include "replicate.h"
#include "rollback.h"
#include "server.h"

struct job_args {
	const char *tag;
	uint64_t pair;
	bool safety_pair;
	bool force;
	bool dry_run;
	bool stop; /* freeze-and-dump: the tasks end with the dump (migrate) */
	bool all; /* prune: every configured container that no job holds now */
	int *stream_fd;    /* export, import: the client's descriptor, taken by the job */
	uint64_t base;     /* export */
	char ***volume_map; /* import: taken by the job */
};

/* A prune of all containers holds each configured one that no job holds now (with its own copy
 * of the configuration); the others are skipped, as before. */
static int hold_all(struct manager *m, struct job *j) {
	for (size_t i = 0; i < m->n_containers; i++) {
		struct container *ct = m->containers[i];
		if (!ct->config || manager_container_job(m, ct->name))
			continue;
		int r = job_hold(j, ct->name, ct->config->file);
		if (r == -ENOMEM)
			return r;
		/* A file that no longer parses: skipped, like a broken one. */
	}
	return 0;
}

/* Which slots a job takes, and whether it holds the container: root's jobs hold it (one job per
 * container: a delete or prune never runs while a dump or rollback of the container does, and
 * the other way round). A read-only caller's job (verify) never takes what root's need: it has
 * its own MaxParallelJobs slots and does not hold the container (root's jobs there go ahead; a
 * pair deleted meanwhile makes the verify report it missing). An inspect only reads /proc: it
 * holds nothing and has slots of its own. */
static enum job_pool job_pool_of(struct connection *c, enum job_kind kind) {
	if (kind == JOB_INSPECT)
		return JOB_POOL_QUERY;
	return c->may_write ? JOB_POOL_ROOT : JOB_POOL_READ_ONLY;
}

static int reply_job_in_progress(struct connection *c, const char *name, struct job *holder) {
	return connection_error(c, ERR("JobInProgress"),
	                        json_pack("{s:s,s:s}", "container", name, "kind", job_kind_to_string(holder->kind)));
}

/* The refusal of a job that would hold ct (name), or 0 when it may start. */
static int job_refused(struct connection *c, struct container *ct, const char *name) {
	struct manager *m = c->manager;
	struct job *holder = manager_container_job(m, name);
	if (holder)
		return reply_job_in_progress(c, name, holder) ?: 1;
	const char *key = NULL, *shared = NULL;
	struct container *other = ct && ct->config ? manager_find_sharing_job(m, ct, &key, &shared) : NULL;
	if (!other)
		return 0;
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "%s=%s", key, shared) < 0)
		return -ENOMEM;
	return connection_error(c, ERR("JobInProgress"),
	                        json_pack("{s:s,s:s,s:s}", "container", other->name, "kind",
	                                  job_kind_to_string(manager_container_job(m, other->name)->kind), "shared", what))
	       ?: 1;
}

/* A job on ct (or, for a delete, on name alone: the container may be gone from the
 * configuration). Replies itself when the job cannot start; the job replies when done. */
static int start_job(struct connection *c, struct varlink_call *call, struct container *ct, const char *name,
                     enum job_kind kind, job_body_t body, const struct job_args *args) {
	struct manager *m = c->manager;
	if (m->shutting_down)
		return connection_error(c, ERR("ShuttingDown"), NULL);
	enum job_pool pool = job_pool_of(c, kind);
	bool hold = pool == JOB_POOL_ROOT;
	int r = hold ? job_refused(c, ct, name) : 0;
	if (r != 0)
		return r < 0 ? r : 0;
	if (job_registry_count(&m->jobs, pool) >= m->daemon.max_parallel_jobs)
		return connection_error(c, ERR("TooManyJobs"), json_pack("{s:i}", "limit", (int) m->daemon.max_parallel_jobs));
	struct job *j;
	r = manager_job_new(m, ct, name, kind, body, hold && !args->all, &j);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "start", "message",
		                                  "cannot reload the container's configuration"));
	j->connection = call->oneway ? NULL : c;
	j->pool = pool;
	j->read_only_caller = pool != JOB_POOL_ROOT;
	j->more = call->more;
	j->pair = args->pair;
	j->safety_pair = args->safety_pair;
	j->force = args->force;
	j->dry_run = args->dry_run;
	j->stop_after_dump = args->stop;
	if (args->stream_fd)
		j->stream_fd = TAKE_FD(*args->stream_fd);
	j->base_pair = args->base;
	if (args->volume_map)
		j->volume_map = TAKE_PTR(*args->volume_map);
	if (kind == JOB_FREEZE_AND_DUMP)
		j->after_success = job_after_dump; /* retention, before the client hears of the new pair; then
		                                    * [Replicate] in the background */
	if ((args->tag && !(j->tag = strdup(args->tag))) || (args->all && hold_all(m, j) < 0)) {
		job_free(j);
		return -ENOMEM;
	}
	r = job_registry_start(&m->jobs, j);
	if (r < 0)
		return connection_error(c, ERR("OperationFailed"),
		                        json_pack("{s:s,s:s,s:s}", "container", name, "step", "start", "message",
		                                  "cannot start a worker thread"));
	manager_update_status(m);
	return 0;
}

int method_freeze_and_dump(struct connection *c, struct varlink_call *call) {
	const char *name, *tag = NULL;
	int stop = false;
	int r = unpack_params(c, call->parameters, "{s:s, s?s, s?b}", "container", &name, "tag", &tag, "stop", &stop);
	if (r <= 0)
		return r;
	if (tag && strlen(tag) > 256)
		return invalid_parameter(c, "tag");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, name, JOB_FREEZE_AND_DUMP, job_freeze_and_dump,
	                 &(struct job_args) { .tag = tag, .stop = stop });
}

int method_rollback(struct connection *c, struct varlink_call *call) {
	const char *name;
	json_int_t id;
	uint64_t pair;
	int safety = true, force = false;
	int r = unpack_params(c, call->parameters, "{s:s, s:I, s?b, s?b}", "container", &name, "id", &id, "safety_pair",
	                      &safety, "force", &force);
	if (r <= 0 || (r = pair_id_param(c, id, &pair)) <= 0)
		return r;
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, name, JOB_ROLLBACK, job_rollback,
	                 &(struct job_args) { .pair = pair, .safety_pair = safety, .force = force });
}

int method_restore(struct connection *c, struct varlink_call *call) {
	const char *name;
	json_int_t id;
	uint64_t pair;
	int processes_only;
	int r = unpack_params(c, call->parameters, "{s:s, s:I, s:b}", "container", &name, "id", &id, "processes_only",
	                      &processes_only);
	if (r <= 0 || (r = pair_id_param(c, id, &pair)) <= 0)
		return r;
	if (!processes_only)
		return invalid_parameter(c, "processes_only");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, name, JOB_RESTORE, job_restore, &(struct job_args) { .pair = pair });
}

int method_verify(struct connection *c, struct varlink_call *call) {
	const char *name;
	uint64_t id;
	int r = get_container_and_id(c, call->parameters, &name, &id);
	if (r <= 0)
		return r;
	struct container *ct = lookup(c, name, false, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, name, JOB_VERIFY, job_verify, &(struct job_args) { .pair = id });
}

/* What discovery sees in a running container, and whether it could be checkpointed now. */
int method_inspect(struct connection *c, struct varlink_call *call) {
	const char *name;
	int r = get_container_only(c, call->parameters, &name);
	if (r <= 0)
		return r;
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	return start_job(c, call, ct, name, JOB_INSPECT, job_inspect, &(struct job_args) {});
}

int method_delete(struct connection *c, struct varlink_call *call) {
	const char *name;
	json_int_t id;
	uint64_t pair;
	int force = false;
	int r = unpack_params(c, call->parameters, "{s:s, s:I, s?b}", "container", &name, "id", &id, "force", &force);
	if (r <= 0 || (r = pair_id_param(c, id, &pair)) <= 0)
		return r;
	if (!container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	/* The pair is loaded, checked and removed by the job: removing snapshots may wait long on
	 * storage. */
	return start_job(c, call, manager_find_container(c->manager, name), name, JOB_DELETE, job_delete,
	                 &(struct job_args) { .pair = pair, .force = force });
}

int method_prune(struct connection *c, struct varlink_call *call) {
	const char *name = NULL;
	int dry_run = false;
	int r = unpack_params(c, call->parameters, "{s?s, s?b}", "container", &name, "dry_run", &dry_run);
	if (r <= 0)
		return r;
	if (name && !container_name_is_valid(name))
		return connection_error(c, ERR("InvalidContainerName"), json_pack("{s:s}", "name", name));
	struct container *only = name ? manager_find_container(c->manager, name) : NULL;
	if (name && !only)
		return connection_error(c, ERR("NoSuchContainer"), json_pack("{s:s}", "container", name));
	return start_job(c, call, only, name ? name : "*", JOB_PRUNE, job_prune,
	                 &(struct job_args) { .dry_run = dry_run, .all = !name });
}

/* The descriptor passed with an Export or Import call (see server.h): one, of the right kind.
 * 1 with *ret_fd, or the refusal sent. */
static int passed_stream_fd(struct connection *c, bool write, int *ret_fd) {
	int fd = connection_take_fd(c);
	if (fd < 0)
		return connection_error(c, VARLINK_ERROR_INVALID_PARAMETER,
		                        json_pack("{s:s,s:s}", "parameter", "fd", "message",
		                                  fd == -EMSGSIZE ? "pass exactly one file descriptor with the call"
		                                                  : "pass the stream's file descriptor with the call (SCM_RIGHTS)"));
	int flags = fcntl(fd, F_GETFL);
	int mode = flags < 0 ? -1 : flags & O_ACCMODE;
	if (mode < 0 || (write ? mode == O_RDONLY : mode == O_WRONLY)) {
		close(fd);
		return connection_error(c, VARLINK_ERROR_INVALID_PARAMETER,
		                        json_pack("{s:s,s:s}", "parameter", "fd", "message",
		                                  write ? "the file descriptor is not open for writing"
		                                        : "the file descriptor is not open for reading"));
	}
	*ret_fd = fd;
	return 1;
}

int method_export(struct connection *c, struct varlink_call *call) {
	const char *name;
	json_int_t id, base = 0;
	uint64_t pair;
	int r = unpack_params(c, call->parameters, "{s:s, s:I, s?I}", "container", &name, "id", &id, "base", &base);
	if (r <= 0 || (r = pair_id_param(c, id, &pair)) <= 0)
		return r;
	if (base < 0 || (base > 0 && (uint64_t) base == pair))
		return invalid_parameter(c, "base");
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	_cleanup_close_ int fd = -EBADF;
	if ((r = passed_stream_fd(c, true, &fd)) <= 0)
		return r;
	return start_job(c, call, ct, name, JOB_EXPORT, job_export,
	                 &(struct job_args) { .pair = pair, .base = (uint64_t) base, .stream_fd = &fd });
}

/* "SRC=DST" with two absolute paths or lvm: names. */
static bool volume_map_entry_is_valid(const char *s) {
	const char *eq = strchr(s, '=');
	return eq && eq > s && eq[1] && !strchr(eq + 1, '=') && strlen(s) < 4096;
}

int method_import(struct connection *c, struct varlink_call *call) {
	const char *name;
	json_t *volumes = NULL;
	int r = unpack_params(c, call->parameters, "{s:s, s?o}", "container", &name, "volumes", &volumes);
	if (r <= 0)
		return r;
	_cleanup_strv_free_ char **map = calloc(json_array_size(volumes) + 1, sizeof(char *));
	if (!map)
		return -ENOMEM;
	size_t i;
	json_t *v;
	json_array_foreach(volumes, i, v) {
		if (!json_is_string(v) || !volume_map_entry_is_valid(json_string_value(v)) || i >= 64)
			return invalid_parameter(c, "volumes");
		if (!(map[i] = strdup(json_string_value(v))))
			return -ENOMEM;
	}
	struct container *ct = lookup(c, name, true, &r);
	if (!ct)
		return r;
	_cleanup_close_ int fd = -EBADF;
	if ((r = passed_stream_fd(c, false, &fd)) <= 0)
		return r;
	return start_job(c, call, ct, name, JOB_IMPORT, job_import,
	                 &(struct job_args) { .stream_fd = &fd, .volume_map = &map });
}
