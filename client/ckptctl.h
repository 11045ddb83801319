/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ckptctl's shared pieces: the options given on the command line, the one Varlink call each
 * command makes, and the exit statuses. */

#include <jansson.h>
#include <stdbool.h>

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
#define OPT_BASE (1U << 5)
#define OPT_OUTPUT (1U << 6)
#define OPT_INPUT (1U << 7)
#define OPT_VOLUME (1U << 8)
#define OPT_TO (1U << 9)
#define OPT_REMOTE (1U << 10)
#define OPT_KEEP_SOURCE (1U << 11)

extern const char *arg_socket;
extern bool arg_json;
extern const char *arg_tag;
extern bool arg_no_safety_pair;
extern bool arg_processes_only;
extern bool arg_dry_run;
extern bool arg_force;
extern const char *arg_base;
extern const char *arg_output;
extern const char *arg_input;
extern char **arg_volumes; /* --volume SRC=DST, NULL-terminated */
extern const char *arg_to;
extern const char *arg_remote;
extern bool arg_keep_source;
extern unsigned arg_options_seen;

const char *socket_path(void);
int log_oom(void);
int unreachable(int r);
/* Calls method (full name) with parameters. With more, the daemon streams progress replies
 * ("continues": true), shown on stderr when it is a terminal. Returns EXIT_SUCCESS with the
 * final reply's parameters in *ret, or an exit status after saying on stderr what failed. */
int call(const char *verb, const char *method, json_t *parameters, bool more, json_t **ret);
/* The same, passing pass_fd with the call (export, import). */
int call_with_fd(const char *verb, const char *method, json_t *parameters, bool more, int pass_fd, json_t **ret);
/* call() and reply_get() in one: *ret_member points into *ret_reply (caller unrefs the reply). */
int call_member(const char *verb, const char *method, json_t *parameters, bool more, const char *key, json_type type,
                json_t **ret_reply, json_t **ret_member);
/* The member key of a final reply, which must have the given type. */
json_t *reply_get(const char *verb, json_t *reply, const char *key, json_type type);
/* The exit status for what an output_*() call returned; error is its message (freed), and
 * -EBADMSG says the reply was invalid: "ckptctl: VERB failed: invalid reply from ckptd: ...". */
int render(int r);
int render_reply(const char *verb, int r, char *error);

/* A command: its name, its arguments, the options it accepts and the function that runs it. */
struct verb {
	const char *name;
	const char *usage; /* the arguments, for error messages */
	unsigned min_args, max_args;
	unsigned options; /* OPT_* this command accepts */
	int (*run)(char **args); /* args: NULL-terminated, count already checked */
};

/* verbs.c: the table of commands. */
extern const struct verb verbs[];
extern const size_t n_verbs;

/* migrate.c */
int verb_migrate(char **args);
