/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criu/criu.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "criu.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "netns-external.h"
#include "process.h"

/* libcriu's notify callback has no user data: the hooks of the running call, per thread. */
static __thread const struct criu_hooks *current_hooks;
static __thread bool current_pre_dump_seen;

static int notify_cb(char *action, criu_notify_arg_t na) {
	if (current_hooks && streq(action, "post-restore"))
		return current_hooks->post_restore ? current_hooks->post_restore(current_hooks->userdata) : 0;
	if (!current_hooks || !streq(action, "pre-dump"))
		return 0;
	current_pre_dump_seen = true;
	return current_hooks->pre_dump ? current_hooks->pre_dump(current_hooks->userdata) : 0;
}

static void criu_opts_freep(criu_opts **o) {
	if (*o)
		criu_local_free_opts(*o);
}

extern char **environ;

/* The environment of the criu child: ours, plus CRIU_CONFIG_FILE=config_file if set (CRIU reads
 * that file before it serves the request: options the RPC of our libcriu cannot carry), and with
 * netns_replay_dir (netns-config.h) PATH with its bin/ first, CR_IP_TOOL=its bin/ip,
 * CKPTD_NETNS_REPLAY_DIR=it, CR_IPTABLES unset: CRIU then runs the replay for its network tools.
 * Built before fork(), since the child of a threaded process must not allocate. The strings made
 * here are in *ret_owned (NULL-terminated), to be freed by the caller. */
static bool env_replaced(const char *e, bool replay) {
	static const char *const always[] = { "CRIU_CONFIG_FILE=" };
	static const char *const with_replay[] = { "PATH=", "CR_IP_TOOL=", "CR_IPTABLES=", "CKPTD_NETNS_REPLAY_DIR=" };
	for (size_t i = 0; i < ELEMENTSOF(always); i++)
		if (strncmp(e, always[i], strlen(always[i])) == 0)
			return true;
	for (size_t i = 0; replay && i < ELEMENTSOF(with_replay); i++)
		if (strncmp(e, with_replay[i], strlen(with_replay[i])) == 0)
			return true;
	return false;
}

