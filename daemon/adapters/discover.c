/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery of a container's namespaces, root file system, mounts, network and open files from
 * /proc (mountinfo.c) and netlink inside its network namespace (netns-info.c), before freezing.
 * See discover.h. */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "cgroup.h"
#include "discover.h"
#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "mountinfo.h"
#include "netns-info.h"
#include "proc-holders.h"
#include "veth.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static _printf_(2, 3) void add_string(json_t *array, const char *fmt, ...) {
	_cleanup_free_ char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r >= 0)
		json_array_append_new(array, json_string(s));
}

/* ---- the process tree ------------------------------------------------------------------- */

struct tree {
	pid_t *pids;
	size_t n;
};

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

/* Propagation of a container mount that CRIU has to bind from the host (the root, or a mount
 * from the host): *shared / *slave when it is in a peer group of the host / a slave of one
 * (those groups are appended to groups), *propagates when it is shared or a slave at all: CRIU
 * binds such mounts from the host only with --enable-external-sharing/-masters, even when the
 * peer group is the container's own. */
static void propagation_vs_host(const struct mount *m, const struct mounts *host, json_t *groups, bool *shared,
                                bool *slave, bool *propagates) {
	for (const char *p = m->optional; p && *p;) {
		unsigned long g;
		if (sscanf(p, "shared:%lu", &g) == 1) {
			*propagates = true;
			if (mounts_has_peer_group(host, g)) {
				*shared = true;
				json_array_append_new(groups, json_integer((json_int_t) g));
			}
		} else if (sscanf(p, "master:%lu", &g) == 1) {
			*propagates = true;
			if (mounts_has_peer_group(host, g)) {
				*slave = true;
				json_array_append_new(groups, json_integer((json_int_t) g));
			}
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
}

/* ---- open files ---------------------------------------------------------------------------- */

/* Socket inodes held by the tree, with who holds them (for messages). */
struct holder {
	unsigned long ino;
	pid_t pid;
	int fd;
	char proto[32];
};

struct holders {
	struct holder *h;
	size_t n;
};

static const struct holder *holders_find(const struct holders *hs, unsigned long ino) {
	for (size_t i = 0; i < hs->n; i++)
		if (hs->h[i].ino == ino)
			return &hs->h[i];
	return NULL;
}

static int holders_add(struct holders *hs, unsigned long ino, pid_t pid, int fd, const char *proto) {
	if (holders_find(hs, ino))
		return 0;
	struct holder *a = realloc(hs->h, (hs->n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	hs->h = a;
	struct holder *h = &hs->h[hs->n++];
	*h = (struct holder) { .ino = ino, .pid = pid, .fd = fd };
	snprintf(h->proto, sizeof(h->proto), "%s", proto);
	return 0;
}

/* Socket families CRIU checkpoints (the kernel's names, from the system.sockprotoname xattr). */
static bool socket_supported(const char *proto) {
	static const char *const ok[] = { "TCP", "TCPv6", "UDP", "UDPv6", "UDP-Lite", "UDPLITE", "UDPLITEv6",
		                          "NETLINK", "PACKET" };
	if (strncmp(proto, "UNIX", 4) == 0) /* "UNIX", "UNIX-STREAM" */
		return true;
	for (size_t i = 0; i < ELEMENTSOF(ok); i++)
		if (streq(proto, ok[i]))
			return true;
	return false;
}

/* Anonymous inodes CRIU cannot checkpoint. */
static bool anon_inode_unsupported(const char *what) {
	static const char *const bad[] = { "io_uring", "kvm", "perf_event", "bpf", "userfaultfd", "iommufd", "sync_file",
		                           "dmabuf", "vfio" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (strstr(what, bad[i]))
			return true;
	return false;
}

/* Character devices a container may hold: the memory devices, tty, console, ptmx, ptys, tun. */
static bool char_device_ok(unsigned major, unsigned minor) {
	if (major == 1 && (minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9))
		return true;
	if (major == 5 && minor <= 2)
		return true;
	if (major >= 136 && major <= 143)
		return true;
	return major == 10 && minor == 200; /* /dev/net/tun */
}

struct scan {
	const struct container_config *cfg;
	const struct tree *tree;
	const struct mounts *ct_mounts; /* NULL when the mount namespace is ckptd's */
	struct holders sockets;
	json_t *problems;
	json_t *devices;
	unsigned n_files;
	unsigned n_tcp_connected; /* TCP sockets neither listening nor closed */
};

static int mnt_id_of_fd(pid_t pid, const char *fd) {
	char p[320];
	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%s", (int) pid, fd);
	_cleanup_free_ char *buf = NULL;
	if (read_full_file(p, &buf, NULL) < 0)
		return -1;
	char *m = strstr(buf, "mnt_id:");
	return m ? atoi(m + 7) : -1;
}

static int scan_fds(struct scan *s, pid_t pid) {
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) pid);
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return 0; /* gone meanwhile */
	_cleanup_free_ char *comm = proc_comm(pid);
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		char link[384], target[4096];
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		s->n_files++;
		unsigned long ino;
		if (sscanf(target, "socket:[%lu]", &ino) == 1) {
			char proto[32] = "";
			ssize_t k = getxattr(link, "system.sockprotoname", proto, sizeof(proto) - 1);
			if (k > 0)
				proto[k] = '\0';
			else
				snprintf(proto, sizeof(proto), "?");
			if (!socket_supported(proto))
				add_string(s->problems, "pid %d (%s) fd %s: a %s socket, which CRIU cannot checkpoint", (int) pid,
				           comm, de->d_name, proto);
			int r = holders_add(&s->sockets, ino, pid, atoi(de->d_name), proto);
			if (r < 0)
				return r;
			continue;
		}
		if (strncmp(target, "anon_inode:", 11) == 0) {
			if (anon_inode_unsupported(target + 11))
				add_string(s->problems, "pid %d (%s) fd %s: %s, which CRIU cannot checkpoint", (int) pid, comm,
				           de->d_name, target);
			continue;
		}
		if (target[0] != '/')
			continue; /* pipe:[...] and the like */
		struct stat st;
		if (stat(link, &st) < 0)
			continue;
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			unsigned ma = major(st.st_rdev), mi = minor(st.st_rdev);
			char dev[48];
			snprintf(dev, sizeof(dev), "%s %u:%u", S_ISCHR(st.st_mode) ? "char" : "block", ma, mi);
			if (!S_ISCHR(st.st_mode) || ma != 1) /* not worth listing: null, zero, random, ... */
				json_array_append_new(s->devices, json_pack("{s:i,s:s,s:s,s:s,s:s}", "pid", (int) pid, "comm", comm,
				                                            "fd", de->d_name, "path", target, "device", dev));
			if (S_ISBLK(st.st_mode) || !char_device_ok(ma, mi))
				add_string(s->problems,
				           "pid %d (%s) holds the device %s (%s) open on fd %s: CRIU cannot checkpoint device state",
				           (int) pid, comm, target, dev, de->d_name);
		}
		/* A file of a mount the container cannot see (e.g. stdio inherited from the host)
		 * cannot be reopened inside it at restore. */
		if (s->ct_mounts) {
			int id = mnt_id_of_fd(pid, de->d_name);
			if (id >= 0 && !mounts_has_id(s->ct_mounts, id))
				add_string(s->problems,
				           "pid %d (%s) fd %s refers to %s on a mount outside the container's mount namespace "
				           "(inherited from the host?)",
				           (int) pid, comm, de->d_name, target);
		}
	}
	return 0;
}

/* ---- TCP ----------------------------------------------------------------------------------- */

/* The tree's TCP sockets (sock_diag in the root's network namespace; a socket no task of the
 * tree holds is not the container's: a shared network namespace, or TIME_WAIT). */
static void scan_tcp(struct scan *s, pid_t root, json_t *tcp) {
	_cleanup_(tcp_table_done) struct tcp_table t = {};
	int r = tcp_table_load(root, &t);
	if (r < 0)
		log_debug_errno(r, "cannot list the TCP sockets of pid %d's network namespace: %m", (int) root);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcp_socket *k = &t.e[i];
		const struct holder *h = k->ino ? holders_find(&s->sockets, k->ino) : NULL;
		if (!h)
			continue; /* not the container's (a shared network namespace, or a socket in TIME_WAIT) */
		_cleanup_free_ char *comm = proc_comm(h->pid);
		const char *state = tcp_state_name(k->state);
		bool listening = k->state == TCP_LISTEN, closed = k->state == TCP_CLOSE;
		json_array_append_new(tcp, json_pack("{s:s,s:s?,s:s,s:i,s:s,s:i}", "local", k->local, "remote",
		        listening || closed ? NULL : k->remote, "state", state, "pid", (int) h->pid, "comm", comm, "fd", h->fd));
		if (!listening && !closed)
			s->n_tcp_connected++;
		if (!listening && !closed && !s->cfg->tcp_established)
			add_string(s->problems,
			           "TCP connection %s -> %s (%s) of pid %d (%s): set TcpEstablished=yes to checkpoint it", k->local,
			           k->remote, state, (int) h->pid, comm);
	}
}

