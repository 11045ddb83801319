/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "macro.h"
#include "pair-record.h"

/* A table of optional counts in one JSON object, each at an offset of a struct. */
struct count_key {
	const char *key;
	size_t offset;
};

static const struct count_key timing_keys[] = {
	{ "discover_usec", offsetof(struct pair_timings, discover_usec) },
	{ "sync_usec", offsetof(struct pair_timings, sync_usec) },
	{ "criu_start_usec", offsetof(struct pair_timings, criu_start_usec) },
	{ "freeze_usec", offsetof(struct pair_timings, freeze_usec) },
	{ "snapshot_usec", offsetof(struct pair_timings, snapshot_usec) },
	{ "dump_usec", offsetof(struct pair_timings, dump_usec) },
	{ "thaw_usec", offsetof(struct pair_timings, thaw_usec) },
	{ "persist_usec", offsetof(struct pair_timings, persist_usec) },
	{ "total_usec", offsetof(struct pair_timings, total_usec) },
	{ "netns_presave_usec", offsetof(struct pair_timings, netns_presave_usec) },
	{ "netns_verify_usec", offsetof(struct pair_timings, netns_verify_usec) },
	{ "predump_passes", offsetof(struct pair_timings, predump_passes) },
	{ "predump_usec", offsetof(struct pair_timings, predump_usec) },
	{ "predump_stopped_usec", offsetof(struct pair_timings, predump_stopped_usec) },
	{ "predump_stopped_max_usec", offsetof(struct pair_timings, predump_stopped_max_usec) },
	{ "predump_merge_usec", offsetof(struct pair_timings, predump_merge_usec) },
};

static const struct count_key criu_phase_keys[] = {
	{ "predump_rpc_usec", offsetof(struct pair_criu_phases, predump_rpc_usec) },
	{ "prep_usec", offsetof(struct pair_criu_phases, prep_usec) },
	{ "freezing_usec", offsetof(struct pair_criu_phases, freezing_usec) },
	{ "dump_usec", offsetof(struct pair_criu_phases, dump_usec) },
	{ "cgroup_walk_usec", offsetof(struct pair_criu_phases, cgroup_walk_usec) },
	{ "network_tools_usec", offsetof(struct pair_criu_phases, network_tools_usec) },
	{ "postdump_usec", offsetof(struct pair_criu_phases, postdump_usec) },
	{ "tail_usec", offsetof(struct pair_criu_phases, tail_usec) },
};

static uint64_t *count_field(const void *base, const struct count_key *k) {
	return (uint64_t *) ((char *) base + k->offset);
}

static uint64_t count_get(const void *base, const struct count_key *keys, size_t n, const char *key) {
	for (size_t i = 0; i < n; i++)
		if (streq(keys[i].key, key))
			return *count_field(base, &keys[i]);
	return PAIR_ABSENT;
}

static void counts_clear(void *base, const struct count_key *keys, size_t n) {
	for (size_t i = 0; i < n; i++)
		*count_field(base, &keys[i]) = PAIR_ABSENT;
}

const char *pair_criu_phase_key(size_t i) {
	return i < ELEMENTSOF(criu_phase_keys) ? criu_phase_keys[i].key : NULL;
}

void pair_predump_timings_clear(struct pair_timings *t) {
	t->predump_passes = t->predump_usec = t->predump_stopped_usec = t->predump_stopped_max_usec =
	        t->predump_merge_usec = PAIR_ABSENT;
}

void pair_criu_phases_clear(struct pair_criu_phases *c) {
	counts_clear(c, criu_phase_keys, ELEMENTSOF(criu_phase_keys));
}

struct pair *pair_new(void) {
	struct pair *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->frozen_usec = p->images.bytes = p->images.files = p->images.added_bytes = p->images.disk_bytes = PAIR_ABSENT;
	counts_clear(&p->timings, timing_keys, ELEMENTSOF(timing_keys));
	pair_criu_phases_clear(&p->timings.criu_phases);
	return p;
}

void pair_volumes_free(struct pair_volume *v, size_t n) {
	for (size_t i = 0; i < n && v; i++) {
		free(v[i].backend);
		free(v[i].source);
		free(v[i].snapshot);
		for (size_t k = 0; k < v[i].n_nested; k++)
			free(v[i].nested[k]);
		free(v[i].nested);
	}
	free(v);
}

