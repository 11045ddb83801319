/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The value parsers of the configuration's key tables (config-item.h): each turns one value into
 * a struct field, an empty value into the key's default. */

#include <grp.h>
#include <limits.h>
#include <stddef.h>

#include "config-item.h"
#include "error.h"
#include "macro.h"
#include "parse-util.h"

#define CONFIG_PID_MAX 4194304          /* PID_MAX_LIMIT on 64-bit kernels */
#define LVM_NAME_MAX 127
#define GROUP_NAME_MAX 256

bool container_name_is_valid(const char *name) {
	size_t n;

	if (isempty(name) || name[0] == '.')
		return false;

	n = strlen(name);
	if (n > CONTAINER_NAME_MAX)
		return false;

	for (size_t i = 0; i < n; i++)
		if (!ascii_isalpha(name[i]) && !ascii_isdigit(name[i]) && !char_in(name[i], "_.-"))
			return false;

	return true;
}

/* Absolute path, normalised: duplicate slashes, "." components and a trailing slash removed;
 * ".." components are refused, and "/" itself unless allow_root. */
static int path_normalize(const char *value, bool allow_root, char **ret, char **ret_error) {
	_cleanup_free_ char *out = NULL;
	size_t o = 0;

	if (value[0] != '/')
		return error_setf(ret_error, -EINVAL, "not an absolute path");
	if (strlen(value) >= PATH_MAX)
		return error_setf(ret_error, -ENAMETOOLONG, "path too long");

	out = malloc(strlen(value) + 1);
	if (!out)
		return -ENOMEM;

	for (const char *p = value;;) {
		size_t n;

		p += strspn(p, "/");
		if (*p == '\0')
			break;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return error_setf(ret_error, -EINVAL, "path contains a \"..\" component");
		if (!(n == 1 && p[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == 0) {
		if (!allow_root)
			return error_setf(ret_error, -EINVAL, "refusing the root directory");
		out[o++] = '/';
	}
	out[o] = '\0';

	*ret = TAKE_PTR(out);
	return 0;
}

/* LVM VG and LV names: [A-Za-z0-9+_.-], not starting with '-', not "." or "..". */
static bool lvm_name_is_valid(const char *s, size_t n) {
	if (n == 0 || n > LVM_NAME_MAX || s[0] == '-')
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;

	for (size_t i = 0; i < n; i++)
		if (!ascii_isalpha(s[i]) && !ascii_isdigit(s[i]) && !char_in(s[i], "+_.-"))
			return false;

	return true;
}

static int volume_normalize(const char *value, char **ret, char **ret_error) {
	const char *vg, *slash;
	char *v;

	vg = startswith(value, "lvm:");
	if (!vg) {
		if (value[0] != '/')
			return error_setf(ret_error, -EINVAL, "not an absolute path or lvm:VG/LV");
		return path_normalize(value, false, ret, ret_error);
	}

	slash = strchr(vg, '/');
	if (!slash || strchr(slash + 1, '/'))
		return error_setf(ret_error, -EINVAL, "expected lvm:VG/LV");
	if (!lvm_name_is_valid(vg, (size_t) (slash - vg)))
		return error_setf(ret_error, -EINVAL, "invalid LVM volume group name");
	if (!lvm_name_is_valid(slash + 1, strlen(slash + 1)))
		return error_setf(ret_error, -EINVAL, "invalid LVM logical volume name");

	v = strdup(value);
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

/* A group name ([A-Za-z_][A-Za-z0-9_.-]*, as shadow's useradd accepts them) or a numeric GID. */
static bool group_is_valid(const char *s) {
	size_t n = strlen(s);
	uint64_t gid;

	if (ascii_isdigit(s[0]))
		return parse_u64(s, &gid) >= 0 && gid < UINT32_MAX;

	if (n == 0 || n > GROUP_NAME_MAX || !(ascii_isalpha(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!ascii_isalpha(s[i]) && !ascii_isdigit(s[i]) && !char_in(s[i], "_.-"))
			return false;

	return true;
}

int read_group_resolve(const char *group, gid_t *ret) {
	uint64_t gid;
	if (!group || !group_is_valid(group))
		return -EINVAL;
	/* A number is a GID, as in systemd's units: no lookup, the group need not have a name. */
	if (ascii_isdigit(group[0])) {
		if (parse_u64(group, &gid) < 0)
			return -EINVAL;
		*ret = (gid_t) gid;
		return 0;
	}
	errno = 0;
	struct group *g = getgrnam(group);
	if (!g) /* "not found" comes as 0, ENOENT, ESRCH, EBADF or EPERM, depending on the NSS module */
		return errno == ENOMEM || errno == EIO || errno == EMFILE || errno == ENFILE || errno == EINTR ? -errno :
		                                                                                                -ESRCH;
	*ret = g->gr_gid;
	return 0;
}

/* Value parsers of the key tables. */

static int parse_path_field(const char *value, bool allow_root, char **field, char **ret_error) {
	char *n = NULL;
	int r;

	if (!isempty(value)) {
		r = path_normalize(value, allow_root, &n, ret_error);
		if (r < 0)
			return r;
	}

	free(*field);
	*field = n;
	return 0;
}

int config_parse_path(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	return parse_path_field(value, false, field, ret_error);
}

/* RootDirectory=/ is meaningful: a container that shares the host's root. */
int config_parse_path_or_root(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	return parse_path_field(value, true, field, ret_error);
}

int config_parse_string(const char *value, void *field, _unused_ uint64_t dflt, _unused_ char **ret_error) {
	char **p = field, *n = NULL;

	if (!isempty(value)) {
		n = strdup(value);
		if (!n)
			return -ENOMEM;
	}

	free(*p);
	*p = n;
	return 0;
}

/* An LXC container's name is a directory under its LXC path and an argument of lxc-* commands:
 * [A-Za-z0-9_.+-], not starting with '.' or '-', at most NAME_MAX characters. */
int config_parse_lxc_name(const char *value, void *field, uint64_t dflt, char **ret_error) {
	size_t n = strlen(value);
	bool ok = n <= NAME_MAX && value[0] != '.' && value[0] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = ascii_isalpha(value[i]) || ascii_isdigit(value[i]) || char_in(value[i], "_.+-");
	if (!ok)
		return error_setf(ret_error, -EINVAL, "not a valid LXC container name ([A-Za-z0-9_.+-], not starting with "
		                  "'.' or '-', at most %d characters)", NAME_MAX);
	return config_parse_string(value, field, dflt, ret_error);
}

/* A machine name as systemd-machined accepts it (a host name): 1 to 64 characters of
 * [A-Za-z0-9_.-], not starting or ending with '.' or '-', no "..". */
int config_parse_machine_name(const char *value, void *field, uint64_t dflt, char **ret_error) {
	size_t n = strlen(value);
	if (n == 0) /* the reset to no machine */
		return config_parse_string(value, field, dflt, ret_error);
	bool ok = n <= 64 && !char_in(value[0], ".-") && !char_in(value[n - 1], ".-") && !strstr(value, "..");
	for (size_t i = 0; ok && i < n; i++)
		ok = ascii_isalpha(value[i]) || ascii_isdigit(value[i]) || char_in(value[i], "_.-");
	if (!ok)
		return error_setf(ret_error, -EINVAL, "not a valid machine name (1 to 64 characters [A-Za-z0-9_.-], not "
		                  "starting or ending with '.' or '-')");
	return config_parse_string(value, field, dflt, ret_error);
}

int config_parse_group(const char *value, void *field, uint64_t dflt, char **ret_error) {
	if (!isempty(value) && !group_is_valid(value))
		return error_setf(ret_error, -EINVAL, "not a valid group name or GID");

	return config_parse_string(value, field, dflt, ret_error);
}

/* Volume= is a list: each one appends, an empty one empties the list. */
int config_parse_volume(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	struct container_config *c = field;
	_cleanup_free_ char *v = NULL;
	char **l;
	int r;

	if (isempty(value)) {
		strv_free(c->volumes);
		c->volumes = NULL;
		c->n_volumes = 0;
		return 0;
	}

	r = volume_normalize(value, &v, ret_error);
	if (r < 0)
		return r;

	for (size_t i = 0; i < c->n_volumes; i++)
		if (streq(c->volumes[i], v))
			return error_setf(ret_error, -EINVAL, "volume listed twice");

	l = reallocarray(c->volumes, c->n_volumes + 2, sizeof(char *));
	if (!l)
		return -ENOMEM;
	l[c->n_volumes++] = TAKE_PTR(v);
	l[c->n_volumes] = NULL;
	c->volumes = l;
	return 0;
}

/* A network interface name as the kernel takes it: 1-15 bytes, no '/', ':', '=' or whitespace,
 * not "." or "..". */
static bool ifname_is_valid(const char *s, size_t n) {
	if (n == 0 || n > 15 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '=' || (unsigned char) s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* BridgeMap=SRC=DST: appended (an empty value clears the list); one SRC maps once. */
int config_parse_bridge_map(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	char ***map = field;
	if (isempty(value)) {
		strv_free(*map);
		*map = NULL;
		return 0;
	}
	const char *eq = strchr(value, '=');
	if (!eq || !ifname_is_valid(value, (size_t) (eq - value)) || !ifname_is_valid(eq + 1, strlen(eq + 1)))
		return error_setf(ret_error, -EINVAL, "expected SRC=DST, two bridge names (1-15 characters, no '/', ':', "
		                  "'=' or spaces)");
	size_t n = 0;
	for (; *map && (*map)[n]; n++)
		if (strncmp((*map)[n], value, (size_t) (eq - value) + 1) == 0)
			return error_setf(ret_error, -EINVAL, "bridge %.*s is mapped twice", (int) (eq - value), value);
	char **l = reallocarray(*map, n + 2, sizeof(char *));
	if (!l)
		return -ENOMEM;
	*map = l;
	if (!(l[n] = strdup(value)))
		return -ENOMEM;
	l[n + 1] = NULL;
	return 0;
}

int config_parse_pid(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	int *p = field;
	unsigned pid = 0;

	if (!isempty(value) && (parse_unsigned(value, &pid) < 0 || pid == 0 || pid > CONFIG_PID_MAX))
		return error_setf(ret_error, -EINVAL, "not a valid PID (empty = discover)");

	*p = (int) pid;
	return 0;
}

int config_parse_sec_positive(const char *value, void *field, uint64_t dflt, char **ret_error) {
	uint64_t *p = field, v = dflt;
	int r;

	if (!isempty(value)) {
		r = parse_sec(value, &v);
		if (r < 0)
			return error_setf(ret_error, r, "%s", r == -ERANGE ? "time span too large" : "invalid time span");
		if (v == 0)
			return error_setf(ret_error, -EINVAL, "must be greater than zero");
	}

	*p = v;
	return 0;
}

/* An enum given by name: index in names[] is the value; empty = the default. */
static int parse_enum(const char *value, const char *const *names, size_t n, uint64_t dflt, int *ret) {
	if (isempty(value)) {
		*ret = (int) dflt;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (names[i] && streq(value, names[i])) {
			*ret = (int) i;
			return 0;
		}
	return -EINVAL;
}

static const char *const staging_names[] = {
	[STAGING_AUTO] = "auto",
	[STAGING_MEMORY] = "memory",
	[STAGING_DISK] = "disk",
};

int config_parse_staging(const char *value, void *field, uint64_t dflt, char **ret_error) {
	int v;
	if (parse_enum(value, staging_names, ELEMENTSOF(staging_names), dflt, &v) < 0)
		return error_setf(ret_error, -EINVAL, "expected auto, memory or disk");
	*(enum staging_mode *) field = (enum staging_mode) v;
	return 0;
}

static const char *const network_lock_names[] = {
	[NETWORK_LOCK_AUTO] = "auto",
	[NETWORK_LOCK_SKIP] = "skip",
	[NETWORK_LOCK_NFTABLES] = "nftables",
	[NETWORK_LOCK_IPTABLES] = "iptables",
};

const char *network_lock_to_string(enum network_lock l) {
	if ((size_t) l >= ELEMENTSOF(network_lock_names) || !network_lock_names[l])
		return "auto";
	return network_lock_names[l];
}

int config_parse_network_lock(const char *value, void *field, uint64_t dflt, char **ret_error) {
	int v;
	if (parse_enum(value, network_lock_names, ELEMENTSOF(network_lock_names), dflt, &v) < 0)
		return error_setf(ret_error, -EINVAL, "expected auto, skip, nftables or iptables");
	*(enum network_lock *) field = (enum network_lock) v;
	return 0;
}

static const char *const network_config_names[] = {
	[NETWORK_CONFIG_PRESAVE] = "presave",
	[NETWORK_CONFIG_CRIU] = "criu",
	[NETWORK_CONFIG_AUTO] = "auto",
	[NETWORK_CONFIG_EXTERNAL] = "external",
};

int config_parse_network_config(const char *value, void *field, uint64_t dflt, char **ret_error) {
	int v;
	if (parse_enum(value, network_config_names, ELEMENTSOF(network_config_names), dflt, &v) < 0)
		return error_setf(ret_error, -EINVAL, "expected auto, external, presave or criu");
	*(enum network_config *) field = (enum network_config) v;
	return 0;
}

/* "auto", "no" (or 0) or a number of passes, 1..PRE_DUMP_MAX_PASSES. */
int config_parse_pre_dump(const char *value, void *field, uint64_t dflt, char **ret_error) {
	int *p = field;
	unsigned n;

	if (isempty(value))
		*p = (int) (int64_t) dflt;
	else if (streq(value, "auto"))
		*p = PRE_DUMP_AUTO;
	else if (streq(value, "no"))
		*p = 0;
	else if (parse_unsigned(value, &n) < 0 || n > PRE_DUMP_MAX_PASSES)
		return error_setf(ret_error, -EINVAL, "expected auto, no or a number of passes from 0 to %d",
		                  PRE_DUMP_MAX_PASSES);
	else
		*p = (int) n;
	return 0;
}

int config_parse_bool(const char *value, void *field, uint64_t dflt, char **ret_error) {
	bool *p = field, v = dflt != 0;

	if (!isempty(value) && parse_boolean(value, &v) < 0)
		return error_setf(ret_error, -EINVAL, "expected a boolean (yes/no, true/false, on/off, 1/0)");

	*p = v;
	return 0;
}

int config_parse_unsigned(const char *value, void *field, uint64_t dflt, char **ret_error) {
	unsigned *p = field, v = (unsigned) dflt;
	int r;

	if (!isempty(value)) {
		r = parse_unsigned(value, &v);
		if (r < 0)
			return error_setf(ret_error, r, "%s", r == -ERANGE ? "number too large" : "expected a non-negative integer");
	}

	*p = v;
	return 0;
}

int config_parse_unsigned_positive(const char *value, void *field, uint64_t dflt, char **ret_error) {
	unsigned v;
	int r;

	r = config_parse_unsigned(value, &v, dflt, ret_error);
	if (r < 0)
		return r;
	if (v == 0)
		return error_setf(ret_error, -EINVAL, "must be at least 1");

	*(unsigned *) field = v;
	return 0;
}

/* "10%" or "512M": a percentage of what (the file system, the origin) or a size; an empty value
 * is neither (both 0). */
static int parse_percent_or_size(const char *value, const char *of_what, const char *example, unsigned *ret_percent,
                                 uint64_t *ret_bytes, char **ret_error) {
	unsigned percent = 0;
	uint64_t bytes = 0;
	int r;

	if (!isempty(value)) {
		r = parse_min_free(value, &percent, &bytes);
		if (r == -ERANGE)
			return error_setf(ret_error, r, "value too large");
		if (r < 0)
			return error_setf(ret_error, r, "expected a percentage%s (%s) or a size (512M, 2G)", of_what,
			                   example);
	}
	*ret_percent = percent;
	*ret_bytes = bytes;
	return 0;
}

int config_parse_min_free(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	struct retention_config *rc = field;

	return parse_percent_or_size(value, "", "10%", &rc->min_free_percent, &rc->min_free_bytes, ret_error);
}

int config_parse_snapshot_size(const char *value, void *field, _unused_ uint64_t dflt, char **ret_error) {
	struct container_config *c = field;
	unsigned percent = 0;
	uint64_t bytes = 0;
	int r;

	r = parse_percent_or_size(value, " of the origin", "20%", &percent, &bytes, ret_error);
	if (r < 0)
		return r;
	if (!isempty(value) && percent == 0 && bytes == 0)
		return error_setf(ret_error, -EINVAL, "must be greater than zero");
	c->snapshot_size_percent = percent;
	c->snapshot_size_bytes = bytes;
	return 0;
}
