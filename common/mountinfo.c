/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/PID/mountinfo, parsed by util-linux's libmount, and finding where a mount of one namespace
 * is on the host. */
#include <libmount/libmount.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "macro.h"
#include "mountinfo.h"

/* "a" is "b" or below it (both normalised absolute paths). */
bool path_is_below(const char *a, const char *b) {
	if (streq(b, "/"))
		return a[0] == '/';
	size_t n = strlen(b);
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* base + (path with prefix removed): "/mnt" + "/ct/x" - "/ct" = "/mnt/x". */
char *path_rebase(const char *base, const char *path, const char *prefix) {
	const char *rest = streq(prefix, "/") ? path : path + strlen(prefix);
	if (*rest == '\0' || streq(rest, "/"))
		return strdup(base);
	if (streq(base, "/"))
		return strdup(rest);
	return path_join(base, rest);
}

static void mount_done(struct mount *m) {
	free(m->root);
	free(m->mountpoint);
	free(m->options);
	free(m->optional);
	free(m->fstype);
	free(m->source);
	free(m->super);
}

void mounts_done(struct mounts *ms) {
	for (size_t i = 0; i < ms->n; i++)
		mount_done(&ms->m[i]);
	free(ms->m);
	*ms = (struct mounts) {};
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
char *mountinfo_unescape(const char *s) {
	return mnt_unmangle(s);
}

static void mnt_table_unrefp(struct libmnt_table **t) {
	mnt_unref_table(*t);
}

static void mnt_iter_freep(struct libmnt_iter **i) {
	mnt_free_iter(*i);
}

static int mount_from_fs(struct libmnt_fs *fs, struct mount *ret) {
	dev_t dev = mnt_fs_get_devno(fs);
	*ret = (struct mount) {
		.id = mnt_fs_get_id(fs),
		.parent = mnt_fs_get_parent_id(fs),
		.major = major(dev),
		.minor = minor(dev),
		.root = strdup(strempty(mnt_fs_get_root(fs))),
		.mountpoint = strdup(strempty(mnt_fs_get_target(fs))),
		.options = strdup(strempty(mnt_fs_get_vfs_options(fs))),
		.optional = strdup(strempty(mnt_fs_get_optional_fields(fs))),
		.fstype = strdup(strempty(mnt_fs_get_fstype(fs))),
		.source = strdup(strempty(mnt_fs_get_source(fs))),
		.super = strdup(strempty(mnt_fs_get_fs_options(fs))),
	};
	if (!ret->root || !ret->mountpoint || !ret->options || !ret->optional || !ret->fstype || !ret->source ||
	    !ret->super)
		return -ENOMEM;
	return 0;
}

static int mounts_parse_stream(FILE *f, struct mounts *ret) {
	_cleanup_(mnt_table_unrefp) struct libmnt_table *t = mnt_new_table();
	_cleanup_(mnt_iter_freep) struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!t || !it)
		return -ENOMEM;
	int r = mnt_table_parse_stream(t, f, "mountinfo"); /* skips lines it cannot parse */
	if (r < 0)
		return r;
	struct mounts ms = {};
	struct libmnt_fs *fs;
	while (mnt_table_next_fs(t, it, &fs) == 0) {
		if (!mnt_fs_is_kernel(fs))
			continue; /* not a mountinfo line (libmount guessed another format) */
		struct mount *a = reallocarray(ms.m, ms.n + 1, sizeof(struct mount));
		if (!a) {
			mounts_done(&ms);
			return -ENOMEM;
		}
		ms.m = a;
		r = mount_from_fs(fs, &ms.m[ms.n++]);
		if (r < 0) {
			mounts_done(&ms);
			return r;
		}
	}
	*ret = ms;
	return 0;
}

int mounts_parse_text(const char *text, struct mounts *ret) {
	if (!*text) {
		*ret = (struct mounts) {};
		return 0;
	}
	_cleanup_fclose_ FILE *f = fmemopen((void *) text, strlen(text), "r");
	if (!f)
		return negative_errno();
	return mounts_parse_stream(f, ret);
}

int mounts_parse(const char *path, struct mounts *ret) {
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return negative_errno();
	return mounts_parse_stream(f, ret);
}

int mounts_of_device(const char *path, unsigned major, unsigned minor, struct mounts *ret) {
	struct mounts ms = {};
	int r = mounts_parse(path, &ms);
	if (r < 0)
		return r;
	size_t k = 0; /* compacted in place */
	for (size_t i = 0; i < ms.n; i++)
		if (ms.m[i].major == major && ms.m[i].minor == minor)
			ms.m[k++] = ms.m[i];
		else
			mount_done(&ms.m[i]);
	ms.n = k;
	*ret = ms;
	return 0;
}

int mount_flags(const struct mount *m, unsigned long *ret_flags, char **ret_data) {
	const struct libmnt_optmap *linux_map = mnt_get_builtin_optmap(MNT_LINUX_MAP);
	unsigned long per_mount = 0, super = 0;
	_cleanup_free_ char *data = NULL;
	if (mnt_optstr_get_flags(m->options, &per_mount, linux_map) < 0 ||
	    mnt_optstr_get_flags(m->super, &super, linux_map) < 0)
		return -EINVAL;
	/* What the superblock shows beyond the generic flags is the file system's own options. */
	if (mnt_split_optstr(m->super, NULL, NULL, &data, 0, 0) < 0)
		return -ENOMEM;
	*ret_flags = per_mount | super;
	*ret_data = TAKE_PTR(data);
	return 0;
}

bool mount_read_only(const struct mount *m) {
	return streq(m->options, "ro") || strncmp(m->options, "ro,", 3) == 0;
}

/* The visible "/" of a mount table: the "/" mount that no other "/" mount sits on. */
const struct mount *mounts_root(const struct mounts *ms) {
	const struct mount *best = NULL;
	for (size_t i = 0; i < ms->n; i++) {
		if (!streq(ms->m[i].mountpoint, "/"))
			continue;
		bool covered = false;
		for (size_t j = 0; j < ms->n; j++)
			if (j != i && streq(ms->m[j].mountpoint, "/") && ms->m[j].parent == ms->m[i].id)
				covered = true;
		if (!covered)
			best = &ms->m[i];
	}
	return best;
}

bool mounts_has_id(const struct mounts *ms, int id) {
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].id == id)
			return true;
	return false;
}

