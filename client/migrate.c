/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl migrate: move a running container to another host, with the commands a user would type.
 *
 *   the destination's pairs (REMOTE --json list): the newest one that came from here and still
 *   exists here is the base -> freeze-and-dump with stop (the tasks end with the dump: nothing runs
 *   on after the pair the destination starts from; --keep-source: they run on) -> export [--base]
 *   into REMOTE import -> REMOTE rollback of the imported pair.
 *
 * REMOTE is "ssh DEST ckptctl" (--to DEST) or the command given with --remote, split at blanks (no
 * shell). If the transfer or the destination's rollback fails after the source stopped, the
 * source is started again from the new pair here (rollback, no safety pair), so the service is not
 * lost. Downtime: from the freeze to the destination's rollback answering, measured here; the
 * dump's steps before its freeze (discovery, sync, CRIU's start) are taken out using the pair's
 * own timings. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckptctl.h"
#include "config.h"
#include "macro.h"
#include "output.h"
#include "process.h"
#include "varlink.h"

static uint64_t now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* REMOTE followed by the given arguments (NULL-terminated); the strings of remote are shared. */
static const char **remote_argv(char **remote, const char *const *args) {
	size_t n = 0, k = 0;
	while (remote[n])
		n++;
	while (args[k])
		k++;
	const char **argv = calloc(n + k + 1, sizeof(char *));
	if (!argv)
		return NULL;
	for (size_t i = 0; i < n; i++)
		argv[i] = remote[i];
	for (size_t i = 0; i < k; i++)
		argv[n + i] = args[i];
	return argv;
}

/* Runs REMOTE ARGS..., its stdout parsed as JSON into *ret (NULL when it printed none). Exit
 * status 0 or an error message on stderr. */
static int remote_json(char **remote, const char *const *args, json_t **ret) {
	_cleanup_free_ const char **argv = remote_argv(remote, args);
	if (!argv)
		return log_oom();
	struct process_spec spec = { .argv = argv };
	_cleanup_(process_result_done) struct process_result res = {};
	_cleanup_free_ char *error = NULL;
	int r = process_run(&spec, &res, &error);
	if (r < 0) {
		fprintf(stderr, "ckptctl: migrate failed: cannot run %s: %s\n", argv[0], error ? error : strerror(-r));
		return EXIT_FAILURE;
	}
	if (res.exit_status != 0) {
		char buf[64];
		fprintf(stderr, "ckptctl: migrate failed: '%s ... %s' on the destination %s: %s\n", argv[0], args[1] ? args[1] : args[0],
		        process_result_describe(&res, buf), res.err && *res.err ? res.err : "(no message)");
		return EXIT_FAILURE;
	}
	*ret = res.out_size > 0 ? json_loadb(res.out, res.out_size, 0, NULL) : NULL;
	return EXIT_SUCCESS;
}

static int local_host(char *buf, size_t size) {
	if (gethostname(buf, size - 1) < 0)
		return -errno;
	buf[size - 1] = '\0';
	return 0;
}

/* The destination's pair that came from here as CONTAINER/ID: its id there, or 0. With id 0: the
 * newest origin id of those (that is what *ret gets then). */
static int remote_pair_from_here(char **remote, const char *container, long long id, long long *ret) {
	_cleanup_json_ json_t *pairs = NULL;
	const char *args[] = { "--json", "list", container, NULL };
	int r = remote_json(remote, args, &pairs);
	if (r != EXIT_SUCCESS)
		return r;
	char host[256];
	if (local_host(host, sizeof(host)) < 0)
		return EXIT_FAILURE;
	size_t i;
	json_t *p;
	long long best = 0;
	json_array_foreach(pairs, i, p) {
		json_t *o = json_object_get(p, "origin");
		if (!json_is_object(o) || !streq_ptr(json_string_value(json_object_get(o, "host")), host) ||
		    !streq_ptr(json_string_value(json_object_get(o, "container")), container))
			continue;
		long long oid = (long long) json_integer_value(json_object_get(o, "id"));
		if (id > 0 && oid == id)
			best = (long long) json_integer_value(json_object_get(p, "id"));
		else if (id == 0 && oid > best)
			best = oid;
	}
	*ret = best;
	return EXIT_SUCCESS;
}

