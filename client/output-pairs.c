/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How ckptctl shows pairs: the one-line summary after a dump, the table of `list` and the
 * fields of `show`. A pair's fields come from struct pair, decoded from the reply with the
 * catalog's own codec (pair-record.h); the JSON is read only for what the record does not hold:
 * the damaged records of List, the daemon's order of the fields and fields added after this
 * client was written (shown under their JSON name). */

#include <inttypes.h>
#include <stddef.h>
#include <time.h>

#include "error.h"
#include "format.h"
#include "output-internal.h"
#include "output.h"
#include "pair-record.h"
#include "table.h"
#include "time-util.h"

/* pair_from_json(); for a pair of a list, position (1-based) is named in the message ("pair 3:
 * pair.json lacks \"id\""). */
static int decode_pair(json_t *j, size_t position, struct pair **ret, char **ret_error) {
	_cleanup_free_ char *why = NULL;
	int r = pair_from_json(j, ret, &why);

	if (r < 0 && position > 0)
		return error_prefixf(ret_error, r, &why, "pair %zu", position);
	if (r < 0)
		return error_pass(ret_error, r, &why);
	return 0;
}

/* A duration of the record, "-" when not recorded. */
static const char *format_frozen(char buf[static FORMAT_MAX], uint64_t usec) {
	return usec == PAIR_ABSENT ? "-" : format_msec(buf, (long long) usec);
}

static const char *format_images_bytes(char buf[static FORMAT_BYTES_MAX], const struct pair_images *im) {
	return im->bytes == PAIR_ABSENT ? "-" : format_bytes(buf, im->bytes);
}

/* What the pair added on disk (written, not shared with the previous pair), "-" when not recorded. */
static const char *format_added_bytes(char buf[static FORMAT_BYTES_MAX], const struct pair_images *im) {
	return im->added_bytes == PAIR_ABSENT ? "-" : format_bytes(buf, im->added_bytes);
}

static long long images_files(const struct pair_images *im) {
	return im->files == PAIR_ABSENT ? 0 : (long long) im->files;
}

/* ---- freeze-and-dump ------------------------------------------------------------------- */

int output_pair_summary(json_t *pair, char **ret_error) {
	_cleanup_(pair_freep) struct pair *p = NULL;
	_cleanup_free_ char *timings = NULL;
	char frozen[FORMAT_MAX], bytes[FORMAT_BYTES_MAX];
	struct line l;
	int r;

	r = decode_pair(pair, 0, &p, ret_error);
	if (r < 0)
		return r;
	/* The frozen window's steps. */
	const struct {
		const char *key;
		uint64_t usec;
	} window[] = {
		{ "freeze_usec", p->timings.freeze_usec },
		{ "snapshot_usec", p->timings.snapshot_usec },
		{ "dump_usec", p->timings.dump_usec },
		{ "thaw_usec", p->timings.thaw_usec },
	};
	if (line_begin(&l) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(window); i++)
		if (window[i].usec != PAIR_ABSENT)
			line_add_timing(&l, window[i].key, (long long) window[i].usec);
	timings = line_end(&l);
	if (!timings)
		return -ENOMEM;

	print_clean(stdout, "Pair %s/%" PRIu64 " %s: frozen %s%s%s%s, images %s in %lld %s\n", p->container, p->id,
		    p->state, format_frozen(frozen, p->frozen_usec), *timings ? " (" : "", timings, *timings ? ")" : "",
		    format_images_bytes(bytes, &p->images), images_files(&p->images),
		    plural(images_files(&p->images), "file", "files"));
	return 0;
}

/* ---- list ------------------------------------------------------------------------------ */

/* List's entries with state "damaged" are not pair records but {container, id, state, reason,
 * path} for a pair ckptd keeps and cannot use. */
static bool is_damaged(json_t *entry) {
	return streq_ptr(jstr(entry, "state"), "damaged");
}

static struct pair **pairs_free(struct pair **p, size_t n) {
	for (size_t i = 0; p && i < n; i++)
		pair_free(p[i]);
	free(p);
	return NULL;
}

