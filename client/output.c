/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How ckptctl shows replies: tables and field lists for people, JSON for scripts. */

#include <ctype.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>
#include <wchar.h>

#include "format.h"
#include "output.h"
#include "time-util.h"
#include "varlink.h"

#define FIELD_WIDTH 15 /* labels of "Label: value" lines are right-aligned to this width */

static bool utf8_locale;

void output_init(void) {
	/* Only LC_CTYPE: character widths and whether "…" can be printed. Numbers keep the C
	 * locale so that "75.2 ms" looks the same everywhere. */
	if (setlocale(LC_CTYPE, ""))
		utf8_locale = streq(nl_langinfo(CODESET), "UTF-8");
}

static const char *glyph_ellipsis(void) {
	return utf8_locale ? "…" : "...";
}

/* ---- text hygiene ---------------------------------------------------------------------- */

/* Copies s replacing C0 control characters (except newline if keep_newlines), DEL and the
 * two-byte UTF-8 encodings of C1 controls with '?'. */
static char *sanitize(const char *s, bool keep_newlines) {
	char *r = malloc(strlen(s) + 1), *d = r;

	if (!r)
		return NULL;
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			*d++ = '?';
			p++;
		} else if ((*p < 0x20 && !(keep_newlines && *p == '\n')) || *p == 0x7F)
			*d++ = '?';
		else
			*d++ = (char) *p;
	}
	*d = 0;
	return r;
}

/* printf to f, with control characters from daemon-supplied strings neutralised. */
static _printf_(2, 3) void print_clean(FILE *f, const char *fmt, ...) {
	_cleanup_free_ char *raw = NULL, *clean = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&raw, fmt, ap);
	va_end(ap);
	clean = r < 0 ? NULL : sanitize(raw, /* keep_newlines= */ true);
	fputs(clean ?: "ckptctl: out of memory\n", clean ? f : stderr);
}

static void field(const char *label, const char *value) {
	print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, label, value ?: "-");
}

/* Terminal columns taken by s (multibyte aware in a UTF-8 locale; bytes otherwise). */
static size_t display_width(const char *s) {
	mbstate_t st = {};
	size_t w = 0, n = strlen(s);

	while (n > 0) {
		wchar_t c;
		size_t k = mbrtowc(&c, s, n, &st);
		int cw;

		if (k == (size_t) -1 || k == (size_t) -2 || k == 0) {
			memset(&st, 0, sizeof(st));
			k = 1;
			cw = 1;
		} else {
			cw = wcwidth(c);
			if (cw < 0)
				cw = 1;
		}
		w += (size_t) cw;
		s += k;
		n -= k;
	}
	return w;
}

/* ---- JSON accessors, tolerant of missing or mistyped fields ---------------------------- */

static const char *jstr(json_t *o, const char *key) {
	return json_string_value(json_object_get(o, key));
}

static bool jint(json_t *o, const char *key, long long *ret) {
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	*ret = json_integer_value(v);
	return true;
}

static bool jtrue(json_t *o, const char *key) {
	return json_is_true(json_object_get(o, key));
}

static const char *plural(long long n, const char *one, const char *many) {
	return n == 1 ? one : many;
}

/* ---- formatting of numbers and times --------------------------------------------------- */

#define FORMAT_MAX 64

/* Durations of the frozen window: always milliseconds below 10 s ("0.3 ms", "73.0 ms"). */
static const char *format_msec(char buf[static FORMAT_MAX], long long usec) {
	if (usec < 0)
		snprintf(buf, FORMAT_MAX, "-");
	else if (usec < 10LL * 1000 * 1000)
		snprintf(buf, FORMAT_MAX, "%.1f ms", (double) usec / 1e3);
	else
		snprintf(buf, FORMAT_MAX, "%.2f s", (double) usec / 1e6);
	return buf;
}

/* Longer spans (uptime, job age): "350ms", "4.2s", "5min 3s", "2h 7min", "3d 4h". */
static const char *format_timespan(char buf[static FORMAT_MAX], long long usec) {
	static const struct {
		const char *suffix;
		long long usec;
	} units[] = {
		{ "d", 86400LL * 1000000 },
		{ "h", 3600LL * 1000000 },
		{ "min", 60LL * 1000000 },
		{ "s", 1000000LL },
	};
	size_t shown = 0, len = 0;

	if (usec < 0)
		usec = 0;
	if (usec < 1000000) {
		snprintf(buf, FORMAT_MAX, "%lldms", usec / 1000);
		return buf;
	}
	if (usec < 60LL * 1000000) {
		snprintf(buf, FORMAT_MAX, "%.1fs", (double) usec / 1e6);
		return buf;
	}
	buf[0] = 0;
	for (size_t i = 0; i < ELEMENTSOF(units) && shown < 2; i++) {
		long long n = usec / units[i].usec;

		if (n == 0 && shown == 0)
			continue;
		usec -= n * units[i].usec;
		if (n == 0)
			break;
		len += (size_t) snprintf(buf + len, FORMAT_MAX - len, "%s%lld%s", shown ? " " : "", n, units[i].suffix);
		shown++;
	}
	return buf;
}

/* "2026-11-25T09:15:02Z" (fraction and numeric offset accepted) → seconds since the epoch. */
static bool parse_iso8601(const char *s, time_t *ret) {
	struct tm tm = {};
	const char *p;
	long offset = 0;
	time_t t;

	if (!s)
		return false;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return false;
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++)
			;
	if (*p == '+' || *p == '-') {
		unsigned hh, mm;
		char tail;

		if (sscanf(p + 1, "%2u:%2u%c", &hh, &mm, &tail) != 2 || hh > 23 || mm > 59)
			return false;
		offset = (long) (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
	} else if (!streq(p, "Z") && !streq(p, ""))
		return false;
	t = timegm(&tm);
	if (t == (time_t) -1)
		return false;
	*ret = t - offset;
	return true;
}

