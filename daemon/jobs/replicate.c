/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* [Replicate] Command=: after every new pair, the pair is exported (export.c's stream) into the
 * standard input of that command, e.g. `ssh backup ckptctl import web`, incrementally against
 * the last pair that reached it. This runs in a thread of its own, after the freeze-and-dump job
 * has answered and let go of the container: it never delays or blocks the next freeze. One
 * replication runs at a time in the daemon (the destination takes one import per container).
 *
 * What reached the destination is recorded in STATE/containers/NAME/replicated (the pair id), a
 * failure in STATE/containers/NAME/replicate-error ({pair, time, message}), shown by `status`
 * and logged; the next pair is then tried again, against the last pair that did reach it (full
 * when that pair is gone here). */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "error.h"
#include "export.h"
#include "fileio.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair.h"
#include "process.h"
#include "prune.h"
#include "replicate.h"

#define REPLICATED_FILE "replicated"
#define REPLICATE_ERROR_FILE "replicate-error"

static pthread_mutex_t replicate_lock = PTHREAD_MUTEX_INITIALIZER;

struct replication {
	char *state_dir, *container, *config_file, *command;
	uint64_t pair;
};

static void replication_free(struct replication *r) {
	if (!r)
		return;
	free(r->state_dir);
	free(r->container);
	free(r->config_file);
	free(r->command);
	free(r);
}

static char *state_file(const char *state_dir, const char *container, const char *name) {
	_cleanup_free_ char *dir = catalog_container_dir(state_dir, container);
	return dir ? path_join(dir, name) : NULL;
}

/* The last pair that reached the destination, if it is still a complete pair here; else 0. */
static uint64_t replicated_base(const char *state_dir, const char *container, uint64_t pair) {
	_cleanup_free_ char *file = state_file(state_dir, container, REPLICATED_FILE), *line = NULL;
	if (!file || read_one_line_file(file, &line) < 0)
		return 0;
	char *end;
	unsigned long long id = strtoull(line, &end, 10);
	if (*end || id == 0 || id >= pair || catalog_load_pair_record(state_dir, container, id, true, NULL, NULL) < 0)
		return 0;
	return id;
}

/* Command= split at blanks into an argument vector (no shell, no quoting). */
static char **split_command(const char *command) {
	size_t n = 0;
	char **argv = calloc(strlen(command) / 2 + 2, sizeof(char *));
	if (!argv)
		return NULL;
	for (const char *p = command; *p;) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, " \t");
		if (len == 0)
			break;
		if (!(argv[n++] = strndup(p, len))) {
			strv_free(argv);
			return NULL;
		}
		p += len;
	}
	if (n == 0) {
		free(argv);
		return NULL;
	}
	return argv;
}

/* The pair into the command's stdin; 0 when the command took it and exited 0. */
static int replicate_once(struct job *j, const char *command, json_t **ret_result, char **ret_error) {
	_cleanup_strv_free_ char **argv = split_command(command);
	if (!argv)
		return error_setf(ret_error, -EINVAL, "[Replicate] Command= is empty");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_setf(ret_error, negative_errno(), "cannot make a pipe: %m");
	struct process_spec spec = { .argv = (const char *const *) argv, .stdin_fd = p[0] };
	pid_t pid;
	int r = process_spawn(&spec, &pid, ret_error);
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		return error_prefixf(ret_error, r, ret_error, "cannot run %s", argv[0]);
	}
	j->stream_fd = p[1];
	_cleanup_free_ char *export_error = NULL;
	int export_r = export_pair(j, ret_result, &export_error);
	close(j->stream_fd); /* the end of the stream for the command */
	j->stream_fd = -EBADF;
	int status = process_reap(pid);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char how[64];
		if (status >= 0 && WIFEXITED(status))
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		else
			snprintf(how, sizeof(how), "was killed%s", status < 0 ? " or lost" : "");
		return error_setf(ret_error, -EPROTO, "%s %s%s%s", command, how, export_r < 0 ? "; the export: " : "",
		                  export_r < 0 ? strna(export_error) : "");
	}
	if (export_r < 0)
		return error_pass(ret_error, export_r, &export_error);
	return 0;
}