/* ---- the whole ----------------------------------------------------------------------------- */

static json_t *string_array(const char *const *names, size_t n) {
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static bool volume_holds(const char *volume, const char *host_path, unsigned major, unsigned minor) {
	if (strncmp(volume, "lvm:", 4) == 0) {
		_cleanup_free_ char *dev = NULL;
		struct stat st;
		if (asprintf(&dev, "/dev/%s", volume + 4) < 0 || stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
			return false;
		return major(st.st_rdev) == major && minor(st.st_rdev) == minor;
	}
	_cleanup_free_ char *real = realpath(volume, NULL);
	return host_path && path_is_below(host_path, real ? real : volume);
}

/* The state of one discovery, shared by its steps. */
struct discover_state {
	const struct container_config *cfg;
	pid_t root;
	char *comm;
	struct tree tree;
	json_t *d, *problems, *warnings;
	struct mounts host, ct;        /* ct only with a mount namespace of its own */
	bool own_mnt, own_net, own_cgroupns;
	bool private_procfs;          /* CRIU's parasite mounts a procfs in the root's cwd */
	bool propagates;               /* the root or a mount from the host is shared or a slave */
	bool mntns_compat_mode;
	const char *restore_root;      /* points into d */
	struct scan scan;
	bool only_lo;
};

static void discovery_done(struct discover_state *x) {
	free(x->comm);
	tree_done(&x->tree);
	json_decref(x->d);
	json_decref(x->problems);
	json_decref(x->warnings);
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
			add_string(x->problems, "pid %d (%s) runs in a user namespace of its own: ckptd does not checkpoint "
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
		add_string(x->problems, "pid %d (%s) runs in a working directory that was deleted (%s), and its /proc is "
		                        "not its PID namespace's: CRIU would mount a private /proc there and cannot",
		           (int) x->root, x->comm, cwd);
		return;
	}
	_cleanup_free_ char *leftover = path_join(cwd_link, "proc.crtools");
	struct stat st;
	if (leftover && lstat(leftover, &st) >= 0)
		add_string(x->problems, "%s/proc.crtools exists (the working directory of pid %d (%s)): a leftover of an "
		                        "interrupted CRIU dump, which blocks CRIU's private /proc mount there; remove it "
		                        "(rmdir) after checking that nothing is mounted on it", cwd, (int) x->root, x->comm);
}

/* A task that has exited but is not reaped yet: it has left its cgroup, and CRIU dumps it as a
 * zombie, so it is no stray. */
static bool pid_is_zombie_or_gone(pid_t pid) {
	char p[64];
	_cleanup_free_ char *stat = NULL;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int) pid);
	if (read_full_file(p, &stat, NULL) < 0)
		return true;
	const char *e = strrchr(stat, ')'); /* comm may hold spaces and parentheses */
	return !e || e[1] != ' ' || e[2] == 'Z' || e[2] == 'X';
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
			add_string(x->problems, "pid %d (%s) belongs to the process tree but not to cgroup %s: it would not "
			                        "be frozen with the others", (int) x->tree.pids[i], c, x->cfg->cgroup);
		}
	}
}

