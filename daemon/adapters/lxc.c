/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LXC containers as LXC knows them: config file, rootfs, state, init, payload cgroup; and the two
 * LXC commands a rollback needs (lxc-stop --kill, lxc-checkpoint -r). See lxc.h. */
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "error.h"
#include "fileio.h"
#include "lxc.h"
#include "macro.h"
#include "mountinfo.h"
#include "parse-util.h"
#include "process.h"
#include "time-util.h"

#define LXC_QUERY_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define LXC_STOP_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define LXC_RESTORE_TIMEOUT_USEC (300 * USEC_PER_SEC)

extern char **environ;

void lxc_container_done(struct lxc_container *c) {
	free(c->name);
	free(c->lxcpath);
	free(c->config_file);
	free(c->rootfs_spec);
	free(c->rootfs);
	free(c->cgroup);
	*c = (struct lxc_container) {};
}

/* Runs an lxc-* tool; its output in *res. A non-zero exit is an error naming the tool and what it
 * said on stderr. */
static int run_lxc_tool(const char *const *argv, char *const *env, uint64_t timeout_usec, struct process_result *res,
                        char **ret_error) {
	struct process_spec spec = { .argv = argv, .env = env, .timeout_usec = timeout_usec, .output_max = 1U << 20 };
	_cleanup_free_ char *error = NULL;
	int r = process_run(&spec, res, &error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "%s not found: is LXC installed?", argv[0]);
	if (r < 0)
		return error_pass(ret_error, r, &error);
	if (res->exit_status != 0) {
		char how[64];
		const char *err = res->err && res->err[0] ? res->err : res->out;
		size_t n = err ? strlen(err) : 0;
		while (n > 0 && char_in(err[n - 1], WHITESPACE))
			n--;
		return error_setf(ret_error, res->timed_out ? -ETIMEDOUT : -EIO, "%s failed (%s): %.*s", argv[0],
		                  process_result_describe(res, how), (int) n, strempty(err));
	}
	return 0;
}

