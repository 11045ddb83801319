/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalog on a temp directory: ids never reused, only complete and valid pairs listed,
 * incomplete ones reported for cleanup. */
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "pair.h"
#include "quarantine.h"
#include "test-util.h"

static char *make_state_dir(void) {
	char tmpl[] = "/tmp/test-pair-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static json_t *sample_pair(const char *name, uint64_t id, const char *state) {
	return json_pack("{s:s,s:I,s:s,s:s,s:n,s:I,s:{},s:[{s:s,s:s,s:s}],s:{s:I,s:I}}", "container", name, "id",
	                 (json_int_t) id, "state", state, "created", "2026-11-25T09:15:02Z", "tag", "frozen_usec",
	                 (json_int_t) 1000, "timings", "volumes", "backend", "btrfs", "source", "/srv/web", "snapshot",
	                 "/srv/.ckptd/web/1/web", "images", "bytes", (json_int_t) 10, "files", (json_int_t) 1);
}

/* Writes J as CONTAINER/ID's pair.json as it stands (also a record the codec would refuse, or one
 * naming another pair), and drops the "incomplete" marker as a finished dump does. */
static int write_pair_json(const char *state, const char *name, uint64_t id, json_t *j) {
	_cleanup_free_ char *dir = catalog_pair_dir(state, name, id);
	_cleanup_free_ char *file = dir ? path_join(dir, "pair.json") : NULL;
	_cleanup_free_ char *marker = dir ? path_join(dir, PAIR_INCOMPLETE_MARKER) : NULL;
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!file || !marker || !text)
		return -ENOMEM;
	int r = write_file_atomic(file, text, strlen(text), 0600);
	if (r < 0)
		return r;
	(void) unlink(marker);
	return 0;
}

TEST(ids_are_never_reused) {
	_cleanup_free_ char *state = make_state_dir();
	ASSERT_NOT_NULL(state);
	uint64_t a, b, c;
	ASSERT_OK(catalog_allocate_id(state, "web", &a));
	ASSERT_OK(catalog_allocate_id(state, "web", &b));
	ASSERT_EQ_U(a, 1);
	ASSERT_EQ_U(b, 2);
	_cleanup_free_ char *dir = catalog_pair_dir(state, "web", 2);
	ASSERT_OK(rm_rf(dir));
	ASSERT_OK(catalog_allocate_id(state, "web", &c));
	ASSERT_EQ_U(c, 3); /* 2 was deleted, but stays used */
	/* another container has its own sequence */
	ASSERT_OK(catalog_allocate_id(state, "db", &a));
	ASSERT_EQ_U(a, 1);
	ASSERT_OK(rm_rf(state));
}

TEST(only_complete_valid_pairs_are_listed) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	for (int i = 0; i < 4; i++)
		ASSERT_OK(catalog_allocate_id(state, "web", &id));
	json_t *p1 = sample_pair("web", 1, "complete"), *p2 = sample_pair("web", 2, "in-progress");
	ASSERT_OK(write_pair_json(state, "web", 1, p1));
	ASSERT_OK(write_pair_json(state, "web", 2, p2));
	/* 3: damaged pair.json; 4: no pair.json at all */
	_cleanup_free_ char *d3 = catalog_pair_dir(state, "web", 3);
	_cleanup_free_ char *f3 = path_join(d3, "pair.json");
	ASSERT_OK(write_file_atomic(f3, "{\"container\": ", 14, 0600));

	struct pair **list = NULL;
	size_t n_list = 0;
	ASSERT_OK(catalog_list_pairs(state, "web", &list, &n_list));
	ASSERT_EQ_U(n_list, 1);
	ASSERT_EQ_U(list[0]->id, 1);
	ASSERT_STREQ(list[0]->container, "web");
	pair_array_free(list, n_list);
	/* all containers: none other has a pair */
	ASSERT_OK(catalog_allocate_id(state, "db", &id));
	ASSERT_OK(catalog_list_pairs(state, NULL, &list, &n_list));
	ASSERT_EQ_U(n_list, 1);
	pair_array_free(list, n_list);

	_cleanup_free_ uint64_t *ids = NULL;
	size_t n;
	ASSERT_OK(catalog_list_incomplete(state, "web", &ids, &n));
	ASSERT_EQ_U(n, 3);
	ASSERT_EQ_U(ids[0], 2);
	ASSERT_EQ_U(ids[1], 3);
	ASSERT_EQ_U(ids[2], 4);

	struct pair *loaded = NULL;
	_cleanup_free_ char *why = NULL;
	ASSERT_ERROR(catalog_load_pair_record(state, "web", 2, true, &loaded, NULL), EINPROGRESS);
	ASSERT_ERROR(catalog_load_pair_record(state, "web", 3, true, &loaded, &why), EBADMSG);
	ASSERT_NOT_NULL(why);
	ASSERT_ERROR(catalog_load_pair_record(state, "web", 9, true, &loaded, NULL), ENOENT);
	ASSERT_NULL(loaded);
	ASSERT_OK(catalog_load_pair_record(state, "web", 1, true, &loaded, NULL));
	ASSERT_STREQ(loaded->created, "2026-11-25T09:15:02Z");
	pair_free(loaded);
	json_decref(p1);
	json_decref(p2);
	ASSERT_OK(rm_rf(state));
}

