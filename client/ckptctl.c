/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl: the command line client of ckptd. This file parses arguments, makes one Varlink
 * call per command and maps its outcome to an exit status; output.c renders the replies. */

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>

#include "build-config.h" /* generated: CKPTD_VERSION, CKPTD_SOCKET_PATH */
#include "config.h"       /* container_name_is_valid() */
#include "macro.h"
#include "output.h"
#include "varlink.h"

enum {
	EXIT_USAGE = 2,       /* unknown command or option, missing or malformed arguments */
	EXIT_UNREACHABLE = 3, /* cannot connect, or the connection closed before the final reply */
};

/* Command-specific options, as bits of struct verb.options. */
#define OPT_TAG (1U << 0)
#define OPT_NO_SAFETY_PAIR (1U << 1)
#define OPT_PROCESSES_ONLY (1U << 2)
#define OPT_DRY_RUN (1U << 3)
#define OPT_FORCE (1U << 4)

static const char *arg_socket = NULL;
static bool arg_json = false;
static const char *arg_tag = NULL;
static bool arg_no_safety_pair = false;
static bool arg_processes_only = false;
static bool arg_dry_run = false;
static bool arg_force = false;
static unsigned arg_options_seen = 0; /* OPT_* given on the command line */

static const char *socket_path(void) {
	const char *e;

	if (arg_socket)
		return arg_socket;
	e = getenv("CKPTD_SOCKET");
	return e && *e ? e : CKPTD_SOCKET_PATH;
}

static int log_oom(void) {
	fputs("ckptctl: out of memory\n", stderr);
	return EXIT_FAILURE;
}

/* The daemon is gone (or never answered): exit 3 rather than 1. */
static bool errno_is_disconnect(int r) {
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ECONNABORTED || r == -ECONNREFUSED;
}

/* ---- talking to ckptd ------------------------------------------------------------------ */

static int unreachable(int r) {
	fprintf(stderr, "ckptctl: cannot reach ckptd at %s: %s\n", socket_path(), strerror(-r));
	return EXIT_UNREACHABLE;
}

/* Calls method (full name) with parameters. With more, the daemon streams progress replies
 * ("continues": true), shown on stderr when it is a terminal. Returns EXIT_SUCCESS with the
 * final reply's parameters in *ret, or an exit status after saying on stderr what failed. */
static int call(const char *verb, const char *method, json_t *parameters, bool more, json_t **ret) {
	_cleanup_(varlink_buffer_done) struct varlink_buffer buf = {};
	_cleanup_close_ int fd = -EBADF;
	bool progress = more && isatty(STDERR_FILENO);
	int r;

	r = varlink_connect(socket_path(), &fd);
	if (r < 0)
		return unreachable(r);
	r = varlink_send(fd, method, parameters, more);
	if (r < 0) {
		if (errno_is_disconnect(r))
			return unreachable(r);
		fprintf(stderr, "ckptctl: %s failed: cannot send the request: %s\n", verb, strerror(-r));
		return EXIT_FAILURE;
	}
	for (;;) {
		_cleanup_(varlink_reply_done) struct varlink_reply reply = {};

		r = varlink_recv(fd, &buf, &reply);
		if (r < 0) {
			if (errno_is_disconnect(r))
				return unreachable(r);
			fprintf(stderr, "ckptctl: %s failed: invalid reply from ckptd: %s\n", verb, strerror(-r));
			return EXIT_FAILURE;
		}
		if (reply.error) {
			output_varlink_error(verb, reply.error, reply.parameters);
			return EXIT_FAILURE;
		}
		if (reply.continues) {
			if (progress)
				output_progress(json_object_get(reply.parameters, "progress"));
			continue;
		}
		*ret = json_incref(reply.parameters);
		return EXIT_SUCCESS;
	}
}

/* The member key of a final reply, which must have the given type. */
static json_t *reply_get(const char *verb, json_t *reply, const char *key, json_type type) {
	json_t *v = json_object_get(reply, key);

	if (!v || json_typeof(v) != type) {
		fprintf(stderr, "ckptctl: %s failed: invalid reply from ckptd: no '%s' %s\n", verb, key,
			type == JSON_ARRAY ? "array" : type == JSON_OBJECT ? "object" : "value");
		return NULL;
	}
	return v;
}