/* Local time: "2026-11-25 10:15:02" (table) or "Wed 2026-11-25 10:15:02 CET" (long).
 * Anything unparsable is shown as the daemon sent it. */
static const char *format_timestamp(char buf[static FORMAT_MAX], const char *iso, bool long_form) {
	struct tm tm;
	time_t t;

	if (!parse_iso8601(iso, &t) || !localtime_r(&t, &tm) ||
	    strftime(buf, FORMAT_MAX, long_form ? "%a %Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, FORMAT_MAX, "%s", iso ?: "-");
	return buf;
}

/* "kill 1.2 ms, volumes 3.4 ms" from {"kill_usec": ..., "volumes_usec": ...}; with a NULL
 * list every *_usec key in the daemon's order, otherwise only the listed keys. */
static char *format_timings(json_t *timings, const char *const *only) {
	_cleanup_fclose_ FILE *f = NULL;
	char *s = NULL;
	size_t size = 0;
	bool first = true;
	const char *key;
	json_t *v;

	f = open_memstream(&s, &size);
	if (!f)
		return NULL;
	json_object_foreach(timings, key, v) {
		char buf[FORMAT_MAX];
		size_t n = strlen(key);
		bool listed = !only;

		if (n <= 5 || !streq(key + n - 5, "_usec") || !json_is_integer(v))
			continue;
		for (const char *const *o = only; o && *o; o++)
			listed = listed || streq(*o, key);
		if (!listed)
			continue;
		fprintf(f, "%s%.*s %s", first ? "" : ", ", (int) (n - 5), key,
			format_msec(buf, json_integer_value(v)));
		first = false;
	}
	if (fclose(TAKE_PTR(f)) != 0) {
		free(s);
		return NULL;
	}
	/* Keys like "rollback_volumes" read better with spaces. */
	for (char *p = s; *p; p++)
		if (*p == '_')
			*p = ' ';
	return s;
}

/* Any JSON value on one line: strings bare, booleans yes/no, big containers summarised. */
static char *format_value(json_t *v) {
	char *s = NULL;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		return asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0 ? NULL : s;
	case JSON_REAL:
		return asprintf(&s, "%g", json_real_value(v)) < 0 ? NULL : s;
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_NULL:
		return strdup("-");
	default:
		s = json_dumps(v, JSON_COMPACT);
		if (s && strlen(s) > 100) {
			size_t n = json_is_array(v) ? json_array_size(v) : json_object_size(v);

			free(s);
			return asprintf(&s, "(%zu %s; see --json)", n, plural((long long) n, "entry", "entries")) < 0 ? NULL : s;
		}
		return s;
	}
}

/* ---- tables ---------------------------------------------------------------------------- */

struct table {
	size_t n_columns;
	unsigned right_aligned; /* bit n: column n is right-aligned */
	char **cells;           /* row-major, the header row first */
	size_t n_cells;
	size_t allocated;
};

static struct table *table_free(struct table *t) {
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

static void table_freep(struct table **t) {
	table_free(*t);
}
#define _cleanup_table_ _cleanup_(table_freep)

static int table_add(struct table *t, const char *s) {
	char *c;

	if (t->n_cells == t->allocated) {
		size_t n = t->allocated ? t->allocated * 2 : 32;
		char **p = reallocarray(t->cells, n, sizeof(char *));

		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->allocated = n;
	}
	c = sanitize(s && *s ? s : "-", /* keep_newlines= */ false);
	if (!c)
		return -ENOMEM;
	t->cells[t->n_cells++] = c;
	return 0;
}

static _printf_(2, 3) int table_addf(struct table *t, const char *fmt, ...) {
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return table_add(t, s);
}

/* headers: NULL-terminated. */
static int table_new(const char *const *headers, unsigned right_aligned, struct table **ret) {
	_cleanup_table_ struct table *t = NULL;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->right_aligned = right_aligned;
	for (const char *const *h = headers; *h; h++) {
		r = table_add(t, *h);
		if (r < 0)
			return r;
		t->n_columns++;
	}
	*ret = TAKE_PTR(t);
	return 0;
}

static size_t table_rows(const struct table *t) {
	return t->n_cells / t->n_columns - 1;
}

/* One space between columns, no trailing blanks. */
static int table_print(const struct table *t, FILE *f) {
	_cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

	if (!width)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t w = display_width(t->cells[i]);

		if (w > width[i % t->n_columns])
			width[i % t->n_columns] = w;
	}
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t col = i % t->n_columns, pad = width[col] - display_width(t->cells[i]);
		bool last = col + 1 == t->n_columns;

		if (t->right_aligned & (1U << col))
			fprintf(f, "%*s%s", (int) pad, "", t->cells[i]);
		else
			fprintf(f, "%s%*s", t->cells[i], last ? 0 : (int) pad, "");
		fputs(last ? "\n" : " ", f);
	}
	return 0;
}

/* ---- public renderers ------------------------------------------------------------------ */

