/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* import: a stream written by export (export.h) becomes a new pair of a configured container.
 *
 *   manifest (checked: format, version, names, volumes mapped to configured ones, the base pair
 *   imported before) -> new id (pairs/ID with its "incomplete" marker, as a dump makes it) ->
 *   pair.json of the source and the images, each checked against the manifest's size and
 *   SHA-256 as it is written -> each volume's chunks, each checked against its own SHA-256 before
 *   the backend's receive sees it -> end.json (every volume's chunks, bytes and SHA-256, nothing
 *   after it) -> pair.json of the new pair, written last, with the origin recorded.
 *
 * Any failure removes what this import made, and only that: the snapshots its backend received
 * (each at a location checked to be empty before), then the pair directory. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>

#include "backend.h"
#include "error.h"
#include "export.h"
#include "fileio.h"
#include "intent.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair-ops.h"
#include "pair.h"
#include "time-util.h"

#define READ_BLOCK (1U << 20)

struct import_volume {
	const char *source;              /* on the exporting host (points into the manifest) */
	const char *target;              /* the configured volume it becomes (points into the config) */
	const struct snapshot_backend *backend;
	char *snapshot;                  /* where its snapshot goes */
	bool received;                   /* the snapshot is there, made by this import */
	uint64_t chunks, bytes;
	char sha256[65];
};

struct import {
	struct job *job;
	struct archive *archive;
	int fd;
	char *read_buf;
	uint64_t bytes;                  /* read from the stream */
	json_t *manifest;
	const char *host, *container;    /* the origin (point into the manifest) */
	uint64_t origin_id, base;        /* base 0: a full stream */
	struct import_volume *volumes;
	size_t n_volumes;
	uint64_t id;                     /* the new pair, 0 until allocated */
	char *pair_dir;
	int images_fd;
	struct pair *record;             /* the source's pair.json */
	json_t *intent;                  /* in the journal while the pair is half-made */
	uint64_t members;
};

static void import_done(struct import *im) {
	if (im->archive)
		archive_read_free(im->archive);
	free(im->read_buf);
	if (im->manifest)
		json_decref(im->manifest);
	for (size_t i = 0; im->volumes && i < im->n_volumes; i++)
		free(im->volumes[i].snapshot);
	free(im->volumes);
	free(im->pair_dir);
	if (im->images_fd >= 0)
		close(im->images_fd);
	pair_free(im->record);
	if (im->intent)
		json_decref(im->intent);
}

static void md_ctx_freep(EVP_MD_CTX **c) {
	if (*c)
		EVP_MD_CTX_free(*c);
}

static void sha256_final_hex(EVP_MD_CTX *ctx, char hex[65]) {
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	hex[0] = '\0';
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
		return;
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static la_ssize_t stream_read(struct archive *a, void *userdata, const void **ret_buf) {
	struct import *im = userdata;
	for (;;) {
		ssize_t n = read(im->fd, im->read_buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = im->fd, .events = POLLIN };
			(void) poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0) {
			archive_set_error(a, errno, "cannot read the stream: %s", strerror(errno));
			return -1;
		}
		im->bytes += (uint64_t) n;
		*ret_buf = im->read_buf;
		return n;
	}
}

static int stream_failed(struct import *im, const char *what, char **ret_error) {
	return error_setf(ret_error, -EBADMSG, "the stream is truncated or damaged at %s: %s", what,
	                  strna(archive_error_string(im->archive)));
}

/* The next member's header; *ret_entry NULL at the end of the archive. */
static int next_member(struct import *im, struct archive_entry **ret_entry, const char *after, char **ret_error) {
	int k = archive_read_next_header(im->archive, ret_entry);
	if (k == ARCHIVE_EOF) {
		*ret_entry = NULL;
		return 0;
	}
	if (k != ARCHIVE_OK) {
		_cleanup_free_ char *what = NULL;
		(void) asprintf(&what, "the member after %s", after);
		return stream_failed(im, strna(what), ret_error);
	}
	if (archive_entry_filetype(*ret_entry) != AE_IFREG || !archive_entry_size_is_set(*ret_entry) ||
	    archive_entry_size(*ret_entry) < 0)
		return error_setf(ret_error, -EBADMSG, "member %s of the stream is not a plain file: not a ckptd export",
		                  strna(archive_entry_pathname(*ret_entry)));
	im->members++;
	return 0;
}