static void record_outcome(struct replication *rp, uint64_t base, int r, const char *error, json_t *result) {
	_cleanup_free_ char *ok_file = state_file(rp->state_dir, rp->container, REPLICATED_FILE);
	_cleanup_free_ char *err_file = state_file(rp->state_dir, rp->container, REPLICATE_ERROR_FILE);
	if (!ok_file || !err_file)
		return;
	if (r >= 0) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", rp->pair);
		(void) write_file_atomic(ok_file, buf, (size_t) len, 0600);
		(void) unlink(err_file);
		log_container_event(LOG_INFO, CKPTD_MESSAGE_EXPORT, rp->container, rp->pair, UINT64_MAX,
		                    "%s: pair %" PRIu64 " replicated%s (%" JSON_INTEGER_FORMAT " bytes) to %s", rp->container,
		                    rp->pair, base ? " incrementally" : "", json_integer_value(json_object_get(result, "bytes")),
		                    rp->command);
		return;
	}
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_(json_decrefp) json_t *e = json_pack("{s:I,s:s,s:s}", "pair", (json_int_t) rp->pair, "time", when,
	                                              "message", strna(error));
	_cleanup_free_ char *text = e ? json_dumps(e, JSON_SORT_KEYS) : NULL;
	if (text)
		(void) write_file_atomic(err_file, text, strlen(text), 0600);
	log_container_event(LOG_WARNING, CKPTD_MESSAGE_EXPORT, rp->container, rp->pair, UINT64_MAX,
	                    "%s: replication of pair %" PRIu64 " to %s failed: %s (tried again after the next pair)",
	                    rp->container, rp->pair, rp->command, strna(error));
}

static void *replicate_thread(void *userdata) {
	struct replication *rp = userdata;
	/* The daemon's signals stay with its main thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&replicate_lock);
	struct job *j = NULL;
	_cleanup_free_ char *error = NULL;
	json_t *result = NULL;
	uint64_t base = replicated_base(rp->state_dir, rp->container, rp->pair);
	int r = job_new(rp->container, rp->config_file, JOB_EXPORT, NULL, &j);
	if (r >= 0 && !(j->state_dir = strdup(rp->state_dir)))
		r = -ENOMEM;
	if (r >= 0) {
		j->pair = rp->pair;
		j->base_pair = base;
		r = replicate_once(j, rp->command, &result, &error);
	} else
		error_setf(&error, r, "cannot prepare the replication: %m");
	record_outcome(rp, base, r, error, result);
	if (result)
		json_decref(result);
	job_free(j);
	pthread_mutex_unlock(&replicate_lock);
	replication_free(rp);
	return NULL;
}

void job_after_dump(struct job *j) {
	job_retain(j);
	const char *command = j->config ? j->config->replicate_command : NULL;
	if (!command)
		return;
	pthread_mutex_lock(&j->lock);
	json_int_t id = json_integer_value(json_object_get(json_object_get(j->result, "pair"), "id"));
	pthread_mutex_unlock(&j->lock);
	struct replication *rp = calloc(1, sizeof(*rp));
	if (!rp || id <= 0 || !(rp->state_dir = strdup(j->state_dir)) || !(rp->container = strdup(j->container)) ||
	    !(rp->config_file = strdup(j->config->file)) || !(rp->command = strdup(command))) {
		replication_free(rp);
		log_error("%s: cannot start the replication of the new pair: out of memory", j->container);
		return;
	}
	rp->pair = (uint64_t) id;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, replicate_thread, rp) != 0) {
		log_error("%s: cannot start the replication of pair %" PRIu64 ": no thread", j->container, rp->pair);
		replication_free(rp);
	}
	pthread_attr_destroy(&attr);
}

int replicate_status(const char *state_dir, const char *container, json_t **ret) {
	_cleanup_free_ char *ok_file = state_file(state_dir, container, REPLICATED_FILE);
	_cleanup_free_ char *err_file = state_file(state_dir, container, REPLICATE_ERROR_FILE);
	if (!ok_file || !err_file)
		return -ENOMEM;
	_cleanup_free_ char *line = NULL;
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	if (read_one_line_file(ok_file, &line) >= 0)
		json_object_set_new(o, "replicated", json_integer((json_int_t) strtoull(line, NULL, 10)));
	json_t *e = json_load_file(err_file, 0, NULL);
	if (json_is_object(e))
		json_object_set_new(o, "error", e);
	else if (e)
		json_decref(e);
	if (json_object_size(o) == 0) {
		json_decref(o);
		o = NULL;
	}
	*ret = o;
	return 0;
}
