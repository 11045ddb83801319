/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* export: a stored pair written as one checksummed stream (the format is export.h's) into the
 * descriptor the client passed: the record, the images (each checked against its recorded
 * SHA-256 while it is read) and each volume's snapshot as its backend's send stream, incremental
 * against a base pair's snapshot when asked. Nothing is copied to disk on the way. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "backend.h"
#include "error.h"
#include "export.h"
#include "fileio.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pair-ops.h"
#include "pair.h"
#include "time-util.h"

struct export {
	struct job *job;
	struct archive *archive;
	int fd;
	uint64_t bytes;      /* written into fd so far */
	uint64_t members;    /* before end.json */
	json_t *written;     /* [{name, bytes}] for the reply */
	char *write_error;   /* why writing into the client's descriptor failed */
};

static void export_done(struct export *e) {
	if (e->archive)
		archive_write_free(e->archive);
	if (e->written)
		json_decref(e->written);
	free(e->write_error);
}

static void md_ctx_freep(EVP_MD_CTX **c) {
	if (*c)
		EVP_MD_CTX_free(*c);
}

static void sha256_hex(EVP_MD_CTX *ctx, char hex[65]) {
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32) {
		hex[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* libarchive's output: everything into the client's descriptor, which may be non-blocking. */
static la_ssize_t stream_write(struct archive *a, void *userdata, const void *buf, size_t n) {
	struct export *e = userdata;
	const char *p = buf;
	size_t left = n;
	while (left > 0) {
		ssize_t k = write(e->fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = e->fd, .events = POLLOUT };
			(void) poll(&pfd, 1, -1);
			continue;
		}
		if (k <= 0) {
			int r = k < 0 ? errno : EIO;
			if (!e->write_error && asprintf(&e->write_error, "cannot write the stream: %s%s", strerror(r),
			                                r == EPIPE ? " (the reader went away)" : "") < 0)
				e->write_error = NULL;
			archive_set_error(a, r, "write failed");
			return -1;
		}
		p += k;
		left -= (size_t) k;
	}
	e->bytes += n;
	return (la_ssize_t) n;
}

static int archive_failed(struct export *e, const char *what, char **ret_error) {
	if (e->write_error)
		return error_setf(ret_error, -EPIPE, "%s", e->write_error);
	return error_setf(ret_error, -EIO, "cannot write %s into the stream: %s", what,
	                  strna(archive_error_string(e->archive)));
}

static int record_written(struct export *e, const char *name, uint64_t bytes) {
	return json_array_append_new(e->written, json_pack("{s:s,s:I}", "name", name, "bytes", (json_int_t) bytes)) < 0
	               ? -ENOMEM : 0;
}

/* A member's header: a regular file of SIZE bytes, root's, read-only; sha (hex) in the pax
 * header when given. */
static int member_begin(struct export *e, const char *name, uint64_t size, const char *sha, char **ret_error) {
	struct archive_entry *entry = archive_entry_new();
	if (!entry)
		return -ENOMEM;
	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0400);
	archive_entry_set_size(entry, (la_int64_t) size);
	archive_entry_set_mtime(entry, time(NULL), 0);
	if (sha)
		archive_entry_xattr_add_entry(entry, EXPORT_CHUNK_SUM_XATTR, sha, strlen(sha));
	int k = archive_write_header(e->archive, entry);
	archive_entry_free(entry);
	if (k != ARCHIVE_OK)
		return archive_failed(e, name, ret_error);
	e->members++;
	return 0;
}

static int member_data(struct export *e, const char *name, const void *data, size_t size, char **ret_error) {
	if (size > 0 && archive_write_data(e->archive, data, size) != (la_ssize_t) size)
		return archive_failed(e, name, ret_error);
	return 0;
}

static int member_from_memory(struct export *e, const char *name, const char *data, size_t size, char **ret_error) {
	int r = member_begin(e, name, size, NULL, ret_error);
	if (r >= 0)
		r = member_data(e, name, data, size, ret_error);
	if (r >= 0)
		r = record_written(e, name, size);
	return r;
}

static int sha256_of(const void *data, size_t size, char hex[65]) {
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, data, size) != 1)
		return -ENOMEM;
	sha256_hex(ctx, hex);
	return 0;
}

/* The images of the pair: opened in its images/ directory without following a symlink, sized
 * first (the manifest lists them), streamed, each checked against the SHA-256 its record has. */