int output_json(json_t *v) {
	size_t flags = JSON_ENCODE_ANY | (isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT);

	if (json_dumpf(v, stdout, flags) < 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

void output_progress(json_t *progress) {
	static const struct {
		const char *phase, *text;
	} phases[] = {
		{ "validate", "Validating" },
		{ "discover", "Inspecting the container" },
		{ "sync", "Syncing volumes" },
		{ "freeze", "Freezing" },
		{ "snapshot", "Snapshotting volumes" },
		{ "dump", "Dumping processes" },
		{ "thaw", "Thawing" },
		{ "persist", "Writing images" },
		{ "verify", "Verifying the pair" },
		{ "check-files", "Checking the files the image needs" },
		{ "safety-pair", "Taking a safety pair" },
		{ "kill", "Stopping processes" },
		{ "rollback-volumes", "Rolling back volumes" },
		{ "restore", "Restoring processes" },
	};
	const char *phase = jstr(progress, "phase"), *message = jstr(progress, "message"), *text = phase;

	if (!phase)
		return;
	for (size_t i = 0; i < ELEMENTSOF(phases); i++)
		if (streq(phases[i].phase, phase))
			text = phases[i].text;
	print_clean(stderr, "%s%s%s%s\n", text, glyph_ellipsis(), message ? " " : "", message ?: "");
}

#define ERROR_PREFIX VARLINK_INTERFACE "."

static void format_error(FILE *f, const char *error, json_t *p) {
	const char *container = jstr(p, "container") ?: "?";
	long long id = 0;

	if (streq(error, ERROR_PREFIX "NoSuchContainer"))
		fprintf(f, "no such container '%s'", container);
	else if (streq(error, ERROR_PREFIX "NoSuchPair")) {
		if (jint(p, "id", &id))
			fprintf(f, "no such pair %s/%lld", container, id);
		else
			fprintf(f, "no such pair in '%s'", container);
	} else if (streq(error, ERROR_PREFIX "InvalidContainerName"))
		fprintf(f, "invalid container name '%s'", jstr(p, "name") ?: "?");
	else if (streq(error, ERROR_PREFIX "ConfigInvalid"))
		fprintf(f, "configuration of '%s' is invalid: %s", container, jstr(p, "message") ?: "?");
	else if (streq(error, ERROR_PREFIX "JobInProgress") && jstr(p, "shared"))
		fprintf(f, "a %s job is running on '%s', which is configured on the same %s; try again when it ends",
			jstr(p, "kind") ?: "?", container, jstr(p, "shared"));
	else if (streq(error, ERROR_PREFIX "JobInProgress"))
		fprintf(f, "a %s job is already running on '%s'", jstr(p, "kind") ?: "?", container);
	else if (streq(error, ERROR_PREFIX "PermissionDenied"))
		fprintf(f, "permission denied for %s (read-only methods need ckptd's ReadGroup=, all others root)",
			jstr(p, "method") ?: "this method");
	else if (streq(error, ERROR_PREFIX "TooManyJobs")) {
		if (jint(p, "limit", &id))
			fprintf(f, "too many jobs running (limit %lld), try again later", id);
		else
			fputs("too many jobs running, try again later", f);
	} else if (streq(error, ERROR_PREFIX "ProtocolError"))
		fprintf(f, "ckptd did not understand the request: %s", jstr(p, "reason") ?: "protocol error");
	else if (streq(error, ERROR_PREFIX "ShuttingDown"))
		fputs("ckptd is shutting down", f);
	else if (streq(error, ERROR_PREFIX "OperationFailed")) {
		json_t *details = json_object_get(p, "details"), *d;
		const char *state = jstr(p, "state");
		size_t i;

		fprintf(f, "step '%s' failed for '%s': %s", jstr(p, "step") ?: "?", container,
			jstr(p, "message") ?: "no message");
		if (state)
			fprintf(f, "\nstate: %s", state);
		json_array_foreach(details, i, d)
			if (json_is_string(d))
				fprintf(f, "\n  %s", json_string_value(d));
	} else if (streq(error, VARLINK_ERROR_INVALID_PARAMETER))
		fprintf(f, "invalid parameter '%s'", jstr(p, "parameter") ?: "?");
	else if (streq(error, VARLINK_ERROR_METHOD_NOT_FOUND) || streq(error, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED))
		fprintf(f, "ckptd does not implement %s (is it older than ckptctl?)", jstr(p, "method") ?: "this method");
	else if (streq(error, VARLINK_ERROR_INTERFACE_NOT_FOUND))
		fprintf(f, "ckptd does not provide interface %s", jstr(p, "interface") ?: VARLINK_INTERFACE);
	else {
		_cleanup_free_ char *s = json_object_size(p) > 0 ? json_dumps(p, JSON_COMPACT) : NULL;

		fprintf(f, "%s%s%s", error, s ? " " : "", s ?: "");
	}
}

void output_varlink_error(const char *verb, const char *error, json_t *parameters) {
	_cleanup_free_ char *s = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&s, &size);

	if (f) {
		format_error(f, error, parameters);
		if (fclose(f) != 0) {
			free(s);
			s = NULL;
		}
	}
	print_clean(stderr, "ckptctl: %s failed: %s\n", verb, s ?: error);
}

int output_pair_summary(json_t *pair) {
	static const char *const window[] = { "freeze_usec", "snapshot_usec", "dump_usec", "thaw_usec", NULL };
	_cleanup_free_ char *timings = NULL;
	json_t *images = json_object_get(pair, "images");
	char frozen[FORMAT_MAX] = "-", bytes[FORMAT_MAX] = "-";
	long long id = 0, v, files = 0;

	timings = format_timings(json_object_get(pair, "timings"), window);
	if (!timings)
		return -ENOMEM;
	if (jint(pair, "frozen_usec", &v))
		format_msec(frozen, v);
	if (jint(images, "bytes", &v))
		format_bytes(bytes, (uint64_t) v);
	jint(images, "files", &files);
	jint(pair, "id", &id);

	print_clean(stdout, "Pair %s/%lld %s: frozen %s%s%s%s, images %s in %lld %s\n",
		    jstr(pair, "container") ?: "?", id, jstr(pair, "state") ?: "complete", frozen,
		    *timings ? " (" : "", timings, *timings ? ")" : "", bytes, files, plural(files, "file", "files"));
	return 0;
}

/* "root /srv/web, external mounts auto, network lock skip, tcp-established" from a discovery's
 * "criu" object; NULL on OOM. */
static char *format_criu_options(json_t *criu) {
	char *line = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&line, &size);
	const char *s;

	if (!f)
		return NULL;
	if ((s = jstr(criu, "root")))
		fprintf(f, "root %s, ", s);
	if (jtrue(criu, "external_mounts"))
		fputs("external mounts auto, ", f);
	if (jtrue(criu, "external_sharing") || jtrue(criu, "external_masters"))
		fputs("external sharing and masters, ", f);
	fprintf(f, "network lock %s", jstr(criu, "network_lock") ?: "default");
	if (jtrue(criu, "tcp_established"))
		fputs(", tcp-established", f);
	if (jtrue(criu, "mntns_compat_mode"))
		fputs(", mntns-compat-mode", f);
	if ((s = jstr(criu, "manage_cgroups")))
		fprintf(f, ", manage-cgroups %s", s);
	{
		json_t *v;
		size_t i;

		json_array_foreach(json_object_get(criu, "external_veths"), i, v)
			fprintf(f, ", external %s", json_string_value(v) ?: "?");
	}
	if (fclose(f) != 0) {
		free(line);
		return NULL;
	}
	return line;
}