static bool local_pair_exists(const char *container, long long id) {
	_cleanup_json_ json_t *params = json_pack("{s:s,s:I}", "container", container, "id", (json_int_t) id), *reply = NULL;
	int saved = dup(STDERR_FILENO);
	/* a missing pair is an answer here, not an error to show */
	FILE *null = fopen("/dev/null", "w");
	if (null && saved >= 0)
		dup2(fileno(null), STDERR_FILENO);
	int r = params ? call("migrate", VARLINK_INTERFACE ".Show", params, false, &reply) : EXIT_FAILURE;
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null)
		fclose(null);
	return r == EXIT_SUCCESS;
}

/* The export of pair id (against base) into REMOTE import CONTAINER. */
static int transfer(char **remote, const char *container, long long id, long long base, json_t **ret_export) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "ckptctl: migrate failed: cannot make a pipe: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	const char *args[] = { "import", container, NULL };
	_cleanup_free_ const char **argv = remote_argv(remote, args);
	struct process_spec spec = { .argv = argv, .stdin_fd = p[0], .same_process_group = true };
	pid_t pid;
	_cleanup_free_ char *error = NULL;
	/* What the importer says goes to our stderr: our stdout is for the migration's result. */
	fflush(stdout);
	int saved_stdout = dup(STDOUT_FILENO);
	if (saved_stdout >= 0)
		(void) dup2(STDERR_FILENO, STDOUT_FILENO);
	int r = argv ? process_spawn(&spec, &pid, &error) : -ENOMEM;
	if (saved_stdout >= 0) {
		(void) dup2(saved_stdout, STDOUT_FILENO);
		close(saved_stdout);
	}
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		fprintf(stderr, "ckptctl: migrate failed: cannot run %s: %s\n", argv ? argv[0] : "?", error ? error : strerror(-r));
		return EXIT_FAILURE;
	}
	_cleanup_json_ json_t *params = json_pack("{s:s,s:I}", "container", container, "id", (json_int_t) id), *reply = NULL;
	if (params && base > 0)
		json_object_set_new(params, "base", json_integer((json_int_t) base));
	r = params ? call_with_fd("migrate", VARLINK_INTERFACE ".Export", params, false, p[1], &reply) : log_oom();
	close(p[1]); /* the stream's end for the importer (the daemon closed its copy) */
	int status = process_reap(pid);
	if (r != EXIT_SUCCESS)
		return r;
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ckptctl: migrate failed: the import on the destination failed (%s %d)\n",
		        status >= 0 && WIFEXITED(status) ? "exit status" : "status", status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : status);
		return EXIT_FAILURE;
	}
	*ret_export = json_incref(json_object_get(reply, "export"));
	return EXIT_SUCCESS;
}

/* After a failure with the source stopped: start it again from the new pair, here. */
static void restart_source(const char *container, long long id) {
	_cleanup_json_ json_t *params = json_pack("{s:s,s:I,s:b}", "container", container, "id", (json_int_t) id,
	                                          "safety_pair", false), *reply = NULL;
	if (params && call("migrate", VARLINK_INTERFACE ".Rollback", params, false, &reply) == EXIT_SUCCESS)
		fprintf(stderr, "ckptctl: the source %s was started again here from pair %lld\n", container, id);
	else
		fprintf(stderr, "ckptctl: the source %s is stopped; start it with 'ckptctl rollback %s %lld'\n", container,
		        container, id);
}

static char **split_blanks(const char *s) {
	size_t n = 0;
	char **v = calloc(strlen(s) / 2 + 2, sizeof(char *));
	for (const char *p = s; v && *p;) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, " \t");
		if (len == 0)
			break;
		if (!(v[n++] = strndup(p, len))) {
			strv_free(v);
			return NULL;
		}
		p += len;
	}
	return v;
}