struct pair *pair_free(struct pair *p) {
	if (!p)
		return NULL;
	free(p->container);
	free(p->state);
	free(p->created);
	free(p->tag);
	pair_volumes_free(p->volumes, p->n_volumes);
	free(p->images.staging);
	for (size_t i = 0; i < p->images.n_sums; i++) {
		free(p->images.sums[i].file);
		free(p->images.sums[i].sha256);
	}
	free(p->images.sums);
	free(p->criu_version);
	free(p->cgroup);
	free(p->cgroup_kind);
	free(p->origin.host);
	free(p->origin.container);
	if (p->discovery)
		json_decref(p->discovery);
	free(p);
	return NULL;
}

bool pair_is_complete_record(const struct pair *p) {
	return p && streq_ptr(p->state, "complete");
}

uint64_t pair_timing_get(const struct pair_timings *t, const char *key) {
	return count_get(t, timing_keys, ELEMENTSOF(timing_keys), key);
}

uint64_t pair_criu_phase_get(const struct pair_criu_phases *c, const char *key) {
	return count_get(c, criu_phase_keys, ELEMENTSOF(criu_phase_keys), key);
}

/* --- decoding ---------------------------------------------------------------------------- */

#define WRONG_TYPE(err, name) error_setf(err, -EBADMSG, "pair.json has a wrong type for \"%s\"", name)

/* The member KEY of O, checked to be of TYPE; NULL when absent (or null and nullable). NAME is
 * how the message spells it ("images.bytes"). */
static int member(json_t *o, const char *key, const char *name, json_type type, bool required, bool nullable,
                  json_t **ret, char **ret_error) {
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || (nullable && json_is_null(v))) {
		if (!v && required)
			return error_setf(ret_error, -EBADMSG, "pair.json lacks \"%s\"", name);
		return 0;
	}
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return WRONG_TYPE(ret_error, name);
	*ret = v;
	return 0;
}

static int get_string(json_t *o, const char *key, const char *name, bool required, bool nullable, char **ret,
                      char **ret_error) {
	json_t *v;
	int r = member(o, key, name, JSON_STRING, required, nullable, &v, ret_error);
	if (r < 0 || !v)
		return r;
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

/* A non-negative integer; PAIR_ABSENT stays when absent. */
static int get_count(json_t *o, const char *key, const char *name, uint64_t *ret, char **ret_error) {
	json_t *v;
	int r = member(o, key, name, JSON_INTEGER, false, false, &v, ret_error);
	if (r < 0 || !v)
		return r;
	if (json_integer_value(v) < 0)
		return error_setf(ret_error, -EBADMSG, "pair.json has a negative \"%s\"", name);
	*ret = (uint64_t) json_integer_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, bool *ret, char **ret_error) {
	json_t *v;
	int r = member(o, key, key, JSON_TRUE, false, false, &v, ret_error);
	if (r >= 0 && v)
		*ret = json_is_true(v);
	return r;
}

static int volume_from_json(json_t *v, struct pair_volume *ret, char **ret_error) {
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "backend")) ||
	    !json_is_string(json_object_get(v, "source")) || !json_is_string(json_object_get(v, "snapshot")))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has a volume without backend/source/snapshot");
	ret->backend = strdup(json_string_value(json_object_get(v, "backend")));
	ret->source = strdup(json_string_value(json_object_get(v, "source")));
	ret->snapshot = strdup(json_string_value(json_object_get(v, "snapshot")));
	if (!ret->backend || !ret->source || !ret->snapshot)
		return -ENOMEM;
	json_t *nested = json_object_get(v, "nested"), *n;
	if (!nested)
		return 0;
	if (!json_is_array(nested))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has a wrong type for a volume's \"nested\"");
	ret->has_nested = true;
	ret->nested = calloc(json_array_size(nested) + 1, sizeof(char *));
	if (!ret->nested)
		return -ENOMEM;
	size_t k;
	json_array_foreach(nested, k, n) {
		if (!json_is_string(n))
			return error_setf(ret_error, -EBADMSG, "%s", "pair.json has a nested subvolume that is not a path");
		if (!(ret->nested[ret->n_nested++] = strdup(json_string_value(n))))
			return -ENOMEM;
	}
	return 0;
}

