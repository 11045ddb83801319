/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What ckptd reads from LXC's texts: its config file, lxc-info's answer, /proc/PID/cgroup (pure
 * functions, unit-tested). See lxc.h. */
#include <limits.h>
#include <stdlib.h>

#include "lxc.h"
#include "macro.h"
#include "parse-util.h"

/* lxc.rootfs.path (or the older lxc.rootfs) of an LXC config file: "key = value" lines, '#'
 * comments. The last one wins, as in LXC. lxc.include'd files are not read. */
int lxc_config_rootfs(const char *text, char **ret) {
	_cleanup_free_ char *value = NULL;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		const char *next = l + len + (l[len] == '\n');
		size_t indent = strspn(l, " \t");
		const char *key = l + indent, *rest = startswith(key, "lxc.rootfs.path");
		if (!rest)
			rest = startswith(key, "lxc.rootfs");
		l = next;
		if (!rest || indent > len)
			continue;
		rest += strspn(rest, " \t");
		if (rest[0] != '=' || rest >= next)
			continue;
		rest++;
		rest += strspn(rest, " \t");
		size_t n = rest < next ? strcspn(rest, "\n") : 0;
		while (n > 0 && char_in(rest[n - 1], " \t\r"))
			n--;
		free(value);
		value = strndup(rest, n);
		if (!value)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(value);
	return 0;
}

/* The host directory of a rootfs spec, for the kinds that are one: "dir:/x", "btrfs:/x", "/x". */
int lxc_rootfs_directory(const char *spec, char **ret) {
	const char *p = startswith(spec, "dir:");
	if (!p)
		p = startswith(spec, "btrfs:");
	if (!p && spec[0] == '/')
		p = spec;
	*ret = NULL;
	if (!p || p[0] != '/')
		return 0;
	*ret = strdup(p);
	return *ret ? 0 : -ENOMEM;
}

/* "State: RUNNING" and "PID: 123" from lxc-info -s -p. */
int lxc_info_parse(const char *out, bool *ret_running, pid_t *ret_pid) {
	const char *s = strstr(out, "State:"), *p = strstr(out, "PID:");
	if (!s)
		return -EBADMSG;
	s += strlen("State:");
	s += strspn(s, " \t");
	*ret_running = startswith(s, "RUNNING") != NULL;
	*ret_pid = 0;
	if (*ret_running) {
		if (!p)
			return -EBADMSG;
		unsigned long v = strtoul(p + strlen("PID:"), NULL, 10);
		if (v == 0 || v > INT_MAX)
			return -EBADMSG;
		*ret_pid = (pid_t) v;
	}
	return 0;
}

int lxc_cgroup_path_of(const char *text, const char *v1_controller, char **ret) {
	for (const char *l = text; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		/* "ID:CONTROLLERS:PATH"; cgroup2's line has no controllers */
		size_t len = strcspn(l, "\n");
		const char *c1 = memchr(l, ':', len), *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - l)) : NULL;
		if (!c2)
			continue;
		bool match = !v1_controller && c2 == c1 + 1;
		for (const char *o = c1 + 1; v1_controller && o < c2; o += strcspn(o, ",:"), o += *o == ',') {
			size_t n = strcspn(o, ",:");
			match = match || (n == strlen(v1_controller) && strncmp(o, v1_controller, n) == 0);
		}
		if (!match)
			continue;
		size_t n = len - (size_t) (c2 + 1 - l);
		if (n == 0 || c2[1] != '/')
			return -ENOENT;
		*ret = strndup(c2 + 1, n);
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOENT;
}
