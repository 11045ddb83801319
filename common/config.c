/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Configuration files, parsed with libinih.
 *
 * libinih splits lines into sections and Key=Value pairs and calls our handler; a table of
 * (section, key, parser, offset) turns values into struct fields. What libinih does not do
 * the way we need, we do in the line reader we hand to ini_parse_stream():
 *
 *  - line numbers: the handler has no line number unless the library was built with
 *    INI_HANDLER_LINENO (Debian 12's libinih1 55-1 is not), so the reader counts lines
 *    (libinih calls it exactly once per line, then calls the handler for that line);
 *  - inline comments: Debian's build strips " ;" but not " #", so the reader strips both
 *    (whitespace followed by '#' or ';' starts a comment; a value cannot contain them);
 *  - continuation lines: libinih treats an indented line as a continuation of the previous
 *    value (INI_ALLOW_MULTILINE); systemd does not, so the reader removes leading whitespace;
 *  - long lines: libinih's line buffer is 200 bytes and it silently splits longer lines;
 *    the reader reads whole lines and refuses one that does not fit after stripping;
 *  - strictness: NUL bytes, "Key: value", section headers with trailing text and unknown
 *    sections (even empty ones, for which the handler is never called) are refused.
 *
 * Like systemd: an empty value resets a key to its default (an empty Volume= empties the
 * list), a repeated key that is not a list keeps its last value, and keys and section names
 * are case-sensitive. Every error names the file, the line and the key. */

#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include "macro.h"

#ifndef USEC_PER_SEC
#define USEC_PER_SEC ((uint64_t) 1000000U)
#endif

#define CONFIG_FILE_MAX (1024U * 1024U) /* bytes; a config file is a few hundred */
#define CONFIG_PID_MAX 4194304          /* PID_MAX_LIMIT on 64-bit kernels */
#define LVM_NAME_MAX 127
#define GROUP_NAME_MAX 256

#define WHITESPACE " \t\n\r\v\f"

/* Parses one value into *field; an empty value sets the default. On error returns -EINVAL or
 * -ERANGE (or -ENOMEM) and points *ret_reason at a static text. */
typedef int (*config_parse_t)(const char *value, void *field, uint64_t dflt, const char **ret_reason);

struct config_item {
	const char *section;
	const char *key;
	config_parse_t parse;
	size_t offset;
	uint64_t dflt;
};

struct config_parser {
	const char *file;
	FILE *f;
	const struct config_item *items;
	size_t n_items;
	void *target;
	unsigned line;
	size_t bytes;
	char *buf;
	size_t buf_allocated;
	int r;       /* first error, or 0 */
	char *error; /* its message */
};

static bool isempty(const char *s) {
	return !s || !*s;
}

static bool ascii_isdigit(char c) {
	return c >= '0' && c <= '9';
}

static bool ascii_isalpha(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool char_in(char c, const char *set) {
	return c != '\0' && strchr(set, c);
}

static const char *startswith(const char *s, const char *prefix) {
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

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

/* Plain decimal digits, nothing else: no sign, no whitespace, no base prefix. */
static int parse_u64(const char *s, uint64_t *ret) {
	uint64_t v = 0;

	if (!s || !ascii_isdigit(*s))
		return -EINVAL;

	for (; *s; s++) {
		unsigned d;

		if (!ascii_isdigit(*s))
			return -EINVAL;
		d = (unsigned) (*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}

	*ret = v;
	return 0;
}

static int parse_unsigned(const char *s, unsigned *ret) {
	uint64_t v;
	int r;

	r = parse_u64(s, &v);
	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;

	*ret = (unsigned) v;
	return 0;
}

static const struct {
	const char *unit;
	uint64_t usec;
} time_units[] = {
	{ "us", 1 },
	{ "usec", 1 },
	{ "ms", 1000 },
	{ "msec", 1000 },
	{ "s", USEC_PER_SEC },
	{ "sec", USEC_PER_SEC },
	{ "second", USEC_PER_SEC },
	{ "seconds", USEC_PER_SEC },
	{ "m", 60 * USEC_PER_SEC },
	{ "min", 60 * USEC_PER_SEC },
	{ "minute", 60 * USEC_PER_SEC },
	{ "minutes", 60 * USEC_PER_SEC },
	{ "h", 3600 * USEC_PER_SEC },
	{ "hr", 3600 * USEC_PER_SEC },
	{ "hour", 3600 * USEC_PER_SEC },
	{ "hours", 3600 * USEC_PER_SEC },
	{ "d", 86400 * USEC_PER_SEC },
	{ "day", 86400 * USEC_PER_SEC },
	{ "days", 86400 * USEC_PER_SEC },
	{ "w", 604800 * USEC_PER_SEC },
	{ "week", 604800 * USEC_PER_SEC },
	{ "weeks", 604800 * USEC_PER_SEC },
};

static int time_unit_lookup(const char *s, size_t n, uint64_t *ret_usec) {
	for (size_t i = 0; i < ELEMENTSOF(time_units); i++)
		if (strlen(time_units[i].unit) == n && strncmp(time_units[i].unit, s, n) == 0) {
			*ret_usec = time_units[i].usec;
			return 0;
		}

	return -EINVAL;
}

/* One "NUMBER[.FRACTION][ ]UNIT" component of a time span; a missing unit means seconds.
 * Advances *p past it. */
static int parse_sec_component(const char **p, uint64_t *ret_usec) {
	const char *s = *p, *frac, *after_number;
	uint64_t whole = 0, mult = USEC_PER_SEC, m, v, fv = 0;
	size_t n_whole = 0, n_frac = 0, n_unit;
	int r;

	for (; ascii_isdigit(*s); s++, n_whole++) {
		unsigned d = (unsigned) (*s - '0');

		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	frac = s;
	if (*s == '.') {
		frac = ++s;
		for (; ascii_isdigit(*s); s++)
			n_frac++;
	}
	if (n_whole == 0 && n_frac == 0)
		return -EINVAL;

	after_number = s;
	s += strspn(s, WHITESPACE);
	for (n_unit = 0; ascii_isalpha(s[n_unit]); n_unit++)
		;
	if (n_unit > 0) {
		r = time_unit_lookup(s, n_unit, &mult);
		if (r < 0)
			return r;
		s += n_unit;
	} else if (*s != '\0' && s == after_number)
		return -EINVAL; /* "1.5.5", "10%": junk right after a bare number */

	if (whole > UINT64_MAX / mult)
		return -ERANGE;
	v = whole * mult;
	m = mult;
	for (size_t i = 0; i < n_frac && m > 0; i++) {
		m /= 10;
		fv += (uint64_t) (frac[i] - '0') * m;
	}
	if (v > UINT64_MAX - fv)
		return -ERANGE;

	*p = s;
	*ret_usec = v + fv;
	return 0;
}

int parse_sec(const char *s, uint64_t *ret_usec) {
	uint64_t total = 0;
	bool any = false;
	int r;

	if (!s)
		return -EINVAL;

	for (;;) {
		uint64_t v;

		s += strspn(s, WHITESPACE);
		if (*s == '\0')
			break;

		r = parse_sec_component(&s, &v);
		if (r < 0)
			return r;
		if (total > UINT64_MAX - v)
			return -ERANGE;
		total += v;
		any = true;
	}
	if (!any)
		return -EINVAL;

	*ret_usec = total;
	return 0;
}

int parse_boolean(const char *s, bool *ret) {
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	if (!s)
		return -EINVAL;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}

	return -EINVAL;
}

/* "4096", "512K", "2G": bytes, suffixes K M G T with base 1024. */
static int parse_size(const char *s, uint64_t *ret) {
	static const struct {
		char suffix;
		unsigned shift;
	} suffixes[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
	_cleanup_free_ char *digits = NULL;
	size_t n = strlen(s);
	unsigned shift = 0;
	uint64_t v;
	int r;

	for (size_t i = 0; n > 0 && i < ELEMENTSOF(suffixes); i++)
		if (s[n - 1] == suffixes[i].suffix) {
			shift = suffixes[i].shift;
			n--;
			break;
		}

	digits = strndup(s, n);
	if (!digits)
		return -ENOMEM;
	r = parse_u64(digits, &v);
	if (r < 0)
		return r;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;

	*ret = v << shift;
	return 0;
}

int parse_min_free(const char *s, unsigned *ret_percent, uint64_t *ret_bytes) {
	size_t n;
	int r;

	if (isempty(s))
		return -EINVAL;

	n = strlen(s);
	if (s[n - 1] == '%') {
		_cleanup_free_ char *digits = strndup(s, n - 1);
		unsigned p;

		if (!digits)
			return -ENOMEM;
		r = parse_unsigned(digits, &p);
		if (r < 0)
			return r;
		if (p > 100)
			return -ERANGE;

		*ret_percent = p;
		*ret_bytes = 0;
		return 0;
	}

	uint64_t bytes;
	r = parse_size(s, &bytes);
	if (r < 0)
		return r;

	*ret_percent = 0;
	*ret_bytes = bytes;
	return 0;
}

/* Absolute path, normalised: duplicate slashes, "." components and a trailing slash removed;
 * ".." components are refused, and "/" itself unless allow_root. */
static int path_normalize(const char *value, bool allow_root, char **ret, const char **ret_reason) {
	_cleanup_free_ char *out = NULL;
	size_t o = 0;

	if (value[0] != '/') {
		*ret_reason = "not an absolute path";
		return -EINVAL;
	}
	if (strlen(value) >= PATH_MAX) {
		*ret_reason = "path too long";
		return -ENAMETOOLONG;
	}

	out = malloc(strlen(value) + 1);
	if (!out)
		return -ENOMEM;

	for (const char *p = value;;) {
		size_t n;

		p += strspn(p, "/");
		if (*p == '\0')
			break;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*ret_reason = "path contains a \"..\" component";
			return -EINVAL;
		}
		if (!(n == 1 && p[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == 0) {
		if (!allow_root) {
			*ret_reason = "refusing the root directory";
			return -EINVAL;
		}
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

static int volume_normalize(const char *value, char **ret, const char **ret_reason) {
	const char *vg, *slash;
	char *v;

	vg = startswith(value, "lvm:");
	if (!vg) {
		if (value[0] != '/') {
			*ret_reason = "not an absolute path or lvm:VG/LV";
			return -EINVAL;
		}
		return path_normalize(value, false, ret, ret_reason);
	}

	slash = strchr(vg, '/');
	if (!slash || strchr(slash + 1, '/')) {
		*ret_reason = "expected lvm:VG/LV";
		return -EINVAL;
	}
	if (!lvm_name_is_valid(vg, (size_t) (slash - vg))) {
		*ret_reason = "invalid LVM volume group name";
		return -EINVAL;
	}
	if (!lvm_name_is_valid(slash + 1, strlen(slash + 1))) {
		*ret_reason = "invalid LVM logical volume name";
		return -EINVAL;
	}

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

static int parse_path_field(const char *value, bool allow_root, char **field, const char **ret_reason) {
	char *n = NULL;
	int r;

	if (!isempty(value)) {
		r = path_normalize(value, allow_root, &n, ret_reason);
		if (r < 0)
			return r;
	}

	free(*field);
	*field = n;
	return 0;
}

static int config_parse_path(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
	return parse_path_field(value, false, field, ret_reason);
}

/* RootDirectory=/ is meaningful: a container that shares the host's root. */
static int config_parse_path_or_root(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
	return parse_path_field(value, true, field, ret_reason);
}

static int config_parse_string(const char *value, void *field, _unused_ uint64_t dflt, _unused_ const char **ret_reason) {
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

static int config_parse_group(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	if (!isempty(value) && !group_is_valid(value)) {
		*ret_reason = "not a valid group name or GID";
		return -EINVAL;
	}

	return config_parse_string(value, field, dflt, ret_reason);
}

/* Volume= is a list: each one appends, an empty one empties the list. */
static int config_parse_volume(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
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

	r = volume_normalize(value, &v, ret_reason);
	if (r < 0)
		return r;

	for (size_t i = 0; i < c->n_volumes; i++)
		if (streq(c->volumes[i], v)) {
			*ret_reason = "volume listed twice";
			return -EINVAL;
		}

	l = reallocarray(c->volumes, c->n_volumes + 2, sizeof(char *));
	if (!l)
		return -ENOMEM;
	l[c->n_volumes++] = TAKE_PTR(v);
	l[c->n_volumes] = NULL;
	c->volumes = l;
	return 0;
}

static int config_parse_pid(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
	int *p = field;
	unsigned pid = 0;

	if (!isempty(value) && (parse_unsigned(value, &pid) < 0 || pid == 0 || pid > CONFIG_PID_MAX)) {
		*ret_reason = "not a valid PID (empty = discover)";
		return -EINVAL;
	}

	*p = (int) pid;
	return 0;
}

static int config_parse_sec_positive(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	uint64_t *p = field, v = dflt;
	int r;

	if (!isempty(value)) {
		r = parse_sec(value, &v);
		if (r < 0) {
			*ret_reason = r == -ERANGE ? "time span too large" : "invalid time span";
			return r;
		}
		if (v == 0) {
			*ret_reason = "must be greater than zero";
			return -EINVAL;
		}
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

static int config_parse_staging(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	int v;
	if (parse_enum(value, staging_names, ELEMENTSOF(staging_names), dflt, &v) < 0) {
		*ret_reason = "expected auto, memory or disk";
		return -EINVAL;
	}
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

static int config_parse_network_lock(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	int v;
	if (parse_enum(value, network_lock_names, ELEMENTSOF(network_lock_names), dflt, &v) < 0) {
		*ret_reason = "expected auto, skip, nftables or iptables";
		return -EINVAL;
	}
	*(enum network_lock *) field = (enum network_lock) v;
	return 0;
}

static int config_parse_bool(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	bool *p = field, v = dflt != 0;

	if (!isempty(value) && parse_boolean(value, &v) < 0) {
		*ret_reason = "expected a boolean (yes/no, true/false, on/off, 1/0)";
		return -EINVAL;
	}

	*p = v;
	return 0;
}

static int config_parse_unsigned(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	unsigned *p = field, v = (unsigned) dflt;
	int r;

	if (!isempty(value)) {
		r = parse_unsigned(value, &v);
		if (r < 0) {
			*ret_reason = r == -ERANGE ? "number too large" : "expected a non-negative integer";
			return r;
		}
	}

	*p = v;
	return 0;
}

static int config_parse_unsigned_positive(const char *value, void *field, uint64_t dflt, const char **ret_reason) {
	unsigned v;
	int r;

	r = config_parse_unsigned(value, &v, dflt, ret_reason);
	if (r < 0)
		return r;
	if (v == 0) {
		*ret_reason = "must be at least 1";
		return -EINVAL;
	}

	*(unsigned *) field = v;
	return 0;
}

static int config_parse_min_free(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
	struct retention_config *rc = field;
	unsigned percent = 0;
	uint64_t bytes = 0;
	int r;

	if (!isempty(value)) {
		r = parse_min_free(value, &percent, &bytes);
		if (r < 0) {
			*ret_reason = r == -ERANGE ? "value too large" :
						     "expected a percentage (10%) or a size (512M, 2G)";
			return r;
		}
	}

	rc->min_free_percent = percent;
	rc->min_free_bytes = bytes;
	return 0;
}

static int config_parse_snapshot_size(const char *value, void *field, _unused_ uint64_t dflt, const char **ret_reason) {
	struct container_config *c = field;
	unsigned percent = 0;
	uint64_t bytes = 0;
	int r;

	if (!isempty(value)) {
		r = parse_min_free(value, &percent, &bytes);
		if (r < 0) {
			*ret_reason = r == -ERANGE ? "value too large" :
						     "expected a percentage of the origin (20%) or a size (512M, 2G)";
			return r;
		}
		if (percent == 0 && bytes == 0) {
			*ret_reason = "must be greater than zero";
			return -EINVAL;
		}
	}

	c->snapshot_size_percent = percent;
	c->snapshot_size_bytes = bytes;
	return 0;
}

#define CC(field) offsetof(struct container_config, field)
#define USEC(s) ((uint64_t) (s) * USEC_PER_SEC)

static const struct config_item container_items[] = {
	{ "Container", "Cgroup", config_parse_path, CC(cgroup), 0 },
	{ "Container", "Volume", config_parse_volume, 0, 0 },
	{ "Container", "RootPid", config_parse_pid, CC(root_pid), 0 },
	{ "Container", "RootDirectory", config_parse_path_or_root, CC(root_directory), 0 },
	{ "Container", "SnapshotSize", config_parse_snapshot_size, 0, 0 },
	{ "Checkpoint", "FreezeTimeoutSec", config_parse_sec_positive, CC(freeze_timeout_usec), USEC(10) },
	{ "Checkpoint", "MaxFrozenSec", config_parse_sec_positive, CC(max_frozen_usec), USEC(60) },
	{ "Checkpoint", "Staging", config_parse_staging, CC(staging), STAGING_AUTO },
	{ "Checkpoint", "TcpEstablished", config_parse_bool, CC(tcp_established), false },
	{ "Checkpoint", "FileLocks", config_parse_bool, CC(file_locks), false },
	{ "Checkpoint", "NetworkLock", config_parse_network_lock, CC(network_lock), NETWORK_LOCK_AUTO },
	{ "Schedule", "OnCalendar", config_parse_string, CC(on_calendar), 0 },
	{ "Retention", "KeepLast", config_parse_unsigned, CC(retention.keep_last), 10 },
	{ "Retention", "KeepHourly", config_parse_unsigned, CC(retention.keep_hourly), 0 },
	{ "Retention", "KeepDaily", config_parse_unsigned, CC(retention.keep_daily), 0 },
	{ "Retention", "KeepWeekly", config_parse_unsigned, CC(retention.keep_weekly), 0 },
	{ "Retention", "KeepMonthly", config_parse_unsigned, CC(retention.keep_monthly), 0 },
	{ "Retention", "KeepYearly", config_parse_unsigned, CC(retention.keep_yearly), 0 },
	{ "Retention", "MinFreeSpace", config_parse_min_free, CC(retention), 0 },
};

#define DC(field) offsetof(struct daemon_config, field)

static const struct config_item daemon_items[] = {
	{ "Daemon", "Criu", config_parse_path, DC(criu), 0 },
	{ "Daemon", "ReadGroup", config_parse_group, DC(read_group), 0 },
	{ "Daemon", "StagingDir", config_parse_path, DC(staging_dir), 0 },
	{ "Daemon", "MaxParallelJobs", config_parse_unsigned_positive, DC(max_parallel_jobs), 4 },
	{ "Daemon", "MaxConnections", config_parse_unsigned_positive, DC(max_connections), 256 },
	{ "Daemon", "MaxConnectionsPerUser", config_parse_unsigned_positive, DC(max_connections_per_user), 16 },
};

/* Sets every key to its default: the parsers' meaning of an empty value. */
static int config_items_reset(const struct config_item *items, size_t n_items, void *target) {
	for (size_t i = 0; i < n_items; i++) {
		const char *reason = NULL;
		int r;

		r = items[i].parse("", (char *) target + items[i].offset, items[i].dflt, &reason);
		if (r < 0)
			return r;
	}

	return 0;
}

_printf_(3, 4) static void parser_error(struct config_parser *p, int r, const char *fmt, ...) {
	va_list ap;
	char *m;
	int k;

	if (p->r < 0) /* the first error is the one reported */
		return;

	va_start(ap, fmt);
	k = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (k < 0) {
		p->r = -ENOMEM;
		return;
	}

	p->r = r;
	p->error = m;
}

static bool parser_section_is_known(const struct config_parser *p, const char *section, size_t n) {
	for (size_t i = 0; i < p->n_items; i++)
		if (strlen(p->items[i].section) == n && strncmp(p->items[i].section, section, n) == 0)
			return true;

	return false;
}

/* Removes leading whitespace, a whole-line comment, an inline comment (whitespace followed by
 * '#' or ';') and trailing whitespace. Returns the start of what is left, in place. */
static char *line_strip(char *line) {
	char *end;

	line += strspn(line, WHITESPACE);
	if (char_in(line[0], "#;"))
		return line + strlen(line);

	for (char *c = line; *c; c++)
		if (char_in(c[0], " \t") && char_in(c[1], "#;")) {
			*c = '\0';
			break;
		}

	end = line + strlen(line);
	while (end > line && char_in(end[-1], WHITESPACE))
		end--;
	*end = '\0';
	return line;
}

/* A stripped line must be empty, "[Section]" with a known section, or "Key=Value". */
static void parser_check_line(struct config_parser *p, const char *line) {
	size_t n = strlen(line);

	if (n == 0)
		return;

	if (line[0] == '[') {
		if (n < 3 || line[n - 1] != ']' || strcspn(line + 1, "[]") != n - 2)
			parser_error(p, -EINVAL, "%s:%u: %s: invalid section header", p->file, p->line, line);
		else if (!parser_section_is_known(p, line + 1, n - 2))
			parser_error(p, -EINVAL, "%s:%u: %s: unknown section", p->file, p->line, line);
		return;
	}

	/* libinih also accepts "Key: Value"; systemd does not. */
	if (strcspn(line, "=:") == n || line[strcspn(line, "=:")] != '=' || line[0] == '=')
		parser_error(p, -EINVAL, "%s:%u: %s: expected Key=Value, [Section] or a comment",
			     p->file, p->line, line);
}

/* ini_reader: called by libinih once per line, before the handler for that line. */
static char *parser_read_line(char *str, int num, void *userdata) {
	struct config_parser *p = userdata;
	ssize_t n;
	size_t len;
	char *line;

	if (p->r < 0) /* stop at the first error */
		return NULL;

	errno = 0;
	n = getline(&p->buf, &p->buf_allocated, p->f);
	if (n < 0) {
		if (ferror(p->f))
			parser_error(p, negative_errno(), "%s: failed to read: %s", p->file, strerror(errno));
		else if (errno == ENOMEM)
			p->r = -ENOMEM;
		return NULL;
	}
	p->line++;

	p->bytes += (size_t) n;
	if (p->bytes > CONFIG_FILE_MAX) {
		parser_error(p, -EFBIG, "%s:%u: file too large (more than %u bytes)", p->file, p->line, CONFIG_FILE_MAX);
		return NULL;
	}
	if (strlen(p->buf) != (size_t) n) {
		parser_error(p, -EINVAL, "%s:%u: line contains a NUL byte", p->file, p->line);
		return NULL;
	}

	line = p->buf;
	if (p->line == 1 && startswith(line, "\xEF\xBB\xBF")) /* UTF-8 byte order mark */
		line += 3;
	line = line_strip(line);

	parser_check_line(p, line);
	if (p->r < 0)
		return NULL;

	/* libinih needs room for "\r\n\0" after the longest line. */
	len = strlen(line);
	if (num < 3 || len > (size_t) num - 3) {
		parser_error(p, -EINVAL, "%s:%u: line too long (at most %d characters without comments)",
			     p->file, p->line, num - 3);
		return NULL;
	}

	memcpy(str, line, len + 1);
	return str;
}

static const struct config_item *parser_find_item(const struct config_parser *p, const char *section, const char *key) {
	for (size_t i = 0; i < p->n_items; i++)
		if (streq(p->items[i].section, section) && streq(p->items[i].key, key))
			return p->items + i;

	return NULL;
}

/* ini_handler: one Key=Value line. Returns nonzero on success, as libinih wants. */
static int parser_handle(void *userdata, const char *section, const char *key, const char *value) {
	struct config_parser *p = userdata;
	const struct config_item *item;
	const char *reason = "invalid value";
	int r;

	if (p->r < 0)
		return 0;

	if (isempty(section)) {
		parser_error(p, -EINVAL, "%s:%u: %s=%s: key outside of any section", p->file, p->line, key, value);
		return 0;
	}

	item = parser_find_item(p, section, key);
	if (!item) {
		parser_error(p, -EINVAL, "%s:%u: [%s] %s=%s: unknown key", p->file, p->line, section, key, value);
		return 0;
	}

	r = item->parse(value, (char *) p->target + item->offset, item->dflt, &reason);
	if (r == -ENOMEM) {
		p->r = r;
		return 0;
	}
	if (r < 0) {
		parser_error(p, r, "%s:%u: [%s] %s=%s: %s", p->file, p->line, section, key, value, reason);
		return 0;
	}

	return 1;
}

_printf_(2, 3) static void set_error(char **ret_error, const char *fmt, ...) {
	va_list ap;
	char *m;

	if (!ret_error)
		return;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);

	*ret_error = m;
}

/* Opens a config file for reading; refuses what is not a regular file of sane size (a FIFO
 * would block, /dev/zero would never end). */
static int config_open(const char *path, FILE **ret) {
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	FILE *f;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_size > (off_t) CONFIG_FILE_MAX)
		return -EFBIG;

	f = fdopen(fd, "r");
	if (!f)
		return -errno;
	TAKE_FD(fd);

	*ret = f;
	return 0;
}

static const char *config_open_strerror(int r) {
	switch (r) {
	case -EBADFD:
		return "not a regular file";
	case -EFBIG:
		return "file too large";
	default:
		return strerror(-r);
	}
}

/* Parses an open file into target, whose keys must already hold their defaults. */
static int config_parse_file(const char *path, FILE *f, const struct config_item *items, size_t n_items,
			     void *target, char **ret_error) {
	struct config_parser p = {
		.file = path,
		.f = f,
		.items = items,
		.n_items = n_items,
		.target = target,
	};
	int k;

	k = ini_parse_stream(parser_read_line, &p, parser_handle, &p);
	free(p.buf);

	if (p.r == 0 && k == -2)
		p.r = -ENOMEM;
	else if (p.r == 0 && k != 0) /* not expected: the reader refuses what libinih would */
		parser_error(&p, -EINVAL, "%s:%d: syntax error", path, k);

	if (p.r < 0) {
		if (ret_error)
			*ret_error = p.error;
		else
			free(p.error);
		return p.r;
	}

	return 0;
}

void daemon_config_done(struct daemon_config *c) {
	if (!c)
		return;

	free(c->criu);
	free(c->read_group);
	free(c->staging_dir);
	*c = (struct daemon_config) {};
}

/* A missing file (ENOENT) is not an error: the daemon runs with the defaults then. */
int daemon_config_load(const char *path, struct daemon_config *ret, char **ret_error) {
	_cleanup_(daemon_config_done) struct daemon_config c = {};
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	r = config_items_reset(daemon_items, ELEMENTSOF(daemon_items), &c);
	if (r < 0)
		return r;

	r = config_open(path, &f);
	if (r == -ENOENT) {
		*ret = c;
		c = (struct daemon_config) {};
		return 0;
	}
	if (r < 0) {
		set_error(ret_error, "%s: %s", path, config_open_strerror(r));
		return r;
	}

	r = config_parse_file(path, f, daemon_items, ELEMENTSOF(daemon_items), &c, ret_error);
	if (r < 0)
		return r;

	*ret = c;
	c = (struct daemon_config) {};
	return 0;
}

struct container_config *container_config_free(struct container_config *c) {
	if (!c)
		return NULL;

	free(c->name);
	free(c->file);
	free(c->cgroup);
	strv_free(c->volumes);
	free(c->root_directory);
	free(c->on_calendar);
	free(c);
	return NULL;
}

/* "containers.d/web.conf" → "web". */
static int container_name_from_path(const char *path, char **ret) {
	const char *base = strrchr(path, '/');
	size_t n;
	char *name;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n < strlen(".conf") || !streq(base + n - strlen(".conf"), ".conf"))
		return -EINVAL;

	name = strndup(base, n - strlen(".conf"));
	if (!name)
		return -ENOMEM;
	if (!container_name_is_valid(name)) {
		free(name);
		return -EINVAL;
	}

	*ret = name;
	return 0;
}

/* The length of the parent directory of a normalized absolute path (1 for "/x"). */
static size_t parent_length(const char *p) {
	const char *slash = strrchr(p, '/');
	return slash == p ? 1 : (size_t) (slash - p);
}

/* Path volumes that would step on each other: one inside another (the inner one is a nested
 * subvolume of the outer, which ckptd snapshots with it, and its .ckptd directory would sit in
 * the outer volume), or two in one directory where one is named like the other's directory of
 * nested snapshots (<basename>.nested, see snapshot-backends/btrfs.c). */
static int volumes_check_layout(const char *path, const struct container_config *c, char **ret_error) {
	for (size_t i = 0; i < c->n_volumes; i++)
		for (size_t k = 0; k < c->n_volumes; k++) {
			const char *a = c->volumes[i], *b = c->volumes[k];
			size_t la = strlen(a), pa = parent_length(a), pb = parent_length(b);
			if (i == k || a[0] != '/' || b[0] != '/')
				continue;
			if (strncmp(a, b, la) == 0 && b[la] == '/') {
				set_error(ret_error, "%s: [Container] Volume=%s lies inside Volume=%s: name only the outer one "
				          "(ckptd snapshots the subvolumes nested in a volume with it)", path, b, a);
				return -EINVAL;
			}
			if (pa == pb && strncmp(a, b, pa) == 0 && strlen(b + pb) == strlen(a + pa) + 7 &&
			    strncmp(b + pb, a + pa, strlen(a + pa)) == 0 && streq(b + pb + strlen(a + pa), ".nested")) {
				set_error(ret_error, "%s: [Container] Volume=%s is named like the directory that holds the nested "
				          "subvolume snapshots of Volume=%s: rename one of them", path, b, a);
				return -EINVAL;
			}
		}
	return 0;
}

int container_config_load(const char *path, struct container_config **ret, char **ret_error) {
	_cleanup_(container_config_freep) struct container_config *c = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;

	r = container_name_from_path(path, &c->name);
	if (r == -EINVAL)
		set_error(ret_error,
			  "%s: the file name must be NAME.conf, NAME of 1 to %d characters [A-Za-z0-9_.-], not starting with '.'",
			  path, CONTAINER_NAME_MAX);
	if (r < 0)
		return r;

	c->file = strdup(path);
	if (!c->file)
		return -ENOMEM;

	r = config_items_reset(container_items, ELEMENTSOF(container_items), c);
	if (r < 0)
		return r;

	r = config_open(path, &f);
	if (r < 0) {
		set_error(ret_error, "%s: %s", path, config_open_strerror(r));
		return r;
	}

	r = config_parse_file(path, f, container_items, ELEMENTSOF(container_items), c, ret_error);
	if (r < 0)
		return r;

	if (!c->cgroup) {
		set_error(ret_error, "%s: [Container] Cgroup= is missing", path);
		return -EINVAL;
	}
	if (c->n_volumes == 0) {
		set_error(ret_error, "%s: [Container] Volume= is missing (at least one is needed)", path);
		return -EINVAL;
	}
	r = volumes_check_layout(path, c, ret_error);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(c);
	return 0;
}
