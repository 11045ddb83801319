/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The process runner against real programs: exit codes, signals, timeouts, the output cap,
 * argv passed verbatim, the environment, stdin, fds kept and closed, PR_SET_PDEATHSIG. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "fileio.h"
#include "macro.h"
#include "proc-holders.h"
#include "process.h"
#include "time-util.h"
#include "test-util.h"

static int run(const struct process_spec *spec, struct process_result *res) {
	_cleanup_free_ char *error = NULL;
	int r = process_run(spec, res, &error);
	if (r < 0)
		fprintf(stderr, "process_run: %s\n", error ? error : "?");
	return r;
}

TEST(argv_verbatim) {
	const char *argv[] = { "printf", "[%s]\\n", "a b", "$HOME", ";", "", "*", "'\"", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_EQ(res.exit_status, 0);
	ASSERT_EQ(res.signal, 0);
	ASSERT_STREQ(res.out, "[a b]\n[$HOME]\n[;]\n[]\n[*]\n['\"]\n");
	ASSERT_STREQ(res.err, "");
}

TEST(exit_status_and_stderr) {
	const char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_EQ(res.exit_status, 3);
	ASSERT_FALSE(res.timed_out);
	ASSERT_STREQ(res.out, "out\n");
	ASSERT_STREQ(res.err, "err\n");
	char buf[64];
	ASSERT_STREQ(process_result_describe(&res, buf), "exit status 3");
}

TEST(merge_stderr) {
	const char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv, .merge_stderr = true };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_STREQ(res.out, "out\nerr\n");
	ASSERT_STREQ(res.err, "");
}

TEST(signal_reported) {
	const char *argv[] = { "/bin/sh", "-c", "kill -USR1 $$", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_EQ(res.exit_status, -1);
	ASSERT_EQ(res.signal, SIGUSR1);
	ASSERT_FALSE(res.timed_out);
}

TEST(timeout_terminates) {
	const char *argv[] = { "sleep", "30", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	const struct process_spec res_spec = { .argv = argv, .timeout_usec = 200 * USEC_PER_MSEC };
	ASSERT_OK(run(&res_spec, &res));
	uint64_t took = now_usec(CLOCK_MONOTONIC) - t0;
	ASSERT_TRUE(res.timed_out);
	ASSERT_EQ(res.signal, SIGTERM);
	ASSERT_TRUE(took >= 200 * USEC_PER_MSEC && took < 3 * USEC_PER_SEC);
}

/* A program that ignores SIGTERM gets SIGKILL after the grace; its children (same process group)
 * are killed as well, so the pipes they hold close and the run ends. */
TEST(timeout_kills_the_group) {
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	const struct process_spec res_spec = { .argv = argv, .timeout_usec = 1000 * USEC_PER_MSEC, /* time for sh to set its trap */
	                                       .term_grace_usec = 200 * USEC_PER_MSEC };
	ASSERT_OK(run(&res_spec, &res));
	uint64_t took = now_usec(CLOCK_MONOTONIC) - t0;
	ASSERT_TRUE(res.timed_out);
	ASSERT_EQ(res.signal, SIGKILL);
	ASSERT_TRUE(took < 5 * USEC_PER_SEC);
	pid_t grandchild = (pid_t) atoi(res.out);
	ASSERT_TRUE(grandchild > 0);
	/* sleep (which ignores SIGTERM too) got SIGKILL with the group: gone, or a zombie until its
	 * new parent reaps it. The kill is sent with sh's, but sleep may still be on its way out when
	 * run() has reaped sh (seen on a loaded machine): give it 5 s to get there. */
	char stat_path[64];
	snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int) grandchild);
	bool dead = false;
	for (int i = 0; i < 500 && !dead; i++) {
		_cleanup_free_ char *stat = NULL;
		dead = read_full_file(stat_path, &stat, NULL) < 0 || strstr(stat, ") Z ") != NULL;
		if (!dead)
			(void) usleep(10 * 1000);
	}
	ASSERT_TRUE(dead);
}

TEST(output_cap) {
	const char *argv[] = { "head", "-c", "100000", "/dev/zero", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv, .output_max = 1000 };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_EQ(res.exit_status, 0); /* drained, not cut off with EPIPE */
	ASSERT_EQ_U(res.out_size, 1000);
	ASSERT_TRUE(res.out_truncated);
	ASSERT_FALSE(res.err_truncated);

	_cleanup_(process_result_done) struct process_result small = {};
	const char *argv2[] = { "head", "-c", "1000", "/dev/zero", NULL };
	const struct process_spec small_spec = { .argv = argv2, .output_max = 1000 };
	ASSERT_OK(run(&small_spec, &small));
	ASSERT_EQ_U(small.out_size, 1000);
	ASSERT_FALSE(small.out_truncated);
}