struct image {
	const char *file;
	const char *sha256;
	int fd;
	uint64_t size;
};

static void images_close(struct image *im, size_t n) {
	for (size_t i = 0; im && i < n; i++)
		if (im[i].fd >= 0)
			close(im[i].fd);
}

static int images_open(struct job *j, const struct pair *p, struct image **ret, char **ret_error) {
	if (!p->images.has_sums)
		return error_setf(ret_error, -EBADMSG, "pair %s/%" PRIu64 " has no image checksums: it cannot be exported "
		                  "verifiably", j->container, p->id);
	_cleanup_free_ char *dir = catalog_pair_dir(j->state_dir, j->container, p->id);
	_cleanup_free_ char *images = dir ? path_join(dir, "images") : NULL;
	if (!images)
		return -ENOMEM;
	_cleanup_close_ int dfd = open_nofollow(images, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return error_setf(ret_error, dfd, "%s: %m", images);
	struct image *im = calloc(p->images.n_sums + 1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	for (size_t i = 0; i < p->images.n_sums; i++)
		im[i].fd = -EBADF;
	for (size_t i = 0; i < p->images.n_sums; i++) {
		const char *file = p->images.sums[i].file;
		struct stat st;
		im[i].file = file;
		im[i].sha256 = p->images.sums[i].sha256;
		if (strchr(file, '/') || file[0] == '.') {
			images_close(im, i);
			free(im);
			return error_setf(ret_error, -EBADMSG, "image name '%s' in pair.json is not a plain file name", file);
		}
		im[i].fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (im[i].fd < 0 || fstat(im[i].fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			int r = im[i].fd < 0 ? negative_errno() : -EBADMSG;
			images_close(im, i + 1);
			free(im);
			return error_setf(ret_error, r, "image %s/%s cannot be read%s", images, file,
			                  r == -EBADMSG ? ": not a regular file" : "");
		}
		im[i].size = (uint64_t) st.st_size;
	}
	*ret = im;
	return 0;
}

static int image_write(struct export *e, const struct image *im, char **ret_error) {
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, EXPORT_IMAGES_PREFIX "%s", im->file) < 0)
		return -ENOMEM;
	int r = member_begin(e, name, im->size, NULL, ret_error);
	if (r < 0)
		return r;
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ char *buf = malloc(1U << 20);
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	uint64_t done = 0;
	while (done < im->size) {
		size_t want = im->size - done < (1U << 20) ? (size_t) (im->size - done) : (1U << 20);
		ssize_t n = pread(im->fd, buf, want, (off_t) done);
		if (n <= 0)
			return error_setf(ret_error, n < 0 ? negative_errno() : -EIO, "image %s of pair %s/%" PRIu64 ": %s",
			                  im->file, e->job->container, e->job->pair, n < 0 ? strerror(errno) : "shrank while read");
		EVP_DigestUpdate(ctx, buf, (size_t) n);
		if ((r = member_data(e, name, buf, (size_t) n, ret_error)) < 0)
			return r;
		done += (uint64_t) n;
	}
	char hex[65];
	sha256_hex(ctx, hex);
	if (!streq(hex, im->sha256))
		return error_setf(ret_error, -EBADMSG, "image %s of pair %s/%" PRIu64 " is corrupted (checksum mismatch): "
		                  "not exported", im->file, e->job->container, e->job->pair);
	return record_written(e, name, im->size);
}

/* A volume's send stream, produced by its backend in a thread of its own into a pipe that this
 * thread cuts into chunks. */
struct sender {
	const struct snapshot_backend *backend;
	const char *snapshot, *base;
	int out_fd; /* the pipe's write end, closed by the thread */
	int r;
	char *error;
};

static void *sender_run(void *userdata) {
	struct sender *s = userdata;
	s->r = s->backend->send(s->snapshot, s->base, s->out_fd, &s->error);
	close(s->out_fd);
	s->out_fd = -EBADF;
	return NULL;
}

struct volume_stats {
	uint64_t chunks, bytes;
	char sha256[65];
};

static int volume_chunks(struct export *e, size_t index, int in_fd, struct volume_stats *st, char **ret_error) {
	_cleanup_free_ char *buf = malloc(EXPORT_CHUNK_BYTES);
	_cleanup_(md_ctx_freep) EVP_MD_CTX *all = EVP_MD_CTX_new();
	if (!buf || !all || EVP_DigestInit_ex(all, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read_full(in_fd, buf, EXPORT_CHUNK_BYTES);
		if (n < 0)
			return error_setf(ret_error, (int) n, "cannot read the send stream of volume %zu: %m", index);
		if (n == 0)
			break;
		char hex[65], name[64];
		if (sha256_of(buf, (size_t) n, hex) < 0)
			return -ENOMEM;
		EVP_DigestUpdate(all, buf, (size_t) n);
		snprintf(name, sizeof(name), EXPORT_VOLUMES_PREFIX "%zu/%06" PRIu64, index, st->chunks);
		int r = member_begin(e, name, (uint64_t) n, hex, ret_error);
		if (r >= 0)
			r = member_data(e, name, buf, (size_t) n, ret_error);
		if (r < 0)
			return r;
		st->chunks++;
		st->bytes += (uint64_t) n;
		job_progress(e->job, "volumes", "volume %zu: %" PRIu64 " bytes sent (%" PRIu64 " in all)", index, st->bytes,
		             e->bytes);
		if ((size_t) n < EXPORT_CHUNK_BYTES)
			break;
	}
	sha256_hex(all, st->sha256);
	return 0;
}

static int volume_write(struct export *e, size_t index, const struct snapshot_backend *b, const char *snapshot,
                        const char *base, struct volume_stats *st, char **ret_error) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_setf(ret_error, negative_errno(), "cannot make a pipe: %m");
	struct sender s = { .backend = b, .snapshot = snapshot, .base = base, .out_fd = p[1] };
	pthread_t t;
	if (pthread_create(&t, NULL, sender_run, &s) != 0) {
		close(p[0]);
		close(p[1]);
		return error_setf(ret_error, -EAGAIN, "cannot start the sending thread");
	}
	int r = volume_chunks(e, index, p[0], st, ret_error);
	close(p[0]); /* a sender still writing gets EPIPE and ends */
	pthread_join(t, NULL);
	_cleanup_free_ char *why = s.error;
	if (r >= 0 && s.r < 0)
		r = error_pass(ret_error, s.r, &why);
	if (r >= 0) {
		char name[64];
		snprintf(name, sizeof(name), EXPORT_VOLUMES_PREFIX "%zu", index);
		r = record_written(e, name, st->bytes);
	}
	return r;
}

/* The pair to export and, for an incremental one, the base: complete, intact. */
static int load_complete(struct job *j, uint64_t id, const char *what, struct pair **ret, char **ret_error) {
	_cleanup_free_ char *why = NULL;
	int r = catalog_load_pair_record(j->state_dir, j->container, id, true, ret, &why);
	if (r == -ENOENT || r == -EINPROGRESS)
		return error_setf(ret_error, -ENOENT, "%s %s/%" PRIu64 " does not exist", what, j->container, id);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "%s %s/%" PRIu64 " is damaged", what, j->container, id);
	return 0;
}