static void strv_free_all(char **v) {
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static char **swrk_environment(const char *config_file, const char *netns_replay_dir, char ***ret_owned) {
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 5, sizeof(char *)), **owned = calloc(5, sizeof(char *));
	if (!env || !owned) {
		free(env);
		free(owned);
		return NULL;
	}
	size_t k = 0, o = 0;
	for (size_t i = 0; i < n; i++)
		if (!env_replaced(environ[i], netns_replay_dir))
			env[k++] = environ[i];
	bool ok = true;
	if (config_file)
		ok = asprintf(&owned[o++], "CRIU_CONFIG_FILE=%s", config_file) >= 0;
	if (ok && netns_replay_dir) {
		const char *path = getenv("PATH");
		ok = asprintf(&owned[o++], "PATH=%s/bin:%s", netns_replay_dir,
		              path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") >= 0 &&
		     asprintf(&owned[o++], "CR_IP_TOOL=%s/bin/ip", netns_replay_dir) >= 0 &&
		     asprintf(&owned[o++], "CKPTD_NETNS_REPLAY_DIR=%s", netns_replay_dir) >= 0;
	}
	if (!ok) {
		if (o > 0)
			owned[o - 1] = NULL; /* the failed asprintf() left it undefined */
		strv_free_all(owned);
		free(env);
		return NULL;
	}
	for (size_t i = 0; i < o; i++)
		env[k++] = owned[i];
	*ret_owned = owned;
	return env;
}

/* Spawns `criu swrk 3` with our socket's other end as its fd 3: returns our end and the pid. CRIU
 * stays in our process group (a restored shell job lives in criu's session and group). */
/* survive_daemon: a dump's CRIU is not killed with us. Killed mid-dump it could leave a task with
 * its registers or code replaced by the parasite (a crashed workload); orphaned, it fails at its
 * next message to us and cures and releases the tasks itself. Recovery waits for it (the intent
 * names it). A restore's CRIU still dies with us: the interrupted rollback is finished anew. */
/* stdin_fd: > 0, the criu child's stdin (a network namespace it inherits as fd[0]); else /dev/null. */
static int spawn_swrk(const char *criu_path, const char *config_file, const char *netns_replay_dir, int stdin_fd,
                      bool survive_daemon, pid_t *ret_pid, int *ret_fd) {
	char **owned = NULL;
	_cleanup_free_ char **env = swrk_environment(config_file, netns_replay_dir, &owned);
	if (!env)
		return -ENOMEM;
	int sk[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0) {
		strv_free_all(owned);
		return negative_errno();
	}
	const char *argv[] = { criu_path, "swrk", "3", NULL };
	const struct process_spec spec = {
		.argv = argv,
		.env = env,
		.stdin_fd = stdin_fd > 0 ? stdin_fd : 0,
		.keep_fd = sk[1],
		.keep_fd_as = 3,
		.same_process_group = true,
		.survive_parent = survive_daemon,
	};
	int r = process_spawn(&spec, ret_pid, NULL);
	strv_free_all(owned);
	close(sk[1]);
	if (r < 0) {
		close(sk[0]);
		return r;
	}
	*ret_fd = sk[0];
	return 0;
}

char *criu_log_errors(const char *log_path) {
	_cleanup_free_ char *buf = NULL;
	if (read_full_file(log_path, &buf, NULL) < 0)
		return NULL;
	/* Keep the last 8 lines that carry "Error" (CRIU's level-1 messages). */
	const char *lines[8];
	size_t n = 0, total = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strstr(line, "Error") && !strstr(line, "error"))
			continue;
		if (n == ELEMENTSOF(lines)) {
			memmove(lines, lines + 1, sizeof(lines) - sizeof(lines[0]));
			n--;
		}
		lines[n++] = line;
	}
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		total += strlen(lines[i]) + 1;
	char *out = malloc(total + 1), *e = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		/* Drop the "(00.012345) " timestamp prefix. */
		if (l[0] == '(' && strchr(l, ')'))
			l = strchr(l, ')') + 1;
		l += strspn(l, " ");
		e = stpcpy(e, l);
		*e++ = '\n';
	}
	e[-1] = '\0';
	return out;
}

static int error_from_log(int r, const char *what, const char *criu_path, int status, const char *work_dir,
                          const char *log_name, char **ret_error) {
	_cleanup_free_ char *log = path_join(work_dir, log_name);
	if (log && access(log, F_OK) < 0) {
		/* CRIU never got as far as its log: it did not start, or is not CRIU at all. */
		if (WIFEXITED(status))
			return error_setf(ret_error, r, "%s exited with status %d before answering (is it a working criu? "
			                  "try '%s check')", criu_path, WEXITSTATUS(status), criu_path);
		if (WIFSIGNALED(status))
			return error_setf(ret_error, r, "%s was killed by signal %d before answering", criu_path,
			                  WTERMSIG(status));
		return error_setf(ret_error, r, "criu %s failed before writing its log: %m", what);
	}
	_cleanup_free_ char *errors = log ? criu_log_errors(log) : NULL;
	if (errors)
		return error_setf(ret_error, r, "criu %s failed (log %s):\n%s", what, strna(log), errors);
	return error_setf(ret_error, r, "criu %s failed: %m (log %s)", what, strna(log));
}

/* Options both calls share. */
static int setup_opts(criu_opts **ret, const char *images_dir, const char *work_dir, const char *log_name,
                      int *ret_images_fd, int *ret_work_fd) {
	criu_opts *o = NULL; /* criu_local_init_opts() frees a non-NULL *o first */
	if (criu_local_init_opts(&o) < 0)
		return -ENOMEM;
	int images_fd = open(images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (images_fd < 0) {
		criu_local_free_opts(o);
		return negative_errno();
	}
	int work_fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0) {
		int r = negative_errno();
		close(images_fd);
		criu_local_free_opts(o);
		return r;
	}
	criu_local_set_images_dir_fd(o, images_fd);
	criu_local_set_work_dir_fd(o, work_fd);
	criu_local_set_log_file(o, log_name);
	criu_local_set_log_level(o, 4);
	criu_local_set_notify_cb(o, notify_cb);
	*ret = o;
	*ret_images_fd = images_fd;
	*ret_work_fd = work_fd;
	return 0;
}

