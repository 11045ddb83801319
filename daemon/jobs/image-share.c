/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sharing unchanged 4 KiB blocks with the previous pair (see image-share.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "image-share.h"
#include "macro.h"

#define CHUNK (1U << 20)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define BS BLOCK_INDEX_BLOCK_SIZE
/* How many entries with the same hash are tried for one that continues the current run. */
#define SAME_HASH_TRIES 16

static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;
static char *failure;

char *image_share_failure(void) {
	pthread_mutex_lock(&failure_lock);
	char *s = failure ? strdup(failure) : NULL;
	pthread_mutex_unlock(&failure_lock);
	return s;
}

static void remember_failure(uint64_t prev_id, int err) {
	pthread_mutex_lock(&failure_lock);
	if (!failure && asprintf(&failure, "cloning from pair %" PRIu64 " failed: %s", prev_id, strerror(err)) < 0)
		failure = NULL;
	pthread_mutex_unlock(&failure_lock);
}

int image_share_init(struct image_share *s, uint64_t prev_id, const char *prev_dir, unsigned full_every) {
	*s = (struct image_share) { .prev_images_fd = -EBADF };
	if (prev_id > 0 && prev_dir) {
		_cleanup_close_ int dfd = open_nofollow(prev_dir, O_RDONLY | O_DIRECTORY);
		_cleanup_free_ char *error = NULL;
		if (dfd >= 0 && block_index_load(dfd, &s->prev, &error) >= 0) {
			s->prev_images_fd = openat_beneath(dfd, "images", O_RDONLY | O_DIRECTORY);
			s->prev_fds = malloc(s->prev.n_files * sizeof(int));
			if (!s->prev_fds)
				return -ENOMEM;
			for (size_t i = 0; i < s->prev.n_files; i++)
				s->prev_fds[i] = -EBADF;
			s->prev_id = prev_id;
			s->share = s->prev_images_fd >= 0 && (full_every == 0 || s->prev.chain + 1 < full_every);
		}
	}
	if (s->share) { /* the chain goes on with the same hashes */
		s->next.seed = s->prev.seed;
		s->next.chain = s->prev.chain + 1;
	} else if (getrandom(&s->next.seed, sizeof(s->next.seed), 0) != sizeof(s->next.seed))
		s->next.seed = (uint64_t) getpid() ^ (uint64_t) time(NULL) ^ (uintptr_t) s;
	return 0;
}

void image_share_done(struct image_share *s) {
	for (size_t i = 0; s->prev_fds && i < s->prev.n_files; i++)
		if (s->prev_fds[i] >= 0)
			close(s->prev_fds[i]);
	free(s->prev_fds);
	if (s->prev_images_fd >= 0)
		close(s->prev_images_fd);
	block_index_done(&s->prev);
	block_index_done(&s->next);
}

/* The previous pair's file number F, opened once; < 0 when it cannot be used (changed size). */
static int prev_fd(struct image_share *s, uint32_t f) {
	if (s->prev_fds[f] != -EBADF)
		return s->prev_fds[f];
	int fd = openat(s->prev_images_fd, s->prev.files[f], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size != s->prev.sizes[f])) {
		close(fd);
		fd = -ENOENT;
	}
	return s->prev_fds[f] = fd >= 0 ? fd : -ENOENT;
}

static ssize_t pread_full(int fd, uint8_t *buf, size_t size, uint64_t off) {
	size_t got = 0;
	while (got < size) {
		ssize_t k = pread(fd, buf + got, size - got, (off_t) (off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		got += (size_t) k;
	}
	return (ssize_t) got;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t) off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		p += k, n -= (size_t) k, off += (uint64_t) k;
	}
	return 0;
}

/* A run of blocks to clone: LEN bytes at SRC_OFF of SRC_FD go to DST_OFF. */
struct run {
	int src_fd;
	uint64_t src_off, dst_off, len;
};

/* Writes LEN bytes of the new file at OFF, read again from SRC_FD (the offsets are the same). */
static int copy_range(struct image_share *s, int src_fd, int dst_fd, uint64_t off, uint64_t len) {
	_cleanup_free_ uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	for (uint64_t done = 0; done < len;) {
		size_t n = (size_t) MIN(len - done, (uint64_t) CHUNK);
		ssize_t k = pread_full(src_fd, buf, n, off + done);
		int r = k < 0 ? (int) k : k != (ssize_t) n ? -EIO : pwrite_all(dst_fd, buf, n, off + done);
		if (r < 0)
			return r;
		done += n;
	}
	s->written += len;
	return 0;
}

static int flush_clone(struct image_share *s, struct run *run, int src_fd, int dst_fd) {
	if (run->len == 0)
		return 0;
	struct file_clone_range fcr = { .src_fd = run->src_fd, .src_offset = run->src_off, .src_length = run->len,
		                        .dest_offset = run->dst_off };
	uint64_t len = run->len;
	run->len = 0;
	if (ioctl(dst_fd, FICLONERANGE, &fcr) >= 0) {
		s->cloned += len;
		return 0;
	}
	int err = errno;
	if (err != EXDEV && err != EOPNOTSUPP && err != EINVAL && err != ENOTTY)
		return -err;
	remember_failure(s->prev_id, err);
	s->share = false; /* the rest is written */
	return copy_range(s, src_fd, dst_fd, fcr.dest_offset, len);
}