/* The root file system: where it is on the host, which volume holds it. */
static void discover_root(struct discover_state *x, const struct mount *rm, json_t *groups, bool *shared, bool *slave) {
	const struct container_config *cfg = x->cfg;
	_cleanup_free_ char *host_path = mounts_host_path(&x->host, rm->major, rm->minor, rm->root);
	char dev[32];
	snprintf(dev, sizeof(dev), "%u:%u", rm->major, rm->minor);
	const char *volume = NULL;
	for (size_t i = 0; i < cfg->n_volumes && !volume; i++)
		if (volume_holds(cfg->volumes[i], host_path, rm->major, rm->minor))
			volume = cfg->volumes[i];
	json_t *rootj = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:b,s:s}", "device", dev, "fstype", rm->fstype, "fs_root",
	        rm->root, "host_path", host_path, "volume", volume, "read_only", mount_read_only(rm), "from",
	        cfg->root_directory ? "RootDirectory=" : "discovered");
	json_object_set_new(x->d, "root", rootj);
	if (cfg->root_directory)
		x->restore_root = cfg->root_directory;
	else {
		x->restore_root = json_string_value(json_object_get(rootj, "host_path"));
		if (!host_path)
			add_string(x->problems, "the root file system (%s %s, fs-root %s) is not mounted on the host, so CRIU "
			                        "could not restore it: mount it on the host or set RootDirectory=",
			           rm->fstype, dev, rm->root);
		else if (!volume)
			add_string(x->problems, "the root file system %s (%s %s) is on none of the configured volumes (%s%s): "
			                        "its state would not be snapshotted with the processes; add its volume to "
			                        "Volume= or set RootDirectory=",
			           host_path, rm->fstype, dev, cfg->volumes[0], cfg->n_volumes > 1 ? ", ..." : "");
	}
	propagation_vs_host(rm, &x->host, groups, shared, slave, &x->propagates);
}

