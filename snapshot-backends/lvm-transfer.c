/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LVM snapshots between hosts (export, import): a sparse block copy.
 *
 * The stream (inside export.h's volume chunks, which carry the checksums):
 *   header   "CKPTDLVM", u32 version (1), u32 block size (64 KiB), u64 device size in bytes,
 *            u64 flags (bit 0: the source was thin) — all little-endian, 32 bytes
 *   records  u64 offset, u64 length, then length bytes of the device from offset: runs of blocks
 *            that are not all zeroes, in increasing order, not overlapping, inside the device
 *   end      offset UINT64_MAX, length 0; nothing may follow
 * Blocks that are all zeroes are not sent: a fresh thin LV reads zeroes there already; a thick
 * target gets them written.
 *
 * send: the pair's snapshot device, read-only. A thin snapshot carries LVM's activation-skip flag
 * and is not active: it is activated for the copy (`lvchange -ay -K`) and deactivated again.
 * The device node is opened by its path and must be the block device lvs reports (major:minor).
 * A base is not used: LVM streams are always full (an incremental copy of thin volumes would need
 * the pool's metadata diff, `thin_delta` on a reserved metadata snapshot; not done).
 *
 * receive: the pair's snapshot LV "LV-ckptd-ID" made in the volume group of the configured volume
 * LV, which must exist on this host (it says which kind the pair's snapshot must be):
 *   thin LV   a thin LV of the stream's size in LV's pool; rollback makes LV a thin snapshot of it
 *   thick LV  a copy-on-write snapshot of LV of 100 % of its size (the stream must have LV's
 *             size), written with the stream's content; rollback merges it into LV
 * It is made with the tag ckptd_receiving, filled (opened O_EXCL: nobody else has it), synced,
 * then made read-only (thin: not active, activation skip, as a local thin snapshot) and the tag
 * dropped. An LV of that name that exists already is refused and left alone; on failure the LV
 * this receive made is removed, nothing else. receive_abort (a ckptd killed in the middle)
 * removes the LV only while it carries the tag; an LV of that name without it is kept and the
 * error says so (the start-up recovery then keeps the half-made pair's record and reports it). */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "log.h"
#include "lvm-internal.h"
#include "macro.h"
#include "remount.h"

#define STREAM_MAGIC "CKPTDLVM"
#define STREAM_VERSION 1
#define STREAM_BLOCK (64U * 1024)
#define STREAM_RUN_MAX (16U * STREAM_BLOCK) /* at most 1 MiB per record */
#define STREAM_FLAG_THIN 1
#define STREAM_END UINT64_MAX
#define RECEIVING_TAG "ckptd_receiving"

struct stream_header {
	char magic[8];
	uint32_t version;
	uint32_t block;
	uint64_t size;
	uint64_t flags;
};

struct stream_record {
	uint64_t offset;
	uint64_t length;
};

/* All zeroes? (memcmp against itself shifted by one byte: libc's vectorised compare.) */
static bool all_zero(const char *p, size_t n) {
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The LV's device node, opened with flags: it must be the block device lvs reported. */
static int open_lv_device(const struct lv_info *i, const char *what, int flags, int *ret_fd, char **ret_error) {
	if (i->major < 0)
		return error_setf(ret_error, -ENODEV, "%s is not active", what);
	if (wait_for_device(i->path) < 0)
		return error_setf(ret_error, -ETIMEDOUT, "%s: device %s did not appear", what, i->path);
	_cleanup_close_ int fd = open(i->path, flags | O_CLOEXEC);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "%s: cannot open %s: %m", what, i->path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != lv_dev(i))
		return error_setf(ret_error, -EBADF, "%s: %s is not the device %d:%d that LVM reports", what, i->path, i->major,
		                  i->minor);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int lv_change(const struct lvm_name *s, const char *what, const char *const *options, char **ret_error) {
	char target[2 * LV_NAME_MAX + 2];
	snprintf(target, sizeof(target), "%s/%s", s->vg, s->lv);
	const char *args[16] = { "lvchange" };
	size_t n = 1;
	for (size_t k = 0; options[k] && n < ELEMENTSOF(args) - 2; k++)
		args[n++] = options[k];
	args[n++] = target;
	args[n] = NULL;
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

/* ---- send ---- */

static int send_blocks(int dev_fd, uint64_t size, int out_fd, const char *snapshot, uint64_t *ret_sent,
                       char **ret_error) {
	_cleanup_free_ char *buf = malloc(STREAM_RUN_MAX);
	if (!buf)
		return -ENOMEM;
	uint64_t pos = 0, sent = 0;
	while (pos < size) {
		size_t want = size - pos < STREAM_RUN_MAX ? (size_t) (size - pos) : STREAM_RUN_MAX;
		ssize_t n = pread(dev_fd, buf, want, (off_t) pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_setf(ret_error, n < 0 ? negative_errno() : -EIO, "cannot read snapshot %s at byte %" PRIu64
			                  ": %s", snapshot, pos, n < 0 ? strerror(errno) : "the device ended early");
		/* The runs of blocks in buf that are not all zeroes, one record each. */
		for (size_t b = 0; b < (size_t) n;) {
			size_t len = (size_t) n - b < STREAM_BLOCK ? (size_t) n - b : STREAM_BLOCK;
			if (all_zero(buf + b, len)) {
				b += len;
				continue;
			}
			size_t start = b;
			while (b < (size_t) n) {
				len = (size_t) n - b < STREAM_BLOCK ? (size_t) n - b : STREAM_BLOCK;
				if (all_zero(buf + b, len))
					break;
				b += len;
			}
			struct stream_record rec = { htole64(pos + start), htole64(b - start) };
			if (write_all(out_fd, &rec, sizeof(rec)) < 0 || write_all(out_fd, buf + start, b - start) < 0)
				return error_setf(ret_error, negative_errno(), "cannot write the stream of snapshot %s: %m", snapshot);
			sent += b - start;
		}
		pos += (uint64_t) n;
	}
	struct stream_record end = { htole64(STREAM_END), 0 };
	if (write_all(out_fd, &end, sizeof(end)) < 0)
		return error_setf(ret_error, negative_errno(), "cannot write the stream of snapshot %s: %m", snapshot);
	*ret_sent = sent;
	return 0;
}

int lvm_send_snapshot(const char *snapshot, _unused_ const char *base, int out_fd, char **ret_error) {
	struct lvm_name s;
	struct lv_info i;
	if (snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "%s is not a ckptd LVM snapshot", snapshot);
	_cleanup_free_ char *why = NULL;
	int r = lv_lookup(s.vg, s.lv, &i, &why);
	if (r == 0 || r == -ENXIO)
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing", snapshot);
	if (r < 0)
		return error_pass(ret_error, r, &why);
	if (lv_is_invalid_snapshot(&i))
		return error_setf(ret_error, -EBADMSG, "snapshot %s overflowed (LVM invalidated it): it cannot be exported",
		                  snapshot);
	bool activated = false;
	if (!lv_is_active(&i)) {
		const char *on[] = { "--activate", "y", "--ignoreactivationskip", NULL };
		_cleanup_free_ char *what = NULL;
		if (asprintf(&what, "cannot activate snapshot %s to read it", snapshot) < 0)
			return -ENOMEM;
		if ((r = lv_change(&s, what, on, ret_error)) < 0)
			return r;
		activated = true;
		if ((r = lv_lookup(s.vg, s.lv, &i, ret_error)) <= 0)
			r = r < 0 ? r : error_setf(ret_error, -ENOENT, "snapshot %s vanished", snapshot);
	}
	_cleanup_close_ int fd = -EBADF;
	if (r >= 0)
		r = open_lv_device(&i, snapshot, O_RDONLY, &fd, ret_error);
	uint64_t size = 0, sent = 0;
	if (r >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0)
		r = error_setf(ret_error, negative_errno(), "snapshot %s: cannot read its size: %m", snapshot);
	if (r >= 0) {
		struct stream_header h = { .version = htole32(STREAM_VERSION), .block = htole32(STREAM_BLOCK),
			                   .size = htole64(size), .flags = htole64(lv_is_thin(&i) ? STREAM_FLAG_THIN : 0) };
		memcpy(h.magic, STREAM_MAGIC, sizeof(h.magic));
		if (write_all(out_fd, &h, sizeof(h)) < 0)
			r = error_setf(ret_error, negative_errno(), "cannot write the stream of snapshot %s: %m", snapshot);
	}
	if (r >= 0)
		r = send_blocks(fd, size, out_fd, snapshot, &sent, ret_error);
	closep(&fd);
	if (activated) {
		const char *off[] = { "--activate", "n", NULL };
		_cleanup_free_ char *err = NULL;
		if (lv_change(&s, "deactivating the exported snapshot", off, &err) < 0)
			log_warning("%s: %s", snapshot, strna(err));
	}
	if (r >= 0)
		log_debug("%s: %" PRIu64 " of %" PRIu64 " bytes sent (the rest is zeroes)", snapshot, sent, size);
	return r;
}

/* ---- receive ---- */

static int read_header(int in_fd, struct stream_header *h, const char *snapshot, char **ret_error) {
	ssize_t n = read_full(in_fd, h, sizeof(*h));
	if (n < 0)
		return error_setf(ret_error, (int) n, "cannot read the stream of %s: %m", snapshot);
	if ((size_t) n < sizeof(*h) || memcmp(h->magic, STREAM_MAGIC, sizeof(h->magic)) != 0)
		return error_setf(ret_error, -EBADMSG, "the volume stream for %s is not an LVM block stream", snapshot);
	h->version = le32toh(h->version);
	h->block = le32toh(h->block);
	h->size = le64toh(h->size);
	h->flags = le64toh(h->flags);
	if (h->version != STREAM_VERSION)
		return error_setf(ret_error, -EPROTONOSUPPORT, "the LVM block stream for %s has version %" PRIu32 ", this ckptd "
		                  "reads version %d", snapshot, h->version, STREAM_VERSION);
	if (h->size == 0 || h->size % 512 != 0)
		return error_setf(ret_error, -EBADMSG, "the LVM block stream for %s has a bad device size %" PRIu64, snapshot,
		                  h->size);
	return 0;
}

/* Zeroes into [from, to) of the device (thick targets: the origin's data is there otherwise). */
static int write_zeroes(int fd, uint64_t from, uint64_t to, const char *snapshot, char **ret_error) {
	static const char zeroes[STREAM_BLOCK];
	while (from < to) {
		size_t n = to - from < sizeof(zeroes) ? (size_t) (to - from) : sizeof(zeroes);
		ssize_t k = pwrite(fd, zeroes, n, (off_t) from);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return error_setf(ret_error, k < 0 ? negative_errno() : -EIO, "cannot write %s at byte %" PRIu64 ": %m",
			                  snapshot, from);
		from += (uint64_t) k;
	}
	return 0;
}

static int receive_blocks(int in_fd, int dev_fd, uint64_t size, bool fill_zeroes, const char *snapshot,
                          char **ret_error) {
	_cleanup_free_ char *buf = malloc(STREAM_RUN_MAX);
	if (!buf)
		return -ENOMEM;
	uint64_t next = 0; /* records must start at or after this */
	for (;;) {
		struct stream_record rec;
		ssize_t n = read_full(in_fd, &rec, sizeof(rec));
		if (n < 0)
			return error_setf(ret_error, (int) n, "cannot read the stream of %s: %m", snapshot);
		if ((size_t) n < sizeof(rec))
			return error_setf(ret_error, -EBADMSG, "the LVM block stream for %s is truncated", snapshot);
		uint64_t off = le64toh(rec.offset), len = le64toh(rec.length);
		if (off == STREAM_END && len == 0)
			break;
		if (len == 0 || len > STREAM_RUN_MAX || off < next || off > size || len > size - off)
			return error_setf(ret_error, -EBADMSG, "the LVM block stream for %s has a bad record (%" PRIu64 " bytes "
			                  "at %" PRIu64 ", device of %" PRIu64 ")", snapshot, len, off, size);
		int r = fill_zeroes ? write_zeroes(dev_fd, next, off, snapshot, ret_error) : 0;
		if (r < 0)
			return r;
		n = read_full(in_fd, buf, (size_t) len);
		if (n < 0)
			return error_setf(ret_error, (int) n, "cannot read the stream of %s: %m", snapshot);
		if ((uint64_t) n < len)
			return error_setf(ret_error, -EBADMSG, "the LVM block stream for %s is truncated", snapshot);
		for (uint64_t done = 0; done < len;) {
			ssize_t k = pwrite(dev_fd, buf + done, (size_t) (len - done), (off_t) (off + done));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return error_setf(ret_error, k < 0 ? negative_errno() : -EIO, "cannot write %s at byte %" PRIu64
				                  ": %m", snapshot, off + done);
			done += (uint64_t) k;
		}
		next = off + len;
	}
	int r = fill_zeroes ? write_zeroes(dev_fd, next, size, snapshot, ret_error) : 0;
	if (r < 0)
		return r;
	char extra;
	ssize_t n = read_full(in_fd, &extra, 1);
	if (n != 0)
		return error_setf(ret_error, -EBADMSG, "the LVM block stream for %s goes on after its end", snapshot);
	if (fsync(dev_fd) < 0)
		return error_setf(ret_error, negative_errno(), "cannot sync %s: %m", snapshot);
	return 0;
}

/* The origin's name: the snapshot's LV name before "-ckptd-" (lvm_check() refuses LVs whose name
 * has it, so it occurs once). */
static void origin_of(const struct lvm_name *s, struct lvm_name *ret) {
	*ret = *s;
	char *infix = strstr(ret->lv, CKPTD_INFIX);
	if (infix)
		*infix = '\0';
}

/* The empty snapshot LV for the stream: thin in the origin's pool, or a thick snapshot of it. */
static int create_target(const struct lvm_name *s, const struct lvm_name *o, const struct lv_info *origin,
                         uint64_t size, const char *snapshot, char **ret_error) {
	char target[2 * LV_NAME_MAX + 2], bytes[32];
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot create %s for the import", snapshot) < 0)
		return -ENOMEM;
	if (lv_is_thin(origin)) {
		snprintf(bytes, sizeof(bytes), "%" PRIu64 "b", size);
		const char *args[] = { "lvcreate", "--type", "thin", "--thinpool", origin->pool, "--virtualsize", bytes,
			               "--addtag", RECEIVING_TAG, "--name", s->lv, s->vg, NULL };
		return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
	}
	if (lv_is_thick_snapshot(origin))
		return error_setf(ret_error, -EMEDIUMTYPE, "volume lvm:%s/%s is itself a thick snapshot", o->vg, o->lv);
	if (origin->size != size)
		return error_setf(ret_error, -EINVAL, "volume lvm:%s/%s is a thick LV of %" PRIu64 " bytes, the stream's volume "
		                  "has %" PRIu64 ": the pair's snapshot is a snapshot of it, so the sizes must be equal "
		                  "(lvresize it)", o->vg, o->lv, origin->size, size);
	snprintf(target, sizeof(target), "%s/%s", o->vg, o->lv);
	const char *args[] = { "lvcreate", "--snapshot", "--extents", "100%ORIGIN", "--permission", "rw", "--addtag",
		               RECEIVING_TAG, "--name", s->lv, target, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

/* The received LV as ckptd's own snapshots are: read-only (thin: not active, activation skip),
 * and no longer tagged as being received. */
static int finish_target(const struct lvm_name *s, bool thin, const char *snapshot, char **ret_error) {
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot make the received %s read-only", snapshot) < 0)
		return -ENOMEM;
	const char *ro[] = { "--permission", "r", NULL };
	int r = lv_change(s, what, ro, ret_error);
	if (r >= 0 && thin) {
		const char *off[] = { "--activate", "n", NULL }, *skip[] = { "--setactivationskip", "y", NULL };
		r = lv_change(s, what, off, ret_error);
		if (r >= 0)
			r = lv_change(s, what, skip, ret_error);
	}
	if (r >= 0) {
		const char *untag[] = { "--deltag", RECEIVING_TAG, NULL };
		r = lv_change(s, what, untag, ret_error);
	}
	return r;
}

int lvm_receive_snapshot(const char *snapshot, int in_fd, char **ret_error) {
	struct lvm_name s, o;
	if (snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "%s is not a ckptd LVM snapshot", snapshot);
	origin_of(&s, &o);
	struct stream_header h;
	int r = read_header(in_fd, &h, snapshot, ret_error);
	if (r < 0)
		return r;
	_cleanup_(vg_report_done) struct vg_report rep = {};
	if ((r = vg_report_load(s.vg, &rep, ret_error)) < 0)
		return r;
	struct lv_info origin, made;
	if (vg_report_find(&rep, s.lv, NULL))
		return error_setf(ret_error, -EEXIST, "%s already exists: a leftover, not made by this import; refusing to "
		                  "touch it (lvremove %s/%s if it is not needed)", snapshot, s.vg, s.lv);
	if (!vg_report_find(&rep, o.lv, &origin))
		return error_setf(ret_error, -ENOENT, "volume lvm:%s/%s does not exist on this host: create it first (a thin "
		                  "LV in the pool where its pairs go, or a thick LV of %" PRIu64 " bytes); the imported "
		                  "pair's snapshot %s is made in its pool or as its snapshot", o.vg, o.lv, h.size, snapshot);
	if ((r = create_target(&s, &o, &origin, h.size, snapshot, ret_error)) < 0)
		return r;

	/* From here on the LV is this receive's: on failure it goes. */
	_cleanup_close_ int fd = -EBADF;
	r = lv_lookup(s.vg, s.lv, &made, ret_error);
	if (r == 0)
		r = error_setf(ret_error, -ENOENT, "%s vanished after its creation", snapshot);
	if (r >= 0)
		r = open_lv_device(&made, snapshot, O_WRONLY | O_EXCL, &fd, ret_error);
	if (r >= 0)
		r = receive_blocks(in_fd, fd, h.size, !lv_is_thin(&made), snapshot, ret_error);
	closep(&fd);
	if (r >= 0)
		r = finish_target(&s, lv_is_thin(&made), snapshot, ret_error);
	if (r < 0) {
		_cleanup_free_ char *why = NULL;
		if (lv_remove(s.vg, s.lv, "removing what the failed import received", &why) < 0) {
			_cleanup_free_ char *first = TAKE_PTR(*ret_error);
			return error_setf(ret_error, r, "%s; and %s could not be removed: %s", strna(first), snapshot, strna(why));
		}
		return r;
	}
	return 0;
}

int lvm_receive_abort(const char *snapshot, char **ret_error) {
	struct lvm_name s;
	struct lv_info i;
	if (snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "%s is not a ckptd LVM snapshot", snapshot);
	int r = lv_lookup(s.vg, s.lv, &i, ret_error);
	if (r == -ENXIO || r == 0)
		return 0;
	if (r < 0)
		return r;
	/* Without the tag it is complete or not an import's: kept, and the error keeps it reported. */
	if (!lv_has_tag(&i, RECEIVING_TAG))
		return error_setf(ret_error, -EEXIST, "%s exists without the tag " RECEIVING_TAG ": it is complete or was "
		                  "not made by the import; not removed (lvremove %s/%s if it is not needed)", snapshot, s.vg,
		                  s.lv);
	return lv_remove(s.vg, s.lv, "removing what an interrupted import received", ret_error);
}
