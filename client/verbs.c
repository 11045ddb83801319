/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl's commands: each checks its arguments, makes its call and renders the reply
 * (output.c). */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckptctl.h"
#include "config.h" /* container_name_is_valid() */
#include "macro.h"
#include "output.h"
#include "varlink.h"

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
/* {"container": NAME} for the commands that name one container. */
static int container_parameters(const char *name, json_t **ret) {
	if (parse_container(name) < 0)
		return EXIT_USAGE;
	*ret = json_pack("{s:s}", "container", name);
	return *ret ? EXIT_SUCCESS : log_oom();
}

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

/* A reply holding pairs: as JSON, or rendered by human (which decodes them first). */
static int render_pairs(const char *verb, json_t *v, int (*human)(json_t *v, char **ret_error)) {
	char *error = NULL;
	int r;

	if (arg_json)
		return render(output_json(v));
	r = human(v, &error);
	return render_reply(verb, r, error);
}

static int verb_freeze_and_dump(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *pair;
	int r;

	r = container_parameters(args[0], &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (arg_tag) {
		json_t *tag = json_string(arg_tag);

		if (!tag) {
			fputs("ckptctl: The tag is not valid UTF-8.\n", stderr);
			return EXIT_USAGE;
		}
		if (json_object_set_new(params, "tag", tag) < 0)
			return log_oom();
	}
	r = call_member("freeze-and-dump", VARLINK_INTERFACE ".FreezeAndDump", params, true, "pair", JSON_OBJECT, &reply, &pair);
	if (r != EXIT_SUCCESS)
		return r;
	return render_pairs("freeze-and-dump", pair, output_pair_summary);
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
	r = call_member("list", VARLINK_INTERFACE ".List", params, false, "pairs", JSON_ARRAY, &reply, &pairs);
	if (r != EXIT_SUCCESS)
		return r;
	return render_pairs("list", pairs, output_pairs_table);
}

static int verb_show(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long id;
	json_t *pair;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	r = call_member("show", VARLINK_INTERFACE ".Show", params, false, "pair", JSON_OBJECT, &reply, &pair);
	if (r != EXIT_SUCCESS)
		return r;
	r = render_pairs("show", pair, output_pair_details);
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

	r = container_parameters(args[0], &params);
	if (r != EXIT_SUCCESS)
		return r;
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
	r = call_member("containers", VARLINK_INTERFACE ".Containers", params, false, "containers", JSON_ARRAY, &reply, &containers);
	if (r != EXIT_SUCCESS)
		return r;
	return render(arg_json ? output_json(containers) : output_containers_table(containers));
}

static int verb_inspect(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *inspection;
	int r;

	r = container_parameters(args[0], &params);
	if (r != EXIT_SUCCESS)
		return r;
	r = call_member("inspect", VARLINK_INTERFACE ".Inspect", params, false, "inspection", JSON_OBJECT, &reply, &inspection);
	if (r != EXIT_SUCCESS)
		return r;
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
	r = call_member("prune", VARLINK_INTERFACE ".Prune", params, false, "decisions", JSON_ARRAY, &reply, &decisions);
	if (r != EXIT_SUCCESS)
		return r;
	return render(arg_json ? output_json(decisions) : output_prune_decisions(decisions, arg_dry_run));
}

/* ---- export, import ----------------------------------------------------------------- */

/* What export wrote: on stdout when the stream went to a file, else on stderr (stdout is the
 * stream). */
static void print_export(FILE *f, const char *container, json_t *e) {
	json_t *members = json_object_get(e, "members"), *m;
	json_t *base = json_object_get(e, "base");
	size_t i;
	fprintf(f, "Exported pair %s/%" JSON_INTEGER_FORMAT "%s", container, json_integer_value(json_object_get(e, "pair")),
	        json_is_integer(base) ? " incrementally against pair " : " (full)");
	if (json_is_integer(base))
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(base));
	fprintf(f, ": %" JSON_INTEGER_FORMAT " bytes\n", json_integer_value(json_object_get(e, "bytes")));
	uint64_t images = 0, n_images = 0;
	json_array_foreach(members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		json_int_t bytes = json_integer_value(json_object_get(m, "bytes"));
		if (name && strncmp(name, "images/", 7) == 0) {
			images += (uint64_t) bytes;
			n_images++;
		} else
			fprintf(f, "  %-24s %" JSON_INTEGER_FORMAT " bytes\n", name ? name : "?", bytes);
	}
	fprintf(f, "  %-24s %" PRIu64 " bytes in %" PRIu64 " file(s)\n", "images/", images, n_images);
}