/* A whole member into memory (at most max bytes). */
static int member_read_all(struct import *im, struct archive_entry *e, size_t max, char **ret, size_t *ret_size,
                           char **ret_error) {
	const char *name = archive_entry_pathname(e);
	la_int64_t size = archive_entry_size(e);
	if ((uint64_t) size > max)
		return error_setf(ret_error, -EBADMSG, "member %s of the stream is too large (%" PRId64 " bytes)", name,
		                  (int64_t) size);
	_cleanup_free_ char *buf = malloc((size_t) size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t) size) {
		la_ssize_t n = archive_read_data(im->archive, buf + got, (size_t) size - got);
		if (n <= 0)
			return stream_failed(im, name, ret_error);
		got += (size_t) n;
	}
	buf[got] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_size = got;
	return 0;
}

static int sha256_hex(const void *data, size_t size, char hex[65]) {
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, data, size) != 1)
		return -ENOMEM;
	sha256_final_hex(ctx, hex);
	return 0;
}

/* The manifest's record of member NAME: {name, size, sha256}, or NULL. */
static json_t *manifest_member(struct import *im, const char *name) {
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(im->manifest, "members"), i, m)
		if (streq_ptr(json_string_value(json_object_get(m, "name")), name))
			return m;
	return NULL;
}