bool mounts_has_device(const struct mounts *ms, unsigned major, unsigned minor) {
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].major == major && ms->m[i].minor == minor)
			return true;
	return false;
}

bool mounts_fs_root_mounted(const struct mounts *ms, unsigned major, unsigned minor) {
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].major == major && ms->m[i].minor == minor && streq(ms->m[i].root, "/"))
			return true;
	return false;
}

/* Where a (device, fs-root) of another mount namespace is reachable in ours: the host mount of
 * that device whose root is the longest prefix of fs_root. NULL if none. */
char *mounts_host_path(const struct mounts *host, unsigned major, unsigned minor, const char *fs_root) {
	const struct mount *best = NULL;
	for (size_t i = 0; i < host->n; i++) {
		const struct mount *h = &host->m[i];
		if (h->major != major || h->minor != minor || !path_is_below(fs_root, h->root))
			continue;
		if (!best || strlen(h->root) > strlen(best->root))
			best = h;
	}
	return best ? path_rebase(best->mountpoint, fs_root, best->root) : NULL;
}

/* Peer groups of the host: "shared:N" of our mounts. */
bool mounts_has_peer_group(const struct mounts *host, unsigned long group) {
	char tag[32];
	snprintf(tag, sizeof(tag), "shared:%lu", group);
	for (size_t i = 0; i < host->n; i++) {
		const char *p = strstr(host->m[i].optional, tag);
		if (p && (p[strlen(tag)] == '\0' || p[strlen(tag)] == ' '))
			return true;
	}
	return false;
}

bool mount_is_cgroup_hierarchy(const struct mount *m, const char *v1_controller) {
	if (!v1_controller)
		return streq_ptr(m->fstype, "cgroup2");
	if (!streq_ptr(m->fstype, "cgroup") || !m->super)
		return false;
	size_t want = strlen(v1_controller);
	for (const char *o = m->super; *o; o += strcspn(o, ","), o += *o == ',')
		if (strcspn(o, ",") == want && strncmp(o, v1_controller, want) == 0)
			return true;
	return false;
}
