/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/PID/mountinfo: parsing, and finding where a mount of one namespace is on the host. */
#include <stdio.h>

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

void mounts_done(struct mounts *ms) {
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->m[i].root);
		free(ms->m[i].mountpoint);
		free(ms->m[i].options);
		free(ms->m[i].optional);
		free(ms->m[i].fstype);
		free(ms->m[i].source);
	}
	free(ms->m);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
char *mountinfo_unescape(const char *s) {
	char *r = malloc(strlen(s) + 1), *d = r;
	if (!r)
		return NULL;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
	return r;
}

int mounts_parse_text(const char *text, struct mounts *ret) {
	_cleanup_free_ char *buf = strdup(text);
	if (!buf)
		return -ENOMEM;
	struct mounts ms = {};
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char root[4096], mp[4096], opts[1024];
		int id, parent, consumed = 0;
		unsigned major, minor;
		if (sscanf(line, "%d %d %u:%u %4095s %4095s %1023s%n", &id, &parent, &major, &minor, root, mp, opts,
		           &consumed) != 7)
			continue;
		char fstype[256] = "", source[4096] = "";
		(void) sscanf(sep + 3, "%255s %4095s", fstype, source);
		struct mount *a = realloc(ms.m, (ms.n + 1) * sizeof(struct mount));
		if (!a) {
			mounts_done(&ms);
			return -ENOMEM;
		}
		ms.m = a;
		const char *optional = line + consumed;
		optional += strspn(optional, " ");
		ms.m[ms.n++] = (struct mount) {
			.id = id, .parent = parent, .major = major, .minor = minor,
			.root = mountinfo_unescape(root), .mountpoint = mountinfo_unescape(mp), .options = strdup(opts),
			.optional = strdup(optional), .fstype = strdup(fstype), .source = mountinfo_unescape(source),
		};
		struct mount *m = &ms.m[ms.n - 1];
		if (!m->root || !m->mountpoint || !m->options || !m->optional || !m->fstype || !m->source) {
			mounts_done(&ms);
			return -ENOMEM;
		}
	}
	*ret = ms;
	return 0;
}

int mounts_parse(const char *path, struct mounts *ret) {
	_cleanup_free_ char *buf = NULL;
	int r = read_full_file(path, &buf, NULL);
	if (r < 0)
		return r;
	return mounts_parse_text(buf, ret);
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
