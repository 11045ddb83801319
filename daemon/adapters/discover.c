/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery of a container before freezing: the process tree, its namespaces, its /proc, tasks
 * outside its cgroup, and the entry points that run every step (the mounts are
 * discover-mounts.c's, the open files discover-files.c's, the network discover-net.c's). See
 * discover.h. */
#include <stdarg.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "discover-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "proc-holders.h"
#include "veth.h"

/* ---- small helpers ---------------------------------------------------------------------- */

/* ---- the process tree ------------------------------------------------------------------- */

static void tree_done(struct tree *t) {
	free(t->pids);
}

static bool tree_has(const struct tree *t, pid_t pid) {
	for (size_t i = 0; i < t->n; i++)
		if (t->pids[i] == pid)
			return true;
	return false;
}

static int tree_add(struct tree *t, pid_t pid) {
	if (tree_has(t, pid))
		return 0;
	pid_t *a = realloc(t->pids, (t->n + 1) * sizeof(pid_t));
	if (!a)
		return -ENOMEM;
	t->pids = a;
	t->pids[t->n++] = pid;
	return 0;
}

/* The root and its descendants (every thread's children), breadth first: what CRIU dumps. */
static int tree_collect(pid_t root, struct tree *t) {
	int r = tree_add(t, root);
	for (size_t i = 0; r >= 0 && i < t->n; i++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%d/task", (int) t->pids[i]);
		_cleanup_closedir_ DIR *d = opendir(dir);
		for (struct dirent *de; d && (de = readdir(d));) {
			if (de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *f = path_join(dir, de->d_name, "children"), *buf = NULL;
			if (!f)
				return -ENOMEM;
			if (read_full_file(f, &buf, NULL) < 0)
				continue;
			for (char *p = buf, *e; *p; p = e) {
				long v = strtol(p, &e, 10);
				if (e == p)
					break;
				if (v > 0 && (r = tree_add(t, (pid_t) v)) < 0)
					return r;
			}
		}
	}
	return r;
}

/* ---- namespaces ------------------------------------------------------------------------- */

static const char *const ns_names[] = { "mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time" };

static bool ns_is_own(pid_t pid, const char *name) {
	char a[64], b[64], la[64] = "", lb[64] = "";
	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int) pid, name);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", name);
	ssize_t na = readlink(a, la, sizeof(la) - 1), nb = readlink(b, lb, sizeof(lb) - 1);
	if (na <= 0 || nb <= 0)
		return false; /* the kernel lacks it: shared by definition */
	la[na] = lb[nb] = '\0';
	return !streq(la, lb);
}