/* The pair records of a List reply, decoded; NULL in the places of damaged entries. */
static int decode_pairs(json_t *entries, struct pair ***ret, char **ret_error) {
	size_t n = json_array_size(entries);
	struct pair **p = calloc(n + 1, sizeof(struct pair *));
	int r;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i);

		if (is_damaged(e))
			continue;
		r = decode_pair(e, i + 1, &p[i], ret_error);
		if (r < 0) {
			pairs_free(p, n);
			return r;
		}
	}
	*ret = p;
	return 0;
}

static int pairs_table_row(struct table *t, const struct pair *p, bool show_state, bool show_pinned) {
	char created[FORMAT_MAX], frozen[FORMAT_MAX], bytes[FORMAT_BYTES_MAX], added[FORMAT_BYTES_MAX];
	int r;

	if ((r = table_add(t, p->container)) < 0 || (r = table_addf(t, "%" PRIu64, p->id)) < 0 ||
	    (r = table_add(t, format_timestamp(created, p->created, false))) < 0 ||
	    (r = table_add(t, format_frozen(frozen, p->frozen_usec))) < 0 ||
	    (r = table_add(t, format_images_bytes(bytes, &p->images))) < 0 ||
	    (r = table_add(t, format_added_bytes(added, &p->images))) < 0 ||
	    (show_state && (r = table_add(t, p->state)) < 0) ||
	    (show_pinned && (r = table_add(t, p->pinned ? "yes" : "no")) < 0))
		return r;
	return table_add(t, p->tag);
}