/* Mounts from the host (bound again at restore), and mount trees CRIU cannot handle. */
static void discover_mounts_from_host(struct discover_state *x, const struct mount *rm, json_t *mounts, json_t *groups,
                                      bool *shared, bool *slave) {
	char dev[32];
	for (size_t i = 0; i < x->ct.n; i++) {
		const struct mount *m = &x->ct.m[i];
		if (m == rm)
			continue;
		snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
		if (!mounts_has_device(&x->host, m->major, m->minor)) {
			/* The container's own file systems: proc, tmpfs, devpts, ... CRIU mounts them
			 * anew and binds subtrees from there, so a bind of a subtree needs the root of
			 * its file system mounted in the container too. */
			if (!streq(m->root, "/") && !mounts_fs_root_mounted(&x->ct, m->major, m->minor))
				add_string(x->problems, "the mount at %s (%s %s) binds %s of a file system whose root is mounted "
				                        "neither in the container nor on the host: CRIU cannot checkpoint it",
				           m->mountpoint, m->fstype, dev, m->root);
			continue;
		}
		if (m->major == rm->major && m->minor == rm->minor && path_is_below(m->root, rm->root))
			continue; /* a bind mount inside the root file system */
		propagation_vs_host(m, &x->host, groups, shared, slave, &x->propagates);
		_cleanup_free_ char *hp = mounts_host_path(&x->host, m->major, m->minor, m->root);
		struct stat st;
		const char *type = !hp || stat(hp, &st) < 0 ? NULL : S_ISDIR(st.st_mode) ? "directory" : "file";
		json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:b,s:s}", "mountpoint", m->mountpoint,
		        "fstype", m->fstype, "device", dev, "fs_root", m->root, "host_path", hp, "host_type", type,
		        "read_only", mount_read_only(m), "propagation", *m->optional ? m->optional : "private"));
		if (!hp)
			add_string(x->problems, "the mount at %s (%s %s, fs-root %s) comes from a host file system but is not "
			                        "reachable on the host: CRIU could not bind it again at restore",
			           m->mountpoint, m->fstype, dev, m->root);
	}

	/* A mount stacked on an identical one (same file system, same root, same place): CRIU
	 * dumps such a tree but cannot restore it ("Unable to move mount"). Its compat mount
	 * engine leaves such stacks when it restores nspawn's shared mounts. */
	for (size_t i = 0; i < x->ct.n; i++) {
		const struct mount *m = &x->ct.m[i];
		for (size_t k = 0; k < x->ct.n; k++) {
			const struct mount *pm = &x->ct.m[k];
			if (pm->id != m->parent || !streq(pm->mountpoint, m->mountpoint) || pm->major != m->major ||
			    pm->minor != m->minor || !streq(pm->root, m->root))
				continue;
			add_string(x->problems, "the mount at %s is stacked on an identical mount (%s, root %s): CRIU cannot "
			                        "restore such a mount tree (an earlier restore in CRIU's compat mount mode "
			                        "leaves them)", m->mountpoint, m->fstype, m->root);
			break;
		}
	}

	/* A deleted file (or directory) bound at more than one place: see criu.h. */
	for (size_t i = 0; i < x->ct.n && !x->mntns_compat_mode; i++) {
		const struct mount *a = &x->ct.m[i];
		size_t l = strlen(a->root);
		if (l < 9 || !streq(a->root + l - 9, "//deleted"))
			continue;
		for (size_t k = i + 1; k < x->ct.n && !x->mntns_compat_mode; k++)
			x->mntns_compat_mode = x->ct.m[k].major == a->major && x->ct.m[k].minor == a->minor &&
			                       streq(x->ct.m[k].root, a->root);
	}
}

