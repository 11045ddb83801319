/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore part of rollback and restore --processes-only: the files the image needs, the
 * network it needs, CRIU restore into the cgroup with the veth pairs wired around it, and the
 * check that the restored tree runs. See restore.h. */
#include <inttypes.h>
#include <signal.h>

#include "cgroup.h"
#include "criu.h"
#include "discover.h"
#include "error.h"
#include "fileio.h"
#include "image-files.h"
#include "job.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "netns-external.h"
#include "nspawn.h"
#include "proc-holders.h"
#include "pair.h"
#include "restore.h"
#include "time-util.h"
#include "veth.h"

/* The restored tree must be running, and the cgroup not frozen (on v1 a restored task may come
 * back frozen when the freezer state was restored with it). */
static int check_running(const char *cgroup, enum cgroup_kind kind, pid_t pid, char **ret_error) {
	if (cgroup_is_frozen(cgroup, kind) > 0) {
		int r = cgroup_thaw(cgroup, kind);
		if (r < 0)
			return error_setf(ret_error, r, "restored tasks are frozen and cgroup %s cannot be thawed: %m", cgroup);
	}
	/* CRIU has exited; give a task that dies with it (a restored parent-death signal) or right
	 * after start the moment to show it. */
	usleep(100 * 1000);
	char state;
	int r = proc_stat(pid, &state, NULL);
	if (r < 0 && r != -EIO) /* -EIO: there, but its stat unreadable */
		return error_setf(ret_error, -ESRCH, "the restored root task %d is gone", (int) pid);
	if (r < 0 || state == 'Z' || state == 'X')
		return error_setf(ret_error, -ESRCH, "the restored root task %d exited right away", (int) pid);
	return 0;
}

int restore_check_running(struct job *j, const char *cgroup, enum cgroup_kind kind, pid_t pid, char **ret_error) {
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, j->pair), *error = NULL;
	int r = check_running(cgroup, kind, pid, &error);
	if (r < 0)
		return error_setf(ret_error, r, "%s (restore log: %s/restore.log)", error ? error : strerror(-r), strna(dir));
	return 0;
}

struct restore_target {
	struct job *job;
	const char *cgroup;
	struct veth_plan *veths;
	const char *log;
	json_t *boot_id;  /* the discovery's "boot_id": {"path", "content"}, or NULL */
	bool boot_id_done;
	json_t *warnings;
	char *error; /* why the post-restore hook stopped the restore */
};

/* CRIU runs in the container's cgroup, so the tasks it forks are born there. */
static int on_restore_spawned(pid_t pid, _unused_ int service_fd, void *userdata) {
	struct restore_target *t = userdata;
	job_set_criu(t->job, pid, -EBADF);
	return cgroup_attach(t->cgroup, pid);
}

/* CRIU re-creates the deleted file nspawn binds over the boot id empty: its content back, before
 * the tasks run (or right after, without a post-restore notification). What fails is said in
 * the warnings, not undone: the machine runs, with an empty boot id. */
static void restore_boot_id(struct restore_target *t, pid_t root) {
	const char *path = json_string_value(json_object_get(t->boot_id, "path"));
	const char *content = json_string_value(json_object_get(t->boot_id, "content"));
	if (!path || !content || t->boot_id_done)
		return;
	t->boot_id_done = true;
	_cleanup_free_ char *error = NULL, *found = NULL;
	int r = root > 0 ? 0 : cgroup_find_root(t->cgroup, &root, &error);
	if (r >= 0)
		r = nspawn_restore_bound_file(root, path, content, &found, &error);
	if (r > 0)
		job_progress(t->job, "restore", "wrote the boot id back into %s", path);
	else if (r == 0 && found && !streq(found, content))
		json_array_append_printf(t->warnings, "%s had content after the restore (left as it is): %s", path, found);
	else if (r < 0)
		json_array_append_printf(t->warnings, "the restored %s is empty: %s", path, strna(error));
}

/* CRIU's post-restore point (tasks restored, network still locked): a veth CRIU did not know
 * where to put (both ends land in the container, cut off, and criu exits 0) fails the restore;
 * the host ends get their configuration back before traffic flows. */