int pair_volumes_from_json(json_t *a, struct pair_volume **ret, size_t *ret_n, char **ret_error) {
	if (!json_is_array(a))
		return WRONG_TYPE(ret_error, "volumes");
	size_t n = json_array_size(a);
	struct pair_volume *v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = volume_from_json(json_array_get(a, i), &v[i], ret_error);
		if (r < 0) {
			pair_volumes_free(v, i + 1);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The counts of KEYS in O into BASE; PREFIX names O in messages ("timings"). */
static int counts_from_json(json_t *o, const char *prefix, const struct count_key *keys, size_t n, void *base,
                            char **ret_error) {
	for (size_t i = 0; i < n; i++) {
		char name[96];
		snprintf(name, sizeof(name), "%s.%s", prefix, keys[i].key);
		int r = get_count(o, keys[i].key, name, count_field(base, &keys[i]), ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int timings_from_json(json_t *o, struct pair_timings *t, char **ret_error) {
	json_t *phases;
	int r = counts_from_json(o, "timings", timing_keys, ELEMENTSOF(timing_keys), t, ret_error);
	if (r >= 0)
		r = member(o, "criu_phases", "timings.criu_phases", JSON_OBJECT, false, false, &phases, ret_error);
	if (r < 0 || !phases)
		return r;
	return counts_from_json(phases, "timings.criu_phases", criu_phase_keys, ELEMENTSOF(criu_phase_keys),
	                        &t->criu_phases, ret_error);
}

static int images_from_json(json_t *o, struct pair_images *im, char **ret_error) {
	json_t *sums, *v;
	int r;
	if ((r = get_count(o, "bytes", "images.bytes", &im->bytes, ret_error)) < 0 ||
	    (r = get_count(o, "files", "images.files", &im->files, ret_error)) < 0 ||
	    (r = get_count(o, "added_bytes", "images.added_bytes", &im->added_bytes, ret_error)) < 0 ||
	    (r = get_count(o, "shared_from", "images.shared_from", &im->shared_from, ret_error)) < 0 ||
	    (r = get_count(o, "disk_bytes", "images.disk_bytes", &im->disk_bytes, ret_error)) < 0 ||
	    (r = get_string(o, "staging", "images.staging", false, false, &im->staging, ret_error)) < 0 ||
	    (r = member(o, "sha256", "images.sha256", JSON_OBJECT, false, false, &sums, ret_error)) < 0)
		return r;
	if (!sums)
		return 0;
	im->has_sums = true;
	im->sums = calloc(json_object_size(sums) + 1, sizeof(*im->sums));
	if (!im->sums)
		return -ENOMEM;
	const char *file;
	json_object_foreach(sums, file, v) {
		if (!json_is_string(v))
			return WRONG_TYPE(ret_error, "images.sha256");
		struct pair_image_sum *s = &im->sums[im->n_sums++];
		s->file = strdup(file);
		s->sha256 = strdup(json_string_value(v));
		if (!s->file || !s->sha256)
			return -ENOMEM;
	}
	return 0;
}

/* The required keys with their types, checked first and in this order (the messages name the
 * first one that is missing or wrong). */
static int check_required(json_t *j, char **ret_error) {
	static const struct {
		const char *key;
		json_type type;
	} required[] = {
		{ "container", JSON_STRING }, { "id", JSON_INTEGER },     { "state", JSON_STRING },
		{ "created", JSON_STRING },   { "volumes", JSON_ARRAY }, { "timings", JSON_OBJECT },
		{ "images", JSON_OBJECT },
	};
	if (!json_is_object(j))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json is not a JSON object");
	for (size_t i = 0; i < ELEMENTSOF(required); i++) {
		json_t *v;
		int r = member(j, required[i].key, required[i].key, required[i].type, true, false, &v, ret_error);
		if (r < 0)
			return r;
	}
	if (json_integer_value(json_object_get(j, "id")) <= 0)
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has a non-positive id");
	if (!container_name_is_valid(json_string_value(json_object_get(j, "container"))))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has an invalid container name");
	return 0;
}

/* "origin": {host, container, id}, all required when the key is there. */
static int origin_from_json(json_t *j, struct pair_origin *ret, char **ret_error) {
	json_t *o, *id;
	int r = member(j, "origin", "origin", JSON_OBJECT, false, false, &o, ret_error);
	if (r < 0 || !o)
		return r;
	if ((r = get_string(o, "host", "origin.host", true, false, &ret->host, ret_error)) < 0 ||
	    (r = get_string(o, "container", "origin.container", true, false, &ret->container, ret_error)) < 0 ||
	    (r = member(o, "id", "origin.id", JSON_INTEGER, true, false, &id, ret_error)) < 0)
		return r;
	if (json_integer_value(id) <= 0)
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has a non-positive \"origin.id\"");
	if (!container_name_is_valid(ret->container))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json has an invalid \"origin.container\"");
	ret->id = (uint64_t) json_integer_value(id);
	return 0;
}

static int optional_from_json(json_t *j, struct pair *p, char **ret_error) {
	json_t *pid, *discovery;
	int r;
	if ((r = get_string(j, "tag", "tag", false, true, &p->tag, ret_error)) < 0 ||
	    (r = get_count(j, "frozen_usec", "frozen_usec", &p->frozen_usec, ret_error)) < 0 ||
	    (r = get_string(j, "criu_version", "criu_version", false, true, &p->criu_version, ret_error)) < 0 ||
	    (r = member(j, "root_pid", "root_pid", JSON_INTEGER, false, false, &pid, ret_error)) < 0 ||
	    (r = get_string(j, "cgroup", "cgroup", false, false, &p->cgroup, ret_error)) < 0 ||
	    (r = get_string(j, "cgroup_kind", "cgroup_kind", false, false, &p->cgroup_kind, ret_error)) < 0 ||
	    (r = get_bool(j, "shell_job", &p->shell_job, ret_error)) < 0 ||
	    (r = get_bool(j, "tcp_established", &p->tcp_established, ret_error)) < 0 ||
	    (r = get_bool(j, "file_locks", &p->file_locks, ret_error)) < 0 ||
	    (r = get_bool(j, "pinned", &p->pinned, ret_error)) < 0 ||
	    (r = member(j, "discovery", "discovery", JSON_OBJECT, false, true, &discovery, ret_error)) < 0 ||
	    (r = origin_from_json(j, &p->origin, ret_error)) < 0)
		return r;
	p->root_pid = pid ? json_integer_value(pid) : 0;
	p->discovery = discovery ? json_incref(discovery) : NULL;
	return 0;
}

int pair_from_json(json_t *j, struct pair **ret, char **ret_error) {
	int r = check_required(j, ret_error);
	if (r < 0)
		return r;
	_cleanup_(pair_freep) struct pair *p = pair_new();
	if (!p)
		return -ENOMEM;
	p->id = (uint64_t) json_integer_value(json_object_get(j, "id"));
	if ((r = get_string(j, "container", "container", true, false, &p->container, ret_error)) < 0 ||
	    (r = get_string(j, "state", "state", true, false, &p->state, ret_error)) < 0 ||
	    (r = get_string(j, "created", "created", true, false, &p->created, ret_error)) < 0 ||
	    (r = pair_volumes_from_json(json_object_get(j, "volumes"), &p->volumes, &p->n_volumes, ret_error)) < 0 ||
	    (r = timings_from_json(json_object_get(j, "timings"), &p->timings, ret_error)) < 0 ||
	    (r = images_from_json(json_object_get(j, "images"), &p->images, ret_error)) < 0 ||
	    (r = optional_from_json(j, p, ret_error)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

/* --- encoding ---------------------------------------------------------------------------- */

static int set(json_t *o, const char *key, json_t *v /* stolen */) {
	return v && json_object_set_new(o, key, v) >= 0 ? 0 : -ENOMEM;
}

static int set_count(json_t *o, const char *key, uint64_t v) {
	return v == PAIR_ABSENT ? 0 : set(o, key, json_integer((json_int_t) v));
}

static int set_string_opt(json_t *o, const char *key, const char *v) {
	return v ? set(o, key, json_string(v)) : 0;
}

json_t *pair_volumes_to_json(const struct pair_volume *v, size_t n) {
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *e = json_pack("{s:s,s:s,s:s}", "backend", v[i].backend, "source", v[i].source, "snapshot",
		                      v[i].snapshot);
		json_t *nested = v[i].has_nested ? json_array() : NULL;
		for (size_t k = 0; nested && k < v[i].n_nested; k++)
			if (json_array_append_new(nested, json_string(v[i].nested[k])) < 0)
				json_decref(TAKE_PTR(nested));
		if (!e || json_array_append_new(a, e) < 0 || (v[i].has_nested && set(e, "nested", nested) < 0))
			json_decref(TAKE_PTR(a));
	}
	return a;
}

static json_t *images_to_json(const struct pair_images *im) {
	json_t *o = json_object();
	if (!o || set_count(o, "bytes", im->bytes) < 0 || set_count(o, "files", im->files) < 0 ||
	    set_count(o, "added_bytes", im->added_bytes) < 0 || set_count(o, "disk_bytes", im->disk_bytes) < 0 ||
	    (im->shared_from > 0 && im->shared_from != PAIR_ABSENT && set_count(o, "shared_from", im->shared_from) < 0) ||
	    set_string_opt(o, "staging", im->staging) < 0 || (im->has_sums && set(o, "sha256", json_object()) < 0)) {
		json_decref(o);
		return NULL;
	}
	json_t *sums = json_object_get(o, "sha256");
	for (size_t i = 0; i < im->n_sums; i++)
		if (json_object_set_new(sums, im->sums[i].file, json_string(im->sums[i].sha256)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* An object with the recorded counts of KEYS in BASE (possibly empty); NULL when out of memory. */
static json_t *counts_to_json(const struct count_key *keys, size_t n, const void *base) {
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++)
		if (set_count(o, keys[i].key, *count_field(base, &keys[i])) < 0)
			json_decref(TAKE_PTR(o));
	return o;
}

static json_t *timings_to_json(const struct pair_timings *t) {
	json_t *o = counts_to_json(timing_keys, ELEMENTSOF(timing_keys), t);
	json_t *phases = o ? counts_to_json(criu_phase_keys, ELEMENTSOF(criu_phase_keys), &t->criu_phases) : NULL;
	if (phases && json_object_size(phases) == 0)
		json_decref(TAKE_PTR(phases));
	else if (!phases || set(o, "criu_phases", phases) < 0)
		json_decref(TAKE_PTR(o));
	return o;
}

int pair_to_json(const struct pair *p, json_t **ret) {
	_cleanup_(json_decrefp) json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s?}", "container", p->container, "id",
	                                               (json_int_t) p->id, "state", p->state, "created", p->created,
	                                               "tag", p->tag);
	if (!o || set_count(o, "frozen_usec", p->frozen_usec) < 0 || set(o, "timings", timings_to_json(&p->timings)) < 0 ||
	    set(o, "volumes", pair_volumes_to_json(p->volumes, p->n_volumes)) < 0 ||
	    set(o, "images", images_to_json(&p->images)) < 0 ||
	    set(o, "criu_version", p->criu_version ? json_string(p->criu_version) : json_null()) < 0 ||
	    (p->root_pid > 0 && set(o, "root_pid", json_integer(p->root_pid)) < 0) ||
	    set_string_opt(o, "cgroup", p->cgroup) < 0 || set_string_opt(o, "cgroup_kind", p->cgroup_kind) < 0 ||
	    set(o, "shell_job", json_boolean(p->shell_job)) < 0 ||
	    set(o, "tcp_established", json_boolean(p->tcp_established)) < 0 ||
	    set(o, "file_locks", json_boolean(p->file_locks)) < 0 || set(o, "pinned", json_boolean(p->pinned)) < 0 ||
	    (p->discovery && set(o, "discovery", json_incref(p->discovery)) < 0) ||
	    (p->origin.host && set(o, "origin", json_pack("{s:s,s:s,s:I}", "host", p->origin.host, "container",
	                                                  p->origin.container, "id", (json_int_t) p->origin.id)) < 0))
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}