TEST(missing_program) {
	const char *argv[] = { "/nonexistent/ckptd-no-such-program", NULL };
	const char *argv2[] = { "ckptd-no-such-program", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	_cleanup_free_ char *error = NULL;
	const struct process_spec spec = { .argv = argv }, spec2 = { .argv = argv2 };
	ASSERT_ERROR(process_run(&spec, &res, &error), ENOENT);
	ASSERT_TRUE(error && strstr(error, "ckptd-no-such-program"));
	ASSERT_ERROR(process_run(&spec2, &res, NULL), ENOENT);
}

TEST(environment_and_stdin) {
	char *env[] = { "FOO=bar baz", NULL };
	const char *argv[] = { "/usr/bin/env", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv, .env = env };
	ASSERT_OK(run(&res_spec, &res));
	ASSERT_STREQ(res.out, "FOO=bar baz\n");

	/* stdin is /dev/null: cat ends at once. */
	const char *cat[] = { "cat", NULL };
	_cleanup_(process_result_done) struct process_result c = {};
	const struct process_spec c_spec = { .argv = cat, .timeout_usec = 5 * USEC_PER_SEC };
	ASSERT_OK(run(&c_spec, &c));
	ASSERT_FALSE(c.timed_out);
	ASSERT_STREQ(c.out, "");

	int p[2];
	ASSERT_TRUE(pipe(p) == 0);
	ASSERT_TRUE(write(p[1], "input", 5) == 5);
	close(p[1]);
	_cleanup_(process_result_done) struct process_result d = {};
	const struct process_spec d_spec = { .argv = cat, .stdin_fd = p[0] };
	ASSERT_OK(run(&d_spec, &d));
	close(p[0]);
	ASSERT_STREQ(d.out, "input");
}

TEST(fds_closed_and_kept) {
	int leaked = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	ASSERT_TRUE(leaked >= 3);
	char script[128];
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d && echo leaked; echo kept >&7", leaked);
	int p[2];
	ASSERT_TRUE(pipe2(p, O_CLOEXEC) == 0);
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	const struct process_spec res_spec = { .argv = argv, .keep_fd = p[1], .keep_fd_as = 7 };
	ASSERT_OK(run(&res_spec, &res));
	close(p[1]);
	close(leaked);
	char buf[16] = "";
	ASSERT_TRUE(read(p[0], buf, sizeof(buf) - 1) == 5);
	close(p[0]);
	ASSERT_STREQ(buf, "kept\n");
	ASSERT_STREQ(res.out, "");
	ASSERT_EQ(res.exit_status, 0);
}

static void note_pid(pid_t pid, void *userdata) {
	*(pid_t *) userdata = pid;
}

static void *spawn_in_thread(void *userdata) {
	const char *argv[] = { "sleep", "30", NULL };
	pid_t *pid = userdata;
	if (process_spawn(&(struct process_spec) { .argv = argv, .spawned = note_pid, .userdata = pid }, pid, NULL) < 0)
		*pid = -1;
	return NULL; /* the thread ends: PR_SET_PDEATHSIG kills sleep */
}

TEST(spawn_hook_and_parent_death_signal) {
	pthread_t t;
	pid_t pid = 0;
	ASSERT_TRUE(pthread_create(&t, NULL, spawn_in_thread, &pid) == 0);
	pthread_join(t, NULL);
	ASSERT_TRUE(pid > 0);
	int status = process_reap(pid);
	ASSERT_TRUE(status >= 0 && WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGKILL);
}

/* proc_stat(): the state and start time, a zombie seen as one, a pid that is gone refused. */
TEST(proc_stat_state_and_starttime) {
	char state;
	unsigned long long start, again;
	ASSERT_OK(proc_stat(getpid(), &state, &start));
	ASSERT_TRUE(state == 'R');
	ASSERT_TRUE(start > 0);
	ASSERT_OK(proc_stat(getpid(), NULL, &again));
	ASSERT_TRUE(again == start);

	pid_t child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0)
		_exit(0);
	for (int i = 0; i < 500; i++) { /* until it has exited, unreaped */
		ASSERT_OK(proc_stat(child, &state, NULL));
		if (state == 'Z')
			break;
		usleep(2000);
	}
	ASSERT_TRUE(state == 'Z');
	ASSERT_TRUE(waitpid(child, NULL, 0) == child);
	ASSERT_EQ(proc_stat(child, &state, NULL), -ENOENT);
}

TEST_MAIN()