static int on_restore_post(void *userdata) {
	struct restore_target *t = userdata;
	if (veth_log_has_unknown_peer(t->log)) {
		t->error = strdup("criu did not know where to put a veth's peer (\"Unknown peer net namespace\" in its "
		                  "log): the container would have been cut off");
		return -1;
	}
	if (veth_configure_host_ends(t->veths, &t->error) < 0)
		return -1;
	if (t->veths->n > 0)
		job_progress(t->job, "restore", "host ends of %zu veth pair(s) ready before the network unlock",
		             t->veths->n);
	restore_boot_id(t, 0);
	return 0;
}

/* A pair made with NetworkConfig=external in effect (discovery.network.config.mode): CRIU did not
 * record the network namespace, ckptd kept its configuration in the images. A new namespace
 * with it, checked against the fingerprint of the container's at the checkpoint: *ret_fd, or
 * -EBADF when the pair's namespace is CRIU's to restore. */
static int restore_external_netns(struct job *j, const struct pair *pair, const char *images, bool trial,
                                  int *ret_fd, char **ret_error) {
	*ret_fd = -EBADF;
	json_t *cfg = json_object_get(json_object_get(pair->discovery, "network"), "config");
	if (!streq_ptr(json_string_value(json_object_get(cfg, "mode")), "external"))
		return 0;
	uint64_t t = now_usec(CLOCK_MONOTONIC);
	_cleanup_free_ char *file = path_join(images, NETNS_EXTERNAL_FILE), *why = NULL, *fp = NULL, *diff = NULL;
	_cleanup_(netns_saved_done) struct netns_saved saved = {};
	_cleanup_close_ int fd = -EBADF;
	if (!file)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	int r = netns_saved_read_file(file, &saved, &why);
	if (r >= 0 && !netns_saved_fingerprint(&saved))
		r = error_setf(&why, -EBADMSG, "%s has no fingerprint", file);
	if (r >= 0)
		r = netns_external_new(&fd, &why);
	if (r >= 0)
		r = netns_external_replay(fd, &saved, &why);
	if (r >= 0)
		r = netns_fingerprint(fd, &fp, &why);
	if (r >= 0 && (diff = netns_fingerprint_difference(netns_saved_fingerprint(&saved), fp, "the checkpoint",
	                                                   "the rebuilt namespace")))
		r = error_setf(&why, -ESTALE, "the rebuilt namespace is not the checkpoint's: %s", diff);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "cannot rebuild the network namespace of pair %s/%" PRIu64,
		                     j->container, pair->id);
	job_progress(j, trial ? "check-network" : "restore", "network namespace %s from the pair in %.1f ms",
	             trial ? "rebuilt on trial (then dropped)" : "rebuilt", (double) (now_usec(CLOCK_MONOTONIC) - t) / USEC_PER_MSEC);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Before anything is stopped: the bridges of the container's veths exist, and no other kind of
 * interface has the name of a host end; a pair whose network namespace was external can be
 * rebuilt here (once, into a namespace that is dropped again: a host whose tools now refuse the
 * saved configuration fails the rollback before the container is stopped). */
int restore_check_network(struct job *j, const struct pair *pair, char **ret_error) {
	_cleanup_(veth_plan_done) struct veth_plan p = {};
	_cleanup_free_ char *error = NULL;
	int r = veth_plan_load(pair->discovery, &p);
	if (r >= 0)
		r = veth_check(&p, &error);
	if (r < 0)
		return error_pass(ret_error, r, &error);
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, pair->id);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	if (!images)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	_cleanup_close_ int fd = -EBADF;
	return restore_external_netns(j, pair, images, true, &fd, ret_error);
}