static bool hex64_is_valid(const char *s) {
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* The configured volume SOURCE goes to: --volume SRC=DST, else the same path, else the only
 * volume when both sides have one. */
static const char *map_volume(struct job *j, const char *source, size_t n_sources) {
	for (char **m = j->volume_map; m && *m; m++) {
		const char *eq = strchr(*m, '=');
		if (eq && strncmp(*m, source, (size_t) (eq - *m)) == 0 && source[eq - *m] == '\0')
			return eq + 1;
	}
	for (size_t k = 0; k < j->config->n_volumes; k++)
		if (streq(j->config->volumes[k], source))
			return j->config->volumes[k];
	if (n_sources == 1 && j->config->n_volumes == 1)
		return j->config->volumes[0];
	return NULL;
}

static int manifest_volumes(struct import *im, json_t *volumes, char **ret_error) {
	struct job *j = im->job;
	size_t n = json_array_size(volumes);
	if (n == 0)
		return error_setf(ret_error, -EBADMSG, "%s", "the manifest lists no volumes");
	im->volumes = calloc(n, sizeof(*im->volumes));
	if (!im->volumes)
		return -ENOMEM;
	im->n_volumes = n;
	for (char **m = j->volume_map; m && *m; m++) {
		const char *eq = strchr(*m, '=');
		bool used = false;
		for (size_t i = 0; eq && i < n; i++) {
			const char *s = json_string_value(json_object_get(json_array_get(volumes, i), "source"));
			used = used || (s && strncmp(*m, s, (size_t) (eq - *m)) == 0 && s[eq - *m] == '\0');
		}
		if (!used)
			return error_setf(ret_error, -EINVAL, "--volume %s: the stream has no volume %.*s", *m,
			                  eq ? (int) (eq - *m) : (int) strlen(*m), *m);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(volumes, i);
		const char *backend = json_string_value(json_object_get(v, "backend"));
		const char *source = json_string_value(json_object_get(v, "source"));
		if (!backend || !source || json_integer_value(json_object_get(v, "index")) != (json_int_t) i)
			return error_setf(ret_error, -EBADMSG, "%s", "the manifest has a malformed volume");
		struct import_volume *iv = &im->volumes[i];
		iv->source = source;
		iv->target = map_volume(j, source, n);
		if (!iv->target)
			return error_setf(ret_error, -EINVAL, "volume %s of the stream has no destination: container %s is "
			                  "configured with other volumes; name it with --volume %s=DESTINATION", source,
			                  j->container, source);
		bool configured = false;
		for (size_t k = 0; k < j->config->n_volumes; k++)
			configured = configured || streq(j->config->volumes[k], iv->target);
		if (!configured)
			return error_setf(ret_error, -EINVAL, "%s is not a volume of container %s (%s): a stream's volumes are "
			                  "imported next to the configured ones only", iv->target, j->container,
			                  strna(j->config->file));
		for (size_t x = 0; x < i; x++)
			if (streq(im->volumes[x].target, iv->target))
				return error_setf(ret_error, -EINVAL, "volumes %s and %s of the stream would both go to %s",
				                  im->volumes[x].source, source, iv->target);
		iv->backend = snapshot_backend_for(iv->target);
		if (!iv->backend || !streq(iv->backend->name, backend))
			return error_setf(ret_error, -EINVAL, "volume %s of the stream is a %s volume, %s is not", source,
			                  backend, iv->target);
		if (!iv->backend->receive)
			return error_setf(ret_error, -EOPNOTSUPP, "volume %s: import is not yet supported for %s volumes",
			                  iv->target, streq(backend, "lvm") ? "LVM" : backend);
	}
	return 0;
}

/* The local pair imported from ORIGIN's CONTAINER/ID, 0 if none. */
static int find_imported(struct job *j, const char *host, const char *container, uint64_t id, uint64_t *ret) {
	struct pair **pairs = NULL;
	size_t n = 0;
	int r = catalog_list_pairs(j->state_dir, j->container, &pairs, &n);
	if (r < 0)
		return r;
	*ret = 0;
	for (size_t i = 0; i < n; i++)
		if (pairs[i]->origin.host && streq(pairs[i]->origin.host, host) &&
		    streq(pairs[i]->origin.container, container) && pairs[i]->origin.id == id)
			*ret = pairs[i]->id;
	pair_array_free(pairs, n);
	return 0;
}

static int manifest_read(struct import *im, char **ret_error) {
	struct job *j = im->job;
	struct archive_entry *e;
	int r = next_member(im, &e, "the start", ret_error);
	if (r < 0)
		return r;
	if (!e || !streq_ptr(archive_entry_pathname(e), EXPORT_MANIFEST))
		return error_setf(ret_error, -EBADMSG, "the stream does not start with %s: not a ckptd export",
		                  EXPORT_MANIFEST);
	_cleanup_free_ char *text = NULL;
	size_t size;
	if ((r = member_read_all(im, e, EXPORT_JSON_MAX, &text, &size, ret_error)) < 0)
		return r;
	json_error_t jerr;
	im->manifest = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
	if (!im->manifest || !json_is_object(im->manifest))
		return error_setf(ret_error, -EBADMSG, "the manifest does not parse: %s", im->manifest ? "not an object" : jerr.text);
	json_t *m = im->manifest, *base = json_object_get(m, "base"), *version = json_object_get(m, "version");
	if (!streq_ptr(json_string_value(json_object_get(m, "format")), EXPORT_FORMAT))
		return error_setf(ret_error, -EBADMSG, "%s", "the stream is not a ckptd export (manifest format)");
	if (!json_is_integer(version) || json_integer_value(version) != EXPORT_FORMAT_VERSION)
		return error_setf(ret_error, -EPROTONOSUPPORT, "the stream has format version %s; this ckptd reads version %d",
		                  json_is_integer(version) ? "another" : "no", EXPORT_FORMAT_VERSION);
	im->host = json_string_value(json_object_get(m, "host"));
	im->container = json_string_value(json_object_get(m, "container"));
	json_int_t id = json_integer_value(json_object_get(m, "pair"));
	if (!im->host || !im->host[0] || !im->container || !container_name_is_valid(im->container) || id <= 0 ||
	    !(json_is_null(base) || (json_is_integer(base) && json_integer_value(base) > 0)) ||
	    !json_is_array(json_object_get(m, "members")) || !json_is_array(json_object_get(m, "volumes")))
		return error_setf(ret_error, -EBADMSG, "%s", "the manifest lacks or mangles host, container, pair, base, "
		                  "members or volumes");
	im->origin_id = (uint64_t) id;
	im->base = json_is_integer(base) ? (uint64_t) json_integer_value(base) : 0;
	size_t i;
	json_t *mm;
	json_array_foreach(json_object_get(m, "members"), i, mm) {
		const char *name = json_string_value(json_object_get(mm, "name"));
		if (!name || !json_is_integer(json_object_get(mm, "size")) ||
		    json_integer_value(json_object_get(mm, "size")) < 0 ||
		    !hex64_is_valid(json_string_value(json_object_get(mm, "sha256"))) ||
		    (!streq(name, EXPORT_PAIR) &&
		     (strncmp(name, EXPORT_IMAGES_PREFIX, strlen(EXPORT_IMAGES_PREFIX)) != 0 ||
		      strchr(name + strlen(EXPORT_IMAGES_PREFIX), '/') || name[strlen(EXPORT_IMAGES_PREFIX)] == '.' ||
		      !name[strlen(EXPORT_IMAGES_PREFIX)])))
			return error_setf(ret_error, -EBADMSG, "the manifest lists a malformed member (%s)", strna(name));
	}
	if (!manifest_member(im, EXPORT_PAIR))
		return error_setf(ret_error, -EBADMSG, "%s", "the manifest lists no pair.json");
	if ((r = manifest_volumes(im, json_object_get(m, "volumes"), ret_error)) < 0)
		return r;

	uint64_t have = 0;
	if ((r = find_imported(j, im->host, im->container, im->origin_id, &have)) < 0)
		return error_setf(ret_error, r, "cannot list the pairs of %s: %m", j->container);
	if (have > 0)
		return error_setf(ret_error, -EEXIST, "pair %s:%s/%" PRIu64 " was imported already, as pair %s/%" PRIu64,
		                  im->host, im->container, im->origin_id, j->container, have);
	if (im->base > 0) {
		if ((r = find_imported(j, im->host, im->container, im->base, &have)) < 0)
			return error_setf(ret_error, r, "cannot list the pairs of %s: %m", j->container);
		if (have == 0)
			return error_setf(ret_error, -ENOENT, "the stream is incremental against pair %s:%s/%" PRIu64 ", its "
			                  "base, which has not been imported into %s here: import that pair first", im->host,
			                  im->container, im->base, j->container);
	}
	return 0;
}

/* A member the manifest lists, written where it belongs (fd, or memory when ret_data), checked
 * against the manifest's size and SHA-256 on the way. */
static int member_checked(struct import *im, struct archive_entry *e, int out_fd, char **ret_data, char **ret_error) {
	const char *name = archive_entry_pathname(e);
	json_t *m = manifest_member(im, name);
	uint64_t size = (uint64_t) json_integer_value(json_object_get(m, "size"));
	if ((uint64_t) archive_entry_size(e) != size)
		return error_setf(ret_error, -EBADMSG, "member %s has %" PRId64 " bytes, the manifest says %" PRIu64, name,
		                  (int64_t) archive_entry_size(e), size);
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ char *buf = malloc(READ_BLOCK);
	_cleanup_free_ char *data = ret_data ? malloc(size + 1) : NULL;
	if (!ctx || !buf || (ret_data && (!data || size > EXPORT_JSON_MAX)) || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return ret_data && size > EXPORT_JSON_MAX ? error_setf(ret_error, -EBADMSG, "member %s is too large", name)
		                                          : -ENOMEM;
	uint64_t got = 0;
	while (got < size) {
		la_ssize_t n = archive_read_data(im->archive, buf, READ_BLOCK);
		if (n <= 0)
			return stream_failed(im, name, ret_error);
		EVP_DigestUpdate(ctx, buf, (size_t) n);
		if (data)
			memcpy(data + got, buf, (size_t) n);
		else if (write_all(out_fd, buf, (size_t) n) < 0)
			return error_setf(ret_error, negative_errno(), "cannot write %s/%s: %m", im->pair_dir, name);
		got += (uint64_t) n;
	}
	char hex[65];
	sha256_final_hex(ctx, hex);
	if (!streq(hex, json_string_value(json_object_get(m, "sha256"))))
		return error_setf(ret_error, -EBADMSG, "member %s of the stream is corrupted (checksum mismatch)", name);
	if (data) {
		data[size] = '\0';
		*ret_data = TAKE_PTR(data);
	}
	return 0;
}

static int record_read(struct import *im, struct archive_entry *e, char **ret_error) {
	_cleanup_free_ char *text = NULL;
	int r = member_checked(im, e, -EBADF, &text, ret_error);
	if (r < 0)
		return r;
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return error_setf(ret_error, -EBADMSG, "pair.json of the stream does not parse: %s", jerr.text);
	_cleanup_free_ char *why = NULL;
	r = pair_from_json(j, &im->record, &why);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "pair.json of the stream is invalid");
	if (!pair_is_complete_record(im->record) || im->record->id != im->origin_id ||
	    !streq(im->record->container, im->container) || im->record->n_volumes != im->n_volumes)
		return error_setf(ret_error, -EBADMSG, "%s", "pair.json of the stream does not match its manifest");
	for (size_t i = 0; i < im->n_volumes; i++)
		if (!streq(im->record->volumes[i].source, im->volumes[i].source))
			return error_setf(ret_error, -EBADMSG, "%s", "pair.json of the stream does not match its manifest");
	return 0;
}

static int image_read(struct import *im, struct archive_entry *e, char **ret_error) {
	const char *file = archive_entry_pathname(e) + strlen(EXPORT_IMAGES_PREFIX);
	_cleanup_close_ int fd = openat(im->images_fd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot create %s/images/%s: %m%s", im->pair_dir, file,
		                  errno == EEXIST ? " (the stream names it twice)" : "");
	int r = member_checked(im, e, fd, NULL, ret_error);
	if (r >= 0 && fsync(fd) < 0)
		r = error_setf(ret_error, negative_errno(), "cannot sync %s/images/%s: %m", im->pair_dir, file);
	return r;
}

/* The backend's receive, in a thread of its own, reading from a pipe this thread fills. */
struct receiver {
	const struct snapshot_backend *backend;
	const char *snapshot;
	int in_fd;
	int r;
	char *error;
};

static void *receiver_run(void *userdata) {
	struct receiver *rc = userdata;
	rc->r = rc->backend->receive(rc->snapshot, rc->in_fd, &rc->error);
	close(rc->in_fd); /* a writer still feeding it gets EPIPE instead of waiting forever */
	rc->in_fd = -EBADF;
	return NULL;
}

/* "volumes/I/NNNNNN" -> I and N; false if the name is not of that form. */
static bool chunk_name_parse(const char *name, size_t *ret_index, uint64_t *ret_seq) {
	if (strncmp(name, EXPORT_VOLUMES_PREFIX, strlen(EXPORT_VOLUMES_PREFIX)) != 0)
		return false;
	const char *p = name + strlen(EXPORT_VOLUMES_PREFIX);
	char *end;
	if (*p < '0' || *p > '9')
		return false;
	unsigned long long i = strtoull(p, &end, 10);
	if (*end != '/' || end[1] < '0' || end[1] > '9')
		return false;
	unsigned long long s = strtoull(end + 1, &end, 10);
	if (*end)
		return false;
	*ret_index = (size_t) i;
	*ret_seq = s;
	return true;
}

static const char *chunk_sum(struct archive_entry *e) {
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (streq(name, EXPORT_CHUNK_SUM_XATTR) && size == 64) {
			static _Thread_local char hex[65];
			memcpy(hex, value, 64);
			hex[64] = '\0';
			return hex;
		}
	return NULL;
}

/* Volume I's chunks, from *e on (a chunk of volume I), each checked, into the backend's receive;
 * *e is the member after them when done. */
static int volume_receive(struct import *im, size_t index, struct archive_entry **e, char **ret_error) {
	struct import_volume *v = &im->volumes[index];
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_setf(ret_error, negative_errno(), "cannot make a pipe: %m");
	struct receiver rc = { .backend = v->backend, .snapshot = v->snapshot, .in_fd = p[0] };
	pthread_t t;
	if (pthread_create(&t, NULL, receiver_run, &rc) != 0) {
		close(p[0]);
		close(p[1]);
		return error_setf(ret_error, -EAGAIN, "cannot start the receiving thread");
	}
	_cleanup_(md_ctx_freep) EVP_MD_CTX *all = EVP_MD_CTX_new();
	_cleanup_free_ char *buf = malloc(EXPORT_CHUNK_BYTES);
	int r = all && buf && EVP_DigestInit_ex(all, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
	char name_after[64] = "";
	while (r >= 0 && *e) {
		const char *name = archive_entry_pathname(*e);
		size_t idx;
		uint64_t seq;
		if (!chunk_name_parse(name, &idx, &seq) || idx != index)
			break;
		const char *sum = chunk_sum(*e);
		la_int64_t size = archive_entry_size(*e);
		if (seq != v->chunks || !sum || size <= 0 || (uint64_t) size > EXPORT_CHUNK_BYTES) {
			r = error_setf(ret_error, -EBADMSG, "chunk %s of the stream is out of order, unchecksummed or oversized",
			               name);
			break;
		}
		size_t got = 0;
		while (got < (size_t) size) {
			la_ssize_t n = archive_read_data(im->archive, buf + got, (size_t) size - got);
			if (n <= 0)
				break;
			got += (size_t) n;
		}
		if (got < (size_t) size) {
			r = stream_failed(im, name, ret_error);
			break;
		}
		char hex[65];
		if (sha256_hex(buf, got, hex) < 0) {
			r = -ENOMEM;
			break;
		}
		if (!streq(hex, sum)) {
			r = error_setf(ret_error, -EBADMSG, "chunk %s of the stream is corrupted (checksum mismatch)", name);
			break;
		}
		EVP_DigestUpdate(all, buf, got);
		if (write_all(p[1], buf, got) < 0) { /* EPIPE: the receive ended early */
			r = -EPIPE; /* its own error says why */
			break;
		}
		v->chunks++;
		v->bytes += got;
		job_progress(im->job, "volumes", "volume %s: %" PRIu64 " bytes received", v->target, v->bytes);
		snprintf(name_after, sizeof(name_after), "%s", name);
		if ((r = next_member(im, e, name, ret_error)) < 0)
			break;
	}
	close(p[1]); /* the end of the stream (or of a failed one) for the receive */
	pthread_join(t, NULL);
	_cleanup_free_ char *why = rc.error;
	if (rc.r >= 0)
		v->received = true; /* made by this import: removed on failure */
	if (r == -EPIPE && rc.r < 0)
		return error_pass(ret_error, rc.r, &why);
	if (r < 0)
		return r;
	if (v->chunks == 0)
		return error_setf(ret_error, -EBADMSG, "the stream has no data for volume %s", v->source);
	if (rc.r < 0)
		return error_pass(ret_error, rc.r, &why);
	sha256_final_hex(all, v->sha256);
	return 0;
}

static int end_check(struct import *im, struct archive_entry *e, char **ret_error) {
	_cleanup_free_ char *text = NULL;
	size_t size;
	uint64_t members_before = im->members - 1;
	int r = member_read_all(im, e, EXPORT_JSON_MAX, &text, &size, ret_error);
	if (r < 0)
		return r;
	_cleanup_(json_decrefp) json_t *end = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
	json_t *vols = json_object_get(end, "volumes");
	if (!json_is_array(vols) || json_array_size(vols) != im->n_volumes ||
	    json_integer_value(json_object_get(end, "members")) != (json_int_t) members_before)
		return error_setf(ret_error, -EBADMSG, "%s", "the stream's end record does not match what came before it");
	for (size_t i = 0; i < im->n_volumes; i++) {
		json_t *v = json_array_get(vols, i);
		if (json_integer_value(json_object_get(v, "chunks")) != (json_int_t) im->volumes[i].chunks ||
		    json_integer_value(json_object_get(v, "bytes")) != (json_int_t) im->volumes[i].bytes ||
		    !streq_ptr(json_string_value(json_object_get(v, "sha256")), im->volumes[i].sha256))
			return error_setf(ret_error, -EBADMSG, "the stream of volume %s is incomplete or damaged (its end record "
			                  "disagrees)", im->volumes[i].source);
	}
	struct archive_entry *after;
	if ((r = next_member(im, &after, EXPORT_END, ret_error)) < 0)
		return r;
	if (after)
		return error_setf(ret_error, -EBADMSG, "the stream goes on after its end record (%s)",
		                  strna(archive_entry_pathname(after)));
	return 0;
}

/* Everything after the manifest, in order. */
static int members_read(struct import *im, char **ret_error) {
	struct archive_entry *e;
	int r = next_member(im, &e, EXPORT_MANIFEST, ret_error);
	size_t listed = json_array_size(json_object_get(im->manifest, "members")), seen = 0;
	const char *last = EXPORT_MANIFEST;
	job_progress(im->job, "images", "receiving the record and the images");
	while (r >= 0 && e) {
		const char *name = archive_entry_pathname(e);
		size_t idx;
		uint64_t seq;
		if (chunk_name_parse(name, &idx, &seq)) {
			if (seen != listed)
				return error_setf(ret_error, -EBADMSG, "the stream lacks %zu of the members its manifest lists",
				                  listed - seen);
			for (size_t i = 0; i < im->n_volumes && r >= 0; i++) {
				if (!e || !chunk_name_parse(archive_entry_pathname(e), &idx, &seq) || idx != i)
					return error_setf(ret_error, -EBADMSG, "the stream has no data for volume %s%s",
					                  im->volumes[i].source, e ? "" : " (it ends early)");
				job_progress(im->job, "volumes", "receiving volume %s into %s", im->volumes[i].source,
				             im->volumes[i].snapshot);
				r = volume_receive(im, i, &e, ret_error);
			}
			if (r < 0)
				return r;
			if (!e || !streq_ptr(archive_entry_pathname(e), EXPORT_END))
				return error_setf(ret_error, -EBADMSG, "the stream lacks its end record%s%s",
				                  e ? ": found " : " (it is truncated)", e ? strna(archive_entry_pathname(e)) : "");
			return end_check(im, e, ret_error);
		}
		if (!manifest_member(im, name))
			return error_setf(ret_error, -EBADMSG, "member %s of the stream is not in its manifest", name);
		if (streq(name, EXPORT_PAIR)) {
			if (im->record)
				return error_setf(ret_error, -EBADMSG, "%s", "the stream has pair.json twice");
			r = record_read(im, e, ret_error);
		} else
			r = image_read(im, e, ret_error);
		if (r < 0)
			return r;
		seen++;
		last = name;
		r = next_member(im, &e, last, ret_error);
	}
	if (r < 0)
		return r;
	return error_setf(ret_error, -EBADMSG, "the stream ends after %s: it is truncated", last);
}

/* The new pair's id, its directory (pairs/ID with its "incomplete" marker) and images/. */
static int pair_begin(struct import *im, char **ret_error) {
	struct job *j = im->job;
	int r = catalog_allocate_id(j->state_dir, j->container, &im->id);
	if (r < 0)
		return error_setf(ret_error, r, "cannot allocate a pair id for %s: %m", j->container);
	im->pair_dir = catalog_pair_dir(j->state_dir, j->container, im->id);
	if (!im->pair_dir)
		return -ENOMEM;
	_cleanup_close_ int dfd = open_nofollow(im->pair_dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return error_setf(ret_error, dfd, "%s: %m", im->pair_dir);
	im->images_fd = open_private_dir(dfd, "images", true);
	if (im->images_fd < 0)
		return error_setf(ret_error, im->images_fd, "%s/images: %m", im->pair_dir);
	for (size_t i = 0; i < im->n_volumes; i++) {
		r = im->volumes[i].backend->snapshot_location(im->volumes[i].target, j->container, im->id,
		                                                 &im->volumes[i].snapshot);
		if (r < 0)
			return error_setf(ret_error, r, "volume %s: %m", im->volumes[i].target);
	}
	/* Before anything is received: a ckptd killed from here on finds the half-made pair and its
	 * snapshots in the journal at its next start (recovery.c) and removes them. */
	json_t *snapshots = json_array();
	for (size_t i = 0; snapshots && i < im->n_volumes; i++)
		json_array_append_new(snapshots, json_pack("{s:s,s:s,s:s}", "backend", im->volumes[i].backend->name, "source",
		                                           im->volumes[i].target, "snapshot", im->volumes[i].snapshot));
	im->intent = snapshots ? json_pack("{s:s,s:s,s:I,s:o}", "kind", "import", "container", j->container, "pair",
	                                   (json_int_t) im->id, "snapshots", snapshots) : NULL;
	r = im->intent ? intent_record(j->state_dir, j->container, im->intent) : -ENOMEM;
	if (r < 0)
		return error_setf(ret_error, r, "cannot record the import in %s/journal: %m", j->state_dir);
	return 0;
}

/* The record of the new pair: the source's, with this container's name, the new id, the
 * snapshots here and where it came from. */
static int pair_finish(struct import *im, struct pair **ret, char **ret_error) {
	struct job *j = im->job;
	struct pair *p = TAKE_PTR(im->record);
	free(p->container);
	p->container = strdup(j->container);
	p->id = im->id;
	p->pinned = false;
	p->images.shared_from = 0;
	p->images.added_bytes = PAIR_ABSENT;
	p->images.disk_bytes = PAIR_ABSENT;
	p->origin = (struct pair_origin) { .host = strdup(im->host), .container = strdup(im->container),
	                                   .id = im->origin_id };
	pair_volumes_free(p->volumes, p->n_volumes);
	p->volumes = calloc(im->n_volumes, sizeof(*p->volumes));
	p->n_volumes = p->volumes ? im->n_volumes : 0;
	for (size_t i = 0; p->volumes && i < im->n_volumes; i++)
		p->volumes[i] = (struct pair_volume) { .backend = strdup(im->volumes[i].backend->name),
		                                       .source = strdup(im->volumes[i].target),
		                                       .snapshot = strdup(im->volumes[i].snapshot) };
	bool oom = !p->container || !p->origin.host || !p->origin.container || !p->volumes;
	for (size_t i = 0; !oom && i < p->n_volumes; i++)
		oom = !p->volumes[i].backend || !p->volumes[i].source || !p->volumes[i].snapshot;
	int r = oom ? -ENOMEM : catalog_write_pair_record(j->state_dir, p);
	if (r < 0) {
		pair_free(p);
		return error_setf(ret_error, r, "cannot write %s/pair.json: %m", im->pair_dir);
	}
	*ret = p;
	return 0;
}

/* What a failed import made goes: the snapshots it received, then its pair directory. */
static void import_undo(struct import *im) {
	struct job *j = im->job;
	if (im->id == 0) {
		job_set_state(j, "nothing changed");
		return;
	}
	_cleanup_free_ struct pair_volume *v = calloc(im->n_volumes + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; v && i < im->n_volumes; i++)
		if (im->volumes[i].received)
			v[n++] = (struct pair_volume) { .backend = (char *) im->volumes[i].backend->name,
			                                .source = (char *) im->volumes[i].target,
			                                .snapshot = im->volumes[i].snapshot };
	_cleanup_free_ char *why = NULL;
	int r = v ? pair_remove_volumes(j->state_dir, j->container, im->id, v, n, NULL, &why) : -ENOMEM;
	if (r >= 0 && im->intent)
		(void) intent_clear(j->state_dir, im->intent); /* else the next start tries again */
	if (r < 0) {
		log_error("%s: cannot remove what the failed import of pair %" PRIu64 " made: %s", j->container, im->id,
		          strna(why));
		job_set_state(j, "the half-made pair %" PRIu64 " could not be removed: %s", im->id, strna(why));
	} else
		job_set_state(j, "nothing changed: the half-made pair %" PRIu64 " and what it received were removed", im->id);
}

static int import_stream(struct job *j, json_t **ret_result, char **ret_error) {
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	_cleanup_(import_done) struct import im = { .job = j, .fd = j->stream_fd, .images_fd = -EBADF };
	job_set_state(j, "nothing changed");
	job_progress(j, "manifest", "reading the stream for %s", j->container);
	im.read_buf = malloc(READ_BLOCK);
	im.archive = archive_read_new();
	if (!im.read_buf || !im.archive)
		return -ENOMEM;
	archive_read_support_format_tar(im.archive);
	if (archive_read_open(im.archive, &im, NULL, stream_read, NULL) != ARCHIVE_OK)
		return stream_failed(&im, "its start", ret_error);
	int r = manifest_read(&im, ret_error);
	if (r < 0)
		return r;
	if ((r = pair_begin(&im, ret_error)) >= 0)
		r = members_read(&im, ret_error);
	_cleanup_(pair_freep) struct pair *p = NULL;
	if (r >= 0 && fsync(im.images_fd) < 0)
		r = error_setf(ret_error, negative_errno(), "cannot sync %s/images: %m", im.pair_dir);
	if (r >= 0)
		r = pair_finish(&im, &p, ret_error);
	if (r < 0) {
		import_undo(&im);
		return r;
	}
	(void) intent_clear(j->state_dir, im.intent);
	uint64_t t_end = now_usec(CLOCK_MONOTONIC);
	log_container_event(LOG_INFO, CKPTD_MESSAGE_IMPORT, j->container, im.id, UINT64_MAX,
	                    "%s: imported pair %s:%s/%" PRIu64 " as pair %" PRIu64 " (%" PRIu64 " bytes)", j->container,
	                    im.host, im.container, im.origin_id, im.id, im.bytes);
	json_t *volumes = json_array();
	for (size_t i = 0; volumes && i < im.n_volumes; i++)
		json_array_append_new(volumes, json_pack("{s:s,s:s,s:s,s:I}", "source", im.volumes[i].source, "volume",
		                                         im.volumes[i].target, "snapshot", im.volumes[i].snapshot, "bytes",
		                                         (json_int_t) im.volumes[i].bytes));
	*ret_result = json_pack("{s:s,s:I,s:{s:s,s:s,s:I},s:o,s:I,s:o,s:{s:I}}", "container", j->container, "pair",
	                        (json_int_t) im.id, "origin", "host", im.host, "container", im.container, "id",
	                        (json_int_t) im.origin_id, "base",
	                        im.base ? json_integer((json_int_t) im.base) : json_null(), "bytes", (json_int_t) im.bytes,
	                        "volumes", volumes, "timings", "total_usec", (json_int_t) (t_end - t0));
	return *ret_result ? 0 : -ENOMEM;
}

int import_abort_received(const char *name, uint64_t id, json_t *intent, char **ret_error) {
	struct pair_volume *v = NULL;
	size_t n = 0;
	_cleanup_free_ char *why = NULL;
	int r = pair_volumes_from_json(json_object_get(intent, "snapshots"), &v, &n, &why);
	if (r < 0)
		return error_pass(ret_error, r, &why);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct snapshot_backend *b;
		r = pair_volume_check(name, id, &v[i], &b, ret_error);
		if (r >= 0 && b->receive_abort)
			r = b->receive_abort(v[i].snapshot, ret_error);
	}
	pair_volumes_free(v, n);
	return r;
}

int job_import(struct job *j) {
	_cleanup_free_ char *error = NULL;
	json_t *result = NULL;
	int r = import_stream(j, &result, &error);
	if (r < 0)
		return job_fail(j, r, &error);
	return job_succeed(j, json_pack("{s:o}", "import", result));
}