const char *criu_net_lock_to_string(enum criu_net_lock l) {
	switch (l) {
	case CRIU_NET_LOCK_DEFAULT: return "default";
	case CRIU_NET_LOCK_SKIP: return "skip";
	case CRIU_NET_LOCK_NFTABLES: return "nftables";
	case CRIU_NET_LOCK_IPTABLES: return "iptables";
	}
	return "default";
}

int criu_net_lock_from_string(const char *s, enum criu_net_lock *ret) {
	static const enum criu_net_lock all[] = { CRIU_NET_LOCK_DEFAULT, CRIU_NET_LOCK_SKIP, CRIU_NET_LOCK_NFTABLES,
		                                  CRIU_NET_LOCK_IPTABLES };
	for (size_t i = 0; s && i < ELEMENTSOF(all); i++)
		if (streq(s, criu_net_lock_to_string(all[i]))) {
			*ret = all[i];
			return 0;
		}
	return -EINVAL;
}

/* The options of struct criu_ns_options. *ret_config_file: a CRIU configuration file written
 * into work_dir for what the RPC of this libcriu cannot say ("network-lock skip", which CRIU
 * >= 3.19 understands; Debian 12's libcriu 3.17 has no value for it), NULL if none is needed. */
static int apply_ns_options(criu_opts *o, const struct criu_ns_options *ns, bool dump, int inherit_netns_fd,
                            const char *work_dir, const char *log_name, char **ret_config_file) {
	*ret_config_file = NULL;
	if (!dump && ns->root && criu_local_set_root(o, ns->root) < 0)
		return -ENOMEM;
	if (ns->external_mounts)
		criu_local_set_auto_ext_mnt(o, true);
	if (!dump && ns->mntns_compat_mode)
		criu_local_set_mntns_compat_mode(o, true);
	if (dump && ns->external_sharing)
		criu_local_set_ext_sharing(o, true);
	if (dump && ns->external_masters)
		criu_local_set_ext_masters(o, true);
	/* What the RPC of our libcriu cannot carry goes into a config file of this call: network-lock
	 * skip (libcriu 3.17 refuses the value, and sends the request with an invalid method, which
	 * CRIU reads as iptables), and inherit-fd (libcriu 3.17's criu_local_add_inherit_fd() fails
	 * in swrk mode). */
	bool skip_lock = false;
	switch (ns->network_lock) {
	case CRIU_NET_LOCK_DEFAULT:
		break;
	case CRIU_NET_LOCK_NFTABLES:
		if (criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_NFTABLES) < 0)
			return -EINVAL;
		break;
	case CRIU_NET_LOCK_IPTABLES:
		if (criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_IPTABLES) < 0)
			return -EINVAL;
		break;
	case CRIU_NET_LOCK_SKIP:
		skip_lock = true;
		break;
	}
	if (!skip_lock && inherit_netns_fd < 0)
		return 0;
	_cleanup_free_ char *name = NULL, *text = NULL;
	if (asprintf(&name, "%s.criu.conf", log_name) < 0 ||
	    asprintf(&text, "# written by ckptd for this call\n%s%s", skip_lock ? "network-lock skip\n" : "",
	             inherit_netns_fd >= 0 ? "inherit-fd fd[0]:" NETNS_EXTERNAL_KEY "\n" : "") < 0)
		return -ENOMEM;
	_cleanup_free_ char *path = path_join(work_dir, name);
	if (!path)
		return -ENOMEM;
	int r = write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return r;
	*ret_config_file = TAKE_PTR(path);
	return 0;
}