TEST(pair_naming_another_pair_is_refused) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	json_t *p = sample_pair("db", 1, "complete");
	ASSERT_OK(write_pair_json(state, "web", 1, p));
	struct pair *loaded = NULL;
	ASSERT_ERROR(catalog_load_pair_record(state, "web", 1, true, &loaded, NULL), EBADMSG);
	json_decref(p);
	ASSERT_OK(rm_rf(state));
}

/* pair_from_json() refuses a record, -EBADMSG, with a message containing WHAT. */
static bool refused(json_t *j, const char *what) {
	struct pair *p = NULL;
	_cleanup_free_ char *why = NULL;
	int r = pair_from_json(j, &p, &why);
	pair_free(p);
	json_decref(j);
	if (r != -EBADMSG || !why || !strstr(why, what)) {
		fprintf(stderr, "expected a refusal naming '%s', got %d: %s\n", what, r, strna(why));
		return false;
	}
	return p == NULL;
}

static json_t *with(json_t *j, const char *key, json_t *v) {
	json_object_set_new(j, key, v);
	return j;
}

static json_t *without(json_t *j, const char *key) {
	json_object_del(j, key);
	return j;
}

TEST(validation) {
	json_t *ok = sample_pair("web", 1, "complete");
	struct pair *p = NULL;
	ASSERT_OK(pair_from_json(ok, &p, NULL));
	ASSERT_TRUE(pair_is_complete_record(p));
	ASSERT_EQ_U(p->id, 1);
	p = pair_free(p);
	json_decref(ok);

	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "id", json_integer(0)), "non-positive id"));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "container", json_string(".hidden")),
	                    "invalid container name"));
	ASSERT_TRUE(refused(without(sample_pair("web", 1, "complete"), "volumes"), "lacks \"volumes\""));
	ASSERT_TRUE(refused(without(sample_pair("web", 1, "complete"), "created"), "lacks \"created\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "volumes", json_string("x")),
	                    "wrong type for \"volumes\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "tag", json_integer(3)), "wrong type for \"tag\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "pinned", json_string("yes")),
	                    "wrong type for \"pinned\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "discovery", json_array()),
	                    "wrong type for \"discovery\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "frozen_usec", json_integer(-5)),
	                    "negative \"frozen_usec\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "images", json_pack("{s:s}", "bytes", "10")),
	                    "wrong type for \"images.bytes\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "images", json_pack("{s:i}", "added_bytes", -1)),
	                    "negative \"images.added_bytes\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "images", json_pack("{s:s}", "shared_from", "5")),
	                    "wrong type for \"images.shared_from\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "images", json_pack("{s:f}", "disk_bytes", 1.5)),
	                    "wrong type for \"images.disk_bytes\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "images", json_pack("{s:{s:i}}", "sha256", "a", 1)),
	                    "wrong type for \"images.sha256\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "timings", json_pack("{s:b}", "dump_usec", 1)),
	                    "wrong type for \"timings.dump_usec\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "volumes", json_pack("[{s:s}]", "backend", "btrfs")),
	                    "volume without backend/source/snapshot"));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "volumes",
	                         json_pack("[{s:s,s:s,s:s,s:[i]}]", "backend", "btrfs", "source", "/a", "snapshot", "/b",
	                                   "nested", 1)), "nested subvolume that is not a path"));
	ASSERT_TRUE(refused(json_string("x"), "not a JSON object"));
}