static json_t *string_array(const char *const *names, size_t n) {
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static void discover_state_done(struct discover_state *x) {
	free(x->comm);
	tree_done(&x->tree);
	json_decref(x->d);
	json_decref(x->problems);
	json_decref(x->warnings);
	json_decref(x->cgroup_controllers);
	mounts_done(&x->host);
	mounts_done(&x->ct);
	free(x->scan.sockets.h);
}

static void discover_namespaces(struct discover_state *x) {
	const char *own[ELEMENTSOF(ns_names)], *shared[ELEMENTSOF(ns_names)];
	size_t n_own = 0, n_shared = 0;
	for (size_t i = 0; i < ELEMENTSOF(ns_names); i++) {
		bool o = ns_is_own(x->root, ns_names[i]);
		if (o)
			own[n_own++] = ns_names[i];
		else
			shared[n_shared++] = ns_names[i];
		x->own_mnt = x->own_mnt || (o && streq(ns_names[i], "mnt"));
		x->own_net = x->own_net || (o && streq(ns_names[i], "net"));
		x->own_cgroupns = x->own_cgroupns || (o && streq(ns_names[i], "cgroup"));
		if (o && streq(ns_names[i], "user"))
			json_array_append_printf(x->problems, "pid %d (%s) runs in a user namespace of its own: ckptd does not checkpoint "
			                        "user namespaces", (int) x->root, x->comm);
	}
	json_object_set_new(x->d, "namespaces", json_pack("{s:o,s:o}", "own", string_array(own, n_own), "shared",
	                                                  string_array(shared, n_shared)));
}

/* Where CRIU's parasite finds a procfs for the root task. With a PID namespace of its own, the
 * parasite needs a procfs of that namespace: when the "/proc" the task sees is another
 * namespace's (or absent), it makes a directory "proc.crtools" in the task's *working directory*
 * and mounts a private procfs there (criu/pie/parasite.c, get_proc_fd). Two such dumps of tasks
 * with the same working directory collide on that name (EEXIST), a leftover of a killed CRIU
 * blocks every later dump there, and a deleted working directory makes the dump impossible. */
static void discover_procfs(struct discover_state *x) {
	if (!ns_is_own(x->root, "pid"))
		return;
	char own[64], seen[64], la[64] = "", lb[64] = "";
	snprintf(own, sizeof(own), "/proc/%d/ns/pid", (int) x->root);
	snprintf(seen, sizeof(seen), "/proc/%d/root/proc/1/ns/pid", (int) x->root);
	ssize_t na = readlink(own, la, sizeof(la) - 1), nb = readlink(seen, lb, sizeof(lb) - 1);
	if (na > 0 && nb > 0) {
		la[na] = lb[nb] = '\0';
		if (streq(la, lb))
			return; /* the fast path: its /proc belongs to its PID namespace */
	}
	x->private_procfs = true;

	char cwd_link[64];
	snprintf(cwd_link, sizeof(cwd_link), "/proc/%d/cwd", (int) x->root);
	char cwd[PATH_MAX];
	ssize_t n = readlink(cwd_link, cwd, sizeof(cwd) - 1);
	if (n <= 0)
		return;
	cwd[n] = '\0';
	const char *deleted = " (deleted)";
	if ((size_t) n > strlen(deleted) && streq(cwd + n - strlen(deleted), deleted)) {
		json_array_append_printf(x->problems, "pid %d (%s) runs in a working directory that was deleted (%s), and its /proc is "
		                        "not its PID namespace's: CRIU would mount a private /proc there and cannot",
		           (int) x->root, x->comm, cwd);
		return;
	}
	_cleanup_free_ char *leftover = path_join(cwd_link, "proc.crtools");
	struct stat st;
	if (leftover && lstat(leftover, &st) >= 0)
		json_array_append_printf(x->problems, "%s/proc.crtools exists (the working directory of pid %d (%s)): a leftover of an "
		                        "interrupted CRIU dump, which blocks CRIU's private /proc mount there; remove it "
		                        "(rmdir) after checking that nothing is mounted on it", cwd, (int) x->root, x->comm);
}

/* A task that has exited but is not reaped yet: it has left its cgroup, and CRIU dumps it as a
 * zombie, so it is no stray. */
static bool pid_is_zombie_or_gone(pid_t pid) {
	char state;
	return proc_stat(pid, &state, NULL) < 0 || state == 'Z' || state == 'X';
}

/* Tasks of the tree outside the cgroup would not be frozen with it. */
static void discover_strays(struct discover_state *x) {
	_cleanup_free_ pid_t *cg_pids = NULL;
	size_t n_cg = 0;
	if (cgroup_list_pids(x->cfg->cgroup, &cg_pids, &n_cg) < 0)
		return;
	for (size_t i = 0; i < x->tree.n; i++) {
		bool in = false;
		for (size_t j = 0; j < n_cg && !in; j++)
			in = cg_pids[j] == x->tree.pids[i];
		if (!in && !pid_is_zombie_or_gone(x->tree.pids[i])) {
			_cleanup_free_ char *c = proc_comm(x->tree.pids[i]);
			json_array_append_printf(x->problems, "pid %d (%s) belongs to the process tree but not to cgroup %s: it would not "
			                        "be frozen with the others", (int) x->tree.pids[i], c, x->cfg->cgroup);
		}
	}
}

/* With a cgroup namespace of its own the container is restored with manage-cgroups soft, and
 * CRIU records at dump every cgroup below the tasks' ones, in every hierarchy they are in: for a
 * hierarchy whose root they are in (the v1 controllers on a hybrid host), all of the host's
 * cgroups, which also costs the frozen window, and a restore then fails as soon as any one of
 * them was removed meanwhile ("bad cgroup path"). Only the hierarchies where some task is below
 * the root carry anything of the container's: CRIU is told to record those alone. */
static int discover_cgroup_controllers(struct discover_state *x) {
	if (!x->own_cgroupns)
		return 0;
	_cleanup_(json_decrefp) json_t *names = json_array();
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < x->tree.n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) x->tree.pids[i]);
		_cleanup_free_ char *text = NULL;
		if (read_full_file(path, &text, NULL) < 0)
			continue; /* gone: it has no cgroup to restore */
		for (char *line = text, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			char *controllers = strchr(line, ':'), *where = controllers ? strchr(controllers + 1, ':') : NULL;
			if (!where)
				continue;
			*where++ = '\0';
			controllers++;
			if (streq(where, "/"))
				continue;
			bool known = false;
			size_t k;
			json_t *v;
			json_array_foreach(names, k, v)
				known = known || streq(json_string_value(v), controllers);
			if (!known && json_array_append_new(names, json_string(controllers)) < 0)
				return -ENOMEM;
		}
	}
	x->cgroup_controllers = TAKE_PTR(names);
	return 0;
}

