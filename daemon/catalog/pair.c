/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "pair.h"
#include "quarantine.h"

char *catalog_container_dir(const char *state_dir, const char *name) {
	return path_join(state_dir, "containers", name);
}

char *catalog_pair_dir(const char *state_dir, const char *name, uint64_t id) {
	char idstr[32];
	snprintf(idstr, sizeof(idstr), "%" PRIu64, id);
	return path_join(state_dir, "containers", name, "pairs", idstr);
}

static int parse_id(const char *s, uint64_t *ret) {
	if (!s[0] || s[0] == '0' || strlen(s) > 19)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t) (*p - '0');
	}
	if (v > INT64_MAX) /* not an id ckptd can give (JSON integers are signed) */
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Ids of all numeric directories under pairs/, ascending. */
static int list_pair_dirs(const char *state_dir, const char *name, uint64_t **ret_ids, size_t *ret_n) {
	_cleanup_free_ char *dir = path_join(state_dir, "containers", name, "pairs");
	if (!dir)
		return -ENOMEM;
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n = 0;
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return negative_errno();
	} else {
		struct dirent *de;
		while ((de = readdir(d))) {
			uint64_t id;
			if (parse_id(de->d_name, &id) < 0)
				continue;
			uint64_t *a = realloc(ids, (n + 1) * sizeof(uint64_t));
			if (!a)
				return -ENOMEM;
			ids = a;
			ids[n++] = id;
		}
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: catalogs are small */
		for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	*ret_ids = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

/* Creates pairs/ID with the "incomplete" marker inside, in one step as far as a crash can see:
 * pairs/.ID.new gets the marker first and is then renamed into place, so a pair directory without
 * its marker never exists (recovery removes a leftover .ID.new that holds nothing else). */
static int pair_dir_create(const char *state_dir, const char *name, uint64_t id) {
	_cleanup_close_ int pfd = -EBADF;
	int r = catalog_open_subdir(state_dir, name, "pairs", true, &pfd);
	if (r < 0)
		return r;
	char entry[32], tmp[40];
	snprintf(entry, sizeof(entry), "%" PRIu64, id);
	snprintf(tmp, sizeof(tmp), "." "%" PRIu64 ".new", id);
	r = catalog_remove_unborn_pair(pfd, tmp);
	if (r < 0)
		return r;
	if (mkdirat(pfd, tmp, 0700) < 0)
		return negative_errno();
	_cleanup_close_ int dfd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();
	_cleanup_close_ int mfd = openat(dfd, PAIR_INCOMPLETE_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                                 0600);
	if (mfd < 0 || fsync(mfd) < 0 || fsync(dfd) < 0)
		return negative_errno();
	if (renameat2(pfd, tmp, pfd, entry, RENAME_NOREPLACE) < 0)
		return negative_errno();
	return fsync(pfd) < 0 ? negative_errno() : 0;
}

int catalog_allocate_id(const char *state_dir, const char *name, uint64_t *ret_id) {
	_cleanup_free_ char *cdir = catalog_container_dir(state_dir, name);
	_cleanup_free_ char *last = path_join(state_dir, "containers", name, "last-id");
	if (!cdir || !last)
		return -ENOMEM;
	int r = mkdir_p(cdir, 0700);
	if (r < 0)
		return r;

	uint64_t max = 0;
	_cleanup_free_ char *line = NULL;
	r = read_one_line_file(last, &line);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r >= 0 && parse_id(line, &max) < 0)
		max = 0; /* corrupt: fall back to the directories */

	_cleanup_free_ uint64_t *ids = NULL;
	size_t n;
	r = list_pair_dirs(state_dir, name, &ids, &n);
	if (r < 0)
		return r;
	if (n > 0 && ids[n - 1] > max)
		max = ids[n - 1];
	uint64_t q = quarantine_max_id(state_dir, name); /* damaged pairs keep their ids too */
	if (q > max)
		max = q;
	if (max >= INT64_MAX)
		return -EOVERFLOW;

	uint64_t id = max + 1;
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", id);
	r = write_file_atomic(last, buf, (size_t) len, 0600);
	if (r < 0)
		return r;

	r = pair_dir_create(state_dir, name, id);
	if (r < 0)
		return r;
	*ret_id = id;
	return 0;
}

/* pair.json of CONTAINER/ID as text parsed, or -ENOENT when there is no such pair directory. */
static int load_json(const char *state_dir, const char *name, uint64_t id, json_t **ret, char **ret_error) {
	_cleanup_free_ char *dir = catalog_pair_dir(state_dir, name, id);
	if (!dir)
		return -ENOMEM;
	_cleanup_free_ char *file = path_join(dir, "pair.json");
	if (!file)
		return -ENOMEM;
	json_error_t jerr;
	json_t *pair = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (!pair) {
		if (access(file, F_OK) < 0 && errno == ENOENT)
			return access(dir, F_OK) < 0 ? -ENOENT : error_setf(ret_error, -EBADMSG, "%s", "pair.json is missing");
		return error_setf(ret_error, -EBADMSG, "pair.json does not parse: %s", jerr.text);
	}
	*ret = pair;
	return 0;
}

static int load(const char *state_dir, const char *name, uint64_t id, bool require_complete, struct pair **ret,
                char **ret_error) {
	_cleanup_json_ json_t *j = NULL;
	int r = load_json(state_dir, name, id, &j, ret_error);
	if (r < 0)
		return r;
	_cleanup_(pair_freep) struct pair *p = NULL;
	r = pair_from_json(j, &p, ret_error);
	if (r < 0)
		return r;
	if (p->id != id || !streq(p->container, name))
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json names another pair");
	if (require_complete && !pair_is_complete_record(p))
		return -EINPROGRESS;
	if (ret)
		*ret = TAKE_PTR(p);
	return 0;
}