int criu_run_dump(const struct criu_dump_options *d, const struct criu_hooks *hooks, char **ret_error) {
	_cleanup_(criu_opts_freep) criu_opts *o = NULL;
	_cleanup_close_ int images_fd = -EBADF, work_fd = -EBADF;
	int r = setup_opts(&o, d->images_dir, d->work_dir, "dump.log", &images_fd, &work_fd);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot prepare criu dump into %s: %s", d->images_dir, strerror(-r));
		return r;
	}
	criu_local_set_pid(o, d->root_pid);
	criu_local_set_leave_running(o, !d->stop);
	criu_local_set_tcp_established(o, d->tcp_established);
	criu_local_set_file_locks(o, d->file_locks);
	criu_local_set_shell_job(o, d->shell_job);
	if (d->freeze_cgroup && criu_local_set_freeze_cgroup(o, d->freeze_cgroup) < 0)
		return -ENOMEM;
	/* Inside the window CRIU walks every cgroup below the task's in every hierarchy it is in (on
	 * a hybrid host whole v1 hierarchies, from their roots: 8-18 ms measured) only to record what
	 * a restore with manage-cgroups soft re-creates. Ours restores with ignore unless the
	 * container has a cgroup namespace of its own; then the walk buys nothing and is skipped
	 * (the task's cgroup sets are still recorded). With soft, only the hierarchies where the
	 * container is below the root are walked. */
	const json_t *controllers = d->ns.cgroup_controllers;
	if (!d->ns.cgroups_soft || json_array_size(controllers) == 0)
		criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_IGNORE);
	else
		/* Soft: only the hierarchies where the container has cgroups of its own (discover.c). */
		for (size_t i = 0; i < json_array_size(controllers); i++)
			if (criu_local_add_cg_dump_controller(o, json_string_value(json_array_get(controllers, i))) < 0)
				return -ENOMEM;
	if (d->parent_images) {
		criu_local_set_track_mem(o, true);
		if (criu_local_set_parent_images(o, d->parent_images) < 0)
			return -ENOMEM;
		/* After a pre-dump CRIU logs about seven debug lines per run of dirty pages, each one
		 * write() inside the window: 22 000 lines for 5 % of 256 MiB written at random (23 us
		 * per write in the qemu guest); without them the window was 0.16-0.55 of a plain
		 * dump's instead of 0.44-1.27 (README, "Pre-dump"). Info level keeps the errors and
		 * the outline; the pair's timings.criu_phases, read from debug lines, are absent. */
		criu_local_set_log_level(o, 3);
	}
	if (d->external_netns_inode) {
		char ext[64];
		(void) snprintf(ext, sizeof(ext), "net[%lu]:%s", d->external_netns_inode, NETNS_EXTERNAL_KEY);
		if (criu_local_add_external(o, ext) < 0)
			return -ENOMEM;
	}
	_cleanup_free_ char *config_file = NULL;
	r = apply_ns_options(o, &d->ns, true, -1, d->work_dir, "dump", &config_file);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot set the namespace options of criu dump: %s", strerror(-r));
		return r;
	}

	pid_t pid;
	int fd;
	r = spawn_swrk(d->criu_path, config_file, d->netns_replay_dir, 0, true, &pid, &fd);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot start %s: %s", d->criu_path, strerror(-r));
		return r;
	}
	if (hooks && hooks->spawned)
		(void) hooks->spawned(pid, fd, hooks->userdata);
	criu_local_set_service_fd(o, fd); /* libcriu closes it when the call is done */

	current_hooks = hooks;
	current_pre_dump_seen = false;
	int k = criu_local_dump(o);
	current_hooks = NULL;
	if (k >= 0 && current_pre_dump_seen && hooks && hooks->dumped)
		hooks->dumped(hooks->userdata); /* before the reap: criu's exit takes ms we need not freeze */
	int status = process_reap(pid);

	if (k < 0) {
		r = k == -EBADE ? -EIO : k;
		if (WIFSIGNALED(status) && ret_error) {
			(void) error_setf(ret_error, 0, "criu dump was killed by signal %d", WTERMSIG(status));
			return -EINTR;
		}
		return error_from_log(r, "dump", d->criu_path, status, d->work_dir, "dump.log", ret_error);
	}
	if (!current_pre_dump_seen) {
		(void) error_setf(ret_error, 0, "criu %s sent no pre-dump notification: the frozen window was not ours",
		                d->criu_path);
		return -EPROTO;
	}
	return 0;
}