/* The CRIU options follow from what was found; the report keeps the rest. */
static int discovery_make(struct discover_state *x, struct discovery **ret) {
	_cleanup_(discovery_freep) struct discovery *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->has_criu = true;
	d->criu = (struct discovery_criu) {
		.external_mounts = x->own_mnt,
		.external_sharing = x->propagates,
		.external_masters = x->propagates,
		.network_lock = discover_network_lock(x),
		.tcp_established = x->cfg->tcp_established,
		.mntns_compat_mode = x->mntns_compat_mode,
		.cgroups_soft = x->own_cgroupns,
		.cgroup_controllers = TAKE_PTR(x->cgroup_controllers),
		.private_procfs = x->private_procfs,
		.external_veths = veth_criu_externals(json_object_get(json_object_get(x->d, "network"), "veths")),
	};
	if (x->restore_root && !(d->criu.root = strdup(x->restore_root)))
		return -ENOMEM;
	d->report = TAKE_PTR(x->d);
	d->problems = TAKE_PTR(x->problems);
	d->warnings = TAKE_PTR(x->warnings);
	*ret = TAKE_PTR(d);
	return 0;
}

int discover(const struct container_config *cfg, pid_t root, struct discovery **ret, char **ret_error) {
	_cleanup_(discover_state_done) struct discover_state x = { .cfg = cfg, .root = root };
	int r = tree_collect(root, &x.tree);
	if (r < 0)
		return error_setf(ret_error, r, "cannot list the process tree of pid %d: %m", (int) root);
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int) root);
	if (access(p, F_OK) < 0)
		return error_setf(ret_error, negative_errno(), "the root task %d is gone", (int) root);
	x.d = json_object();
	x.problems = json_array();
	x.warnings = json_array();
	x.comm = proc_comm(root);
	if (!x.d || !x.problems || !x.warnings || !x.comm)
		return -ENOMEM;
	json_object_set_new(x.d, "root_pid", json_integer(root));
	json_object_set_new(x.d, "comm", json_string(x.comm));
	json_object_set_new(x.d, "tasks", json_integer((json_int_t) x.tree.n));

	discover_namespaces(&x);
	discover_strays(&x);
	discover_procfs(&x);
	if ((r = discover_mounts(&x, ret_error)) < 0 || (r = discover_files(&x, ret_error)) < 0)
		return r;
	discover_network(&x);
	if ((r = discover_cgroup_controllers(&x)) < 0)
		return r;
	return discovery_make(&x, ret);
}

int discover_container(const struct container_config *cfg, pid_t root, json_t **ret, char **ret_error) {
	_cleanup_(discovery_freep) struct discovery *d = NULL;
	int r = discover(cfg, root, &d, ret_error);
	if (r < 0)
		return r;
	return discovery_to_json(d, ret);
}