static int discover_mounts(struct discover_state *x, char **ret_error) {
	int r = mounts_parse("/proc/self/mountinfo", &x->host);
	if (r < 0)
		return asprintf(ret_error, "cannot read /proc/self/mountinfo: %s", strerror(-r)), r;
	json_t *mounts = json_array(), *groups = json_array();
	bool shared = false, slave = false;
	json_object_set_new(x->d, "mounts", mounts);
	if (x->own_mnt) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int) x->root);
		r = mounts_parse(p, &x->ct);
		if (r < 0) {
			json_decref(groups);
			return asprintf(ret_error, "cannot read %s: %s", p, strerror(-r)), r;
		}
		const struct mount *rm = mounts_root(&x->ct);
		if (!rm) {
			json_decref(groups);
			return asprintf(ret_error, "%s has no root mount", p), -EBADMSG;
		}
		discover_root(x, rm, groups, &shared, &slave);
		discover_mounts_from_host(x, rm, mounts, groups, &shared, &slave);
	} else {
		json_object_set_new(x->d, "root", json_pack("{s:s,s:s}", "host_path", "/", "from", "ckptd's mount namespace"));
		x->restore_root = x->cfg->root_directory && !streq(x->cfg->root_directory, "/") ? x->cfg->root_directory : NULL;
	}
	json_object_set_new(x->d, "propagation", json_pack("{s:o,s:b,s:b}", "host_peer_groups", groups,
	                                                   "shared_with_host", shared, "slave_of_host", slave));
	return 0;
}

/* Open files of every task: sockets, devices, files from outside. */
static int discover_files(struct discover_state *x, char **ret_error) {
	json_t *devices = json_array();
	json_object_set_new(x->d, "devices", devices);
	x->scan = (struct scan) { .cfg = x->cfg, .tree = &x->tree, .ct_mounts = x->own_mnt ? &x->ct : NULL,
		                  .problems = x->problems, .devices = devices };
	for (size_t i = 0; i < x->tree.n; i++) {
		int r = scan_fds(&x->scan, x->tree.pids[i]);
		if (r < 0)
			return asprintf(ret_error, "cannot scan the open files: %s", strerror(-r)), r;
	}
	json_object_set_new(x->d, "open_files", json_integer(x->scan.n_files));
	return 0;
}

/* Unix sockets of the tree whose peer is not the tree's. */
static void discover_unix_peers(struct discover_state *x, json_t *unix_ext) {
	_cleanup_(unix_table_done) struct unix_table ut = {};
	(void) unix_table_load(x->own_net ? x->root : 0, &ut);
	if (x->own_net) /* sockets passed in from ckptd's network namespace */
		(void) unix_table_load(0, &ut);
	unsigned n_unix = 0, n_other = 0;
	for (size_t i = 0; i < x->scan.sockets.n; i++) {
		const struct holder *h = &x->scan.sockets.h[i];
		if (strncmp(h->proto, "UNIX", 4) != 0) {
			n_other++;
			continue;
		}
		n_unix++;
		const struct unix_peer *e = unix_table_find(&ut, (unsigned) h->ino);
		if (!e || e->peer == 0 || holders_find(&x->scan.sockets, e->peer))
			continue;
		const struct unix_peer *pe = unix_table_find(&ut, e->peer);
		char want[64];
		snprintf(want, sizeof(want), "socket:[%u]", e->peer);
		_cleanup_free_ char *holder = proc_fd_holder(want), *c = proc_comm(h->pid);
		const char *name = e->name ? e->name : pe ? pe->name : NULL;
		json_array_append_new(unix_ext, json_pack("{s:I,s:I,s:s?,s:i,s:s,s:i,s:s?}", "inode", (json_int_t) h->ino,
		        "peer_inode", (json_int_t) e->peer, "name", name, "pid", (int) h->pid, "comm", c, "fd", h->fd,
		        "peer_holder", holder));
		add_string(x->problems, "pid %d (%s) fd %d: unix socket connected to a peer outside the container "
		                        "(socket:[%u]%s%s, held by %s)",
		           (int) h->pid, c, h->fd, e->peer, name ? " " : "", name ? name : "", holder ? holder : "nobody known");
	}
	json_object_set_new(x->d, "sockets", json_pack("{s:i,s:i}", "unix", n_unix, "other", n_other));
}

