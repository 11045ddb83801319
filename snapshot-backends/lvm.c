/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LVM volumes: "lvm:VG/LV", thick or thin.
 *
 *   thick  (linear, striped, raid, ... LVs): a copy-on-write snapshot with a fixed size taken from
 *          SnapshotSize= (a percentage of the origin or bytes). It is active as long as it exists
 *          and overflows (becomes invalid, unusable) when more than its size of the origin
 *          changes; `verify` reports that through health().
 *   thin   (an LV in a thin pool): a thin snapshot, no size, sharing the pool. It is created with
 *          the activation-skip flag (not activated, costs nothing until used); `lvchange -ay -K`
 *          activates one by hand.
 *
 * The snapshot of VG/LV for pair ID is the LV VG/<LV>-ckptd-<ID>, read-only; its location in
 * pair.json is "lvm:VG/<LV>-ckptd-<ID>". Temporary names: <LV>-ckptd-next (a rollback's new
 * volume) and <LV>-ckptd-old (the state a rollback replaces).
 *
 * Rollback:
 *   thin   a new thin snapshot of the pair's snapshot is swapped in by renames (LV -> <LV>-ckptd-old,
 *          <LV>-ckptd-next -> LV), then the old state is removed. The pair's snapshot stays intact:
 *          one can roll back to the same pair again. LVM has no atomic rename-exchange: a crash
 *          between the two renames leaves <LV>-ckptd-old and no LV; the next rollback (or the
 *          admin, with `lvrename VG LV-ckptd-old LV`) puts it back first.
 *   thick  `lvconvert --merge`: LVM can only merge a thick snapshot into its origin, and the merge
 *          CONSUMES the snapshot (there are no snapshots of thick snapshots, and copying the blocks
 *          back would fill the copy-on-write space of every other snapshot of the origin). The
 *          rollback succeeds and says so in its message (logged as a warning): the pair's snapshot
 *          no longer exists and that pair cannot be rolled back to again. The safety pair that
 *          rollback takes first is the way back to the state before the rollback.
 *   Both unmount the origin first (the container's tasks are dead by then) and mount it again at
 *   the same places with the same options; if something still holds it, the error names what
 *   (processes with files, working directories or mappings on it, other mount namespaces, mounts
 *   below it, loop devices).
 *
 * Frozen window: lvcreate suspends the origin itself (device-mapper suspend with "lockfs", which
 * freezes a mounted filesystem) while it loads the snapshot tables; prepare() syncfs()es the
 * mounted origin beforehand so that this flush is short. The command's start-up (device scan,
 * metadata read/write and backup) is inside the window as well: measured in docs/lvm.md.
 *
 * Why LVM's commands and not a library: lvm2app, LVM's library API, was removed in LVM 2.03
 * (Debian 12 ships 2.03.16). What remains, liblvm2cmd, is the command-line tool in library form:
 * lvm2_run() executes a command line inside the caller's process, with process-global state
 * (configuration, device cache, locking, signal handling, stdout/stderr logging) and without
 * thread safety; ckptd runs jobs in threads. So we run `lvm` as a separate process, exactly like
 * snapper and libblockdev's LVM plugin do, through the daemon's process runner (common/process.h:
 * an argument vector, never a shell, stdin on /dev/null, stdout and stderr captured, a timeout,
 * PR_SET_PDEATHSIG); `--reportformat json` output of lvs is parsed with jansson.
 *
 * Files: lvm.c the backend's operations; lvm-command.c running lvm; lvm-report.c its reports;
 * lvm-rollback.c rollback; remount.c unmounting and mounting the origin again around it. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>

#include "backend.h"
#include "error.h"
#include "lvm-internal.h"
#include "format.h"
#include "macro.h"
#include "mountinfo.h"

static bool lvm_recognizes(const char *volume) {
	return strncmp(volume, LVM_PREFIX, strlen(LVM_PREFIX)) == 0;
}

/* "lvm:VG/LV" -> VG, LV. The configuration checked the characters already; this checks shape. */
int lvm_name_parse(const char *spec, struct lvm_name *ret) {
	if (!lvm_recognizes(spec))
		return -EINVAL;
	const char *vg = spec + strlen(LVM_PREFIX), *slash = strchr(vg, '/');
	if (!slash || slash == vg || !slash[1] || strchr(slash + 1, '/'))
		return -EINVAL;
	size_t nvg = (size_t) (slash - vg), nlv = strlen(slash + 1);
	if (nvg > LV_NAME_MAX || nlv > LV_NAME_MAX || vg[0] == '-' || slash[1] == '-')
		return -EINVAL;
	memcpy(ret->vg, vg, nvg);
	ret->vg[nvg] = '\0';
	memcpy(ret->lv, slash + 1, nlv + 1);
	return 0;
}

