/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl: the command line client of ckptd. This file parses arguments and dispatches to the
 * command (verbs.c), which makes one Varlink call (call.c); output.c renders the replies. */

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>

#include "build-config.h" /* generated: CKPTD_VERSION */
#include "ckptctl.h"
#include "macro.h"
#include "output.h"

const char *arg_socket = NULL;
bool arg_json = false;
const char *arg_tag = NULL;
bool arg_no_safety_pair = false;
bool arg_processes_only = false;
bool arg_dry_run = false;
bool arg_force = false;
const char *arg_base = NULL;
const char *arg_output = NULL;
const char *arg_input = NULL;
char **arg_volumes = NULL;
const char *arg_to = NULL;
const char *arg_remote = NULL;
bool arg_keep_source = false;
static size_t n_arg_volumes = 0;
unsigned arg_options_seen = 0; /* OPT_* given on the command line */

/* ---- command line ---------------------------------------------------------------------- */

static const struct {
	unsigned bit;
	const char *name;
} verb_options[] = {
	{ OPT_TAG, "--tag" },
	{ OPT_NO_SAFETY_PAIR, "--no-safety-pair" },
	{ OPT_PROCESSES_ONLY, "--processes-only" },
	{ OPT_DRY_RUN, "--dry-run" },
	{ OPT_FORCE, "--force" },
	{ OPT_BASE, "--base" },
	{ OPT_OUTPUT, "--output" },
	{ OPT_INPUT, "--input" },
	{ OPT_VOLUME, "--volume" },
	{ OPT_TO, "--to" },
	{ OPT_REMOTE, "--remote" },
	{ OPT_KEEP_SOURCE, "--keep-source" },
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
	       "Transfer commands:\n"
	       "  export CONTAINER ID         Write a pair as one checksummed stream (record,\n"
	       "                              images, volume snapshots as btrfs send streams)\n"
	       "  import CONTAINER            Read such a stream and add it as a new pair of\n"
	       "                              CONTAINER (rollback then starts it here)\n"
	       "  migrate CONTAINER --to HOST Move the container to HOST: freeze-and-dump (its\n"
	       "                              tasks end with the dump), export incrementally into\n"
	       "                              'ssh HOST ckptctl import', rollback there; reports\n"
	       "                              the downtime\n"
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
	       "     --base=ID                export: incremental against pair ID, which the\n"
	       "                              importing host must have imported before\n"
	       "  -o --output=FILE|-          export: write the stream to FILE (default: stdout)\n"
	       "  -i --input=FILE|-           import: read the stream from FILE (default: stdin)\n"
	       "     --to=HOST                migrate: the destination, reached as 'ssh HOST ckptctl'\n"
	       "     --remote=COMMAND         migrate: the destination's ckptctl as a command instead,\n"
	       "                              split at blanks, e.g. 'ckptctl --socket /run/b.sock'\n"
	       "     --keep-source            migrate: leave the source running (a copy, not a move)\n"
	       "     --base=ID                migrate: the base of the incremental export (default:\n"
	       "                              the newest pair the destination has from here)\n"
	       "     --volume=SRC=DST         import: the stream's volume SRC goes next to the\n"
	       "                              configured volume DST (repeatable; needed when the\n"
	       "                              paths differ and there is more than one volume)\n"
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

/* The command-specific flag options: --no-safety-pair, --processes-only, --dry-run, --force. */
static void set_flag(int i) {
	static const struct {
		bool *arg;
		unsigned option;
	} flags[] = {
		{ &arg_no_safety_pair, OPT_NO_SAFETY_PAIR },
		{ &arg_processes_only, OPT_PROCESSES_ONLY },
		{ &arg_dry_run, OPT_DRY_RUN },
		{ &arg_force, OPT_FORCE },
	};

	*flags[i].arg = true;
	arg_options_seen |= flags[i].option;
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
		ARG_NO_SAFETY_PAIR, /* the command-specific flags, in the order of set_flag() */
		ARG_PROCESSES_ONLY,
		ARG_DRY_RUN,
		ARG_FORCE,
		ARG_BASE,
		ARG_VOLUME,
		ARG_TO,
		ARG_REMOTE,
		ARG_KEEP_SOURCE,
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
		{ "base", required_argument, NULL, ARG_BASE },
		{ "output", required_argument, NULL, 'o' },
		{ "input", required_argument, NULL, 'i' },
		{ "volume", required_argument, NULL, ARG_VOLUME },
		{ "to", required_argument, NULL, ARG_TO },
		{ "remote", required_argument, NULL, ARG_REMOTE },
		{ "keep-source", no_argument, NULL, ARG_KEEP_SOURCE },
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
	while ((c = getopt_long(argc, argv, "-ho:i:", options, NULL)) >= 0)
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
		case ARG_PROCESSES_ONLY:
		case ARG_DRY_RUN:
		case ARG_FORCE:
			set_flag(c - ARG_NO_SAFETY_PAIR);
			break;
		case ARG_TO:
			arg_to = optarg;
			arg_options_seen |= OPT_TO;
			break;
		case ARG_REMOTE:
			arg_remote = optarg;
			arg_options_seen |= OPT_REMOTE;
			break;
		case ARG_KEEP_SOURCE:
			arg_keep_source = true;
			arg_options_seen |= OPT_KEEP_SOURCE;
			break;
		case ARG_BASE:
			arg_base = optarg;
			arg_options_seen |= OPT_BASE;
			break;
		case 'o':
			arg_output = optarg;
			arg_options_seen |= OPT_OUTPUT;
			break;
		case 'i':
			arg_input = optarg;
			arg_options_seen |= OPT_INPUT;
			break;
		case ARG_VOLUME: {
			char **a = realloc(arg_volumes, (n_arg_volumes + 2) * sizeof(char *));
			if (!a) {
				log_oom();
				return -ENOMEM;
			}
			arg_volumes = a;
			arg_volumes[n_arg_volumes++] = optarg;
			arg_volumes[n_arg_volumes] = NULL;
			arg_options_seen |= OPT_VOLUME;
			break;
		}
		default: /* '?': getopt said what */
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
	for (size_t i = 0; i < n_verbs; i++)
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
