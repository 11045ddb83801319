/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptd: consistent checkpoints of whole containers. See ckptd(8). */
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "config.h"
#include "criu.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "recovery.h"
#include "state-lock.h"

static void help(void) {
	printf("ckptd [OPTIONS...]\n\n"
	       "Takes consistent checkpoints (snapshot pairs) of containers: freeze, snapshot\n"
	       "the volumes, dump the processes with CRIU, thaw.\n\n"
	       "  -h --help              Show this help\n"
	       "     --version           Show the version\n"
	       "     --config-dir=DIR    Configuration directory (default %s)\n"
	       "     --state-dir=DIR     State directory: catalog, journal (default %s)\n"
	       "     --socket=PATH       Varlink socket (default %s)\n"
	       "     --criu=PATH         criu binary (default: Criu= in ckptd.conf, else PATH)\n"
	       "     --log-level=LEVEL   err, warning, notice, info, debug\n",
	       CKPTD_CONFIG_DIR, CKPTD_STATE_DIR, CKPTD_SOCKET_PATH);
}

struct arguments {
	char *config_dir, *state_dir, *socket, *criu;
};

static int parse_argv(int argc, char *argv[], struct arguments *a) {
	enum { ARG_VERSION = 0x100, ARG_CONFIG_DIR, ARG_STATE_DIR, ARG_SOCKET, ARG_CRIU, ARG_LOG_LEVEL };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
		{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
		{ "socket", required_argument, NULL, ARG_SOCKET },
		{ "criu", required_argument, NULL, ARG_CRIU },
		{ "log-level", required_argument, NULL, ARG_LOG_LEVEL },
		{}
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("ckptd %s\n", CKPTD_VERSION);
			return 0;
		case ARG_CONFIG_DIR:
			a->config_dir = optarg;
			break;
		case ARG_STATE_DIR:
			a->state_dir = optarg;
			break;
		case ARG_SOCKET:
			a->socket = optarg;
			break;
		case ARG_CRIU:
			a->criu = optarg;
			break;
		case ARG_LOG_LEVEL: {
			int l = log_level_from_string(optarg);
			if (l < 0)
				return log_error_errno(EINVAL, "Invalid --log-level=%s (err, warning, notice, info, debug)", optarg);
			log_set_max_level(l);
			break;
		}
		default:
			return -EINVAL;
		}
	}
	if (optind < argc)
		return log_error_errno(EINVAL, "ckptd takes no positional arguments ('%s')", argv[optind]);
	return 1;
}

static int run(int argc, char *argv[]) {
	struct arguments a = {};
	int r = parse_argv(argc, argv, &a);
	if (r <= 0)
		return r;

	/* Signals are handled by the event loop; worker threads inherit the mask. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Restored process trees become our children when CRIU exits: we reap them at once. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return log_error_errno(errno, "Cannot become a child subreaper: %m");

	/* Declared first, so released last: held until every job is over. */
	_cleanup_close_ int lock_fd = -EBADF;
	_cleanup_(manager_freep) struct manager *m = NULL;
	r = manager_new(&m);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the event loop: %m");
	m->config_dir = strdup(a.config_dir ? a.config_dir : CKPTD_CONFIG_DIR);
	m->state_dir = strdup(a.state_dir ? a.state_dir : CKPTD_STATE_DIR);
	const char *socket = a.socket ? a.socket : getenv("CKPTD_SOCKET");
	m->socket_path = strdup(socket ? socket : CKPTD_SOCKET_PATH);
	if (!m->config_dir || !m->state_dir || !m->socket_path)
		return log_error_errno(ENOMEM, "Out of memory");

	/* One daemon per state directory, before anything in it is read or repaired. */
	r = state_dir_lock(m->state_dir, &lock_fd);
	if (r < 0)
		return r;

	r = manager_load_config(m);
	if (r < 0)
		return log_error_errno(r, "Cannot load the configuration: %m");

	/* Before anything else: a predecessor may have died with a container frozen. */
	r = recovery_run(m->state_dir);
	if (r < 0)
		log_error("Recovery of interrupted jobs was incomplete; see the messages above");

	r = criu_find_binary(a.criu ? a.criu : m->daemon.criu, &m->criu_path);
	if (r < 0)
		log_error_errno(r, "No usable criu (%s): %m. Checkpoints will fail until one is installed (tools/setup)",
		                a.criu ? a.criu : m->daemon.criu ? m->daemon.criu : "searched PATH");
	else if (criu_query_version(m->criu_path, &m->criu_version) < 0)
		log_warning("%s did not report its version through RPC; is it a working criu?", m->criu_path);
	else if (m->criu_version < 40100)
		log_warning("%s is CRIU %d.%d, older than 4.1: it fails on kernels >= 6.13", m->criu_path,
		            m->criu_version / 10000, m->criu_version / 100 % 100);
	else
		log_info("Using %s (CRIU %d.%d.%d)", m->criu_path, m->criu_version / 10000, m->criu_version / 100 % 100,
		         m->criu_version % 100);

	/* What a predecessor left half rolled back is finished, when its pair is intact: a job,
	 * queued before the socket answers, so that clients see it. */
	r = manager_finish_interrupted(m);
	if (r < 0)
		log_error_errno(r, "Cannot finish interrupted rollbacks: %m");

	r = manager_start_listening(m);
	if (r < 0)
		return r;
	(void) sd_notify(0, "READY=1");
	manager_update_status(m);
	r = sd_event_loop(m->event);
	if (r < 0)
		return log_error_errno(r, "Event loop failed: %m");
	return 0;
}

int main(int argc, char *argv[]) {
	int r = run(argc, argv);
	return r < 0 ? 1 : 0;
}