int catalog_load_pair_record(const char *state_dir, const char *name, uint64_t id, bool require_complete,
                             struct pair **ret, char **ret_error) {
	return load(state_dir, name, id, require_complete, ret, ret_error);
}

int catalog_list_containers(const char *state_dir, char ***ret_names) {
	_cleanup_free_ char *dir = path_join(state_dir, "containers");
	if (!dir)
		return -ENOMEM;
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	if (!names)
		return -ENOMEM;
	size_t n = 0;
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno != ENOENT)
		return negative_errno();
	for (struct dirent *de; d && (de = readdir(d));) {
		if (!container_name_is_valid(de->d_name))
			continue;
		char **a = realloc(names, (n + 2) * sizeof(char *));
		if (!a)
			return -ENOMEM;
		names = a;
		names[n] = strdup(de->d_name);
		if (!names[n])
			return -ENOMEM;
		names[++n] = NULL;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	*ret_names = TAKE_PTR(names);
	return 0;
}

void pair_array_free(struct pair **a, size_t n) {
	for (size_t i = 0; a && i < n; i++)
		pair_free(a[i]);
	free(a);
}

/* Appends the complete pairs of one container to *a (*n of them). */
static int list_one(const char *state_dir, const char *name, struct pair ***a, size_t *n) {
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n_ids;
	int r = list_pair_dirs(state_dir, name, &ids, &n_ids);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_ids; i++) {
		_cleanup_(pair_freep) struct pair *p = NULL;
		r = load(state_dir, name, ids[i], true, &p, NULL);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue; /* incomplete or damaged: never listed as a pair */
		struct pair **b = realloc(*a, (*n + 1) * sizeof(struct pair *));
		if (!b)
			return -ENOMEM;
		*a = b;
		(*a)[(*n)++] = TAKE_PTR(p);
	}
	return 0;
}

int catalog_list_pairs(const char *state_dir, const char *name, struct pair ***ret, size_t *ret_n) {
	struct pair **a = NULL;
	size_t n = 0;
	int r;
	if (name)
		r = list_one(state_dir, name, &a, &n);
	else {
		_cleanup_strv_free_ char **names = NULL;
		r = catalog_list_containers(state_dir, &names);
		for (char **c = names; r >= 0 && c && *c; c++)
			r = list_one(state_dir, *c, &a, &n);
	}
	if (r < 0) {
		pair_array_free(a, n);
		return r;
	}
	*ret = a;
	*ret_n = n;
	return 0;
}

int catalog_list_incomplete(const char *state_dir, const char *name, uint64_t **ret_ids, size_t *ret_n) {
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n, k = 0;
	int r = list_pair_dirs(state_dir, name, &ids, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = load(state_dir, name, ids[i], true, NULL, NULL);
		if (r >= 0)
			continue;
		if (r == -ENOMEM)
			return r;
		ids[k++] = ids[i];
	}
	*ret_ids = TAKE_PTR(ids);
	*ret_n = k;
	return 0;
}

static int compare_keys(const void *a, const void *b) {
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A copy of v whose objects, at every depth, hold their keys in sorted order (values that are
 * neither objects nor arrays are shared). NULL: out of memory. */
static json_t *json_sorted(json_t *v) {
	json_t *copy, *e;
	if (json_is_array(v)) {
		size_t i;
		copy = json_array();
		json_array_foreach(v, i, e)
			if (copy && json_array_append_new(copy, json_sorted(e)) < 0)
				json_decref(TAKE_PTR(copy));
		return copy;
	}
	if (!json_is_object(v))
		return json_incref(v);
	size_t n = 0;
	const char *key;
	_cleanup_free_ const char **keys = calloc(json_object_size(v) + 1, sizeof(char *));
	copy = keys ? json_object() : NULL;
	if (!copy)
		return NULL;
	json_object_foreach(v, key, e)
		keys[n++] = key;
	qsort(keys, n, sizeof(char *), compare_keys);
	for (size_t i = 0; copy && i < n; i++)
		if (json_object_set_new(copy, keys[i], json_sorted(json_object_get(v, keys[i]))) < 0)
			json_decref(TAKE_PTR(copy));
	return copy;
}

int catalog_pair_to_json(const struct pair *p, json_t **ret) {
	_cleanup_json_ json_t *j = NULL;
	int r = pair_to_json(p, &j);
	if (r < 0)
		return r;
	*ret = json_sorted(j);
	return *ret ? 0 : -ENOMEM;
}

int catalog_write_pair_record(const char *state_dir, const struct pair *p) {
	_cleanup_free_ char *dir = catalog_pair_dir(state_dir, p->container, p->id);
	if (!dir)
		return -ENOMEM;
	_cleanup_json_ json_t *j = NULL;
	int r = pair_to_json(p, &j);
	if (r < 0)
		return r;
	_cleanup_free_ char *file = path_join(dir, "pair.json");
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!file || !text)
		return -ENOMEM;
	_cleanup_free_ char *withnl = NULL;
	if (asprintf(&withnl, "%s\n", text) < 0)
		return -ENOMEM;
	r = write_file_atomic(file, withnl, strlen(withnl), 0600);
	if (r < 0)
		return r;
	_cleanup_free_ char *marker = path_join(dir, PAIR_INCOMPLETE_MARKER);
	if (marker)
		(void) unlink(marker);
	return 0;
}