/* Interfaces, TCP, unix sockets with outside peers. */
static void discover_network(struct discover_state *x) {
	json_t *net = json_object(), *interfaces = json_array(), *tcp = json_array(), *unix_ext = json_array();
	json_object_set_new(x->d, "network", net);
	json_object_set_new(net, "own_namespace", json_boolean(x->own_net));
	x->only_lo = true;
	if (x->own_net) {
		(void) netns_list_interfaces(x->root, interfaces);
		size_t i;
		json_t *ifc;
		json_array_foreach(interfaces, i, ifc)
			x->only_lo = x->only_lo && streq_ptr(json_string_value(json_object_get(ifc, "name")), "lo");
		/* veth pairs with their host ends; any other interface is a problem. */
		json_t *veths = json_array();
		json_object_set_new(net, "veths", veths);
		int r = x->only_lo ? 0 : veth_discover(x->root, interfaces, veths, x->problems);
		if (r < 0)
			add_string(x->problems, "cannot read the network interfaces of the container's network namespace "
			                        "and their host ends: %s", strerror(-r));
	}
	json_object_set_new(net, "interfaces", interfaces);
	scan_tcp(&x->scan, x->root, tcp);
	json_object_set_new(net, "tcp", tcp);
	discover_unix_peers(x, unix_ext);
	json_object_set_new(net, "unix_external", unix_ext);
}

/* How CRIU keeps the network quiet; iptables (CRIU's default) only when asked for. A namespace
 * with only lo carries only traffic between the container's own tasks, which are frozen, so no
 * lock is needed, unless it has TCP connections: the kernel still sends their delayed ACKs from
 * timers while the tasks are frozen, and an ACK that lands while CRIU reads a socket's send
 * queue fails the dump ("libsoccr_save() failed with -6", seen here about once in a hundred
 * dumps of the Redis test container); nftables drops them until the dump is done. */
static enum criu_net_lock choose_network_lock(struct discover_state *x) {
	switch (x->cfg->network_lock) {
	case NETWORK_LOCK_AUTO:
		if (x->own_net)
			return x->only_lo && x->scan.n_tcp_connected == 0 ? CRIU_NET_LOCK_SKIP : CRIU_NET_LOCK_NFTABLES;
		return x->cfg->tcp_established ? CRIU_NET_LOCK_NFTABLES : CRIU_NET_LOCK_DEFAULT;
	case NETWORK_LOCK_SKIP:
		if (x->own_net && !x->only_lo)
			add_string(x->warnings, "NetworkLock=skip with interfaces other than lo: packets may reach the "
			                        "container while it is dumped and restored");
		return CRIU_NET_LOCK_SKIP;
	case NETWORK_LOCK_NFTABLES:
		return CRIU_NET_LOCK_NFTABLES;
	case NETWORK_LOCK_IPTABLES:
		return CRIU_NET_LOCK_IPTABLES;
	}
	return CRIU_NET_LOCK_DEFAULT;
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
		.network_lock = choose_network_lock(x),
		.tcp_established = x->cfg->tcp_established,
		.mntns_compat_mode = x->mntns_compat_mode,
		.cgroups_soft = x->own_cgroupns,
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
	_cleanup_(discovery_done) struct discover_state x = { .cfg = cfg, .root = root };
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
	return discovery_make(&x, ret);
}

int discover_container(const struct container_config *cfg, pid_t root, json_t **ret, char **ret_error) {
	_cleanup_(discovery_freep) struct discovery *d = NULL;
	int r = discover(cfg, root, &d, ret_error);
	if (r < 0)
		return r;
	return discovery_to_json(d, ret);
}