/* What dump.c writes comes back unchanged through the codec: decode, encode, compare. */
TEST(codec_round_trip) {
	json_t *full = json_pack(
	        "{s:s,s:I,s:s,s:s,s:s,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
	        "s:[{s:s,s:s,s:s,s:[s,s]},{s:s,s:s,s:s}],s:{s:I,s:I,s:s,s:{s:s,s:s},s:I,s:I},s:s,s:i,s:s,s:s,s:b,s:b,s:b,s:b,"
	        "s:{s:{s:s},s:[]}}",
	        "container", "web", "id", (json_int_t) 7, "state", "complete", "created", "2026-11-25T09:15:02Z", "tag",
	        "before upgrade", "frozen_usec", (json_int_t) 75210, "timings", "discover_usec", (json_int_t) 1,
	        "sync_usec", (json_int_t) 2, "criu_start_usec", (json_int_t) 3, "freeze_usec", (json_int_t) 4,
	        "snapshot_usec", (json_int_t) 5, "dump_usec", (json_int_t) 6, "thaw_usec", (json_int_t) 7, "persist_usec",
	        (json_int_t) 8, "total_usec", (json_int_t) 9, "volumes", "backend", "btrfs", "source", "/srv/web",
	        "snapshot", "/srv/.ckptd/web/7/web", "nested", "a", "a/b", "backend", "lvm", "source", "lvm:vg/db",
	        "snapshot", "lvm:vg/db-ckptd-7", "images", "bytes", (json_int_t) 10612345, "files", (json_int_t) 23,
	        "staging", "memory", "sha256", "pages-1.img", "00ff", "core-1.img", "abcd", "added_bytes",
	        (json_int_t) 524288, "shared_from", (json_int_t) 6, "criu_version", "4.2.1",
	        "root_pid", 1234, "cgroup", "/sys/fs/cgroup/web", "cgroup_kind", "v2", "shell_job", 1, "tcp_established",
	        0, "file_locks", 1, "pinned", 0, "discovery", "criu", "network_lock", "nftables", "problems");
	ASSERT_NOT_NULL(full);
	struct pair *p = NULL;
	ASSERT_OK(pair_from_json(full, &p, NULL));
	ASSERT_EQ_U(p->n_volumes, 2);
	ASSERT_EQ_U(p->volumes[0].n_nested, 2);
	ASSERT_STREQ(p->volumes[0].nested[1], "a/b");
	ASSERT_FALSE(p->volumes[1].has_nested);
	ASSERT_EQ_U(p->timings.thaw_usec, 7);
	ASSERT_EQ_U(p->images.n_sums, 2);
	ASSERT_EQ_U(p->images.added_bytes, 524288);
	ASSERT_EQ_U(p->images.shared_from, 6);
	ASSERT_TRUE(p->shell_job && !p->tcp_established && p->file_locks && !p->pinned);
	json_t *back = NULL;
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_TRUE(json_equal(full, back));
	json_decref(back);
	pair_free(p);

	/* An old record without the optional keys: they stay absent, tag and criu_version null. */
	json_t *old = sample_pair("web", 1, "complete");
	ASSERT_OK(pair_from_json(old, &p, NULL));
	ASSERT_EQ_U(p->images.bytes, 10);
	ASSERT_EQ_U(p->timings.dump_usec, PAIR_ABSENT);
	ASSERT_EQ_U(p->images.added_bytes, PAIR_ABSENT); /* from before sharing */
	ASSERT_EQ_U(p->images.shared_from, 0);
	ASSERT_EQ_U(p->images.disk_bytes, PAIR_ABSENT); /* not measured */
	ASSERT_NULL(p->tag);
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_NULL(json_object_get(back, "root_pid"));
	ASSERT_NULL(json_object_get(back, "discovery"));
	ASSERT_NULL(json_object_get(json_object_get(back, "images"), "sha256"));
	ASSERT_NULL(json_object_get(json_object_get(back, "images"), "added_bytes"));
	ASSERT_NULL(json_object_get(json_object_get(back, "images"), "shared_from"));
	ASSERT_NULL(json_object_get(json_object_get(back, "images"), "disk_bytes"));
	ASSERT_TRUE(json_equal(json_object_get(old, "timings"), json_object_get(back, "timings")));
	ASSERT_TRUE(json_is_null(json_object_get(back, "criu_version")));
	json_decref(back);
	json_decref(old);
	json_decref(full);
	pair_free(p);
}

/* timings.criu_phases: optional, round-trips, absent in old records and not written when empty,
 * refused with a wrong type. */