/* Every volume of the pair can be sent by its backend, from ckptd's own snapshot; with a base,
 * the base pair has a snapshot of the same volume. *ret_bases gets the base snapshots. */
static int check_volumes(struct job *j, const struct pair *p, const struct pair *base,
                         const struct snapshot_backend **backends, const char **bases, char **ret_error) {
	if (p->n_volumes == 0)
		return error_setf(ret_error, -EINVAL, "pair %s/%" PRIu64 " has no volumes", j->container, p->id);
	for (size_t i = 0; i < p->n_volumes; i++) {
		const struct pair_volume *v = &p->volumes[i];
		int r = pair_volume_check(j->container, p->id, v, &backends[i], ret_error);
		if (r < 0)
			return r;
		if (!backends[i]->send)
			return error_setf(ret_error, -EOPNOTSUPP, "volume %s: export is not yet supported for %s volumes",
			                  v->source, backends[i]->name);
		/* Before anything is written: a missing snapshot refuses the export, not a stream cut short. */
		if (backends[i]->exists(v->snapshot, v->n_nested) <= 0)
			return error_setf(ret_error, -ENOENT, "snapshot %s of pair %s/%" PRIu64 " is missing: not exported",
			                  v->snapshot, j->container, p->id);
		if (v->n_nested > 0)
			return error_setf(ret_error, -EOPNOTSUPP, "volume %s has nested subvolumes: export does not carry them "
			                  "yet", v->source);
		bases[i] = NULL;
		if (!base || !backends[i]->send_incremental)
			continue; /* a backend without incremental streams sends the whole snapshot */
		for (size_t k = 0; k < base->n_volumes; k++)
			if (streq(base->volumes[k].source, v->source)) {
				r = pair_volume_check(j->container, base->id, &base->volumes[k], NULL, ret_error);
				if (r < 0)
					return r;
				bases[i] = base->volumes[k].snapshot;
			}
		if (!bases[i])
			return error_setf(ret_error, -ENOENT, "base pair %s/%" PRIu64 " has no snapshot of volume %s",
			                  j->container, base->id, v->source);
	}
	return 0;
}