int output_pair_details(json_t *pair) {
	static const char *const known[] = {
		"container", "id", "state", "created", "tag", "pinned", "frozen_usec",
		"timings", "images", "criu_version", "volumes", NULL,
	};
	static const struct {
		const char *key, *label;
	} labels[] = {
		{ "root_pid", "Root PID" },
		{ "cgroup", "Cgroup" },
		{ "cgroup_kind", "Cgroup kind" },
		{ "staging", "Staging" },
		{ "shell_job", "Shell job" },
		{ "tcp_established", "TCP established" },
		{ "file_locks", "File locks" },
		{ "sha256", "Checksums" },
	};
	_cleanup_free_ char *timings = NULL;
	json_t *images = json_object_get(pair, "images"), *volumes = json_object_get(pair, "volumes"), *v;
	char buf[FORMAT_MAX], bytes[FORMAT_MAX] = "-";
	const char *created = jstr(pair, "created"), *key;
	long long id = 0, n, files = 0;
	time_t t;
	size_t i;

	jint(pair, "id", &id);
	print_clean(stdout, "Pair %s/%lld\n", jstr(pair, "container") ?: "?", id);
	field("State", jstr(pair, "state"));
	if (parse_iso8601(created, &t)) {
		char ago[FORMAT_MAX];

		print_clean(stdout, "%*s: %s; %s ago\n", FIELD_WIDTH, "Created", format_timestamp(buf, created, true),
			    format_timespan(ago, (long long) now_usec(CLOCK_REALTIME) - (long long) t * 1000000));
	} else
		field("Created", created);
	field("Tag", jstr(pair, "tag"));
	field("Pinned", jtrue(pair, "pinned") ? "yes" : "no");
	field("Frozen", jint(pair, "frozen_usec", &n) ? format_msec(buf, n) : NULL);
	timings = format_timings(json_object_get(pair, "timings"), NULL);
	if (!timings)
		return -ENOMEM;
	field("Timings", *timings ? timings : NULL);
	if (jint(images, "bytes", &n))
		format_bytes(bytes, (uint64_t) n);
	jint(images, "files", &files);
	print_clean(stdout, "%*s: %s in %lld %s\n", FIELD_WIDTH, "Images", bytes, files, plural(files, "file", "files"));
	field("CRIU", jstr(pair, "criu_version"));

	json_array_foreach(volumes, i, v) {
		const char *backend = jstr(v, "backend"), *vkey;
		json_t *vv;

		print_clean(stdout, "%*s: %s%s%s%s\n", FIELD_WIDTH, "Volume", jstr(v, "source") ?: "?",
			    backend ? " (" : "", backend ?: "", backend ? ")" : "");
		field("Snapshot", jstr(v, "snapshot"));
		json_object_foreach(v, vkey, vv) {
			_cleanup_free_ char *s = NULL;

			if (streq(vkey, "backend") || streq(vkey, "source") || streq(vkey, "snapshot"))
				continue;
			s = format_value(vv);
			if (!s)
				return -ENOMEM;
			field(vkey, s);
		}
	}

	/* The rest in the daemon's order: fields we have a label for, and fields added after this
	 * client was written, under their JSON name. */
	json_object_foreach(pair, key, v) {
		_cleanup_free_ char *s = NULL;
		const char *label = key;
		bool is_known = false;
		size_t len = strlen(key);

		for (const char *const *k = known; *k; k++)
			is_known = is_known || streq(*k, key);
		if (is_known)
			continue;
		for (size_t l = 0; l < ELEMENTSOF(labels); l++)
			if (streq(labels[l].key, key))
				label = labels[l].label;
		if (streq(key, "discovery") && json_is_object(v)) {
			json_t *own = json_object_get(json_object_get(v, "namespaces"), "own"), *nsv;
			size_t k;
			_cleanup_free_ char *opts = format_criu_options(json_object_get(v, "criu"));
			_cleanup_free_ char *ns = NULL;
			size_t ns_size = 0;
			FILE *f = open_memstream(&ns, &ns_size);

			if (!f || !opts) {
				if (f)
					fclose(f);
				return -ENOMEM;
			}
			json_array_foreach(own, k, nsv)
				fprintf(f, "%s%s", k ? " " : "", json_string_value(nsv) ?: "?");
			if (json_array_size(own) == 0)
				fputs("none of its own", f);
			if (fclose(f) != 0)
				return -ENOMEM;
			field("Namespaces", ns);
			field("CRIU options", opts);
			continue;
		}
		if (streq(key, "sha256") && json_is_object(v)) {
			if (asprintf(&s, "recorded for %zu image %s", json_object_size(v),
				     plural((long long) json_object_size(v), "file", "files")) < 0)
				s = NULL;
		} else if (len > 5 && streq(key + len - 5, "_usec") && json_is_integer(v))
			s = strdup(format_msec(buf, json_integer_value(v)));
		else
			s = format_value(v);
		if (!s)
			return -ENOMEM;
		field(label, s);
	}
	return 0;
}

