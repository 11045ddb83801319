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
	ASSERT_OK(catalog_write_pair(state, "web", 1, p1));
	ASSERT_OK(catalog_write_pair(state, "web", 2, p2));
	/* 3: damaged pair.json; 4: no pair.json at all */
	_cleanup_free_ char *d3 = catalog_pair_dir(state, "web", 3);
	_cleanup_free_ char *f3 = path_join(d3, "pair.json");
	ASSERT_OK(write_file_atomic(f3, "{\"container\": ", 14, 0600));

	json_t *list;
	ASSERT_OK(catalog_list_pairs(state, "web", &list));
	ASSERT_EQ_U(json_array_size(list), 1);
	ASSERT_EQ_U(pair_id(json_array_get(list, 0)), 1);
	json_decref(list);

	_cleanup_free_ uint64_t *ids = NULL;
	size_t n;
	ASSERT_OK(catalog_list_incomplete(state, "web", &ids, &n));
	ASSERT_EQ_U(n, 3);
	ASSERT_EQ_U(ids[0], 2);
	ASSERT_EQ_U(ids[1], 3);
	ASSERT_EQ_U(ids[2], 4);

	json_t *loaded;
	_cleanup_free_ char *why = NULL;
	ASSERT_ERROR(catalog_load_pair(state, "web", 2, true, &loaded, NULL), EINPROGRESS);
	ASSERT_ERROR(catalog_load_pair(state, "web", 3, true, &loaded, &why), EBADMSG);
	ASSERT_NOT_NULL(why);
	ASSERT_ERROR(catalog_load_pair(state, "web", 9, true, &loaded, NULL), ENOENT);
	ASSERT_OK(catalog_load_pair(state, "web", 1, true, &loaded, NULL));
	ASSERT_STREQ(json_string_value(json_object_get(loaded, "created")), "2026-11-25T09:15:02Z");
	json_decref(loaded);
	json_decref(p1);
	json_decref(p2);
	ASSERT_OK(rm_rf(state));
}

TEST(pair_naming_another_pair_is_refused) {
	_cleanup_free_ char *state = make_state_dir();
	uint64_t id;
	ASSERT_OK(catalog_allocate_id(state, "web", &id));
	json_t *p = sample_pair("db", 1, "complete");
	ASSERT_OK(catalog_write_pair(state, "web", 1, p));
	json_t *loaded;
	ASSERT_ERROR(catalog_load_pair(state, "web", 1, true, &loaded, NULL), EBADMSG);
	json_decref(p);
	ASSERT_OK(rm_rf(state));
}

TEST(validation) {
	json_t *p = sample_pair("web", 1, "complete");
	ASSERT_OK(pair_validate(p, NULL));
	json_object_set_new(p, "id", json_integer(0));
	ASSERT_ERROR(pair_validate(p, NULL), EBADMSG);
	json_object_set_new(p, "id", json_integer(1));
	json_object_set_new(p, "container", json_string(".hidden"));
	ASSERT_ERROR(pair_validate(p, NULL), EBADMSG);
	json_object_set_new(p, "container", json_string("web"));
	json_object_del(p, "volumes");
	_cleanup_free_ char *why = NULL;
	ASSERT_ERROR(pair_validate(p, &why), EBADMSG);
	ASSERT_TRUE(strstr(why, "volumes") != NULL);
	json_decref(p);
	json_t *not_an_object = json_string("x");
	int r = pair_validate(not_an_object, NULL);
	json_decref(not_an_object);
	ASSERT_ERROR(r, EBADMSG);
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
	ASSERT_OK(catalog_write_pair(state, "web", 1, p));
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

TEST_MAIN()