static int host_name(char **ret) {
	char h[256] = {};
	if (gethostname(h, sizeof(h) - 1) < 0)
		return negative_errno();
	*ret = strdup(h);
	return *ret ? 0 : -ENOMEM;
}

static json_t *manifest_build(struct job *j, const char *host, const struct pair *p, const char *record,
                              size_t record_size, const struct image *im, const struct snapshot_backend **backends,
                              const char **bases) {
	char hex[65];
	if (sha256_of(record, record_size, hex) < 0)
		return NULL;
	json_t *volumes = json_array(), *members = json_array();
	if (!volumes || !members) {
		json_decref(volumes);
		json_decref(members);
		return NULL;
	}
	for (size_t i = 0; i < p->n_volumes; i++)
		json_array_append_new(volumes, json_pack("{s:I,s:s,s:s,s:b}", "index", (json_int_t) i, "backend",
		                                         backends[i]->name, "source", p->volumes[i].source, "incremental",
		                                         bases[i] != NULL));
	json_array_append_new(members, json_pack("{s:s,s:I,s:s}", "name", EXPORT_PAIR, "size", (json_int_t) record_size,
	                                         "sha256", hex));
	for (size_t i = 0; i < p->images.n_sums; i++) {
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, EXPORT_IMAGES_PREFIX "%s", im[i].file) < 0)
			break;
		json_array_append_new(members, json_pack("{s:s,s:I,s:s}", "name", name, "size", (json_int_t) im[i].size,
		                                         "sha256", im[i].sha256));
	}
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	return json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:o,s:o,s:o}", "format", EXPORT_FORMAT, "version",
	                 EXPORT_FORMAT_VERSION, "host", host, "created", created, "container", j->container, "pair",
	                 (json_int_t) p->id, "base", j->base_pair > 0 ? json_integer((json_int_t) j->base_pair) : json_null(),
	                 "volumes", volumes, "members", members);
}