void output_attention(const char *container, const char *message) {
	print_clean(stdout, "\n%s needs attention: %s\n", container ?: "?", message ?: "-");
}

static bool is_damaged(json_t *p) {
	return streq_ptr(jstr(p, "state"), "damaged");
}

int output_pairs_table(json_t *pairs) {
	static const char *const head[] = { "CONTAINER", "ID", "CREATED", "FROZEN", "IMAGES", "ADDED" };
	_cleanup_table_ struct table *t = NULL;
	const char *headers[ELEMENTSOF(head) + 4] = {};
	bool show_state = false, show_pinned = false;
	size_t i, n = 0;
	json_t *p;
	int r;

	size_t n_damaged = 0;

	json_array_foreach(pairs, i, p) {
		const char *state = jstr(p, "state");

		if (is_damaged(p)) {
			n_damaged++;
			continue;
		}
		show_state = show_state || (state && !streq(state, "complete"));
		show_pinned = show_pinned || jtrue(p, "pinned");
	}
	for (i = 0; i < ELEMENTSOF(head); i++)
		headers[n++] = head[i];
	if (show_state)
		headers[n++] = "STATE";
	if (show_pinned)
		headers[n++] = "PINNED";
	headers[n++] = "TAG";

	r = table_new(headers, 1U << 1 | 1U << 3 | 1U << 4 | 1U << 5, &t);
	if (r < 0)
		return r;
	json_array_foreach(pairs, i, p) {
		char created[FORMAT_MAX], frozen[FORMAT_MAX] = "-", bytes[FORMAT_MAX] = "-", added[FORMAT_MAX] = "-";
		long long id, v;

		if (is_damaged(p))
			continue;
		if (jint(p, "frozen_usec", &v))
			format_msec(frozen, v);
		if (jint(json_object_get(p, "images"), "bytes", &v))
			format_bytes(bytes, (uint64_t) v);
		if (jint(json_object_get(p, "images"), "added_bytes", &v)) /* written, not shared with the previous pair */
			format_bytes(added, (uint64_t) v);
		if ((r = table_add(t, jstr(p, "container"))) < 0 ||
		    (r = jint(p, "id", &id) ? table_addf(t, "%lld", id) : table_add(t, NULL)) < 0 ||
		    (r = table_add(t, format_timestamp(created, jstr(p, "created"), false))) < 0 ||
		    (r = table_add(t, frozen)) < 0 || (r = table_add(t, bytes)) < 0 || (r = table_add(t, added)) < 0 ||
		    (show_state && (r = table_add(t, jstr(p, "state"))) < 0) ||
		    (show_pinned && (r = table_add(t, jtrue(p, "pinned") ? "yes" : "no")) < 0) ||
		    (r = table_add(t, jstr(p, "tag"))) < 0)
			return r;
	}
	if (table_rows(t) > 0) {
		r = table_print(t, stdout);
		if (r < 0)
			return r;
		fputc('\n', stdout);
	}
	printf("%zu %s listed.\n", table_rows(t), plural((long long) table_rows(t), "pair", "pairs"));
	if (n_damaged > 0) {
		printf("\n%zu damaged %s, kept, not usable ('ckptctl delete CONTAINER ID --force' removes one):\n",
		       n_damaged, plural((long long) n_damaged, "pair", "pairs"));
		json_array_foreach(pairs, i, p) {
			long long id = 0;

			if (!is_damaged(p))
				continue;
			(void) jint(p, "id", &id);
			print_clean(stdout, "  %s/%lld damaged: %s\n    at %s\n", jstr(p, "container") ?: "?", id,
			            jstr(p, "reason") ?: "-", jstr(p, "path") ?: "-");
		}
	}
	return 0;
}

int output_containers_table(json_t *containers) {
	_cleanup_table_ struct table *t = NULL;
	const char *headers[7] = { "NAME", "STATE", "PAIRS", "LAST" };
	bool show_job = false, any_error = false;
	size_t i, n = 4;
	json_t *c;
	int r;

	json_array_foreach(containers, i, c) {
		show_job = show_job || jstr(c, "job");
		any_error = any_error || jstr(c, "error") || streq_ptr(jstr(c, "config"), "config-error");
	}
	if (show_job)
		headers[n++] = "JOB";
	headers[n++] = "CGROUP";

	r = table_new(headers, 1U << 2 | 1U << 3, &t);
	if (r < 0)
		return r;
	json_array_foreach(containers, i, c) {
		bool config_error = streq_ptr(jstr(c, "config"), "config-error");
		long long pairs, last;

		if ((r = table_add(t, jstr(c, "name"))) < 0 ||
		    (r = table_add(t, config_error ? "config-error" : jstr(c, "state"))) < 0 ||
		    (r = jint(c, "pairs", &pairs) ? table_addf(t, "%lld", pairs) : table_add(t, NULL)) < 0 ||
		    (r = jint(c, "last_pair", &last) ? table_addf(t, "%lld", last) : table_add(t, NULL)) < 0 ||
		    (show_job && (r = table_add(t, jstr(c, "job"))) < 0) ||
		    (r = table_add(t, jstr(c, "cgroup"))) < 0)
			return r;
	}
	if (table_rows(t) > 0) {
		r = table_print(t, stdout);
		if (r < 0)
			return r;
	}
	if (any_error) {
		fputs("\nConfiguration errors:\n", stdout);
		json_array_foreach(containers, i, c)
			if (jstr(c, "error") || streq_ptr(jstr(c, "config"), "config-error"))
				print_clean(stdout, "  %s: %s\n", jstr(c, "name") ?: "?", jstr(c, "error") ?: "invalid configuration");
	}
	json_array_foreach(containers, i, c)
		if (jstr(c, "attention"))
			output_attention(jstr(c, "name"), jstr(c, "attention"));
	printf("%s%zu %s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
	       plural((long long) table_rows(t), "container", "containers"));
	return 0;
}