static int print_pairs_table(struct pair **pairs, size_t n) {
	static const char *const head[] = { "CONTAINER", "ID", "CREATED", "FROZEN", "IMAGES", "ADDED" };
	_cleanup_table_ struct table *t = NULL;
	const char *headers[ELEMENTSOF(head) + 4] = {};
	bool show_state = false, show_pinned = false;
	size_t k = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (pairs[i]) {
			show_state = show_state || !pair_is_complete_record(pairs[i]);
			show_pinned = show_pinned || pairs[i]->pinned;
		}
	for (size_t i = 0; i < ELEMENTSOF(head); i++)
		headers[k++] = head[i];
	if (show_state)
		headers[k++] = "STATE";
	if (show_pinned)
		headers[k++] = "PINNED";
	headers[k++] = "TAG";

	r = table_new(headers, 1U << 1 | 1U << 3 | 1U << 4 | 1U << 5, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (pairs[i] && (r = pairs_table_row(t, pairs[i], show_state, show_pinned)) < 0)
			return r;
	if (table_rows(t) > 0) {
		r = table_print(t, stdout);
		if (r < 0)
			return r;
		fputc('\n', stdout);
	}
	printf("%zu %s listed.\n", table_rows(t), plural((long long) table_rows(t), "pair", "pairs"));
	return 0;
}

static void print_damaged(json_t *entries, size_t n_damaged) {
	json_t *e;
	size_t i;

	if (n_damaged == 0)
		return;
	printf("\n%zu damaged %s, kept, not usable ('ckptctl delete CONTAINER ID --force' removes one):\n", n_damaged,
	       plural((long long) n_damaged, "pair", "pairs"));
	json_array_foreach(entries, i, e) {
		long long id = 0;

		if (!is_damaged(e))
			continue;
		(void) jint(e, "id", &id);
		print_clean(stdout, "  %s/%lld damaged: %s\n    at %s\n", jstr(e, "container") ?: "?", id,
			    jstr(e, "reason") ?: "-", jstr(e, "path") ?: "-");
	}
}

int output_pairs_table(json_t *entries, char **ret_error) {
	size_t n = json_array_size(entries), n_damaged = 0;
	struct pair **pairs = NULL;
	int r;

	r = decode_pairs(entries, &pairs, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		n_damaged += !pairs[i];
	r = print_pairs_table(pairs, n);
	pairs_free(pairs, n);
	if (r < 0)
		return r;
	print_damaged(entries, n_damaged);
	return 0;
}

/* ---- show ------------------------------------------------------------------------------ */

/* "CRIU phases: predump rpc 6.2 ms, ...", in the order of the dump; no line for pairs from before
 * they were recorded. */
static int print_criu_phases(const struct pair *p) {
	struct line l;
	bool any = false;

	if (line_begin(&l) < 0)
		return -ENOMEM;
	for (size_t i = 0; pair_criu_phase_key(i); i++) {
		uint64_t usec = pair_criu_phase_get(&p->timings.criu_phases, pair_criu_phase_key(i));

		if (usec != PAIR_ABSENT) {
			line_add_timing(&l, pair_criu_phase_key(i), (long long) usec);
			any = true;
		}
	}
	if (any)
		return field_line("CRIU phases", &l);
	free(line_end(&l));
	return 0;
}

/* What the bytes the pair added took on disk after the file system compressed them. */
static void print_disk_bytes(const struct pair_images *im) {
	char disk[FORMAT_BYTES_MAX], added[FORMAT_BYTES_MAX];
	uint64_t a = im->added_bytes != PAIR_ABSENT ? im->added_bytes : im->bytes;

	if (im->disk_bytes == PAIR_ABSENT || a == PAIR_ABSENT || a == 0)
		return;
	print_clean(stdout, "%*s: %s for the %s added (%.0f %%)\n", FIELD_WIDTH, "On disk", format_bytes(disk, im->disk_bytes),
		    format_bytes(added, a), 100.0 * (double) im->disk_bytes / (double) a);
}

/* The fields shown first, in this order, from the record. */
static int print_pair_head(const struct pair *p, json_t *timings_json) {
	_cleanup_free_ char *timings = NULL;
	char buf[FORMAT_MAX], bytes[FORMAT_BYTES_MAX];
	struct line l;
	const char *key;
	json_t *v;
	time_t t;

	print_clean(stdout, "Pair %s/%" PRIu64 "\n", p->container, p->id);
	field("State", p->state);
	if (parse_iso8601(p->created, &t)) {
		char ago[FORMAT_MAX];

		print_clean(stdout, "%*s: %s; %s ago\n", FIELD_WIDTH, "Created", format_timestamp(buf, p->created, true),
			    format_timespan(ago, (long long) now_usec(CLOCK_REALTIME) - (long long) t * 1000000));
	} else
		field("Created", p->created);
	field("Tag", p->tag);
	field("Pinned", p->pinned ? "yes" : "no");
	field("Frozen", format_frozen(buf, p->frozen_usec));

	/* Every duration in the daemon's order; those the codec knows from the record. */
	if (line_begin(&l) < 0)
		return -ENOMEM;
	json_object_foreach(timings_json, key, v) {
		uint64_t usec = pair_timing_get(&p->timings, key);

		if (!is_usec_key(key))
			continue; /* a count (timings.predump_passes), not a duration */
		if (usec != PAIR_ABSENT)
			line_add_timing(&l, key, (long long) usec);
		else if (is_usec_key(key) && json_is_integer(v))
			line_add_timing(&l, key, json_integer_value(v));
	}
	timings = line_end(&l);
	if (!timings)
		return -ENOMEM;
	field("Timings", *timings ? timings : NULL);
	if (print_criu_phases(p) < 0)
		return -ENOMEM;
	print_clean(stdout, "%*s: %s in %lld %s\n", FIELD_WIDTH, "Images", format_images_bytes(bytes, &p->images),
		    images_files(&p->images), plural(images_files(&p->images), "file", "files"));
	print_disk_bytes(&p->images);
	field("CRIU", p->criu_version);
	return 0;
}

/* A volume's nested subvolumes as the JSON list they are, e.g. ["sub","sub/dir"]. */
static char *format_nested(const struct pair_volume *v) {
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && i < v->n_nested; i++)
		if (json_array_append_new(a, json_string(v->nested[i])) < 0)
			return NULL;
	return a ? format_value(a) : NULL;
}

/* Each volume: source, backend and snapshot from the record, then its other keys. */
static int print_volumes(const struct pair *p, json_t *volumes_json) {
	for (size_t i = 0; i < p->n_volumes; i++) {
		const struct pair_volume *vol = &p->volumes[i];
		const char *key;
		json_t *v;

		print_clean(stdout, "%*s: %s (%s)\n", FIELD_WIDTH, "Volume", vol->source, vol->backend);
		field("Snapshot", vol->snapshot);
		json_object_foreach(json_array_get(volumes_json, i), key, v) {
			_cleanup_free_ char *s = NULL;

			if (streq(key, "backend") || streq(key, "source") || streq(key, "snapshot"))
				continue;
			s = streq(key, "nested") ? format_nested(vol) : format_value(v);
			if (!s)
				return -ENOMEM;
			field(key, s);
		}
	}
	return 0;
}

/* The discovery recorded with the pair: its namespaces and the CRIU options it chose. */
static int print_discovery(json_t *discovery) {
	json_t *own = json_object_get(json_object_get(discovery, "namespaces"), "own"), *v;
	_cleanup_free_ char *opts = format_criu_options(json_object_get(discovery, "criu"));
	struct line l;
	size_t i;
	int r;

	if (!opts || line_begin(&l) < 0)
		return -ENOMEM;
	json_array_foreach(own, i, v)
		fprintf(l.f, "%s%s", i ? " " : "", json_string_value(v) ?: "?");
	if (json_array_size(own) == 0)
		fputs("none of its own", l.f);
	r = field_line("Namespaces", &l);
	if (r < 0)
		return r;
	field("CRIU options", opts);
	return 0;
}

/* The record's other fields: label and value of KEY; 0 when KEY is none of them. */
static int pair_field(const struct pair *p, const char *key, const char **ret_label, char **ret_value) {
	static const struct {
		const char *key, *label;
		size_t offset;
		bool is_bool;
	} fields[] = {
		{ "cgroup", "Cgroup", offsetof(struct pair, cgroup), false },
		{ "cgroup_kind", "Cgroup kind", offsetof(struct pair, cgroup_kind), false },
		{ "shell_job", "Shell job", offsetof(struct pair, shell_job), true },
		{ "tcp_established", "TCP established", offsetof(struct pair, tcp_established), true },
		{ "file_locks", "File locks", offsetof(struct pair, file_locks), true },
	};
	const char *base = (const char *) p;

	if (streq(key, "root_pid")) {
		*ret_label = "Root PID";
		return asprintf(ret_value, "%lld", (long long) p->root_pid) < 0 ? -ENOMEM : 1;
	}
	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		if (!streq(fields[i].key, key))
			continue;
		*ret_label = fields[i].label;
		if (fields[i].is_bool)
			*ret_value = strdup(*(const bool *) (base + fields[i].offset) ? "yes" : "no");
		else
			*ret_value = strdup(*(char *const *) (base + fields[i].offset) ?: "-");
		return *ret_value ? 1 : -ENOMEM;
	}
	return 0;
}