/* The length of the device-mapper name of VG/LV plus a suffix ("-cow", "-real"): LVM doubles
 * every '-' inside VG and LV and joins them with one '-'. */
static size_t dm_name_length(const char *vg, const char *lv, const char *suffix) {
	size_t n = strlen(vg) + 1 + strlen(lv) + strlen(suffix);
	for (const char *p = vg; *p; p++)
		n += *p == '-';
	for (const char *p = lv; *p; p++)
		n += *p == '-';
	return n;
}

/* Thin or thick, per volume, as prepare() found it: so that snapshot() runs no lvs inside the
 * frozen window. An LV that is converted between the two is caught by lvcreate failing. */
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *volume;
	bool thin;
} kinds[64];

static void kind_remember(const char *volume, bool thin) {
	pthread_mutex_lock(&kinds_lock);
	size_t i = 0;
	while (i < ELEMENTSOF(kinds) && kinds[i].volume && !streq(kinds[i].volume, volume))
		i++;
	if (i == ELEMENTSOF(kinds)) /* full: forget the oldest */
		free(kinds[i = 0].volume), kinds[0].volume = NULL;
	if (!kinds[i].volume)
		kinds[i].volume = strdup(volume);
	kinds[i].thin = thin;
	pthread_mutex_unlock(&kinds_lock);
}

/* 1 thin, 0 thick, -ENOENT not known. */
static int kind_recall(const char *volume) {
	int r = -ENOENT;
	pthread_mutex_lock(&kinds_lock);
	for (size_t i = 0; i < ELEMENTSOF(kinds) && kinds[i].volume; i++)
		if (streq(kinds[i].volume, volume))
			r = kinds[i].thin;
	pthread_mutex_unlock(&kinds_lock);
	return r;
}

static int lvm_check(const char *volume, _unused_ const struct volume_identity *expect, char **ret_error) {
	struct lvm_name n;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s: expected lvm:VG/LV", volume);
	/* Room for "-ckptd-<20 digits>" in the LV name and, doubled hyphens and "-cow" included, in the
	 * device-mapper name of the snapshot. */
	char longest[LV_NAME_MAX * 2];
	snprintf(longest, sizeof(longest), "%s" CKPTD_INFIX "%s", n.lv, "18446744073709551615");
	if (strlen(longest) > LV_NAME_MAX || dm_name_length(n.vg, longest, "-cow") > DM_NAME_MAX)
		return error_setf(ret_error, -ENAMETOOLONG,
		            "volume %s: the names are too long for snapshot names %s" CKPTD_INFIX "ID (LVM allows %d "
		            "characters per name, device-mapper %d for VG-LV with every '-' doubled)",
		            volume, n.lv, LV_NAME_MAX, DM_NAME_MAX);
	if (strstr(n.lv, CKPTD_INFIX))
		return error_setf(ret_error, -EINVAL, "volume %s: an LV named *" CKPTD_INFIX "* is a ckptd snapshot", volume);
	int r = origin_lookup(volume, &n, &o, ret_error);
	if (r < 0)
		return r;
	if (lv_is_thick_snapshot(&o))
		return error_setf(ret_error, -EMEDIUMTYPE, "volume %s is itself a thick snapshot (of %s); LVM cannot snapshot it",
		            volume, o.origin);
	if (lv_is_merging_origin(&o))
		return error_setf(ret_error, -EBUSY, "volume %s: a snapshot is being merged into it; wait until the merge ends",
		            volume);
	if (!lv_is_active(&o))
		return error_setf(ret_error, -ENODEV, "volume %s is not active (lvchange -ay %s/%s)", volume, n.vg, n.lv);
	return 0;
}