TEST(criu_phases) {
	json_t *j = with(sample_pair("web", 1, "complete"), "timings",
	                 json_pack("{s:I,s:{s:I,s:I,s:I}}", "dump_usec", (json_int_t) 60, "criu_phases", "dump_usec",
	                           (json_int_t) 50, "network_tools_usec", (json_int_t) 20, "tail_usec", (json_int_t) 0));
	struct pair *p = NULL;
	json_t *back = NULL;
	ASSERT_OK(pair_from_json(j, &p, NULL));
	ASSERT_EQ_U(p->timings.dump_usec, 60);
	ASSERT_EQ_U(p->timings.criu_phases.dump_usec, 50);
	ASSERT_EQ_U(pair_criu_phase_get(&p->timings.criu_phases, "network_tools_usec"), 20);
	ASSERT_EQ_U(p->timings.criu_phases.tail_usec, 0);
	ASSERT_EQ_U(p->timings.criu_phases.freezing_usec, PAIR_ABSENT);
	ASSERT_EQ_U(pair_criu_phase_get(&p->timings.criu_phases, "no_such_usec"), PAIR_ABSENT);
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_TRUE(json_equal(json_object_get(j, "timings"), json_object_get(back, "timings")));
	json_decref(back);
	p = pair_free(p);
	json_decref(j);

	json_t *old = sample_pair("web", 1, "complete");
	ASSERT_OK(pair_from_json(old, &p, NULL));
	ASSERT_EQ_U(p->timings.criu_phases.predump_rpc_usec, PAIR_ABSENT);
	ASSERT_EQ_U(p->timings.criu_phases.cgroup_walk_usec, PAIR_ABSENT);
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_NULL(json_object_get(json_object_get(back, "timings"), "criu_phases"));
	json_decref(back);
	json_decref(old);
	pair_free(p);

	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "timings", json_pack("{s:[]}", "criu_phases")),
	                    "wrong type for \"timings.criu_phases\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "timings",
	                         json_pack("{s:{s:i}}", "criu_phases", "prep_usec", -1)),
	                    "negative \"timings.criu_phases.prep_usec\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "timings",
	                         json_pack("{s:{s:s}}", "criu_phases", "tail_usec", "1")),
	                    "wrong type for \"timings.criu_phases.tail_usec\""));
}

/* The catalog's typed loader gives the same record as the file. */
TEST(load_record) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	struct pair *p = NULL;
	json_t *j = sample_pair("web", 1, "complete");
	ASSERT_OK(pair_from_json(j, &p, NULL));
	json_decref(j);
	ASSERT_OK(catalog_write_pair_record(state, p));
	pair_free(p);
	ASSERT_OK(catalog_load_pair_record(state, "web", 1, true, &p, NULL));
	ASSERT_STREQ(p->volumes[0].snapshot, "/srv/.ckptd/web/1/web");
	ASSERT_STREQ(p->created, "2026-11-25T09:15:02Z");
	pair_free(p);
	ASSERT_OK(rm_rf(state));
}

/* The JSON form of a record is the file's: the keys of every object sorted, as pair.json is
 * written, and byte for byte what the file holds once both are dumped alike. */
TEST(pair_json_is_the_file_form) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	struct pair *p = NULL;
	json_t *j = with(sample_pair("web", 1, "complete"), "discovery", json_pack("{s:i,s:{s:i,s:i}}", "zz", 1, "aa",
	                                                                            "y", 2, "b", 3));
	ASSERT_OK(pair_from_json(j, &p, NULL));
	json_decref(j);
	p->pinned = true;
	ASSERT_OK(catalog_write_pair_record(state, p));
	json_t *wire = NULL;
	ASSERT_OK(catalog_pair_to_json(p, &wire));
	pair_free(p);
	_cleanup_free_ char *dir = catalog_pair_dir(state, "web", 1);
	_cleanup_free_ char *file = path_join(dir, "pair.json");
	json_t *disk = json_load_file(file, 0, NULL);
	ASSERT_NOT_NULL(disk);
	_cleanup_free_ char *a = json_dumps(wire, JSON_COMPACT), *b = json_dumps(disk, JSON_COMPACT);
	ASSERT_STREQ(a, b);
	ASSERT_NOT_NULL(strstr(a, "\"aa\":{\"b\":3,\"y\":2},\"zz\":1"));
	ASSERT_NOT_NULL(strstr(a, "\"pinned\":true"));
	ASSERT_EQ(strncmp(a, "{\"container\":", 13), 0);
	json_decref(wire);
	json_decref(disk);
	ASSERT_OK(rm_rf(state));
}

TEST(containers_listed_sorted) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "zeta", &id));
	ASSERT_OK(catalog_allocate_id(state, "alpha", &id));
	char **names;
	ASSERT_OK(catalog_list_containers(state, &names));
	ASSERT_STREQ(names[0], "alpha");
	ASSERT_STREQ(names[1], "zeta");
	ASSERT_NULL(names[2]);
	strv_free(names);
	ASSERT_OK(rm_rf(state));
}

/* A quarantined pair keeps its id: with last-id gone and the highest pair moved aside, the next
 * id is still above it. */
