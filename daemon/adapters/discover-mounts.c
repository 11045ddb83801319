/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery of a container's mount namespace: its root file system and the host path and volume
 * that hold it, the mounts it got from the host, their propagation, and mount trees CRIU cannot
 * handle (mountinfo.c). See discover.h. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "discover-internal.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "mountinfo.h"
#include "nspawn.h"

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
			json_array_append_printf(x->problems, "the root file system (%s %s, fs-root %s) is not mounted on the host, so CRIU "
			                        "could not restore it: mount it on the host or set RootDirectory=",
			           rm->fstype, dev, rm->root);
		else if (!volume)
			json_array_append_printf(x->problems, "the root file system %s (%s %s) is on none of the configured volumes (%s%s): "
			                        "its state would not be snapshotted with the processes; add its volume to "
			                        "Volume= or set RootDirectory=",
			           host_path, rm->fstype, dev, cfg->volumes[0], cfg->n_volumes > 1 ? ", ..." : "");
	}
	propagation_vs_host(rm, &x->host, groups, shared, slave, &x->propagates);
}

/* A sysfs bound in parts whose root is mounted nowhere (nspawn's /sys with a private network):
 * the preparation before the first dump mounts it at NSPAWN_SYSFS_DIR, unless something is
 * mounted there already (then it did not help, and the problem stays). */
