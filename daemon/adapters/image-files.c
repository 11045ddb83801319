/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "image-files.h"
#include "macro.h"
#include "process.h"
#include "time-util.h"

#define CRIT_OUTPUT_MAX (64U * 1024U * 1024U)
#define CRIT_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* Runs `crit decode -i FILE` (argv, no shell, at most CRIT_TIMEOUT_USEC) and returns its standard
 * output. */
static int crit_decode(const char *image, char **ret_output, char **ret_error) {
	const char *argv[] = { "crit", "decode", "-i", image, NULL };
	const struct process_spec spec = {
		.argv = argv,
		.timeout_usec = CRIT_TIMEOUT_USEC,
		.output_max = CRIT_OUTPUT_MAX,
	};
	_cleanup_(process_result_done) struct process_result res = {};
	_cleanup_free_ char *why = NULL;
	int r = process_run(&spec, &res, &why);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "CRIU's image tool 'crit' is not installed (run tools/setup)");
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "cannot read %s", image);
	if (res.timed_out)
		return error_setf(ret_error, -ETIME, "crit decode -i %s did not finish within %llu s and was killed", image,
		                  (unsigned long long) (CRIT_TIMEOUT_USEC / USEC_PER_SEC));
	if (res.out_truncated)
		return error_setf(ret_error, -EFBIG, "crit decode -i %s: its output is larger than %u MiB", image,
		                  CRIT_OUTPUT_MAX >> 20);
	if (res.exit_status != 0) {
		char how[64];
		return error_setf(ret_error, -EIO, "crit decode -i %s failed (%s)", image, process_result_describe(&res, how));
	}
	*ret_output = TAKE_PTR(res.out);
	return 0;
}

static int add_problem(json_t *problems, char *text) {
	if (!text)
		return -ENOMEM;
	json_array_append_new(problems, json_string(text));
	free(text);
	return 0;
}

int image_files_parse(const char *crit_output, const char *root, json_t *problems, char **ret_error) {
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *doc = json_loads(crit_output, 0, &jerr);
	json_t *entries = json_object_get(doc, "entries");
	if (!json_is_array(entries))
		return error_setf(ret_error, -EBADMSG, "not an image document: %s", doc ? "no entries" : jerr.text);

	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		if (!streq_ptr(json_string_value(json_object_get(e, "type")), "REG"))
			continue;
		json_t *reg = json_object_get(e, "reg");
		const char *name = json_string_value(json_object_get(reg, "name"));
		json_t *mode = json_object_get(reg, "mode"), *size = json_object_get(reg, "size");
		if (!name || !json_is_integer(mode))
			continue;
		mode_t m = (mode_t) json_integer_value(mode);
		if (strstr(name, " (deleted)")) /* deleted but open: CRIU saved its contents */
			continue;
		_cleanup_free_ char *path = path_join(root, name);
		if (!path)
			return -ENOMEM;
		struct stat st;
		char *text = NULL;
		if (stat(path, &st) < 0) {
			if (errno == ENOENT && asprintf(&text, "missing: %s", name) < 0)
				return -ENOMEM;
			if (errno != ENOENT && asprintf(&text, "inaccessible: %s (%s)", name, strerror(errno)) < 0)
				return -ENOMEM;
		} else if (S_ISREG(m) && json_is_integer(size) && (long long) st.st_size != json_integer_value(size)) {
			if (asprintf(&text, "size changed: %s (checkpoint %lld bytes, now %lld)", name,
			             (long long) json_integer_value(size), (long long) st.st_size) < 0)
				return -ENOMEM;
		} else if ((st.st_mode & S_IFMT) != (m & S_IFMT)) {
			if (asprintf(&text, "type changed: %s", name) < 0)
				return -ENOMEM;
		}
		if (text) {
			/* The same file is often open several times: report it once. */
			bool dup = false;
			size_t k;
			json_t *p;
			json_array_foreach(problems, k, p) dup = dup || streq(json_string_value(p), text);
			if (dup)
				free(text);
			else
				add_problem(problems, text);
		}
	}
	return 0;
}

int image_files_check(const char *images_dir, const char *root, json_t *problems, char **ret_error) {
	_cleanup_free_ char *image = path_join(images_dir, "files.img");
	if (!image)
		return -ENOMEM;
	if (access(image, R_OK) < 0)
		return error_setf(ret_error, negative_errno(), "%s: %m", image);
	_cleanup_free_ char *output = NULL, *why = NULL;
	int r = crit_decode(image, &output, ret_error);
	if (r < 0)
		return r;
	r = image_files_parse(output, root, problems, &why);
	if (r == -EBADMSG)
		return error_prefixf(ret_error, r, &why, "crit's output for %s", image);
	return r;
}