int verb_migrate(char **args) {
	const char *container = args[0];
	if (!container_name_is_valid(container)) {
		fprintf(stderr, "ckptctl: Invalid container name '%s'.\n", container);
		return EXIT_USAGE;
	}
	if (!arg_to == !arg_remote) {
		fputs("ckptctl: migrate needs the destination: --to HOST (over ssh) or --remote 'COMMAND' (runs its ckptctl).\n",
		      stderr);
		return EXIT_USAGE;
	}
	_cleanup_strv_free_ char **remote = arg_remote ? split_blanks(arg_remote) : NULL;
	if (arg_to) {
		remote = calloc(4, sizeof(char *));
		if (remote && (!(remote[0] = strdup("ssh")) || !(remote[1] = strdup(arg_to)) || !(remote[2] = strdup("ckptctl"))))
			strv_free(TAKE_PTR(remote));
	}
	if (!remote || !remote[0]) {
		fputs("ckptctl: --remote needs a command.\n", stderr);
		return EXIT_USAGE;
	}
	char *end = NULL;
	long long base = arg_base ? strtoll(arg_base, &end, 10) : 0;
	if (arg_base && (*end || base <= 0)) {
		fprintf(stderr, "ckptctl: Invalid pair id '%s'.\n", arg_base);
		return EXIT_USAGE;
	}
	int r;
	if (!arg_base) { /* the newest pair the destination has from here, if it is still here */
		r = remote_pair_from_here(remote, container, 0, &base);
		if (r != EXIT_SUCCESS)
			return r;
		if (base > 0 && !local_pair_exists(container, base))
			base = 0;
	}

	uint64_t t0 = now_us();
	_cleanup_json_ json_t *params = json_pack("{s:s,s:b}", "container", container, "stop", !arg_keep_source), *reply = NULL;
	if (!params)
		return log_oom();
	r = call("migrate", VARLINK_INTERFACE ".FreezeAndDump", params, true, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	json_t *pair = reply_get("migrate", reply, "pair", JSON_OBJECT);
	if (!pair)
		return EXIT_FAILURE;
	long long id = (long long) json_integer_value(json_object_get(pair, "id"));
	json_t *t = json_object_get(pair, "timings");
	uint64_t before_freeze = (uint64_t) (json_integer_value(json_object_get(t, "discover_usec")) +
	                                     json_integer_value(json_object_get(t, "sync_usec")) +
	                                     json_integer_value(json_object_get(t, "criu_start_usec")));
	uint64_t t_dumped = now_us();

	_cleanup_json_ json_t *exported = NULL;
	r = transfer(remote, container, id, base, &exported);
	long long remote_id = 0;
	if (r == EXIT_SUCCESS)
		r = remote_pair_from_here(remote, container, id, &remote_id);
	if (r == EXIT_SUCCESS && remote_id <= 0) {
		fprintf(stderr, "ckptctl: migrate failed: the destination does not list the imported pair\n");
		r = EXIT_FAILURE;
	}
	uint64_t t_transferred = now_us();
	_cleanup_json_ json_t *rolled = NULL;
	if (r == EXIT_SUCCESS) {
		char idbuf[32];
		snprintf(idbuf, sizeof(idbuf), "%lld", remote_id);
		const char *rargs[] = { "--json", "rollback", container, idbuf, NULL };
		r = remote_json(remote, rargs, &rolled);
	}
	uint64_t t_end = now_us();
	if (r != EXIT_SUCCESS) {
		if (!arg_keep_source)
			restart_source(container, id);
		return r;
	}
	uint64_t downtime = t_end - t0 > before_freeze ? t_end - t0 - before_freeze : t_end - t0;
	json_int_t bytes = json_integer_value(json_object_get(exported, "bytes"));
	if (arg_json) {
		_cleanup_json_ json_t *o = json_pack(
		        "{s:s,s:I,s:o,s:I,s:I,s:b,s:{s:I,s:I,s:I,s:I,s:I}}", "container", container, "pair", (json_int_t) id, "base",
		        base > 0 ? json_integer((json_int_t) base) : json_null(), "destination_pair", (json_int_t) remote_id, "bytes",
		        bytes, "source_stopped", !arg_keep_source, "timings", "downtime_usec", (json_int_t) downtime,
		        "frozen_usec", json_integer_value(json_object_get(pair, "frozen_usec")), "dump_usec",
		        (json_int_t) (t_dumped - t0), "transfer_usec", (json_int_t) (t_transferred - t_dumped), "rollback_usec",
		        (json_int_t) (t_end - t_transferred));
		return render(o ? output_json(o) : -ENOMEM);
	}
	printf("Migrated %s: pair %lld (%s) is pair %lld on the destination, %lld bytes sent.\n", container, id,
	       base > 0 ? "incremental" : "full", remote_id, (long long) bytes);
	printf("Downtime %.1f ms (dump %.1f ms, transfer %.1f ms, start there %.1f ms); the source %s.\n",
	       (double) downtime / 1000.0, (double) (t_dumped - t0 - (before_freeze < t_dumped - t0 ? before_freeze : 0)) / 1000.0,
	       (double) (t_transferred - t_dumped) / 1000.0, (double) (t_end - t_transferred) / 1000.0,
	       arg_keep_source ? "runs on (--keep-source)" : "stopped with the dump");
	return EXIT_SUCCESS;
}
