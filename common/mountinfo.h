/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* /proc/PID/mountinfo, parsed with util-linux's libmount (mounts_parse_text() is pure), and the
 * questions discovery and the backends ask of it: which mount is "/", whether a file system is
 * mounted somewhere, where a (device, fs-root) of a container is reachable on the host, where a
 * device is mounted and with which flags. Paths come unescaped (mountinfo writes ' ' as \040). */

#include <stdbool.h>
#include <stddef.h>

struct mount {
	int id, parent;
	unsigned major, minor;
	char *root, *mountpoint;
	char *options;  /* per-mount options: "rw,nosuid,relatime" */
	char *optional; /* optional fields: "shared:7 master:1" */
	char *fstype, *source;
	char *super;    /* superblock options: "rw,subvolid=5,subvol=/" */
};

struct mounts {
	struct mount *m;
	size_t n;
};

int mounts_parse_text(const char *text, struct mounts *ret);
int mounts_parse(const char *path, struct mounts *ret);
void mounts_done(struct mounts *ms);
/* The mounts of one device in the mountinfo file PATH, in mount order. */
int mounts_of_device(const char *path, unsigned major, unsigned minor, struct mounts *ret);
/* mount(2)'s flags for mounting m again (per-mount and superblock flags) and its data argument
 * (the file system's own superblock options, "" when none). */
int mount_flags(const struct mount *m, unsigned long *ret_flags, char **ret_data);
/* mountinfo escapes space, tab, newline and backslash as \ooo. */
char *mountinfo_unescape(const char *s);

bool mount_read_only(const struct mount *m);
/* A mount of the cgroup2 hierarchy (v1_controller NULL), or of the v1 hierarchy that has that
 * controller among its superblock options ("rw,freezer"). */
bool mount_is_cgroup_hierarchy(const struct mount *m, const char *v1_controller);
/* The visible "/" of a mount table: the "/" mount that no other "/" mount sits on. */
const struct mount *mounts_root(const struct mounts *ms);
bool mounts_has_id(const struct mounts *ms, int id);
bool mounts_has_device(const struct mounts *ms, unsigned major, unsigned minor);
/* Some mount of the device has the file system's root ("/") as its root. */
bool mounts_fs_root_mounted(const struct mounts *ms, unsigned major, unsigned minor);
/* Where a (device, fs-root) of another mount namespace is reachable in this table: the mount of
 * that device whose root is the longest prefix of fs_root, plus the rest. NULL if none. */
char *mounts_host_path(const struct mounts *host, unsigned major, unsigned minor, const char *fs_root);
/* Some mount of the table is in peer group "shared:GROUP". */
bool mounts_has_peer_group(const struct mounts *host, unsigned long group);

/* "a" is "b" or below it (both normalised absolute paths). */
bool path_is_below(const char *a, const char *b);
/* base + (path with prefix removed): "/mnt" + "/ct/x" - "/ct" = "/mnt/x". */
char *path_rebase(const char *base, const char *path, const char *prefix);
