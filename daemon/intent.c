/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fileio.h"
#include "intent.h"
#include "log.h"
#include "macro.h"

static char *intent_path(const char *state_dir, const char *container) {
	_cleanup_free_ char *file = NULL;
	if (asprintf(&file, "%s.json", container) < 0)
		return NULL;
	return path_join(state_dir, "journal", file);
}

int intent_record(const char *state_dir, const char *container, json_t *intent) {
	_cleanup_free_ char *dir = path_join(state_dir, "journal");
	_cleanup_free_ char *path = intent_path(state_dir, container);
	_cleanup_free_ char *text = json_dumps(intent, JSON_COMPACT);
	if (!dir || !path || !text)
		return -ENOMEM;
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	return write_file_atomic(path, text, strlen(text), 0600);
}

int intent_clear(const char *state_dir, const char *container) {
	_cleanup_free_ char *path = intent_path(state_dir, container);
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
		if (len < 6 || !streq(de->d_name + len - 5, ".json"))
			continue;
		_cleanup_free_ char *path = path_join(dir, de->d_name);
		if (!path)
			break;
		json_error_t err;
		json_t *intent = json_load_file(path, 0, &err);
		if (!intent || !json_is_object(intent) || !json_is_string(json_object_get(intent, "container"))) {
			log_error("Intent record %s is damaged (%s): remove it after checking the container by hand", path,
			          intent ? "not an intent object" : err.text);
			if (intent)
				json_decref(intent);
			continue;
		}
		json_array_append_new(array, intent);
	}
	*ret_array = array;
	return 0;
}