/* The exit status for what an output_*() call returned. */
static int render(int r) {
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0) {
		fprintf(stderr, "ckptctl: failed to print the reply: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* ---- argument checks ------------------------------------------------------------------- */

static int parse_container(const char *s) {
	if (!container_name_is_valid(s)) {
		fprintf(stderr, "ckptctl: Invalid container name '%s' (allowed: 1-%d of A-Z a-z 0-9 _ . -, not starting with '.').\n",
			s, CONTAINER_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Pair ids are positive decimal integers; leading zeros are accepted. */
static int parse_pair_id(const char *s, long long *ret) {
	unsigned long long v = 0;

	if (!*s)
		goto invalid;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > ((unsigned long long) LLONG_MAX - (unsigned) (*p - '0')) / 10)
			goto invalid;
		v = v * 10 + (unsigned) (*p - '0');
	}
	if (v == 0)
		goto invalid;
	*ret = (long long) v;
	return 0;
invalid:
	fprintf(stderr, "ckptctl: Invalid pair id '%s' (a positive integer, as shown by 'ckptctl list').\n", s);
	return -EINVAL;
}

/* "CONTAINER ID" → {"container": ..., "id": ...} */
static int pair_parameters(char **args, long long *ret_id, json_t **ret) {
	long long id;
	json_t *p;

	if (parse_container(args[0]) < 0 || parse_pair_id(args[1], &id) < 0)
		return EXIT_USAGE;
	p = json_pack("{s:s, s:I}", "container", args[0], "id", (json_int_t) id);
	if (!p)
		return log_oom();
	*ret_id = id;
	*ret = p;
	return EXIT_SUCCESS;
}

/* ---- commands -------------------------------------------------------------------------- */

static int verb_freeze_and_dump(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *pair;
	int r;

	if (parse_container(args[0]) < 0)
		return EXIT_USAGE;
	params = json_pack("{s:s}", "container", args[0]);
	if (!params)
		return log_oom();
	if (arg_tag) {
		json_t *tag = json_string(arg_tag);

		if (!tag) {
			fputs("ckptctl: The tag is not valid UTF-8.\n", stderr);
			return EXIT_USAGE;
		}
		if (json_object_set_new(params, "tag", tag) < 0)
			return log_oom();
	}
	r = call("freeze-and-dump", VARLINK_INTERFACE ".FreezeAndDump", params, true, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	pair = reply_get("freeze-and-dump", reply, "pair", JSON_OBJECT);
	if (!pair)
		return EXIT_FAILURE;
	return render(arg_json ? output_json(pair) : output_pair_summary(pair));
}

static int verb_list(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *pairs;
	int r;

	if (args[0] && parse_container(args[0]) < 0)
		return EXIT_USAGE;
	params = args[0] ? json_pack("{s:s}", "container", args[0]) : json_object();
	if (!params)
		return log_oom();
	r = call("list", VARLINK_INTERFACE ".List", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	pairs = reply_get("list", reply, "pairs", JSON_ARRAY);
	if (!pairs)
		return EXIT_FAILURE;
	return render(arg_json ? output_json(pairs) : output_pairs_table(pairs));
}

static int verb_show(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long id;
	json_t *pair;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	r = call("show", VARLINK_INTERFACE ".Show", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	pair = reply_get("show", reply, "pair", JSON_OBJECT);
	if (!pair)
		return EXIT_FAILURE;
	r = render(arg_json ? output_json(pair) : output_pair_details(pair));
	if (r == EXIT_SUCCESS && !arg_json && json_is_string(json_object_get(reply, "attention")))
		output_attention(args[0], json_string_value(json_object_get(reply, "attention")));
	return r;
}

/* delete, pin, unpin: no reply parameters; one line of confirmation without --json. */
static int simple_pair_call(char **args, const char *verb, const char *method, const char *done) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long id;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	r = call(verb, method, params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	if (!arg_json)
		printf("Pair %s/%lld %s.\n", args[0], id, done);
	return EXIT_SUCCESS;
}

static int verb_delete(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long id;
	size_t i;
	json_t *v;
	int r;

	if (!arg_force)
		return simple_pair_call(args, "delete", VARLINK_INTERFACE ".Delete", "deleted");
	/* --force: also a damaged pair (one whose pair.json does not load). */
	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (json_object_set_new(params, "force", json_true()) < 0)
		return log_oom();
	r = call("delete", VARLINK_INTERFACE ".Delete", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	if (arg_json)
		return render(output_json(reply ? reply : json_object()));
	printf("Pair %s/%lld deleted.\n", args[0], id);
	json_array_foreach(json_object_get(reply, "removed"), i, v)
		printf("  removed %s\n", json_string_value(v) ?: "?");
	json_array_foreach(json_object_get(reply, "kept"), i, v)
		printf("  left in place (ckptd cannot prove it made it for this pair; remove it by hand if so): %s\n",
		       json_string_value(v) ?: "?");
	return EXIT_SUCCESS;
}

static int verb_acknowledge(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long n = 0;
	int r;

	if (parse_container(args[0]) < 0)
		return EXIT_USAGE;
	params = json_pack("{s:s}", "container", args[0]);
	if (!params)
		return log_oom();
	r = call("acknowledge", VARLINK_INTERFACE ".Acknowledge", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	if (arg_json)
		return render(output_json(reply ? reply : json_object()));
	if (json_is_integer(json_object_get(reply, "cleared")))
		n = json_integer_value(json_object_get(reply, "cleared"));
	printf("%s: %lld interrupted or failed rollback(s) acknowledged.\n", args[0], n);
	return EXIT_SUCCESS;
}

static int verb_pin(char **args) {
	return simple_pair_call(args, "pin", VARLINK_INTERFACE ".Pin", "pinned");
}

static int verb_unpin(char **args) {
	return simple_pair_call(args, "unpin", VARLINK_INTERFACE ".Unpin", "unpinned");
}

static int verb_verify(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *ok, *problems;
	long long id;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	r = call("verify", VARLINK_INTERFACE ".Verify", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	ok = json_object_get(reply, "ok");
	if (!json_is_boolean(ok)) {
		fputs("ckptctl: verify failed: invalid reply from ckptd: no 'ok' boolean\n", stderr);
		return EXIT_FAILURE;
	}
	problems = json_object_get(reply, "problems");
	r = render(arg_json ? output_json(reply) : output_verify(args[0], id, json_is_true(ok), problems));
	if (r != EXIT_SUCCESS)
		return r;
	return json_is_true(ok) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The final "result" of rollback/restore; a missing one is shown as an empty object. */
static json_t *result_of(json_t *reply) {
	json_t *result = json_object_get(reply, "result");

	if (json_is_object(result))
		return result;
	json_object_set_new(reply, "result", json_object());
	return json_object_get(reply, "result");
}

static int verb_rollback(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *result;
	long long id;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (json_object_set_new(params, "safety_pair", json_boolean(!arg_no_safety_pair)) < 0 ||
	    (arg_force && json_object_set_new(params, "force", json_true()) < 0))
		return log_oom();
	r = call("rollback", VARLINK_INTERFACE ".Rollback", params, true, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	result = result_of(reply);
	if (!result)
		return log_oom();
	return render(arg_json ? output_json(result) : output_rollback_result(args[0], id, result));
}

static int verb_restore(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *result;
	long long id;
	int r;

	if (!arg_processes_only) {
		fprintf(stderr,
			"ckptctl: restore needs --processes-only: it restores only the processes, onto the volumes as they are now.\n"
			"To roll back the volumes and the processes together, use 'ckptctl rollback CONTAINER ID'.\n");
		return EXIT_USAGE;
	}
	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (json_object_set_new(params, "processes_only", json_true()) < 0)
		return log_oom();
	r = call("restore", VARLINK_INTERFACE ".Restore", params, true, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	result = result_of(reply);
	if (!result)
		return log_oom();
	return render(arg_json ? output_json(result) : output_restore_result(args[0], id, result));
}

static int verb_containers(_unused_ char **args) {
	_cleanup_json_ json_t *params = json_object(), *reply = NULL;
	json_t *containers;
	int r;

	if (!params)
		return log_oom();
	r = call("containers", VARLINK_INTERFACE ".Containers", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	containers = reply_get("containers", reply, "containers", JSON_ARRAY);
	if (!containers)
		return EXIT_FAILURE;
	return render(arg_json ? output_json(containers) : output_containers_table(containers));
}

static int verb_inspect(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *inspection;
	int r;

	if (parse_container(args[0]) < 0)
		return EXIT_USAGE;
	params = json_pack("{s:s}", "container", args[0]);
	if (!params)
		return log_oom();
	r = call("inspect", VARLINK_INTERFACE ".Inspect", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	inspection = reply_get("inspect", reply, "inspection", JSON_OBJECT);
	if (!inspection)
		return EXIT_FAILURE;
	r = render(arg_json ? output_json(inspection) : output_inspection(inspection));
	if (r != EXIT_SUCCESS)
		return r;
	/* Like verify: 1 when the answer is "no, it cannot be checkpointed". */
	return json_array_size(json_object_get(inspection, "problems")) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int verb_status(_unused_ char **args) {
	_cleanup_json_ json_t *params = json_object(), *reply = NULL;
	int r;

	if (!params)
		return log_oom();
	r = call("status", VARLINK_INTERFACE ".Status", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	return render(arg_json ? output_json(reply) : output_status(reply));
}

static int verb_prune(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *decisions;
	int r;

	if (args[0] && parse_container(args[0]) < 0)
		return EXIT_USAGE;
	params = json_pack("{s:s*, s:b}", "container", args[0], "dry_run", arg_dry_run);
	if (!params)
		return log_oom();
	r = call("prune", VARLINK_INTERFACE ".Prune", params, false, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	decisions = reply_get("prune", reply, "decisions", JSON_ARRAY);
	if (!decisions)
		return EXIT_FAILURE;
	return render(arg_json ? output_json(decisions) : output_prune_decisions(decisions, arg_dry_run));
}

/* ---- command line ---------------------------------------------------------------------- */

struct verb {
	const char *name;
	const char *usage; /* the arguments, for error messages */
	unsigned min_args, max_args;
	unsigned options; /* OPT_* this command accepts */
	int (*run)(char **args); /* args: NULL-terminated, count already checked */
};

static const struct verb verbs[] = {
	{ "freeze-and-dump", "CONTAINER [--tag TEXT]", 1, 1, OPT_TAG, verb_freeze_and_dump },
	{ "list", "[CONTAINER]", 0, 1, 0, verb_list },
	{ "show", "CONTAINER ID", 2, 2, 0, verb_show },
	{ "delete", "CONTAINER ID [--force]", 2, 2, OPT_FORCE, verb_delete },
	{ "verify", "CONTAINER ID", 2, 2, 0, verb_verify },
	{ "pin", "CONTAINER ID", 2, 2, 0, verb_pin },
	{ "unpin", "CONTAINER ID", 2, 2, 0, verb_unpin },
	{ "rollback", "CONTAINER ID [--no-safety-pair] [--force]", 2, 2, OPT_NO_SAFETY_PAIR | OPT_FORCE, verb_rollback },
	{ "restore", "CONTAINER ID --processes-only", 2, 2, OPT_PROCESSES_ONLY, verb_restore },
	{ "containers", "", 0, 0, 0, verb_containers },
	{ "inspect", "CONTAINER", 1, 1, 0, verb_inspect },
	{ "status", "", 0, 0, 0, verb_status },
	{ "acknowledge", "CONTAINER", 1, 1, 0, verb_acknowledge },
	{ "prune", "[CONTAINER] [--dry-run]", 0, 1, OPT_DRY_RUN, verb_prune },
};

static const struct {
	unsigned bit;
	const char *name;
} verb_options[] = {
	{ OPT_TAG, "--tag" },
	{ OPT_NO_SAFETY_PAIR, "--no-safety-pair" },
	{ OPT_PROCESSES_ONLY, "--processes-only" },
	{ OPT_DRY_RUN, "--dry-run" },
	{ OPT_FORCE, "--force" },
};

static void help(void) {
	printf("ckptctl [OPTIONS...] COMMAND ...\n"
	       "\n"
	       "Take consistent checkpoints of containers (\"pairs\": volume snapshots plus a CRIU\n"
	       "image of the processes, taken in one frozen window) and roll back to them.\n"
	       "\n"
	       "Pair commands:\n"
	       "  freeze-and-dump CONTAINER   Freeze, snapshot the volumes, dump the processes, thaw\n"
	       "  list [CONTAINER]            List complete pairs, oldest first\n"
	       "  show CONTAINER ID           Show every field of a pair\n"
	       "  verify CONTAINER ID         Check a pair's image checksums and snapshots\n"
	       "  delete CONTAINER ID         Remove a pair: its snapshots, images and catalog entry\n"
	       "                              (--force: also a damaged pair's record)\n"
	       "  pin CONTAINER ID            Keep a pair whatever the retention policy says\n"
	       "  unpin CONTAINER ID          Let the retention policy decide about a pair again\n"
	       "  prune [CONTAINER]           Apply the retention policy now\n"
	       "\n"
	       "Restore commands:\n"
	       "  rollback CONTAINER ID       Stop the container, roll its volumes back to the pair\n"
	       "                              and restore its processes\n"
	       "  restore CONTAINER ID --processes-only\n"
	       "                              Restore only the processes, onto the volumes as they\n"
	       "                              are now\n"
	       "\n"
	       "Daemon commands:\n"
	       "  containers                  List configured containers and their state\n"
	       "  inspect CONTAINER           Show what the container is made of (namespaces, root\n"
	       "                              file system, mounts, network, sockets, devices), the\n"
	       "                              CRIU options that follow and why a checkpoint would\n"
	       "                              be refused (exit status 1 then)\n"
	       "  status                      Show the daemon, its CRIU, running jobs, damaged\n"
	       "                              pairs, containers needing attention and\n"
	       "                              configuration errors\n"
	       "  acknowledge CONTAINER       Stop reporting an interrupted or failed rollback\n"
	       "                              once you have dealt with it\n"
	       "\n"
	       "Options:\n"
	       "  -h --help                   Show this help\n"
	       "     --version                Show the version\n"
	       "     --socket=PATH            Talk to ckptd at PATH (default: $CKPTD_SOCKET, else\n"
	       "                              %s)\n"
	       "     --json                   Print the daemon's JSON: indented on a terminal,\n"
	       "                              compact otherwise\n"
	       "     --no-pager               Accepted for familiarity with systemd tools; ckptctl\n"
	       "                              never uses a pager\n"
	       "     --tag=TEXT               freeze-and-dump: store TEXT with the new pair\n"
	       "     --no-safety-pair         rollback: do not checkpoint the current state first\n"
	       "     --force                  rollback: when the pair's volumes differ from the\n"
	       "                              configured ones, roll back only those both name\n"
	       "     --processes-only         restore: required; leave the volumes as they are\n"
	       "     --dry-run                prune: only show what would be removed and why\n"
	       "     --force                  delete: remove a damaged pair's record too (its\n"
	       "                              snapshots are left and named)\n"
	       "\n"
	       "Options may come before or after COMMAND; \"--\" ends them.\n"
	       "Exit status: 0 success, 1 the operation failed, 2 usage error, 3 ckptd not reachable.\n",
	       CKPTD_SOCKET_PATH);
}

static void usage_hint(void) {
	fputs("Try 'ckptctl --help' for more information.\n", stderr);
}

/* Options may come before or after the command. Returns 1 with the positional arguments
 * (command first) in *ret_args, 0 when done (--help, --version), -EINVAL on a usage error. */
static int parse_argv(int argc, char *argv[], char ***ret_args, size_t *ret_n) {
	enum {
		ARG_VERSION = 0x100,
		ARG_SOCKET,
		ARG_JSON,
		ARG_NO_PAGER,
		ARG_TAG,
		ARG_NO_SAFETY_PAIR,
		ARG_PROCESSES_ONLY,
		ARG_DRY_RUN,
		ARG_FORCE,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "socket", required_argument, NULL, ARG_SOCKET },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "no-pager", no_argument, NULL, ARG_NO_PAGER },
		{ "tag", required_argument, NULL, ARG_TAG },
		{ "no-safety-pair", no_argument, NULL, ARG_NO_SAFETY_PAIR },
		{ "processes-only", no_argument, NULL, ARG_PROCESSES_ONLY },
		{ "dry-run", no_argument, NULL, ARG_DRY_RUN },
		{ "force", no_argument, NULL, ARG_FORCE },
		{}
	};
	_cleanup_free_ char **args = calloc((size_t) argc + 1, sizeof(char *));
	size_t n = 0;
	int c;

	if (!args) {
		log_oom();
		return -ENOMEM;
	}

	/* A leading '-' hands us non-options in order (as option 1), so options after the
	 * command work even with POSIXLY_CORRECT set; "--" ends the options. */
	while ((c = getopt_long(argc, argv, "-h", options, NULL)) >= 0)
		switch (c) {
		case 1:
			args[n++] = optarg;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("ckptctl %s\n", CKPTD_VERSION);
			return 0;
		case ARG_SOCKET:
			if (!*optarg) {
				fputs("ckptctl: --socket= needs a path.\n", stderr);
				return -EINVAL;
			}
			arg_socket = optarg;
			break;
		case ARG_JSON:
			arg_json = true;
			break;
		case ARG_NO_PAGER:
			break;
		case ARG_TAG:
			arg_tag = optarg;
			arg_options_seen |= OPT_TAG;
			break;
		case ARG_NO_SAFETY_PAIR:
			arg_no_safety_pair = true;
			arg_options_seen |= OPT_NO_SAFETY_PAIR;
			break;
		case ARG_PROCESSES_ONLY:
			arg_processes_only = true;
			arg_options_seen |= OPT_PROCESSES_ONLY;
			break;
		case ARG_DRY_RUN:
			arg_dry_run = true;
			arg_options_seen |= OPT_DRY_RUN;
			break;
		case ARG_FORCE:
			arg_force = true;
			arg_options_seen |= OPT_FORCE;
			break;
		case '?': /* getopt said what */
			return -EINVAL;
		default:
			return -EINVAL;
		}
	for (int i = optind; i < argc; i++)
		args[n++] = argv[i];

	*ret_args = TAKE_PTR(args);
	*ret_n = n;
	return 1;
}

static int dispatch(char **args, size_t n) {
	const struct verb *v = NULL;

	if (n == 0) {
		fputs("ckptctl: Missing command.\n", stderr);
		usage_hint();
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, args[0]))
			v = &verbs[i];
	if (!v) {
		fprintf(stderr, "ckptctl: Unknown command '%s'.\n", args[0]);
		usage_hint();
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(verb_options); i++)
		if ((arg_options_seen & verb_options[i].bit) && !(v->options & verb_options[i].bit)) {
			fprintf(stderr, "ckptctl: Option %s does not apply to '%s'.\n", verb_options[i].name, v->name);
			usage_hint();
			return EXIT_USAGE;
		}
	if (n - 1 < v->min_args || n - 1 > v->max_args) {
		fprintf(stderr, "ckptctl: %s arguments for '%s'.\nUsage: ckptctl %s%s%s\n",
			n - 1 < v->min_args ? "Missing" : "Too many", v->name, v->name, *v->usage ? " " : "", v->usage);
		usage_hint();
		return EXIT_USAGE;
	}
	return v->run(args + 1);
}

int main(int argc, char *argv[]) {
	_cleanup_free_ char **args = NULL;
	size_t n = 0;
	int r;

	/* A daemon that goes away mid-call must give EPIPE (exit 3), not kill us. */
	signal(SIGPIPE, SIG_IGN);
	output_init();

	r = parse_argv(argc, argv, &args, &n);
	if (r == -ENOMEM)
		return EXIT_FAILURE;
	if (r < 0) {
		usage_hint();
		return EXIT_USAGE;
	}
	if (r == 0)
		r = EXIT_SUCCESS;
	else
		r = dispatch(args, n);

	if (fflush(stdout) != 0 && errno != EPIPE) {
		fprintf(stderr, "ckptctl: failed to write output: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return r;
}