/* Extends RUN with the previous pair's block that holds H, for the block at DST_OFF. false: no
 * such block (the run was flushed or stays as it is; the caller writes the block). */
static int try_clone(struct image_share *s, struct run *run, struct block_hash h, uint64_t dst_off, int src_fd,
                     int dst_fd, bool *ret_cloned) {
	const struct block_entry *e = block_index_find(&s->prev, h), *end = s->prev.entries + s->prev.n_entries;
	*ret_cloned = false;
	if (!e)
		return 0;
	/* Prefer the one that continues the run: fewer extents, fewer calls. */
	for (const struct block_entry *c = e; run->len > 0 && c < end && c < e + SAME_HASH_TRIES &&
	                                      c->hash.lo == h.lo && c->hash.hi == h.hi; c++)
		if (prev_fd(s, c->file) == run->src_fd && (uint64_t) c->block * BS == run->src_off + run->len &&
		    dst_off == run->dst_off + run->len) {
			run->len += BS;
			*ret_cloned = true;
			return 0;
		}
	int fd = prev_fd(s, e->file);
	if (fd < 0)
		return 0;
	int r = flush_clone(s, run, src_fd, dst_fd);
	if (r < 0 || !s->share)
		return r;
	*run = (struct run) { .src_fd = fd, .src_off = (uint64_t) e->block * BS, .dst_off = dst_off, .len = BS };
	*ret_cloned = true;
	return 0;
}

/* One chunk read from the new file at OFF: index its blocks, clone or write each. */
static int share_chunk(struct image_share *s, uint32_t file, const uint8_t *buf, size_t n, uint64_t off,
                       struct run *run, int src_fd, int dst_fd) {
	size_t w_start = 0, w_len = 0; /* blocks of buf to write */
	for (size_t pos = 0; pos < n; pos += BS) {
		bool cloned = false;
		int r = 0;
		if (n - pos >= BS && (off + pos) / BS <= UINT32_MAX) {
			struct block_hash h = block_index_hash(&s->next, buf + pos);
			r = block_index_add(&s->next, file, (uint32_t) ((off + pos) / BS), h);
			if (r >= 0 && s->share && dst_fd >= 0)
				r = try_clone(s, run, h, off + pos, src_fd, dst_fd, &cloned);
		}
		if (r >= 0 && !cloned) {
			r = flush_clone(s, run, src_fd, dst_fd);
			if (w_len == 0)
				w_start = pos;
			w_len += MIN((size_t) BS, n - pos);
		} else if (r >= 0 && w_len > 0) {
			r = pwrite_all(dst_fd, buf + w_start, w_len, off + w_start);
			s->written += w_len;
			w_len = 0;
		}
		if (r < 0)
			return r;
	}
	if (w_len == 0 || dst_fd < 0)
		return 0;
	s->written += w_len;
	return pwrite_all(dst_fd, buf + w_start, w_len, off + w_start);
}

static void md_ctx_freep(EVP_MD_CTX **c) {
	if (*c)
		EVP_MD_CTX_free(*c);
}

static int share_loop(struct image_share *s, uint32_t file, int src_fd, int dst_fd, EVP_MD_CTX *md) {
	_cleanup_free_ uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	struct run run = {};
	for (uint64_t off = 0;; off += CHUNK) {
		ssize_t n = pread_full(src_fd, buf, CHUNK, off);
		if (n <= 0) {
			int r = n < 0 ? (int) n : flush_clone(s, &run, src_fd, dst_fd);
			return r < 0 || dst_fd < 0 ? r : fsync(dst_fd) < 0 ? negative_errno() : 0;
		}
		if (EVP_DigestUpdate(md, buf, (size_t) n) != 1)
			return -EIO;
		int r = share_chunk(s, file, buf, (size_t) n, off, &run, src_fd, dst_fd);
		if (r < 0)
			return r;
	}
}

int image_share_file(struct image_share *s, const char *name, int src_fd, int dst_fd, char ret_hex[65],
                     char **ret_error) {
	struct stat st;
	if (fstat(src_fd, &st) < 0)
		return error_setf(ret_error, negative_errno(), "cannot stat image %s: %m", name);
	uint32_t file;
	int r = block_index_add_file(&s->next, name, (uint64_t) st.st_size, &file);
	if (r < 0)
		return error_setf(ret_error, r, "cannot index image %s: %m", name);
	/* The new file has its final size first: clones and writes then fill it in any order. */
	if (dst_fd >= 0 && ftruncate(dst_fd, st.st_size) < 0)
		return error_setf(ret_error, negative_errno(), "cannot size image %s: %m", name);
	_cleanup_(md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return error_setf(ret_error, -ENOMEM, "%s", "out of memory");
	r = share_loop(s, file, src_fd, dst_fd, md);
	if (r < 0)
		return error_setf(ret_error, r, "cannot store image %s: %m", name);
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned len;
	if (EVP_DigestFinal_ex(md, sum, &len) != 1 || len != 32)
		return error_setf(ret_error, -EIO, "cannot checksum image %s", name);
	for (unsigned i = 0; i < len; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", sum[i]);
	return 0;
}
