/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptctl's shared output: text hygiene, the formatting of values, JSON for scripts, progress
 * lines and Varlink errors. The replies themselves are rendered by output-pairs.c,
 * output-results.c and output-status.c. */

#include <ctype.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "output-internal.h"
#include "output.h"
#include "table.h"
#include "varlink.h"

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

void print_clean(FILE *f, const char *fmt, ...) {
	_cleanup_free_ char *raw = NULL, *clean = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&raw, fmt, ap);
	va_end(ap);
	clean = r < 0 ? NULL : sanitize(raw, /* keep_newlines= */ true);
	fputs(clean ?: "ckptctl: out of memory\n", clean ? f : stderr);
}

void field(const char *label, const char *value) {
	print_clean(stdout, "%*s: %s\n", FIELD_WIDTH, label, value ?: "-");
}

/* ---- JSON accessors, tolerant of missing or mistyped fields ---------------------------- */

const char *jstr(json_t *o, const char *key) {
	return json_string_value(json_object_get(o, key));
}

bool jint(json_t *o, const char *key, long long *ret) {
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	*ret = json_integer_value(v);
	return true;
}

bool jtrue(json_t *o, const char *key) {
	return json_is_true(json_object_get(o, key));
}

int table_add_jint(struct table *t, json_t *o, const char *key) {
	long long v;

	return jint(o, key, &v) ? table_addf(t, "%lld", v) : table_add(t, NULL);
}

const char *plural(long long n, const char *one, const char *many) {
	return n == 1 ? one : many;
}

/* ---- formatting of numbers and times --------------------------------------------------- */

const char *format_msec(char buf[static FORMAT_MAX], long long usec) {
	if (usec < 0)
		snprintf(buf, FORMAT_MAX, "-");
	else if (usec < 10LL * 1000 * 1000)
		snprintf(buf, FORMAT_MAX, "%.1f ms", (double) usec / 1e3);
	else
		snprintf(buf, FORMAT_MAX, "%.2f s", (double) usec / 1e6);
	return buf;
}

const char *format_timespan(char buf[static FORMAT_MAX], long long usec) {
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

bool parse_iso8601(const char *s, time_t *ret) {
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

const char *format_timestamp(char buf[static FORMAT_MAX], const char *iso, bool long_form) {
	struct tm tm;
	time_t t;

	if (!parse_iso8601(iso, &t) || !localtime_r(&t, &tm) ||
	    strftime(buf, FORMAT_MAX, long_form ? "%a %Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, FORMAT_MAX, "%s", iso ?: "-");
	return buf;
}

bool is_usec_key(const char *key) {
	size_t n = strlen(key);

	return n > 5 && streq(key + n - 5, "_usec");
}

int line_begin(struct line *l) {
	*l = (struct line) { .first = true };
	l->f = open_memstream(&l->text, &l->size);
	return l->f ? 0 : -ENOMEM;
}

char *line_end(struct line *l) {
	if (fclose(TAKE_PTR(l->f)) != 0) {
		free(l->text);
		return NULL;
	}
	return TAKE_PTR(l->text);
}

int field_line(const char *label, struct line *l) {
	_cleanup_free_ char *text = line_end(l);

	if (!text)
		return -ENOMEM;
	field(label, text);
	return 0;
}

void line_add_timing(struct line *l, const char *key, long long usec) {
	char buf[FORMAT_MAX];
	size_t n = strlen(key) - (is_usec_key(key) ? 5 : 0);

	fputs(l->first ? "" : ", ", l->f);
	/* Keys like "rollback_volumes_usec" read better with spaces. */
	for (size_t i = 0; i < n; i++)
		fputc(key[i] == '_' ? ' ' : key[i], l->f);
	fprintf(l->f, " %s", format_msec(buf, usec));
	l->first = false;
}

char *format_timings(json_t *timings) {
	struct line l;
	const char *key;
	json_t *v;

	if (line_begin(&l) < 0)
		return NULL;
	json_object_foreach(timings, key, v)
		if (is_usec_key(key) && json_is_integer(v))
			line_add_timing(&l, key, json_integer_value(v));
	return line_end(&l);
}

char *format_value(json_t *v) {
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

char *format_criu_options(json_t *criu) {
	struct line l;
	const char *s;
	json_t *v;
	size_t i;

	if (line_begin(&l) < 0)
		return NULL;
	FILE *f = l.f;
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
	json_array_foreach(json_object_get(criu, "external_veths"), i, v)
		fprintf(f, ", external %s", json_string_value(v) ?: "?");
	return line_end(&l);
}

/* ---- JSON, progress, errors ------------------------------------------------------------ */

int output_json(json_t *v) {
	size_t flags = JSON_ENCODE_ANY | (isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT);

	if (json_dumpf(v, stdout, flags) < 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

static const char *phase_text(const char *phase) {
	static const char *const phases[][2] = {
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
		{ "manifest", "Reading the stream's manifest" },
		{ "images", "Streaming the record and the images" },
		{ "volumes", "Streaming volumes" },
	};

	for (size_t i = 0; i < ELEMENTSOF(phases); i++)
		if (streq(phases[i][0], phase))
			return phases[i][1];
	return phase;
}

void output_progress(json_t *progress) {
	const char *phase = jstr(progress, "phase"), *message = jstr(progress, "message");

	if (!phase)
		return;
	print_clean(stderr, "%s%s%s%s\n", phase_text(phase), glyph_ellipsis(), message ? " " : "", message ?: "");
}

void output_attention(const char *container, const char *message) {
	print_clean(stdout, "\n%s needs attention: %s\n", container ?: "?", message ?: "-");
}

#define ERROR_PREFIX VARLINK_INTERFACE "."

/* The message for a Varlink error from its name and parameters. */
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
		fprintf(f, "invalid parameter '%s'%s%s", jstr(p, "parameter") ?: "?", jstr(p, "message") ? ": " : "",
		        jstr(p, "message") ?: "");
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
	struct line l;

	if (line_begin(&l) >= 0) {
		format_error(l.f, error, parameters);
		s = line_end(&l);
	}
	print_clean(stderr, "ckptctl: %s failed: %s\n", verb, s ?: error);
}

void output_invalid_reply(const char *verb, const char *message) {
	print_clean(stderr, "ckptctl: %s failed: invalid reply from ckptd: %s\n", verb, message);
}