TEST(quarantined_ids_are_never_reused) {
	_cleanup_free_ char *state = make_state_dir();
	ASSERT_NOT_NULL(state);
	uint64_t id;
	for (int i = 0; i < 3; i++)
		ASSERT_OK(catalog_allocate_id(state, "web", &id));
	_cleanup_free_ char *moved = NULL;
	ASSERT_OK(quarantine_pair(state, "web", 3, &moved));
	ASSERT_NOT_NULL(strstr(moved, "/containers/web/quarantine/3-"));
	_cleanup_free_ char *last = path_join(state, "containers", "web", "last-id");
	ASSERT_OK(unlink(last) < 0 ? -errno : 0);
	ASSERT_EQ_U(quarantine_max_id(state, "web"), 3);
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	ASSERT_EQ_U(id, 4);
	ASSERT_OK(rm_rf(state));
}

/* Why a pair directory is damaged, in words; a complete pair is not. */
TEST(pair_damage_reasons) {
	_cleanup_free_ char *state = make_state_dir();
	ASSERT_NOT_NULL(state);
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	int pfd = -1;
	_cleanup_free_ char *why = NULL;
	ASSERT_OK(catalog_open_subdir(state, "web", "pairs", false, &pfd));
	ASSERT_ERROR(pair_entry_damage(pfd, "1", "web", 1, &why), ENOENT);
	ASSERT_NOT_NULL(strstr(why, "missing"));
	json_t *p = sample_pair("web", 1, "complete");
	ASSERT_OK(write_pair_json(state, "web", 1, p));
	json_decref(p);
	ASSERT_OK(pair_entry_damage(pfd, "1", "web", 1, &why));
	ASSERT_ERROR(pair_entry_damage(pfd, "1", "db", 1, &why), EBADMSG);
	ASSERT_NOT_NULL(strstr(why, "names pair web/1, not db/1"));
	ASSERT_OK(symlinkat("/tmp", pfd, "2"));
	ASSERT_ERROR(pair_entry_damage(pfd, "2", "web", 2, &why), EBADMSG);
	ASSERT_NOT_NULL(strstr(why, "symlink"));
	/* removal never goes through the symlink */
	ASSERT_OK(rm_rf_at(pfd, "2"));
	struct stat st;
	ASSERT_OK(stat("/tmp", &st));
	close(pfd);
	ASSERT_OK(rm_rf(state));
}

/* images.disk_bytes, measured on btrfs at persist, comes back as it was written. */
TEST(codec_disk_bytes) {
	json_t *j = with(sample_pair("web", 2, "complete"), "images",
	                 json_pack("{s:I,s:I,s:I}", "bytes", (json_int_t) 4096000, "added_bytes", (json_int_t) 409600,
	                           "disk_bytes", (json_int_t) 204800));
	struct pair *p = NULL;
	ASSERT_OK(pair_from_json(j, &p, NULL));
	ASSERT_EQ_U(p->images.disk_bytes, 204800);
	json_t *back = NULL;
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_TRUE(json_equal(json_object_get(j, "images"), json_object_get(back, "images")));
	json_decref(back);
	json_decref(j);
	pair_free(p);
}

/* An imported pair's origin: decoded, encoded back unchanged, and each part checked. */
TEST(codec_origin) {
	json_t *j = with(sample_pair("web", 3, "complete"), "origin",
	                 json_pack("{s:s,s:s,s:I}", "host", "a.example", "container", "db", "id", (json_int_t) 7));
	struct pair *p = NULL;
	ASSERT_OK(pair_from_json(j, &p, NULL));
	ASSERT_STREQ(p->origin.host, "a.example");
	ASSERT_STREQ(p->origin.container, "db");
	ASSERT_EQ_U(p->origin.id, 7);
	json_t *back = NULL;
	ASSERT_OK(pair_to_json(p, &back));
	ASSERT_TRUE(json_equal(json_object_get(j, "origin"), json_object_get(back, "origin")));
	json_decref(back);
	p = pair_free(p);
	json_decref(j);

	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "origin", json_string("a")), "wrong type for \"origin\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "origin", json_pack("{s:s,s:I}", "host", "a", "id",
	                                                                                   (json_int_t) 1)),
	                    "lacks \"origin.container\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "origin",
	                         json_pack("{s:s,s:s,s:I}", "host", "a", "container", "web", "id", (json_int_t) 0)),
	                    "non-positive \"origin.id\""));
	ASSERT_TRUE(refused(with(sample_pair("web", 1, "complete"), "origin",
	                         json_pack("{s:s,s:s,s:I}", "host", "a", "container", "../x", "id", (json_int_t) 2)),
	                    "invalid \"origin.container\""));
}

TEST_MAIN()

