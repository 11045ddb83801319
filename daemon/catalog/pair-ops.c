/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations on a stored pair that several jobs share: checksums, verification, removal. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <openssl/evp.h>

#include "backend.h"
#include "error.h"
#include "fileio.h"
#include "pair-ops.h"
#include "macro.h"
#include "pair.h"

static void md_ctx_freep(EVP_MD_CTX **c) {
	if (*c)
		EVP_MD_CTX_free(*c);
}

int pair_checksum_file(const char *path, char ret_hex[65]) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ unsigned char *buf = malloc(1U << 20);
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf, 1U << 20);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1)
			return -EIO;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len;
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
		return -EIO;
	for (unsigned i = 0; i < len; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int problem(json_t *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int problem(json_t *problems, const char *fmt, ...) {
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	json_array_append_new(problems, json_string(s));
	free(s);
	return 0;
}

int pair_volume_check(const char *container, uint64_t id, json_t *entry, const struct snapshot_backend **ret_backend,
                      const char **ret_source, const char **ret_snapshot, char **ret_error) {
	const char *backend_name = json_string_value(json_object_get(entry, "backend"));
	const char *source = json_string_value(json_object_get(entry, "source"));
	const char *snapshot = json_string_value(json_object_get(entry, "snapshot"));
	if (!backend_name || !source || !snapshot)
		return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 " has a volume without backend/source/snapshot",
		                  container, id);
	const struct snapshot_backend *b = snapshot_backend_for(source);
	if (!b || !streq(b->name, backend_name))
		return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 ": volume %s is not a %s volume", container, id,
		                  source, backend_name);
	_cleanup_free_ char *expected = NULL;
	int r = b->snapshot_location(source, container, id, &expected);
	if (r < 0)
		return error_setf(ret_error, r, "pair %s/%" PRIu64 ": volume %s: %m", container, id, source);
	if (!streq(expected, snapshot))
		return error_setf(ret_error, -EBADMSG,
		                  "pair %s/%" PRIu64 " names %s as the snapshot of volume %s, but ckptd keeps that snapshot "
		                  "at %s: the record is damaged or not ckptd's; refusing to touch %s", container, id,
		                  snapshot, source, expected, snapshot);
	if (ret_backend)
		*ret_backend = b;
	if (ret_source)
		*ret_source = source;
	if (ret_snapshot)
		*ret_snapshot = snapshot;
	return 0;
}

int pair_verify(const char *state_dir, json_t *pair, json_t *problems) {
	const char *name = json_string_value(json_object_get(pair, "container"));
	_cleanup_free_ char *dir = catalog_pair_dir(state_dir, name, pair_id(pair));
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	if (!images)
		return -ENOMEM;

	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(pair, "volumes"), i, v) {
		const struct snapshot_backend *b;
		const char *snapshot;
		_cleanup_free_ char *why = NULL;
		if (pair_volume_check(name, pair_id(pair), v, &b, NULL, &snapshot, &why) < 0)
			problem(problems, "%s", strna(why));
		else if (b->exists(snapshot, json_array_size(json_object_get(v, "nested"))) <= 0)
			problem(problems, "snapshot %s%s is missing", snapshot,
			        json_array_size(json_object_get(v, "nested")) > 0 ? " or one of its nested snapshots" : "");
		else if (b->health && b->health(snapshot, &why) > 0) /* present, but usable? (an overflowed LVM snapshot is not) */
			problem(problems, "%s", strna(why));
	}

	json_t *sums = json_object_get(json_object_get(pair, "images"), "sha256");
	if (!json_is_object(sums)) {
		problem(problems, "pair.json has no image checksums");
		return 0;
	}
	const char *file;
	json_object_foreach(sums, file, v) {
		if (strchr(file, '/') || file[0] == '.') {
			problem(problems, "image name '%s' in pair.json is not a plain file name", file);
			continue;
		}
		_cleanup_free_ char *path = path_join(images, file);
		char hex[65];
		if (!path)
			return -ENOMEM;
		int r = pair_checksum_file(path, hex);
		if (r == -ENOENT)
			problem(problems, "image %s is missing", path);
		else if (r < 0)
			problem(problems, "image %s cannot be read: %s", path, strerror(-r));
		else if (!streq(hex, json_string_value(v) ? json_string_value(v) : ""))
			problem(problems, "image %s is corrupted (checksum mismatch)", path);
	}
	_cleanup_closedir_ DIR *d = opendir(images);
	if (!d) {
		problem(problems, "image directory %s: %s", images, strerror(errno));
		return 0;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.' && !json_object_get(sums, de->d_name))
			problem(problems, "image %s/%s is not in pair.json", images, de->d_name);
	return 0;
}

int pair_remove(const char *state_dir, const char *container, uint64_t id, json_t *volumes, const char *staging,
                char **ret_error) {
	int ret = 0;
	size_t i;
	json_t *v;
	/* Every record first: one that names something other than ckptd's snapshot stops the whole
	 * removal before anything is deleted. */
	json_array_foreach(volumes, i, v) {
		int r = pair_volume_check(container, id, v, NULL, NULL, NULL, ret_error);
		if (r < 0)
			return r;
	}
	json_array_foreach(volumes, i, v) {
		const struct snapshot_backend *b;
		const char *snapshot;
		(void) pair_volume_check(container, id, v, &b, NULL, &snapshot, NULL);
		char *err = NULL;
		int r = b->remove(snapshot, &err);
		if (r < 0 && ret >= 0) {
			ret = r;
			if (ret_error) {
				free(*ret_error);
				*ret_error = err;
				err = NULL;
			}
		}
		free(err);
	}
	if (staging)
		(void) rm_rf(staging);
	/* The pair directory goes last: while snapshots remain, the record of them stays. */
	if (ret < 0)
		return ret;
	_cleanup_free_ char *dir = catalog_pair_dir(state_dir, container, id);
	if (!dir)
		return -ENOMEM;
	_cleanup_free_ char *json = path_join(dir, "pair.json");
	if (json)
		(void) unlink(json); /* first, so that a crash in rm_rf never leaves a listed pair */
	int r = rm_rf(dir);
	if (r < 0 && ret_error) {
		free(*ret_error);
		(void) asprintf(ret_error, "cannot remove %s: %s", dir, strerror(-r));
	}
	return r;
}
