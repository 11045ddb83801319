/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one way ckptd runs another program (lvm, crit, criu, systemd-analyze).
 *
 *   const char *argv[] = { "lvm", "lvs", "--reportformat", "json", NULL };
 *   struct process_spec spec = { .argv = argv, .timeout_usec = 120 * USEC_PER_SEC };
 *   _cleanup_(process_result_done) struct process_result res = {};
 *   r = process_run(&spec, &res, &error);
 *
 * An argument vector, never a shell: argv[0] is an absolute path or a name looked up in $PATH,
 * every argument reaches the program as it is. The child gets stdin from /dev/null (or
 * spec.stdin_fd), the environment spec.env (or ours), every signal at its default and unblocked,
 * PR_SET_PDEATHSIG (it dies with the thread that started it), no inherited fd beyond 0, 1, 2 and
 * spec.keep_fd, and a process group of its own (spec.same_process_group keeps ours).
 * Everything is prepared before fork(); the child makes async-signal-safe calls only, so this is
 * safe from any thread of the daemon.
 *
 * process_run() waits for the program, capturing stdout and stderr into memory up to
 * spec.output_max bytes each (more is read and dropped; *_truncated says so). When
 * spec.timeout_usec passes, the process group gets SIGTERM, and SIGKILL spec.term_grace_usec
 * later. process_spawn() only starts the program and leaves stdout/stderr as they are; the
 * caller talks to it (through keep_fd) and reaps it with process_reap(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCESS_OUTPUT_MAX_DEFAULT (16U << 20)
#define PROCESS_TERM_GRACE_USEC_DEFAULT (5ULL * 1000000ULL)

struct process_spec {
	const char *const *argv; /* NULL-terminated; argv[0]: a path or a name searched in $PATH */
	char *const *env;        /* NULL: the caller's environment */
	int stdin_fd;            /* 0 (or unset): /dev/null; else this fd becomes the child's stdin */
	int output_fd;           /* process_spawn(): 0 (or unset): stdout and stderr stay ours; else both go
	                          * to this fd (a daemonizing program keeps no pipe of ours open) */
	int keep_fd;             /* 0 (or unset): none; else this fd stays open in the child ... */
	int keep_fd_as;          /* ... as this number (>= 3) */
	int cwd_fd;              /* 0 (or unset): our directory; else the child's working directory */
	int netns_fd;            /* 0 (or unset): ours; else the child enters this network namespace
	                          * (setns(CLONE_NEWNET)) before its exec */
	bool merge_stderr;       /* process_run(): stderr goes to the same buffer as stdout */
	bool same_process_group; /* the child stays in our process group */
	bool survive_parent;     /* no PR_SET_PDEATHSIG: the child lives on when the thread that started
	                          * it ends (CRIU mid-dump: killing it can kill the tasks it has seized) */
	uint64_t timeout_usec;   /* process_run(): 0 means no limit */
	uint64_t term_grace_usec; /* after SIGTERM; 0: PROCESS_TERM_GRACE_USEC_DEFAULT */
	size_t output_max;        /* per stream; 0: PROCESS_OUTPUT_MAX_DEFAULT */
	/* Optional: called in the parent right after the fork with the child's pid (e.g. for a
	 * watchdog that may kill it). */
	void (*spawned)(pid_t pid, void *userdata);
	void *userdata;
};

struct process_result {
	int exit_status;   /* the exit code, or -1 when a signal ended the process */
	int signal;        /* the signal that ended it, or 0 */
	bool timed_out;    /* the timeout passed and the process was killed */
	char *out, *err;   /* what it wrote, NUL-terminated (err is "" with merge_stderr) */
	size_t out_size, err_size;
	bool out_truncated, err_truncated; /* more than output_max was written; the rest dropped */
	uint64_t usec;     /* how long it ran */
};

/* Runs the program and waits for it (or its timeout). Returns 0 when it was started and has
 * ended, whatever its exit status (see *ret; a timeout is ret->timed_out, not an error), or a
 * negative errno when it could not be run: -ENOENT no such program, -EACCES, -ENOMEM, ...
 * (the child's exec error is reported back through a pipe). */
int process_run(const struct process_spec *spec, struct process_result *ret, char **ret_error);
void process_result_done(struct process_result *res);

/* Starts the program and returns its pid without waiting. Same errors as process_run(). */
int process_spawn(const struct process_spec *spec, pid_t *ret_pid, char **ret_error);

/* Waits for pid (retrying on EINTR): its wait status, or a negative errno. */
int process_reap(pid_t pid);

/* "exit 3", "signal 9 (Killed)", "timed out": for messages. */
const char *process_result_describe(const struct process_result *res, char buf[static 64]);
