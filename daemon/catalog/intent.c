/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>

#include "fileio.h"
#include "intent.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

static bool journal_name_is_valid(const char *s) {
	return s && s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 256;
}

/* Writes a new file that must not exist yet: a temporary file, fsynced, then link()ed to its
 * name (which fails rather than replace anything), then the directory fsynced. */
static int write_new_file(const char *dir, const char *name, const char *text) {
	_cleanup_free_ char *path = path_join(dir, name), *tmp = NULL;
	if (!path || asprintf(&tmp, "%s/.%s.tmp", dir, name) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	size_t len = strlen(text);
	int r = 0;
	if (write(fd, text, len) != (ssize_t) len || fsync(fd) < 0)
		r = errno ? negative_errno() : -EIO;
	else if (link(tmp, path) < 0)
		r = negative_errno();
	(void) unlink(tmp);
	if (r < 0)
		return r;
	return fsync_directory_of(path);
}

int intent_record(const char *state_dir, const char *container, json_t *intent) {
	static atomic_uint counter;
	_cleanup_free_ char *dir = path_join(state_dir, "journal");
	if (!dir)
		return -ENOMEM;
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	const char *file = json_string_value(json_object_get(intent, "journal_file"));
	if (file) {
		if (!journal_name_is_valid(file))
			return -EINVAL;
		_cleanup_free_ char *path = path_join(dir, file);
		_cleanup_free_ char *text = json_dumps(intent, JSON_COMPACT);
		if (!path || !text)
			return -ENOMEM;
		return write_file_atomic(path, text, strlen(text), 0600);
	}
	/* First record of this job: a name no other job has, created without replacing anything. */
	for (int attempt = 0;; attempt++) {
		char name[256];
		snprintf(name, sizeof(name), "%s-%s-%" PRIu64 "-%" PRIu64 "-%u.json", container,
		         strna(json_string_value(json_object_get(intent, "kind"))),
		         (uint64_t) json_integer_value(json_object_get(intent, "pair")), now_usec(CLOCK_REALTIME),
		         atomic_fetch_add(&counter, 1));
		if (!journal_name_is_valid(name))
			return -EINVAL;
		json_object_set_new(intent, "journal_file", json_string(name));
		_cleanup_free_ char *text = json_dumps(intent, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		r = write_new_file(dir, name, text);
		if (r != -EEXIST || attempt >= 10)
			break;
	}
	if (r < 0)
		json_object_del(intent, "journal_file");
	return r;
}

int intent_clear(const char *state_dir, json_t *intent) {
	const char *file = json_string_value(json_object_get(intent, "journal_file"));
	if (!file)
		return 0; /* never recorded */
	if (!journal_name_is_valid(file))
		return -EINVAL;
	_cleanup_free_ char *path = path_join(state_dir, "journal", file);
	if (!path)
		return -ENOMEM;
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	return fsync_directory_of(path);
}

int intent_load_all(const char *state_dir, json_t **ret_array) {
	_cleanup_free_ char *dir = path_join(state_dir, "journal");
	if (!dir)
		return -ENOMEM;
	json_t *array = json_array();
	if (!array)
		return -ENOMEM;
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno != ENOENT) {
		json_decref(array);
		return negative_errno();
	}
	for (struct dirent *de; d && (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".json"))
			continue;
		_cleanup_free_ char *path = path_join(dir, de->d_name);
		if (!path)
			break;
		json_error_t err;
		_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		json_t *intent = fd >= 0 ? json_loadfd(fd, 0, &err) : NULL;
		if (fd < 0)
			snprintf(err.text, sizeof(err.text), "%s", strerror(errno));
		if (!intent || !json_is_object(intent) || !json_is_string(json_object_get(intent, "container"))) {
			log_error("Intent record %s is damaged (%s): remove it after checking the container by hand", path,
			          intent ? "not an intent object" : err.text);
			if (intent)
				json_decref(intent);
			continue;
		}
		json_object_set_new(intent, "journal_file", json_string(de->d_name));
		json_array_append_new(array, intent);
	}
	*ret_array = array;
	return 0;
}

int intent_attention(const char *state_dir, const char *container, json_t **ret_array) {
	_cleanup_(json_decrefp) json_t *all = NULL;
	int r = intent_load_all(state_dir, &all);
	if (r < 0)
		return r;
	json_t *out = json_array();
	if (!out)
		return -ENOMEM;
	size_t i;
	json_t *intent;
	json_array_foreach(all, i, intent) {
		const char *c = json_string_value(json_object_get(intent, "container"));
		const char *msg = json_string_value(json_object_get(intent, "attention"));
		if (!msg || (container && !streq(c, container)))
			continue;
		json_array_append_new(out, json_pack("{s:s,s:s,s:O}", "container", c, "message", msg, "journal_file",
		                                     json_object_get(intent, "journal_file")));
	}
	*ret_array = out;
	return 0;
}

int intent_clear_attention(const char *state_dir, const char *container) {
	_cleanup_(json_decrefp) json_t *list = NULL;
	int r = intent_attention(state_dir, container, &list);
	if (r < 0)
		return r;
	int n = 0;
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		r = intent_clear(state_dir, a);
		if (r < 0)
			return r;
		log_container_event(LOG_NOTICE, CKPTD_MESSAGE_RECOVERED, container, 0, UINT64_MAX,
		                    "%s: no longer needs attention (was: %s)", container,
		                    json_string_value(json_object_get(a, "message")));
		n++;
	}
	return n;
}

char *intent_rollback_attention(const char *name, json_t *intent, const char *how) {
	uint64_t id = (uint64_t) json_integer_value(json_object_get(intent, "pair"));
	const char *step = strna(json_string_value(json_object_get(intent, "step")));
	json_t *safety = json_object_get(intent, "safety_pair");
	_cleanup_free_ char *volumes = NULL, *undo = NULL;
	if (streq(step, "volumes") && json_is_integer(json_object_get(intent, "volumes_total")))
		(void) asprintf(&volumes, " (%lld of %lld volume(s) rolled back)",
		                (long long) json_integer_value(json_object_get(intent, "volumes_done")),
		                (long long) json_integer_value(json_object_get(intent, "volumes_total")));
	if (json_is_integer(safety))
		(void) asprintf(&undo, "undo: ckptctl rollback %s %lld", name, (long long) json_integer_value(safety));
	else
		undo = strdup("no safety pair was taken");
	char *msg = NULL;
	if (asprintf(&msg, "rollback to %" PRIu64 " %s at step '%s'%s; %s; finish it: ckptctl rollback %s %" PRIu64
	             " --no-safety-pair; then 'ckptctl acknowledge %s' if you act by hand", id, how, step,
	             volumes ? volumes : "", strna(undo), name, id, name) < 0)
		return NULL;
	return msg;
}