int restore_processes(struct job *j, const struct pair *pair, const char *cgroup, enum cgroup_kind kind,
                      json_t *warnings, pid_t *ret_pid, char **ret_error) {
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, j->pair);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	_cleanup_free_ char *log = dir ? path_join(dir, "restore.log") : NULL;
	_cleanup_free_ char *error = NULL;
	if (!images || !log)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	struct criu_restore_options o = {
		.criu_path = j->criu_path,
		.images_dir = images,
		.work_dir = dir,
		.log_name = "restore.log",
		.shell_job = pair->shell_job,
		.tcp_established = pair->tcp_established,
		.file_locks = pair->file_locks,
	};
	/* The view the dump had: root directory, mounts from the host, network lock. */
	_cleanup_(discovery_freep) struct discovery *discovery = NULL;
	int r = discovery_from_json(pair->discovery, &discovery, &error);
	if (r >= 0) {
		discovery_criu_options(discovery, &o.ns);
		r = discovery_prepare_restore(discovery, warnings, &error);
	}
	if (r < 0)
		return error_pass(ret_error, r, &error);
	/* veth pairs: the old host ends gone, CRIU told where the new ones go. */
	_cleanup_(veth_plan_done) struct veth_plan veths = {};
	r = veth_plan_load(pair->discovery, &veths);
	if (r < 0)
		return error_setf(ret_error, r, "the veth pairs recorded in the pair are unusable: %m");
	if ((r = veth_check(&veths, &error)) < 0 || (r = veth_clear_host_ends(&veths, warnings, &error)) < 0)
		return error_pass(ret_error, r, &error);
	o.veths = veths.criu;
	o.n_veths = veths.n;
	_cleanup_close_ int netns_fd = -EBADF;
	if ((r = restore_external_netns(j, pair, images, false, &netns_fd, ret_error)) < 0)
		return r;
	o.external_netns_fd = netns_fd >= 0 ? netns_fd : 0;
	struct restore_target target = { .job = j, .cgroup = cgroup, .veths = &veths, .log = log,
		                         .boot_id = json_object_get(pair->discovery, "boot_id"), .warnings = warnings };
	struct criu_hooks hooks = { .spawned = on_restore_spawned, .post_restore = on_restore_post, .userdata = &target };
	pid_t pid;
	r = criu_run_restore(&o, &hooks, &pid, &error);
	job_set_criu(j, 0, -EBADF);
	if (r < 0 && target.error) {
		(void) error_setf(ret_error, r, "%s (restore log: %s)", target.error, log);
		free(target.error);
		return r;
	}
	bool unknown_peer = veth_log_has_unknown_peer(log);
	if (r < 0 && unknown_peer)
		return error_setf(ret_error, r, "criu did not know where to put a veth's peer (\"Unknown peer net "
		                  "namespace\"): %s", error ? error : strerror(-r));
	if (r < 0)
		return error_pass(ret_error, r, &error);
	if (unknown_peer) { /* and no post-restore notification stopped it */
		(void) cgroup_kill_all(cgroup, kind, 10 * USEC_PER_SEC, NULL);
		return error_setf(ret_error, -ENXIO, "criu did not know where to put a veth's peer (\"Unknown peer net "
		                  "namespace\" in %s): the restored tasks were stopped", log);
	}
	/* No post-restore notification came: the tasks run already, so what fails here is said,
	 * not undone. */
	if (!veths.configured && veth_configure_host_ends(&veths, &error) < 0) {
		log_warning("%s: %s", j->container, strna(error));
		json_array_append_new(warnings, json_string(strna(error)));
	}
	restore_boot_id(&target, pid);
	*ret_pid = pid;
	return 0;
}

/* Every regular file the image needs, with the size it had: a clear list instead of CRIU's
 * first obscure error. */
int restore_check_files(struct job *j, const struct pair *pair, char **ret_error) {
	job_progress(j, "check-files", "checking the files the image needs");
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, j->pair);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	if (!images)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	json_t *problems = json_array();
	_cleanup_free_ char *error = NULL;
	_cleanup_(discovery_freep) struct discovery *discovery = NULL;
	int r = discovery_from_json(pair->discovery, &discovery, &error);
	if (r < 0) {
		json_decref(problems);
		return error_pass(ret_error, r, &error);
	}
	const char *root = discovery_root(discovery);
	r = problems ? image_files_check(images, root ? root : "/", problems, &error) : -ENOMEM;
	if (r < 0) {
		json_decref(problems);
		return error_prefixf(ret_error, r, &error, "cannot read the file records of %s", images);
	}
	if (json_array_size(problems) > 0) {
		job_set_state(j, "nothing changed; no process was started");
		job_set_details(j, problems);
		return error_setf(ret_error, -ESTALE, "the filesystem differs from pair %s/%" PRIu64 " in %zu file(s): %s",
		                  j->container, j->pair, json_array_size(problems),
		                  json_string_value(json_array_get(problems, 0)));
	}
	json_decref(problems);
	return 0;
}