static int lvm_snapshot_location(const char *volume, const char *container, uint64_t id, char **ret) {
	struct lvm_name n;
	if (lvm_name_parse(volume, &n) < 0)
		return -EINVAL;
	char *s = NULL;
	if (asprintf(&s, LVM_PREFIX "%s/%s" CKPTD_INFIX "%" PRIu64, n.vg, n.lv, id) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int snapshot_name_parse(const char *snapshot, struct lvm_name *ret) {
	if (lvm_name_parse(snapshot, ret) < 0)
		return -EINVAL;
	const char *infix = strstr(ret->lv, CKPTD_INFIX);
	if (!infix || infix == ret->lv || !infix[strlen(CKPTD_INFIX)])
		return -EINVAL;
	return 0;
}

/* Bytes a thick snapshot of ORIGIN takes with these params, rounded up to whole extents. */
static uint64_t thick_snapshot_bytes(const struct lv_info *origin, const struct snapshot_params *p, uint64_t extent) {
	uint64_t b = p->size_percent ? (origin->size / 100 * p->size_percent +
	                                 (origin->size % 100 * p->size_percent + 99) / 100) :
	                               p->size_bytes;
	if (extent > 0)
		b = (b + extent - 1) / extent * extent;
	return b;
}

static int lvm_prepare(const char *volume, const char *snapshot, const struct snapshot_params *params,
                       char **ret_error) {
	struct lvm_name n, s;
	struct lv_info o;
	int r;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	_cleanup_(vg_report_done) struct vg_report rep = {};
	_cleanup_free_ char *why = NULL;
	r = vg_report_load(n.vg, &rep, &why);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: %s", volume, strna(why));
	if (!vg_report_find(&rep, n.lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n.lv, n.vg);
	kind_remember(volume, lv_is_thin(&o));
	if (vg_report_find(&rep, s.lv, NULL))
		return error_setf(ret_error, -EEXIST, "snapshot %s already exists (a leftover? remove it with lvremove %s/%s)",
		            snapshot, s.vg, s.lv);

	if (lv_is_thin(&o)) {
		/* A thin snapshot takes no room up front; a full or failed pool cannot take one. */
		struct lv_info pool;
		if (vg_report_find(&rep, o.pool, &pool) && (strstr(pool.health, "out_of_data") || strstr(pool.health, "failed") ||
		              strstr(pool.health, "metadata_read_only")))
			return error_setf(ret_error, -ENOSPC, "volume %s: thin pool %s/%s is %s; no snapshot can be taken", volume,
			            n.vg, o.pool, pool.health);
	} else {
		char a[32], b[32], c[32], d[32];
		if (params->size_percent == 0 && params->size_bytes == 0)
			return error_setf(ret_error, -EINVAL,
			            "volume %s is a thick LV: its snapshots need a size; set SnapshotSize= in [Container] "
			            "(e.g. SnapshotSize=20%% of the origin, or SnapshotSize=2G)", volume);
		uint64_t need = thick_snapshot_bytes(&o, params, rep.extent);
		if (need > rep.free) {
			char how[64];
			if (params->size_percent)
				snprintf(how, sizeof(how), "SnapshotSize=%u%% of %s", params->size_percent, format_bytes(d, o.size));
			else
				snprintf(how, sizeof(how), "SnapshotSize=%s", format_bytes(d, params->size_bytes));
			return error_setf(ret_error, -ENOSPC,
			            "thick snapshot of %s does not fit: it needs %s (%s), but volume group %s has only %s "
			            "free of %s; lower SnapshotSize=, free space in %s (delete pairs, vgextend) or use a thin LV",
			            volume, format_bytes(a, need), how, n.vg, format_bytes(b, rep.free), format_bytes(c, rep.size),
			            n.vg);
		}
	}

	/* Flush the mounted filesystem now: LVM's own suspend inside the window then has little to do. */
	_cleanup_(mounts_done) struct mounts m = {};
	if (lv_is_active(&o) && mounts_of_device("/proc/self/mountinfo", (unsigned) o.major, (unsigned) o.minor, &m) >= 0 && m.n > 0) {
		_cleanup_close_ int fd = open(m.m[0].mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return error_setf(ret_error, negative_errno(), "volume %s: cannot open its mount point %s: %m", volume,
			            m.m[0].mountpoint);
		if (syncfs(fd) < 0)
			return error_setf(ret_error, negative_errno(), "syncfs of volume %s at %s failed: %m", volume, m.m[0].mountpoint);
	}
	return 0;
}

static int lvm_snapshot(const char *volume, const char *snapshot, const struct snapshot_params *params,
                        json_t **ret_nested, char **ret_error) {
	*ret_nested = NULL; /* an LV has no nested volumes */
	struct lvm_name n, s;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	/* Thin or thick (lvcreate needs different options): known from prepare(), else one lvs. */
	int thin = kind_recall(volume);
	if (thin < 0) {
		int r = origin_lookup(volume, &n, &o, ret_error);
		if (r < 0)
			return r;
		thin = lv_is_thin(&o);
	}

	char target[4 * LV_NAME_MAX], size[64];
	snprintf(target, sizeof(target), "%s/%s", n.vg, n.lv);
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "snapshot of %s at %s", volume, snapshot) < 0)
		return -ENOMEM;
	if (thin) {
		/* No size; not activated (activation skip), read-only. */
		const char *args[] = { "lvcreate", "--snapshot", "--setactivationskip", "y", "--permission", "r",
			               "--name", s.lv, target, NULL };
		return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
	}
	if (params->size_percent == 0 && params->size_bytes == 0)
		return error_setf(ret_error, -EINVAL, "volume %s is a thick LV: set SnapshotSize= in [Container]", volume);
	const char *size_opt = params->size_percent ? "--extents" : "--size";
	if (params->size_percent)
		snprintf(size, sizeof(size), "%u%%ORIGIN", params->size_percent);
	else
		snprintf(size, sizeof(size), "%" PRIu64 "b", params->size_bytes);
	const char *args[] = { "lvcreate", "--snapshot", size_opt, size, "--permission", "r", "--name", s.lv, target, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

static int lvm_exists(const char *snapshot, _unused_ size_t n_nested) {
	struct lvm_name s;
	if (lvm_name_parse(snapshot, &s) < 0)
		return 0;
	int r = lv_lookup(s.vg, s.lv, NULL, NULL);
	return r == -ENXIO ? 0 : r;
}

static int lvm_remove(const char *snapshot, char **ret_error) {
	struct lvm_name s;
	if (snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "refusing to remove %s: not a ckptd snapshot (lvm:VG/LV" CKPTD_INFIX "ID)",
		            snapshot);
	int r = lv_lookup(s.vg, s.lv, NULL, ret_error);
	if (r == -ENXIO || r == 0)
		return 0;
	if (r < 0)
		return r;
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot delete snapshot %s", snapshot) < 0)
		return -ENOMEM;
	return lv_remove(s.vg, s.lv, what, ret_error);
}

static int lvm_space(const char *volume, uint64_t *ret_total, uint64_t *ret_free) {
	struct lvm_name n;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0)
		return -EINVAL;
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(n.vg, &rep, NULL);
	if (r < 0)
		return r;
	if (!vg_report_find(&rep, n.lv, &o))
		return -ENOENT;
	if (lv_is_thin(&o)) {
		struct lv_info pool;
		if (!vg_report_find(&rep, o.pool, &pool))
			return -ENOENT;
		double used = pool.data_percent < 0 ? 0 : pool.data_percent > 100 ? 100 : pool.data_percent;
		*ret_total = pool.size;
		*ret_free = (uint64_t) ((double) pool.size * (100.0 - used) / 100.0);
		return 0;
	}
	*ret_total = rep.size;
	*ret_free = rep.free;
	return 0;
}

static int lvm_health(const char *snapshot, char **ret_problem) {
	struct lvm_name s;
	struct lv_info i;
	if (lvm_name_parse(snapshot, &s) < 0)
		return -EINVAL;
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(s.vg, &rep, NULL);
	if (r < 0)
		return r == -ENXIO ? 0 : r;
	if (!vg_report_find(&rep, s.lv, &i))
		return 0; /* missing: exists() reports that */
	if (lv_is_invalid_snapshot(&i))
		return error_setf(ret_problem, 1,
		            "snapshot %s overflowed: its copy-on-write space (%s) filled up and LVM invalidated it; "
		            "it cannot be rolled back to (a larger SnapshotSize= avoids this)",
		            snapshot, format_bytes((char[32]) {}, i.size));
	if (lv_is_thin(&i)) {
		struct lv_info pool;
		if (vg_report_find(&rep, i.pool, &pool) &&
		    (strstr(pool.health, "failed") || strstr(pool.health, "out_of_data")))
			return error_setf(ret_problem, 1, "snapshot %s: its thin pool %s/%s is %s", snapshot, s.vg, i.pool,
			            pool.health);
	}
	return 0;
}

const struct snapshot_backend lvm_backend = {
	.name = "lvm",
	.recognizes = lvm_recognizes,
	.check = lvm_check,
	.snapshot_location = lvm_snapshot_location,
	.prepare = lvm_prepare,
	.snapshot = lvm_snapshot,
	.remove = lvm_remove,
	.exists = lvm_exists,
	.rollback = lvm_rollback,
	.space = lvm_space,
	.health = lvm_health,
	.send = lvm_send_snapshot,
	.receive = lvm_receive_snapshot,
	.receive_abort = lvm_receive_abort,
};