int criu_run_pre_dump(const struct criu_pre_dump_options *p, const struct criu_hooks *hooks, char **ret_error) {
	_cleanup_(criu_opts_freep) criu_opts *o = NULL;
	_cleanup_close_ int images_fd = -EBADF, work_fd = -EBADF;
	int r = setup_opts(&o, p->images_dir, p->work_dir, p->log_name, &images_fd, &work_fd);
	if (r < 0)
		return error_setf(ret_error, r, "cannot prepare criu pre-dump into %s: %s", p->images_dir, strerror(-r));
	criu_local_set_pid(o, p->root_pid);
	criu_local_set_track_mem(o, true);
	criu_local_set_shell_job(o, p->shell_job);
	if (p->timeout_sec > 0)
		criu_local_set_timeout(o, p->timeout_sec);
	if ((p->freeze_cgroup && criu_local_set_freeze_cgroup(o, p->freeze_cgroup) < 0) ||
	    (p->parent_images && criu_local_set_parent_images(o, p->parent_images) < 0))
		return error_setf(ret_error, -ENOMEM, "out of memory");
	_cleanup_free_ char *config_file = NULL;
	r = apply_ns_options(o, &p->ns, true, -1, p->work_dir, p->log_name, &config_file);
	if (r < 0)
		return error_setf(ret_error, r, "cannot set the namespace options of criu pre-dump: %s", strerror(-r));

	pid_t pid;
	int fd;
	/* Like a dump's CRIU, it outlives a killed ckptd: killed while its parasite runs in a task it
	 * could leave that task crashing. */
	r = spawn_swrk(p->criu_path, config_file, NULL, 0, true, &pid, &fd);
	if (r < 0)
		return error_setf(ret_error, r, "cannot start %s: %s", p->criu_path, strerror(-r));
	if (hooks && hooks->spawned)
		(void) hooks->spawned(pid, fd, hooks->userdata);
	criu_local_set_service_fd(o, fd);
	int k = criu_local_pre_dump(o);
	int status = process_reap(pid);
	if (k < 0) {
		if (WIFSIGNALED(status))
			return error_setf(ret_error, -EINTR, "criu pre-dump was killed by signal %d", WTERMSIG(status));
		return error_from_log(k == -EBADE ? -EIO : k, "pre-dump", p->criu_path, status, p->work_dir, p->log_name,
		                      ret_error);
	}
	return 0;
}

static pthread_mutex_t dirty_tracking_lock = PTHREAD_MUTEX_INITIALIZER;
static char *dirty_tracking_criu; /* the binary the cached answer is about */
static bool dirty_tracking_answer;

static bool dirty_tracking_query(const char *criu_path) {
	_cleanup_(criu_opts_freep) criu_opts *o = NULL;
	if (criu_local_init_opts(&o) < 0)
		return false;
	pid_t pid;
	int fd;
	if (spawn_swrk(criu_path, NULL, NULL, 0, false, &pid, &fd) < 0)
		return false;
	criu_local_set_service_fd(o, fd);
	struct criu_feature_check features = { .mem_track = true };
	int k = criu_local_feature_check(o, &features, sizeof(features));
	(void) process_reap(pid);
	return k >= 0 && features.mem_track;
}

bool criu_dirty_tracking_available(const char *criu_path) {
	pthread_mutex_lock(&dirty_tracking_lock);
	if (!dirty_tracking_criu || !streq(dirty_tracking_criu, criu_path)) {
		free(dirty_tracking_criu);
		dirty_tracking_criu = strdup(criu_path);
		dirty_tracking_answer = dirty_tracking_query(criu_path);
	}
	bool b = dirty_tracking_answer;
	pthread_mutex_unlock(&dirty_tracking_lock);
	return b;
}