static bool sysfs_root_can_be_mounted(struct discover_state *x, const struct mount *m) {
	if (!streq(m->fstype, "sysfs") || !x->own_net)
		return false;
	for (size_t i = 0; i < x->ct.n; i++)
		if (streq(x->ct.m[i].mountpoint, NSPAWN_SYSFS_DIR))
			return false;
	x->prepare_sysfs = true;
	return true;
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
			if (!streq(m->root, "/") && !mounts_fs_root_mounted(&x->ct, m->major, m->minor) &&
			    !sysfs_root_can_be_mounted(x, m))
				json_array_append_printf(x->problems, "the mount at %s (%s %s) binds %s of a file system whose root is mounted "
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
			json_array_append_printf(x->problems, "the mount at %s (%s %s, fs-root %s) comes from a host file system but is not "
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
			json_array_append_printf(x->problems, "the mount at %s is stacked on an identical mount (%s, root %s): CRIU cannot "
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

/* The nspawn machine NAME binds /run/systemd/nspawn/propagate/NAME from the host. */
static char *nspawn_machine_name(json_t *mounts) {
	static const char prefix[] = "/run/systemd/nspawn/propagate/";
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		const char *hp = json_string_value(json_object_get(m, "host_path"));
		if (hp && strncmp(hp, prefix, strlen(prefix)) == 0 && hp[strlen(prefix)] && !strchr(hp + strlen(prefix), '/'))
			return strdup(hp + strlen(prefix));
	}
	return NULL;
}

static bool has_propagation(const struct mount *m) {
	return strstr(m->optional, "shared:") || strstr(m->optional, "master:");
}

/* The mounts right below the root whose subtree shares or receives mount events (nspawn makes
 * them all shared): the preparation makes them private, recursively. */
static json_t *mounts_to_make_private(const struct discover_state *x, const struct mount *rm) {
	json_t *a = json_array();
	for (size_t i = 0; a && i < x->ct.n; i++) {
		const struct mount *top = &x->ct.m[i];
		if (top->parent != rm->id || top == rm)
			continue;
		bool listed = false, propagates = false;
		for (size_t k = 0; k < json_array_size(a) && !listed; k++)
			listed = streq(json_string_value(json_array_get(a, k)), top->mountpoint);
		for (size_t k = 0; k < x->ct.n && !listed && !propagates; k++)
			propagates = &x->ct.m[k] != rm && path_is_below(x->ct.m[k].mountpoint, top->mountpoint) &&
			             has_propagation(&x->ct.m[k]);
		if (!listed && propagates)
			json_array_append_new(a, json_string(top->mountpoint));
	}
	return a;
}

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* nspawn binds a deleted file with the machine's boot id over BOOT_ID_PATH; CRIU restores that
 * file empty, so its content is recorded for the restore to write back. Read inside the
 * container's root without following a symlink out of it. */
static void discover_boot_id(struct discover_state *x) {
	const struct mount *bound = NULL;
	for (size_t i = 0; i < x->ct.n; i++) {
		const struct mount *m = &x->ct.m[i];
		size_t l = strlen(m->root);
		if (streq(m->mountpoint, BOOT_ID_PATH) && l > 9 && streq(m->root + l - 9, "//deleted"))
			bound = m;
	}
	if (!bound)
		return;
	char root[64], buf[128];
	snprintf(root, sizeof(root), "/proc/%d/root", (int) x->root);
	_cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
		                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int fd = root_fd < 0 ? -EBADF : (int) syscall(SYS_openat2, root_fd, BOOT_ID_PATH + 1, &how, sizeof(how));
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || (size_t) n >= sizeof(buf) - 1) {
		json_array_append_printf(x->warnings, "the boot id bound at %s cannot be read (%s): a restore leaves it empty",
		                         BOOT_ID_PATH, n == 0 ? "empty" : "unreadable");
		return;
	}
	buf[n] = '\0';
	json_object_set_new(x->d, "boot_id", json_pack("{s:s,s:s}", "path", BOOT_ID_PATH, "content", buf));
}

/* An nspawn machine (named by its propagation directory), and the preparation ckptd does to its
 * mount namespace before its first dump (nspawn.h): "nspawn", "preparation" in the report. */
static void discover_nspawn(struct discover_state *x, const struct mount *rm, json_t *mounts) {
	_cleanup_free_ char *machine = nspawn_machine_name(mounts);
	bool sysfs_mounted = false;
	for (size_t i = 0; i < x->ct.n; i++)
		sysfs_mounted = sysfs_mounted || (streq(x->ct.m[i].mountpoint, NSPAWN_SYSFS_DIR) &&
		                                  streq(x->ct.m[i].fstype, "sysfs") && streq(x->ct.m[i].root, "/"));
	if (machine)
		json_object_set_new(x->d, "nspawn", json_pack("{s:s}", "machine", machine));
	if (!machine && !x->prepare_sysfs && !sysfs_mounted)
		return;
	json_t *private = machine ? mounts_to_make_private(x, rm) : json_array();
	json_t *prepared = json_array();
	if (sysfs_mounted)
		json_array_append_printf(prepared, "the network namespace's sysfs is mounted at %s (by ckptd)", NSPAWN_SYSFS_DIR);
	if (machine && json_array_size(private) == 0)
		json_array_append_printf(prepared, "%s", "the mounts below the root are private");
	json_object_set_new(x->d, "preparation", json_pack("{s:s?,s:o,s:o}", "sysfs_dir",
	                    x->prepare_sysfs ? NSPAWN_SYSFS_DIR : NULL, "make_private", private, "prepared", prepared));
}

int discover_mounts(struct discover_state *x, char **ret_error) {
	int r = mounts_parse("/proc/self/mountinfo", &x->host);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read /proc/self/mountinfo: %m");
	json_t *mounts = json_array(), *groups = json_array();
	bool shared = false, slave = false;
	json_object_set_new(x->d, "mounts", mounts);
	if (x->own_mnt) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int) x->root);
		r = mounts_parse(p, &x->ct);
		if (r < 0) {
			json_decref(groups);
			return error_setf(ret_error, r, "cannot read %s: %m", p);
		}
		const struct mount *rm = mounts_root(&x->ct);
		if (!rm) {
			json_decref(groups);
			return error_setf(ret_error, -EBADMSG, "%s has no root mount", p);
		}
		discover_root(x, rm, groups, &shared, &slave);
		discover_mounts_from_host(x, rm, mounts, groups, &shared, &slave);
		discover_nspawn(x, rm, mounts);
		discover_boot_id(x);
	} else {
		json_object_set_new(x->d, "root", json_pack("{s:s,s:s}", "host_path", "/", "from", "ckptd's mount namespace"));
		x->restore_root = x->cfg->root_directory && !streq(x->cfg->root_directory, "/") ? x->cfg->root_directory : NULL;
	}
	json_object_set_new(x->d, "propagation", json_pack("{s:o,s:b,s:b}", "host_peer_groups", groups,
	                                                   "shared_with_host", shared, "slave_of_host", slave));
	return 0;
}
