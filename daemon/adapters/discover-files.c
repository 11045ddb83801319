/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery of what a container's tasks hold open, from /proc/PID/fd: sockets (and whether CRIU
 * checkpoints their family), anonymous inodes and devices CRIU cannot checkpoint, files of
 * mounts outside the container's mount namespace. See discover.h. */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "discover-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "mountinfo.h"
#include "proc-holders.h"

const struct holder *holders_find(const struct holders *hs, unsigned long ino) {
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
				json_array_append_printf(s->problems, "pid %d (%s) fd %s: a %s socket, which CRIU cannot checkpoint", (int) pid,
				           comm, de->d_name, proto);
			int r = holders_add(&s->sockets, ino, pid, atoi(de->d_name), proto);
			if (r < 0)
				return r;
			continue;
		}
		if (strncmp(target, "anon_inode:", 11) == 0) {
			if (anon_inode_unsupported(target + 11))
				json_array_append_printf(s->problems, "pid %d (%s) fd %s: %s, which CRIU cannot checkpoint", (int) pid, comm,
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
				json_array_append_printf(s->problems,
				           "pid %d (%s) holds the device %s (%s) open on fd %s: CRIU cannot checkpoint device state",
				           (int) pid, comm, target, dev, de->d_name);
		}
		/* A file of a mount the container cannot see (e.g. stdio inherited from the host)
		 * cannot be reopened inside it at restore. */
		if (s->ct_mounts) {
			int id = mnt_id_of_fd(pid, de->d_name);
			if (id >= 0 && !mounts_has_id(s->ct_mounts, id))
				json_array_append_printf(s->problems,
				           "pid %d (%s) fd %s refers to %s on a mount outside the container's mount namespace "
				           "(inherited from the host?)",
				           (int) pid, comm, de->d_name, target);
		}
	}
	return 0;
}

/* Open files of every task: sockets, devices, files from outside. */
int discover_files(struct discover_state *x, char **ret_error) {
	json_t *devices = json_array();
	json_object_set_new(x->d, "devices", devices);
	x->scan = (struct scan) { .cfg = x->cfg, .tree = &x->tree, .ct_mounts = x->own_mnt ? &x->ct : NULL,
		                  .problems = x->problems, .devices = devices };
	for (size_t i = 0; i < x->tree.n; i++) {
		int r = scan_fds(&x->scan, x->tree.pids[i]);
		if (r < 0)
			return error_setf(ret_error, r, "cannot scan the open files: %m");
	}
	json_object_set_new(x->d, "open_files", json_integer(x->scan.n_files));
	return 0;
}