int criu_run_restore(const struct criu_restore_options *ro, const struct criu_hooks *hooks, pid_t *ret_pid,
                     char **ret_error) {
	_cleanup_(criu_opts_freep) criu_opts *o = NULL;
	_cleanup_close_ int images_fd = -EBADF, work_fd = -EBADF;
	int r = setup_opts(&o, ro->images_dir, ro->work_dir, ro->log_name, &images_fd, &work_fd);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot prepare criu restore from %s: %s", ro->images_dir, strerror(-r));
		return r;
	}
	criu_local_set_tcp_established(o, ro->tcp_established);
	criu_local_set_file_locks(o, ro->file_locks);
	criu_local_set_shell_job(o, ro->shell_job);
	/* The caller puts criu into the container's cgroup (hooks->spawned) and the restored tasks
	 * inherit it. CRIU's own cgroup handling would recreate every cgroup recorded in the image,
	 * all over the host's hierarchies, and bring v1 freezer tasks back frozen; only a container
	 * with a cgroup namespace of its own needs it (soft: existing cgroups are used as they are). */
	criu_local_set_manage_cgroups(o, true);
	criu_local_set_manage_cgroups_mode(o, ro->ns.cgroups_soft ? CRIU_CG_MODE_SOFT : CRIU_CG_MODE_IGNORE);
	/* veth[IN]:OUT[@BRIDGE]: without it CRIU puts both ends into the container. */
	for (size_t i = 0; i < ro->n_veths; i++)
		if (criu_local_add_veth_pair(o, ro->veths[i].in, ro->veths[i].out) < 0) {
			(void) error_setf(ret_error, 0, "cannot pass the veth pair %s:%s to criu: out of memory", ro->veths[i].in,
			                ro->veths[i].out);
			return -ENOMEM;
		}
	_cleanup_free_ char *old_log = path_join(ro->work_dir, ro->log_name);
	if (old_log)
		(void) unlink(old_log); /* errors must come from this run's log */
	_cleanup_free_ char *config_file = NULL;
	r = apply_ns_options(o, &ro->ns, false, ro->external_netns_fd > 0 ? ro->external_netns_fd : -1, ro->work_dir,
	                     "restore", &config_file);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot set the namespace options of criu restore: %s", strerror(-r));
		return r;
	}

	pid_t pid;
	int fd;
	r = spawn_swrk(ro->criu_path, config_file, NULL, ro->external_netns_fd, false, &pid, &fd);
	if (r < 0) {
		(void) error_setf(ret_error, 0, "cannot start %s: %s", ro->criu_path, strerror(-r));
		return r;
	}
	if (hooks && hooks->spawned) {
		r = hooks->spawned(pid, fd, hooks->userdata);
		if (r < 0) {
			close(fd);
			(void) kill(pid, SIGKILL);
			(void) process_reap(pid);
			(void) error_setf(ret_error, 0, "cannot prepare criu (pid %d) for the restore: %s", (int) pid,
			                strerror(-r));
			return r;
		}
	}
	criu_local_set_service_fd(o, fd);
	current_hooks = hooks;
	int k = criu_local_restore(o);
	current_hooks = NULL;
	int status = process_reap(pid);
	if (k < 0)
		return error_from_log(k == -EBADE ? -EIO : k, "restore", ro->criu_path, status, ro->work_dir, ro->log_name,
		                      ret_error);
	*ret_pid = (pid_t) k;
	return 0;
}

int criu_query_version(const char *criu_path, int *ret_version) {
	_cleanup_(criu_opts_freep) criu_opts *o = NULL;
	if (criu_local_init_opts(&o) < 0)
		return -ENOMEM;
	pid_t pid;
	int fd;
	int r = spawn_swrk(criu_path, NULL, NULL, 0, false, &pid, &fd);
	if (r < 0)
		return r;
	criu_local_set_service_fd(o, fd);
	int v = criu_local_get_version(o);
	(void) process_reap(pid);
	if (v <= 0)
		return -EIO;
	*ret_version = v;
	return 0;
}

int criu_find_binary(const char *configured, char **ret) {
	if (configured) {
		if (access(configured, X_OK) < 0)
			return negative_errno();
		*ret = strdup(configured);
		return *ret ? 0 : -ENOMEM;
	}
	return find_executable("criu", ret);
}