/* A field this client does not know (a newer daemon's), under its JSON name. */
static int unknown_field(const char *key, json_t *v, const char **ret_label, char **ret_value) {
	char buf[FORMAT_MAX];

	*ret_label = key;
	if (streq(key, "staging"))
		*ret_label = "Staging";
	if (streq(key, "sha256") && json_is_object(v)) {
		*ret_label = "Checksums";
		if (asprintf(ret_value, "recorded for %zu image %s", json_object_size(v),
			     plural((long long) json_object_size(v), "file", "files")) < 0)
			*ret_value = NULL;
	} else if (is_usec_key(key) && json_is_integer(v))
		*ret_value = strdup(format_msec(buf, json_integer_value(v)));
	else
		*ret_value = format_value(v);
	return *ret_value ? 0 : -ENOMEM;
}

/* The rest in the daemon's order. */
static int print_pair_rest(const struct pair *p, json_t *pair) {
	static const char *const shown[] = {
		"container", "id", "state", "created", "tag", "pinned", "frozen_usec",
		"timings", "images", "criu_version", "volumes", NULL,
	};
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(pair, key, v) {
		_cleanup_free_ char *s = NULL;
		const char *label;
		bool is_shown = false;

		for (const char *const *k = shown; *k; k++)
			is_shown = is_shown || streq(*k, key);
		if (is_shown)
			continue;
		if (streq(key, "discovery") && p->discovery) {
			r = print_discovery(p->discovery);
			if (r < 0)
				return r;
			continue;
		}
		r = pair_field(p, key, &label, &s);
		if (r == 0)
			r = unknown_field(key, v, &label, &s);
		if (r < 0)
			return r;
		field(label, s);
	}
	return 0;
}

int output_pair_details(json_t *pair, char **ret_error) {
	_cleanup_(pair_freep) struct pair *p = NULL;
	int r;

	r = decode_pair(pair, 0, &p, ret_error);
	if (r < 0)
		return r;
	r = print_pair_head(p, json_object_get(pair, "timings"));
	if (r < 0)
		return r;
	r = print_volumes(p, json_object_get(pair, "volumes"));
	if (r < 0)
		return r;
	return print_pair_rest(p, pair);
}