int output_status(json_t *status) {
	static const char *const headers[] = { "CONTAINER", "KIND", "PHASE", "PAIR", "STARTED", NULL };
	_cleanup_table_ struct table *t = NULL;
	json_t *jobs = json_object_get(status, "jobs"), *errors = json_object_get(status, "config_errors"), *j;
	json_t *criu_version = json_object_get(status, "criu_version");
	char buf[FORMAT_MAX], version[FORMAT_MAX] = "version unknown";
	long long v, now = (long long) now_usec(CLOCK_REALTIME);
	size_t i;
	int r;

	field("Version", jstr(status, "version"));
	if (jint(status, "pid", &v))
		print_clean(stdout, "%*s: %lld\n", FIELD_WIDTH, "PID", v);
	else
		field("PID", NULL);
	field("Uptime", jint(status, "uptime_usec", &v) ? format_timespan(buf, v) : NULL);
	/* libcriu's numbering: major * 10000 + minor * 100 + sublevel. */
	if (json_is_integer(criu_version)) {
		v = json_integer_value(criu_version);
		if (v % 100)
			snprintf(version, sizeof(version), "%lld.%lld.%lld", v / 10000, v / 100 % 100, v % 100);
		else
			snprintf(version, sizeof(version), "%lld.%lld", v / 10000, v / 100 % 100);
	} else if (json_is_string(criu_version))
		snprintf(version, sizeof(version), "%s", json_string_value(criu_version));
	print_clean(stdout, "%*s: %s (%s)\n", FIELD_WIDTH, "CRIU", jstr(status, "criu") ?: "-", version);
	print_clean(stdout, "%*s: %zu running\n", FIELD_WIDTH, "Jobs", json_array_size(jobs));
	if (jint(status, "damaged_pairs", &v) && v > 0)
		print_clean(stdout, "%*s: %lld (kept; 'ckptctl list' names them)\n", FIELD_WIDTH, "Damaged pairs", v);
	json_t *storage = json_object_get(status, "storage");
	if (jstr(status, "image_sharing"))
		print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, "Image sharing", jstr(status, "image_sharing"));
	if (storage && jint(storage, "images_bytes", &v)) {
		char logical[FORMAT_MAX], added[FORMAT_MAX] = "-";
		long long a;
		format_bytes(logical, (uint64_t) v);
		if (jint(storage, "added_bytes", &a))
			format_bytes(added, (uint64_t) a);
		print_clean(stdout, "%*s: %s added on disk for %s of images; %s, compression %s\n", FIELD_WIDTH, "Pairs",
		            added, logical, jstr(storage, "filesystem") ?: "-", jstr(storage, "compression") ?: "-");
	}

	if (json_array_size(jobs) > 0) {
		r = table_new(headers, 1U << 3, &t);
		if (r < 0)
			return r;
		json_array_foreach(jobs, i, j) {
			long long pair, started;
			char when[2 * FORMAT_MAX + 16] = "-";

			/* started_usec is CLOCK_REALTIME; anything before 2001 is not, so don't guess. */
			if (jint(j, "started_usec", &started) && started > 1000000000LL * 1000000) {
				time_t s = (time_t) (started / 1000000);
				struct tm tm;
				char ago[FORMAT_MAX];

				if (localtime_r(&s, &tm) && strftime(buf, sizeof(buf), "%H:%M:%S", &tm) > 0)
					snprintf(when, sizeof(when), "%s (%s ago)", buf, format_timespan(ago, now - started));
			}
			if ((r = table_add(t, jstr(j, "container"))) < 0 || (r = table_add(t, jstr(j, "kind"))) < 0 ||
			    (r = table_add(t, jstr(j, "phase"))) < 0 ||
			    (r = jint(j, "pair", &pair) ? table_addf(t, "%lld", pair) : table_add(t, NULL)) < 0 ||
			    (r = table_add(t, when)) < 0)
				return r;
		}
		fputc('\n', stdout);
		r = table_print(t, stdout);
		if (r < 0)
			return r;
	}
	json_array_foreach(json_object_get(status, "attention"), i, j)
		output_attention(jstr(j, "container"), jstr(j, "message"));
	if (json_array_size(errors) > 0) {
		fputs("\nConfiguration errors:\n", stdout);
		json_array_foreach(errors, i, j)
			print_clean(stdout, "  %s\n", json_string_value(j) ?: "?");
	}
	return 0;
}