int lxc_default_path(char **ret, char **ret_error) {
	const char *argv[] = { "lxc-config", "lxc.lxcpath", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = run_lxc_tool(argv, NULL, LXC_QUERY_TIMEOUT_USEC, &res, ret_error);
	if (r < 0)
		return r;
	size_t n = strcspn(res.out, "\n");
	if (n == 0 || res.out[0] != '/')
		return error_setf(ret_error, -EINVAL, "lxc-config lxc.lxcpath printed no absolute path: \"%.*s\"", (int) n,
		                  res.out);
	char *s = strndup(res.out, n);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* Where a cgroup hierarchy is mounted: cgroup2, or the v1 hierarchy with the given controller. */
static char *hierarchy_mountpoint(const struct mounts *ms, const char *v1_controller) {
	for (size_t i = 0; i < ms->n; i++) {
		const struct mount *m = &ms->m[i];
		if (streq_ptr(m->root, "/") && mount_is_cgroup_hierarchy(m, v1_controller))
			return strdup(m->mountpoint);
	}
	return NULL;
}

/* The cgroup of pid in the cgroup2 hierarchy (v1_controller NULL) or in the v1 hierarchy of that
 * controller, if it is a freezer ckptd can use there (cgroup_detect()). -ENOENT: none. */
static int pid_cgroup(pid_t pid, const char *v1_controller, char **ret, char **ret_error) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
	_cleanup_free_ char *text = NULL;
	int r = read_full_file(path, &text, NULL);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read %s: %m", path);
	_cleanup_(mounts_done) struct mounts ms = {};
	r = mounts_parse("/proc/self/mountinfo", &ms);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read /proc/self/mountinfo: %m");
	_cleanup_free_ char *rel = NULL;
	r = lxc_cgroup_path_of(text, v1_controller, &rel);
	if (r < 0)
		return r;
	_cleanup_free_ char *mp = hierarchy_mountpoint(&ms, v1_controller);
	_cleanup_free_ char *cg = mp ? path_join(mp, rel) : NULL;
	if (mp && !cg)
		return -ENOMEM;
	enum cgroup_kind kind;
	if (cg && cgroup_detect(cg, &kind) >= 0 && kind == (v1_controller ? CGROUP_V1_FREEZER : CGROUP_V2)) {
		*ret = TAKE_PTR(cg);
		return 0;
	}
	return -ENOENT;
}

int pid_freezer_cgroup(pid_t pid, char **ret, char **ret_error) {
	int r = pid_cgroup(pid, NULL, ret, ret_error);
	if (r == -ENOENT)
		r = pid_cgroup(pid, "freezer", ret, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "pid %d is in no cgroup v2 directory with cgroup.freeze nor in a v1 "
		                  "freezer cgroup", (int) pid);
	return r;
}

int lxc_thaw(const struct lxc_container *c, char **ret_error) {
	const char *kinds[] = { NULL, "freezer" };
	for (size_t k = 0; c->running && k < ELEMENTSOF(kinds); k++) {
		_cleanup_free_ char *cg = NULL;
		int r = pid_cgroup(c->init_pid, kinds[k], &cg, ret_error);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		enum cgroup_kind kind = kinds[k] ? CGROUP_V1_FREEZER : CGROUP_V2;
		if (cgroup_is_frozen(cg, kind) > 0 && (r = cgroup_thaw(cg, kind)) < 0)
			return error_setf(ret_error, r, "cannot thaw %s: %m", cg);
	}
	return 0;
}

static bool pid_in_cgroup(const char *cgroup, pid_t pid) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (cgroup_list_pids(cgroup, &pids, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

int lxc_lookup(const char *name, const char *lxcpath, struct lxc_container *ret, char **ret_error) {
	_cleanup_(lxc_container_done) struct lxc_container c = {};
	int r;
	c.name = strdup(name);
	if (!c.name)
		return -ENOMEM;
	if (lxcpath)
		c.lxcpath = strdup(lxcpath);
	else if ((r = lxc_default_path(&c.lxcpath, ret_error)) < 0)
		return r;
	if (!c.lxcpath || !(c.config_file = path_join(c.lxcpath, name, "config")))
		return -ENOMEM;

	_cleanup_free_ char *text = NULL;
	r = read_full_file(c.config_file, &text, NULL);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "no LXC container %s in %s (%s does not exist)", name, c.lxcpath,
		                  c.config_file);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read the LXC config %s: %m", c.config_file);
	if ((r = lxc_config_rootfs(text, &c.rootfs_spec)) < 0 ||
	    (c.rootfs_spec && (r = lxc_rootfs_directory(c.rootfs_spec, &c.rootfs)) < 0))
		return r;

	const char *argv[] = { "lxc-info", "-n", name, "-P", c.lxcpath, "-s", "-p", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	if ((r = run_lxc_tool(argv, NULL, LXC_QUERY_TIMEOUT_USEC, &res, ret_error)) < 0)
		return r;
	if (lxc_info_parse(res.out, &c.running, &c.init_pid) < 0)
		return error_setf(ret_error, -EBADMSG, "lxc-info -n %s -P %s printed no state/PID: %s", name, c.lxcpath,
		                  res.out);
	if (c.running) {
		_cleanup_free_ char *error = NULL;
		r = pid_freezer_cgroup(c.init_pid, &c.cgroup, &error);
		if (r < 0)
			return error_prefixf(ret_error, r, &error, "LXC container %s (init %d)", name, (int) c.init_pid);
		/* The init lxc-info named is still the one in that cgroup (not a restart in between). */
		if (!pid_in_cgroup(c.cgroup, c.init_pid))
			return error_setf(ret_error, -ESRCH, "LXC container %s: its init %d left cgroup %s while it was "
			                  "looked up (restarted?)", name, (int) c.init_pid, c.cgroup);
	}
	*ret = c;
	c = (struct lxc_container) {};
	return 0;
}

int lxc_stop_kill(const struct lxc_container *c, char **ret_error) {
	const char *argv[] = { "lxc-stop", "-n", c->name, "-P", c->lxcpath, "--kill", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	return run_lxc_tool(argv, NULL, LXC_STOP_TIMEOUT_USEC, &res, ret_error);
}

/* Our environment with PATH starting at criu_dir (if any) and CRIU_CONFIG_FILE=criu_config. */
static char **restore_environment(const char *criu_dir, const char *criu_config) {
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 3, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	const char *old_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; i < n; i++) {
		if (startswith(environ[i], "PATH="))
			old_path = environ[i] + 5;
		else if (!startswith(environ[i], "CRIU_CONFIG_FILE="))
			env[k++] = strdup(environ[i]);
		if (k > 0 && !env[k - 1])
			goto fail;
	}
	if (asprintf(&env[k++], "PATH=%s%s%s", strempty(criu_dir), criu_dir ? ":" : "", old_path) < 0) {
		env[--k] = NULL;
		goto fail;
	}
	if (criu_config && asprintf(&env[k++], "CRIU_CONFIG_FILE=%s", criu_config) < 0) {
		env[--k] = NULL;
		goto fail;
	}
	return env;
fail:
	strv_free(env);
	return NULL;
}

/* Waits for pid, at most timeout_usec; then SIGKILLs its process group. Its wait status. */
static int wait_timeout(pid_t pid, uint64_t timeout_usec) {
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	for (;;) {
		int status;
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return negative_errno();
		if (now_usec(CLOCK_MONOTONIC) >= deadline) {
			(void) kill(-pid, SIGKILL);
			(void) process_reap(pid);
			return -ETIMEDOUT;
		}
		usleep(10 * 1000);
	}
}

int lxc_restore(const struct lxc_container *c, const char *images_dir, const char *criu_path, const char *criu_config,
                const char *output_file, char **ret_error) {
	_cleanup_free_ char *criu_dir = NULL;
	if (criu_path) {
		const char *slash = strrchr(criu_path, '/');
		if (!slash || !streq(slash + 1, "criu"))
			return error_setf(ret_error, -EINVAL, "LXC runs the program named criu from PATH; the configured criu "
			                  "%s is named otherwise", criu_path);
		criu_dir = strndup(criu_path, slash == criu_path ? 1 : (size_t) (slash - criu_path));
		if (!criu_dir)
			return -ENOMEM;
	}
	/* Its output goes to a file, not to a pipe of ours: the monitor it leaves behind inherits it. */
	_cleanup_close_ int out = open(output_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return error_setf(ret_error, negative_errno(), "cannot create %s: %m", output_file);
	char **env = restore_environment(criu_dir, criu_config);
	if (!env)
		return -ENOMEM;
	const char *argv[] = { "lxc-checkpoint", "-r", "-n", c->name, "-P", c->lxcpath, "-D", images_dir, NULL };
	struct process_spec spec = { .argv = argv, .env = env, .output_fd = out };
	pid_t pid;
	_cleanup_free_ char *error = NULL;
	int r = process_spawn(&spec, &pid, &error);
	strv_free(env);
	if (r < 0)
		return r == -ENOENT ? error_setf(ret_error, r, "lxc-checkpoint not found: is LXC installed?")
		                    : error_pass(ret_error, r, &error);
	int status = wait_timeout(pid, LXC_RESTORE_TIMEOUT_USEC);
	if (status == -ETIMEDOUT)
		return error_setf(ret_error, status, "lxc-checkpoint -r did not finish within %llu s (its output: %s)",
		                  (unsigned long long) (LXC_RESTORE_TIMEOUT_USEC / USEC_PER_SEC), output_file);
	if (status < 0)
		return error_setf(ret_error, status, "cannot wait for lxc-checkpoint: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_free_ char *said = NULL;
		(void) read_full_file(output_file, &said, NULL);
		size_t n = said ? strlen(said) : 0;
		while (n > 0 && char_in(said[n - 1], WHITESPACE))
			n--;
		return error_setf(ret_error, -EIO, "lxc-checkpoint -r failed (%s %d): %.*s",
		                  WIFEXITED(status) ? "exit" : "signal",
		                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), (int) n, strempty(said));
	}
	return 0;
}
