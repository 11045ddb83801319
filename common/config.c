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

#include "config-item.h"
#include "error.h"
#include "macro.h"
#include "parse-util.h"

#include "time-util.h"

#define CONFIG_FILE_MAX (1024U * 1024U) /* bytes; a config file is a few hundred */


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

#define CC(field) offsetof(struct container_config, field)
#define USEC(s) ((uint64_t) (s) * USEC_PER_SEC)

static const struct config_item container_items[] = {
	{ "Container", "Cgroup", config_parse_path, CC(cgroup), 0 },
	{ "Container", "Volume", config_parse_volume, 0, 0 },
	{ "Container", "RootPid", config_parse_pid, CC(root_pid), 0 },
	{ "Container", "RootDirectory", config_parse_path_or_root, CC(root_directory), 0 },
	{ "Container", "SnapshotSize", config_parse_snapshot_size, 0, 0 },
	{ "Container", "LXC", config_parse_lxc_name, CC(lxc), 0 },
	{ "Container", "LXCPath", config_parse_path, CC(lxc_path), 0 },
	{ "Container", "Machine", config_parse_machine_name, CC(machine), 0 },
	{ "Checkpoint", "FreezeTimeoutSec", config_parse_sec_positive, CC(freeze_timeout_usec), USEC(10) },
	{ "Checkpoint", "MaxFrozenSec", config_parse_sec_positive, CC(max_frozen_usec), USEC(60) },
	{ "Checkpoint", "Staging", config_parse_staging, CC(staging), STAGING_AUTO },
	{ "Checkpoint", "TcpEstablished", config_parse_bool, CC(tcp_established), false },
	{ "Checkpoint", "FileLocks", config_parse_bool, CC(file_locks), false },
	{ "Checkpoint", "NetworkLock", config_parse_network_lock, CC(network_lock), NETWORK_LOCK_AUTO },
	{ "Checkpoint", "NetworkConfig", config_parse_network_config, CC(network_config), NETWORK_CONFIG_AUTO },
	{ "Checkpoint", "ShareImages", config_parse_bool, CC(share_images), true },
	{ "Checkpoint", "FullImageEvery", config_parse_unsigned, CC(full_image_every), 8 },
	{ "Checkpoint", "PreDump", config_parse_pre_dump, CC(pre_dump), (uint64_t) PRE_DUMP_AUTO },
	{ "Schedule", "OnCalendar", config_parse_string, CC(on_calendar), 0 },
	{ "Network", "BridgeMap", config_parse_bridge_map, CC(bridge_map), 0 },
	{ "Replicate", "Command", config_parse_string, CC(replicate_command), 0 },
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
		_cleanup_free_ char *error = NULL;
		int r;

		r = items[i].parse("", (char *) target + items[i].offset, items[i].dflt, &error);
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
	_cleanup_free_ char *error = NULL;
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

	r = item->parse(value, (char *) p->target + item->offset, item->dflt, &error);
	if (r == -ENOMEM) {
		p->r = r;
		return 0;
	}
	if (r < 0) {
		parser_error(p, r, "%s:%u: [%s] %s=%s: %s", p->file, p->line, section, key, value,
		             error ? error : "invalid value");
		return 0;
	}

	return 1;
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
		return error_setf(ret_error, r, "%s: %s", path, config_open_strerror(r));
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
	strv_free(c->bridge_map);
	free(c->replicate_command);
	free(c->root_directory);
	free(c->lxc);
	free(c->lxc_path);
	free(c->machine);
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
				return error_setf(ret_error, -EINVAL, "%s: [Container] Volume=%s lies inside Volume=%s: name only the outer one "
				          "(ckptd snapshots the subvolumes nested in a volume with it)", path, b, a);
			}
			if (pa == pb && strncmp(a, b, pa) == 0 && strlen(b + pb) == strlen(a + pa) + 7 &&
			    strncmp(b + pb, a + pa, strlen(a + pa)) == 0 && streq(b + pb + strlen(a + pa), ".nested")) {
				return error_setf(ret_error, -EINVAL, "%s: [Container] Volume=%s is named like the directory that holds the nested "
				          "subvolume snapshots of Volume=%s: rename one of them", path, b, a);
			}
		}
	return 0;
}

/* LXC= names the container whose cgroup and init LXC knows: Cgroup= and RootPid= would contradict
 * it; LXCPath= means nothing without it. Volume= may be left out (the rootfs is the volume). */
static int container_config_check_lxc(const char *path, const struct container_config *c, char **ret_error) {
	if (c->lxc_path && !c->lxc)
		return error_setf(ret_error, -EINVAL, "%s: [Container] LXCPath= is set but LXC= is not", path);
	if (c->lxc && c->cgroup)
		return error_setf(ret_error, -EINVAL, "%s: [Container] Cgroup= and LXC= exclude each other (LXC knows the "
		                  "container's cgroup)", path);
	if (c->lxc && c->root_pid)
		return error_setf(ret_error, -EINVAL, "%s: [Container] RootPid= and LXC= exclude each other (LXC knows the "
		                  "container's init)", path);
	return 0;
}

/* Machine= names a machine whose cgroup, leader and root directory machined knows: Cgroup=,
 * RootPid= and LXC= (another way of naming the container) would contradict it. */
static int container_config_check_machine(const char *path, const struct container_config *c, char **ret_error) {
	const char *other = !c->machine ? NULL : c->cgroup ? "Cgroup=" : c->root_pid ? "RootPid=" : c->lxc ? "LXC=" : NULL;
	if (other)
		return error_setf(ret_error, -EINVAL, "%s: [Container] %s and Machine= exclude each other (systemd-machined "
		                  "knows the machine's cgroup, leader and root directory)", path, other);
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
		return error_setf(ret_error, r,
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
		return error_setf(ret_error, r, "%s: %s", path, config_open_strerror(r));
	}

	r = config_parse_file(path, f, container_items, ELEMENTSOF(container_items), c, ret_error);
	if (r < 0)
		return r;

	r = container_config_check_lxc(path, c, ret_error);
	if (r >= 0)
		r = container_config_check_machine(path, c, ret_error);
	if (r < 0)
		return r;
	if (!c->cgroup && !c->lxc && !c->machine) {
		return error_setf(ret_error, -EINVAL, "%s: [Container] Cgroup= is missing (or LXC= or Machine=)", path);
	}
	if (c->n_volumes == 0 && !c->lxc && !c->machine) {
		return error_setf(ret_error, -EINVAL, "%s: [Container] Volume= is missing (at least one is needed)", path);
	}
	r = volumes_check_layout(path, c, ret_error);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(c);
	return 0;
}