int output_prune_decisions(json_t *decisions, bool dry_run) {
	static const char *const headers[] = { "CONTAINER", "ID", "ACTION", "REASON", NULL };
	_cleanup_table_ struct table *t = NULL;
	size_t i, removed = 0;
	json_t *d;
	int r;

	r = table_new(headers, 1U << 1, &t);
	if (r < 0)
		return r;
	json_array_foreach(decisions, i, d) {
		bool remove = jtrue(d, "remove");
		long long id;

		removed += remove;
		if ((r = table_add(t, jstr(d, "container"))) < 0 ||
		    (r = jint(d, "id", &id) ? table_addf(t, "%lld", id) : table_add(t, NULL)) < 0 ||
		    (r = table_add(t, remove ? (dry_run ? "would remove" : "removed") : "keep")) < 0 ||
		    (r = table_add(t, jstr(d, "reason"))) < 0)
			return r;
	}
	if (table_rows(t) == 0) {
		puts("Nothing to prune.");
		return 0;
	}
	r = table_print(t, stdout);
	if (r < 0)
		return r;
	printf("\n%zu of %zu %s %s%s.\n", removed, table_rows(t), plural((long long) table_rows(t), "pair", "pairs"),
	       dry_run ? "would be removed" : "removed", dry_run ? " (dry run)" : "");
	return 0;
}

int output_rollback_result(const char *container, long long id, json_t *result) {
	_cleanup_free_ char *timings = format_timings(json_object_get(result, "timings"), NULL);
	long long pid, safety;

	if (!timings)
		return -ENOMEM;
	print_clean(stdout, "Rolled back %s to pair %lld", container, id);
	if (jint(result, "root_pid", &pid))
		printf(": root pid %lld", pid);
	print_clean(stdout, "%s%s%s.\n", *timings ? " (" : "", timings, *timings ? ")" : "");
	if (jint(result, "safety_pair", &safety))
		print_clean(stdout, "Safety pair %s/%lld holds the state before the rollback "
			    "(undo with 'ckptctl rollback %s %lld').\n", container, safety, container, safety);
	else
		fputs("No safety pair was taken.\n", stdout);
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(result, "warnings"), i, w)
		if (json_is_string(w))
			print_clean(stdout, "Warning: %s\n", json_string_value(w));
	return 0;
}

int output_restore_result(const char *container, long long id, json_t *result) {
	_cleanup_free_ char *timings = format_timings(json_object_get(result, "timings"), NULL);
	long long pid;

	if (!timings)
		return -ENOMEM;
	print_clean(stdout, "Restored the processes of %s from pair %lld", container, id);
	if (jint(result, "root_pid", &pid))
		printf(": root pid %lld", pid);
	print_clean(stdout, "%s%s%s.\n", *timings ? " (" : "", timings, *timings ? ")" : "");
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(result, "warnings"), i, w)
		if (json_is_string(w))
			print_clean(stdout, "Warning: %s\n", json_string_value(w));
	return 0;
}

int output_verify(const char *container, long long id, bool ok, json_t *problems) {
	json_t *p;
	size_t i;

	if (ok) {
		print_clean(stdout, "Pair %s/%lld verified: OK\n", container, id);
		return 0;
	}
	if (json_array_size(problems) == 0)
		print_clean(stderr, "ckptctl: verify failed: pair %s/%lld did not verify\n", container, id);
	else
		print_clean(stderr, "ckptctl: verify failed: pair %s/%lld has %zu %s:\n", container, id,
			    json_array_size(problems), plural((long long) json_array_size(problems), "problem", "problems"));
	json_array_foreach(problems, i, p)
		print_clean(stderr, "  %s\n", json_string_value(p) ?: "?");
	return 0;
}

/* inspect: one "Label: value" line per aspect, the problems (reasons a checkpoint would be
 * refused) last. */