int export_pair(struct job *j, json_t **ret_result, char **ret_error) {
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	job_set_state(j, "nothing changed");
	job_progress(j, "verify", "checking pair %s/%" PRIu64, j->container, j->pair);
	_cleanup_(pair_freep) struct pair *p = NULL, *base = NULL;
	int r = load_complete(j, j->pair, "pair", &p, ret_error);
	if (r < 0)
		return r;
	if (j->base_pair > 0) {
		if (j->base_pair == j->pair)
			return error_setf(ret_error, -EINVAL, "the base of an incremental export must be another pair than %"
			                  PRIu64, j->pair);
		if ((r = load_complete(j, j->base_pair, "base pair", &base, ret_error)) < 0)
			return r;
	}
	_cleanup_free_ const struct snapshot_backend **backends = calloc(p->n_volumes + 1, sizeof(*backends));
	_cleanup_free_ const char **bases = calloc(p->n_volumes + 1, sizeof(*bases));
	if (!backends || !bases)
		return -ENOMEM;
	if ((r = check_volumes(j, p, base, backends, bases, ret_error)) < 0)
		return r;
	struct image *im = NULL;
	if ((r = images_open(j, p, &im, ret_error)) < 0)
		return r;
	_cleanup_free_ struct image *images = im;
	_cleanup_free_ char *host = NULL, *record = NULL;
	_cleanup_(json_decrefp) json_t *record_json = NULL, *manifest = NULL;
	_cleanup_(export_done) struct export e = { .job = j, .fd = j->stream_fd, .written = json_array() };
	if ((r = host_name(&host)) < 0 || (r = catalog_pair_to_json(p, &record_json)) < 0 ||
	    !(record = json_dumps(record_json, JSON_SORT_KEYS | JSON_INDENT(2))) ||
	    !(manifest = manifest_build(j, host, p, record, strlen(record), images, backends, bases)) || !e.written ||
	    !(e.archive = archive_write_new())) {
		images_close(images, p->images.n_sums);
		return error_setf(ret_error, r < 0 ? r : -ENOMEM, "cannot prepare the export: %m");
	}
	archive_write_set_format_pax(e.archive);
	archive_write_set_bytes_per_block(e.archive, 64 * 1024);
	archive_write_set_bytes_in_last_block(e.archive, 1);
	if (archive_write_open(e.archive, &e, NULL, stream_write, NULL) != ARCHIVE_OK) {
		images_close(images, p->images.n_sums);
		return archive_failed(&e, "the archive", ret_error);
	}

	job_progress(j, "images", "sending the record and %zu image(s)", p->images.n_sums);
	_cleanup_free_ char *manifest_text = json_dumps(manifest, JSON_SORT_KEYS | JSON_INDENT(2));
	r = manifest_text ? member_from_memory(&e, EXPORT_MANIFEST, manifest_text, strlen(manifest_text), ret_error)
	                  : -ENOMEM;
	if (r >= 0)
		r = member_from_memory(&e, EXPORT_PAIR, record, strlen(record), ret_error);
	for (size_t i = 0; r >= 0 && i < p->images.n_sums; i++)
		r = image_write(&e, &images[i], ret_error);
	images_close(images, p->images.n_sums);
	if (r < 0)
		return r;
	uint64_t t_images = now_usec(CLOCK_MONOTONIC);

	_cleanup_(json_decrefp) json_t *end_volumes = json_array();
	if (!end_volumes)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_volumes; i++) {
		job_progress(j, "volumes", "sending volume %s%s", p->volumes[i].source, bases[i] ? " (incremental)" : "");
		struct volume_stats st = {};
		if ((r = volume_write(&e, i, backends[i], p->volumes[i].snapshot, bases[i], &st, ret_error)) < 0)
			return r;
		json_array_append_new(end_volumes, json_pack("{s:I,s:I,s:I,s:s}", "index", (json_int_t) i, "chunks",
		                                             (json_int_t) st.chunks, "bytes", (json_int_t) st.bytes, "sha256",
		                                             st.sha256));
	}
	_cleanup_(json_decrefp) json_t *end = json_pack("{s:O,s:I}", "volumes", end_volumes, "members",
	                                                (json_int_t) e.members);
	_cleanup_free_ char *end_text = end ? json_dumps(end, JSON_SORT_KEYS) : NULL;
	if (!end_text)
		return -ENOMEM;
	if ((r = member_from_memory(&e, EXPORT_END, end_text, strlen(end_text), ret_error)) < 0)
		return r;
	if (archive_write_close(e.archive) != ARCHIVE_OK)
		return archive_failed(&e, "the end of the archive", ret_error);
	uint64_t t_end = now_usec(CLOCK_MONOTONIC);

	log_container_event(LOG_INFO, CKPTD_MESSAGE_EXPORT, j->container, j->pair, UINT64_MAX,
	                    "%s: exported pair %" PRIu64 "%s (%" PRIu64 " bytes)", j->container, j->pair,
	                    j->base_pair ? " incrementally" : "", e.bytes);
	*ret_result = json_pack("{s:s,s:s,s:I,s:o,s:I,s:O,s:{s:I,s:I,s:I}}", "container", j->container, "host", host,
	                        "pair", (json_int_t) j->pair, "base",
	                        j->base_pair ? json_integer((json_int_t) j->base_pair) : json_null(), "bytes",
	                        (json_int_t) e.bytes, "members", e.written, "timings", "images_usec",
	                        (json_int_t) (t_images - t0), "volumes_usec", (json_int_t) (t_end - t_images), "total_usec",
	                        (json_int_t) (t_end - t0));
	return *ret_result ? 0 : -ENOMEM;
}

int job_export(struct job *j) {
	_cleanup_free_ char *error = NULL;
	json_t *result = NULL;
	int r = export_pair(j, &result, &error);
	if (r < 0)
		return job_fail(j, r, &error);
	return job_succeed(j, json_pack("{s:o}", "export", result));
}