static int verb_export(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	long long id, base = 0;
	json_t *e;
	int r;

	r = pair_parameters(args, &id, &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (arg_base) {
		if (parse_pair_id(arg_base, &base) < 0)
			return EXIT_USAGE;
		if (base == id) {
			fputs("ckptctl: --base must name another pair than the one exported.\n", stderr);
			return EXIT_USAGE;
		}
		if (json_object_set_new(params, "base", json_integer((json_int_t) base)) < 0)
			return log_oom();
	}
	bool to_file = arg_output && !streq(arg_output, "-");
	_cleanup_close_ int fd = -EBADF;
	if (to_file) {
		fd = open(arg_output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "ckptctl: cannot create %s: %s%s\n", arg_output, strerror(errno),
			        errno == EEXIST ? " (export does not overwrite files)" : "");
			return EXIT_FAILURE;
		}
	} else if (isatty(STDOUT_FILENO)) {
		fputs("ckptctl: refusing to write the stream to a terminal: redirect it, pipe it, or use -o FILE.\n", stderr);
		return EXIT_USAGE;
	}
	r = call_with_fd("export", VARLINK_INTERFACE ".Export", params, true, to_file ? fd : STDOUT_FILENO, &reply);
	e = r == EXIT_SUCCESS ? reply_get("export", reply, "export", JSON_OBJECT) : NULL;
	if (r == EXIT_SUCCESS && !e)
		r = EXIT_FAILURE;
	if (r != EXIT_SUCCESS) {
		if (to_file)
			(void) unlink(arg_output); /* ours, and only a part of a stream */
		return r;
	}
	FILE *f = to_file ? stdout : stderr;
	if (arg_json) {
		char *text = json_dumps(e, JSON_SORT_KEYS | (isatty(fileno(f)) ? JSON_INDENT(2) : JSON_COMPACT));
		if (!text)
			return log_oom();
		fprintf(f, "%s\n", text);
		free(text);
		return EXIT_SUCCESS;
	}
	print_export(f, args[0], e);
	return EXIT_SUCCESS;
}

static int verb_import(char **args) {
	_cleanup_json_ json_t *params = NULL, *reply = NULL;
	json_t *im;
	int r;

	r = container_parameters(args[0], &params);
	if (r != EXIT_SUCCESS)
		return r;
	if (arg_volumes) {
		json_t *a = json_array();
		if (!a || json_object_set_new(params, "volumes", a) < 0)
			return log_oom();
		for (char **v = arg_volumes; *v; v++) {
			const char *eq = strchr(*v, '=');
			if (!eq || eq == *v || !eq[1] || strchr(eq + 1, '=')) {
				fprintf(stderr, "ckptctl: Invalid --volume '%s' (SRC=DST: the exporting host's volume, then "
				        "the configured volume here).\n", *v);
				return EXIT_USAGE;
			}
			json_array_append_new(a, json_string(*v));
		}
	}
	_cleanup_close_ int fd = -EBADF;
	int in = STDIN_FILENO;
	if (arg_input && !streq(arg_input, "-")) {
		fd = open(arg_input, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "ckptctl: cannot open %s: %s\n", arg_input, strerror(errno));
			return EXIT_FAILURE;
		}
		in = fd;
	} else if (isatty(STDIN_FILENO)) {
		fputs("ckptctl: refusing to read the stream from a terminal: pipe it in, or use -i FILE.\n", stderr);
		return EXIT_USAGE;
	}
	r = call_with_fd("import", VARLINK_INTERFACE ".Import", params, true, in, &reply);
	if (r != EXIT_SUCCESS)
		return r;
	im = reply_get("import", reply, "import", JSON_OBJECT);
	if (!im)
		return EXIT_FAILURE;
	if (arg_json)
		return render(output_json(im));
	json_t *o = json_object_get(im, "origin");
	printf("Imported pair %s:%s/%" JSON_INTEGER_FORMAT " as pair %s/%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
	       " bytes read).\n", json_string_value(json_object_get(o, "host")) ?: "?",
	       json_string_value(json_object_get(o, "container")) ?: "?", json_integer_value(json_object_get(o, "id")),
	       args[0], json_integer_value(json_object_get(im, "pair")), json_integer_value(json_object_get(im, "bytes")));
	return EXIT_SUCCESS;
}

const struct verb verbs[] = {
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
	{ "export", "CONTAINER ID [--base ID] [-o FILE|-]", 2, 2, OPT_BASE | OPT_OUTPUT, verb_export },
	{ "import", "CONTAINER [--volume SRC=DST]... [-i FILE|-]", 1, 1, OPT_INPUT | OPT_VOLUME, verb_import },
	{ "migrate", "CONTAINER --to HOST|--remote COMMAND [--base ID] [--keep-source]", 1, 1,
	  OPT_TO | OPT_REMOTE | OPT_BASE | OPT_KEEP_SOURCE, verb_migrate },
};
const size_t n_verbs = ELEMENTSOF(verbs);