int output_inspection(json_t *in) {
	json_t *ns = json_object_get(in, "namespaces"), *root = json_object_get(in, "root");
	json_t *net = json_object_get(in, "network"), *criu = json_object_get(in, "criu"), *v;
	json_t *problems = json_object_get(in, "problems"), *warnings = json_object_get(in, "warnings");
	long long pid = 0, tasks = 0, files = 0;
	size_t i;

	print_clean(stdout, "Container %s\n", jstr(in, "container") ?: "?");
	field("Cgroup", jstr(in, "cgroup"));
	jint(in, "root_pid", &pid);
	jint(in, "tasks", &tasks);
	jint(in, "open_files", &files);
	print_clean(stdout, "%*s: %lld (%s), %lld %s, %lld open %s%s\n", FIELD_WIDTH, "Root task", pid, jstr(in, "comm") ?: "?",
		    tasks, plural(tasks, "task", "tasks"), files, plural(files, "file", "files"),
		    jtrue(in, "frozen") ? "; FROZEN now" : "");

	{
		_cleanup_free_ char *line = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&line, &size);
		const char *sep = "own";

		if (!f)
			return -ENOMEM;
		json_array_foreach(json_object_get(ns, "own"), i, v) {
			fprintf(f, "%s %s", sep, json_string_value(v) ?: "?");
			sep = "";
		}
		if (json_array_size(json_object_get(ns, "own")) == 0)
			fputs("none of its own", f);
		sep = "; shared with ckptd:";
		json_array_foreach(json_object_get(ns, "shared"), i, v) {
			fprintf(f, "%s %s", sep, json_string_value(v) ?: "?");
			sep = "";
		}
		if (fclose(f) != 0)
			return -ENOMEM;
		field("Namespaces", line);
	}

	if (jstr(root, "device"))
		print_clean(stdout, "%*s: %s (%s %s, fs-root %s%s)%s%s\n", FIELD_WIDTH, "Root fs",
			    jstr(root, "host_path") ?: "not on the host", jstr(root, "fstype") ?: "?", jstr(root, "device"),
			    jstr(root, "fs_root") ?: "?", jtrue(root, "read_only") ? ", read-only" : "",
			    jstr(root, "volume") ? " on volume " : ", on no configured volume",
			    jstr(root, "volume") ?: "");
	else
		print_clean(stdout, "%*s: %s (%s)\n", FIELD_WIDTH, "Root fs", jstr(root, "host_path") ?: "?",
			    jstr(root, "from") ?: "?");
	if (streq_ptr(jstr(root, "from"), "RootDirectory="))
		field("", "overridden by RootDirectory=");

	json_array_foreach(json_object_get(in, "mounts"), i, v)
		print_clean(stdout, "%*s: %s <- %s (%s %s%s, %s)\n", FIELD_WIDTH, i == 0 ? "Host mounts" : "",
			    jstr(v, "mountpoint") ?: "?", jstr(v, "host_path") ?: "(not reachable on the host)",
			    jstr(v, "fstype") ?: "?", jstr(v, "device") ?: "?", jtrue(v, "read_only") ? ", read-only" : "",
			    jstr(v, "propagation") ?: "?");
	if (json_array_size(json_object_get(in, "mounts")) == 0)
		field("Host mounts", "none");
	{
		json_t *p = json_object_get(in, "propagation");
		bool shared = jtrue(p, "shared_with_host"), slave = jtrue(p, "slave_of_host");

		field("Propagation", shared && slave ? "shares peer groups with the host and receives from it" :
				     shared		 ? "shares peer groups with the host" :
				     slave		 ? "slave of host mounts (receives their mount events)" :
							   "private to the container");
	}

	if (jtrue(net, "own_namespace")) {
		_cleanup_free_ char *line = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&line, &size);

		if (!f)
			return -ENOMEM;
		fputs("own namespace; interfaces", f);
		json_array_foreach(json_object_get(net, "interfaces"), i, v) {
			json_t *up = json_object_get(v, "up");

			fprintf(f, "%s %s", i ? "," : "", jstr(v, "name") ?: "?");
			if (jstr(v, "kind") && !streq(jstr(v, "kind"), "loopback"))
				fprintf(f, " (%s)", jstr(v, "kind"));
			if (json_is_boolean(up))
				fputs(json_is_true(up) ? " up" : " down", f);
		}
		if (fclose(f) != 0)
			return -ENOMEM;
		field("Network", line);
	} else
		field("Network", "shares ckptd's network namespace");
	json_array_foreach(json_object_get(net, "veths"), i, v) {
		_cleanup_free_ char *line = NULL;
		size_t size = 0, k;
		FILE *f = open_memstream(&line, &size);
		json_t *a;

		if (!f)
			return -ENOMEM;
		fprintf(f, "%s <-> %s", jstr(v, "container_if") ?: "?", jstr(v, "host_if") ?: "?");
		if (jstr(v, "bridge"))
			fprintf(f, " in bridge %s", jstr(v, "bridge"));
		else {
			fputs(" (routed; host end", f);
			json_array_foreach(json_object_get(v, "addresses"), k, a)
				fprintf(f, " %s/%lld", jstr(a, "address") ?: "?",
					(long long) json_integer_value(json_object_get(a, "prefixlen")));
			fprintf(f, ", MTU %lld)", (long long) json_integer_value(json_object_get(v, "mtu")));
		}
		json_array_foreach(json_object_get(v, "container_addresses"), k, a)
			fprintf(f, "%s%s/%lld", k ? ", " : "; container ", jstr(a, "address") ?: "?",
				(long long) json_integer_value(json_object_get(a, "prefixlen")));
		if (fclose(f) != 0)
			return -ENOMEM;
		field(i == 0 ? "Veth pairs" : "", line);
	}
	if (json_array_size(json_object_get(net, "veths")) > 0)
		field("", "connections inside the container survive a rollback; connections to peers outside it "
			  "are reset by it");
	json_array_foreach(json_object_get(net, "tcp"), i, v) {
		long long p = 0;

		jint(v, "pid", &p);
		print_clean(stdout, "%*s: %s %s%s%s (pid %lld %s)\n", FIELD_WIDTH, i == 0 ? "TCP" : "", jstr(v, "state") ?: "?",
			    jstr(v, "local") ?: "?", jstr(v, "remote") ? " -> " : "", jstr(v, "remote") ?: "", p,
			    jstr(v, "comm") ?: "?");
	}
	if (json_array_size(json_object_get(net, "tcp")) == 0)
		field("TCP", "none");
	{
		json_t *sk = json_object_get(in, "sockets"), *ext = json_object_get(net, "unix_external");
		long long n_unix = 0;

		jint(sk, "unix", &n_unix);
		print_clean(stdout, "%*s: %lld, %zu with a peer outside the container\n", FIELD_WIDTH, "Unix sockets", n_unix,
			    json_array_size(ext));
	}
	json_array_foreach(json_object_get(in, "devices"), i, v)
		print_clean(stdout, "%*s: %s (%s) fd %s of pid %lld %s\n", FIELD_WIDTH, i == 0 ? "Devices" : "",
			    jstr(v, "path") ?: "?", jstr(v, "device") ?: "?", jstr(v, "fd") ?: "?",
			    (long long) json_integer_value(json_object_get(v, "pid")), jstr(v, "comm") ?: "?");
	if (json_array_size(json_object_get(in, "devices")) == 0)
		field("Devices", "none");

	{
		_cleanup_free_ char *line = format_criu_options(criu);

		if (!line)
			return -ENOMEM;
		field("CRIU options", line);
	}
	json_array_foreach(warnings, i, v)
		print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, i == 0 ? "Warnings" : "", json_string_value(v) ?: "?");
	field("Checkpointable", json_array_size(problems) == 0 ? "yes" : "NO");
	json_array_foreach(problems, i, v)
		print_clean(stdout, "  - %s\n", json_string_value(v) ?: "?");
	return 0;
}
