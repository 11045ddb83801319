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
		ssize_t n = read_eintr(fd, buf, 1U << 20);
		if (n < 0)
			return (int) n;
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

int pair_volume_check(const char *container, uint64_t id, const struct pair_volume *v,
                      const struct snapshot_backend **ret_backend, char **ret_error) {
	const struct snapshot_backend *b = snapshot_backend_for(v->source);
	if (!b || !streq(b->name, v->backend))
		return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 ": volume %s is not a %s volume", container, id,
		                  v->source, v->backend);
	_cleanup_free_ char *expected = NULL;
	int r = b->snapshot_location(v->source, container, id, &expected);
	if (r < 0)
		return error_setf(ret_error, r, "pair %s/%" PRIu64 ": volume %s: %m", container, id, v->source);
	if (!streq(expected, v->snapshot))
		return error_setf(ret_error, -EBADMSG,
		                  "pair %s/%" PRIu64 " names %s as the snapshot of volume %s, but ckptd keeps that snapshot "
		                  "at %s: the record is damaged or not ckptd's; refusing to touch %s", container, id,
		                  v->snapshot, v->source, expected, v->snapshot);
	if (ret_backend)
		*ret_backend = b;
	return 0;
}

static void verify_volumes(const struct pair *p, json_t *problems) {
	for (size_t i = 0; i < p->n_volumes; i++) {
		const struct pair_volume *v = &p->volumes[i];
		const struct snapshot_backend *b;
		_cleanup_free_ char *why = NULL;
		if (pair_volume_check(p->container, p->id, v, &b, &why) < 0)
			problem(problems, "%s", strna(why));
		else if (b->exists(v->snapshot, v->n_nested) <= 0)
			problem(problems, "snapshot %s%s is missing", v->snapshot,
			        v->n_nested > 0 ? " or one of its nested snapshots" : "");
		else if (b->health && b->health(v->snapshot, &why) > 0) /* present, but usable? (an overflowed LVM snapshot is not) */
			problem(problems, "%s", strna(why));
	}
}

static bool has_image(const struct pair *p, const char *file) {
	for (size_t i = 0; i < p->images.n_sums; i++)
		if (streq(p->images.sums[i].file, file))
			return true;
	return false;
}

int pair_verify(const char *state_dir, const struct pair *p, json_t *problems) {
	_cleanup_free_ char *dir = catalog_pair_dir(state_dir, p->container, p->id);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	if (!images)
		return -ENOMEM;

	verify_volumes(p, problems);
	if (!p->images.has_sums) {
		problem(problems, "pair.json has no image checksums");
		return 0;
	}
	for (size_t i = 0; i < p->images.n_sums; i++) {
		const char *file = p->images.sums[i].file;
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
		else if (!streq(hex, p->images.sums[i].sha256))
			problem(problems, "image %s is corrupted (checksum mismatch)", path);
	}
	_cleanup_closedir_ DIR *d = opendir(images);
	if (!d) {
		problem(problems, "image directory %s: %s", images, strerror(errno));
		return 0;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.' && !has_image(p, de->d_name))
			problem(problems, "image %s/%s is not in pair.json", images, de->d_name);
	return 0;
}

int pair_remove_volumes(const char *state_dir, const char *container, uint64_t id, const struct pair_volume *v,
                        size_t n, const char *staging, char **ret_error) {
	int ret = 0;
	/* Every record first: one that names something other than ckptd's snapshot stops the whole
	 * removal before anything is deleted. */
	for (size_t i = 0; i < n; i++) {
		int r = pair_volume_check(container, id, &v[i], NULL, ret_error);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct snapshot_backend *b;
		(void) pair_volume_check(container, id, &v[i], &b, NULL);
		_cleanup_free_ char *err = NULL;
		int r = b->remove(v[i].snapshot, &err);
		if (r < 0 && ret >= 0)
			ret = error_pass(ret_error, r, &err);
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
	if (r < 0)
		return error_setf(ret_error, r, "cannot remove %s: %m", dir);
	return 0;
}
