/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rolling an LVM volume back to a ckptd snapshot: thin (a new snapshot swapped in by renames) or
 * thick (merged into its origin, consuming the snapshot). lvm.c's header comment explains both. */
#include <inttypes.h>

#include "error.h"
#include "log.h"
#include "lvm-internal.h"
#include "macro.h"
#include "proc-holders.h"
#include "remount.h"

/* Leftovers of an interrupted thin rollback: <LV>-ckptd-next is never live, drop it; a lone
 * <LV>-ckptd-old (no LV) is the live state of before the swap, rename it back; beside LV it is a
 * replaced state whose removal failed, drop it. */
/* Returns 1 when it changed something (the report is stale then), 0 when there was nothing to do. */
static int thin_recover(const char *volume, const struct lvm_name *n, const char *next, const char *old,
                        const struct vg_report *rep, char **ret_error) {
	int r;
	bool has_lv = vg_report_find(rep, n->lv, NULL), has_old = vg_report_find(rep, old, NULL),
	     has_next = vg_report_find(rep, next, NULL);
	if (has_next && (r = lv_remove(n->vg, next, "removing the leftover of an interrupted rollback", ret_error)) < 0)
		return r;
	if (has_old && !has_lv) {
		log_warning("%s: %s/%s is missing and %s/%s exists (an interrupted rollback): renaming it back", volume,
		            n->vg, n->lv, n->vg, old);
		r = lv_rename(n->vg, old, n->lv, ret_error);
		return r < 0 ? r : 1;
	}
	if (has_old && (r = lv_remove(n->vg, old, "removing the leftover of an interrupted rollback", ret_error)) < 0)
		return r;
	return has_old || has_next;
}

/* The origin unmounted (its mounts are m) and held open by nobody; on failure it is mounted
 * again and the unused rollback volume NEXT removed. */
static int thin_release_origin(const char *volume, const struct lvm_name *n, const char *next, dev_t dev,
                               struct lv_info *o, const struct mounts *m, char **ret_error) {
	int r = unmount_all(volume, dev, o->path, m, ret_error);
	if (r >= 0 && lv_lookup(n->vg, n->lv, o, ret_error) > 0 && lv_is_open(o)) {
		_cleanup_free_ char *holders = device_holders_describe(dev, m);
		r = error_setf(ret_error, -EBUSY, "volume %s (%s) is still open after unmounting it; held by: %s", volume, o->path,
		         holders ? holders : "nothing found in /proc (a kernel user: another device-mapper device, swap?)");
		_cleanup_free_ char *why = NULL;
		if (remount_all(o->path, m, &why) < 0)
			log_warning("%s", strna(why));
	}
	if (r < 0) {
		(void) lv_remove(n->vg, next, "removing the unused rollback volume", NULL);
		return r;
	}
	return 0;
}

/* The swap: LV becomes OLD, NEXT becomes LV. LVM has no atomic exchange; thin_recover() handles
 * a crash in between. On failure LV is put back, NEXT removed and the origin (DEVICE) mounted
 * again. */
static int thin_swap(const struct lvm_name *n, const char *next, const char *old, const char *device,
                     const struct mounts *m, char **ret_error) {
	int r = lv_rename(n->vg, n->lv, old, ret_error);
	if (r >= 0) {
		r = lv_rename(n->vg, next, n->lv, ret_error);
		if (r < 0 && lv_rename(n->vg, old, n->lv, NULL) < 0) {
			_cleanup_free_ char *why = TAKE_PTR(*ret_error);
			return error_setf(ret_error, r, "%s; and renaming %s/%s back to %s failed: rename it by hand", strna(why),
			            n->vg, old, n->lv);
		}
	}
	if (r < 0) {
		(void) lv_remove(n->vg, next, "removing the unused rollback volume", NULL);
		_cleanup_free_ char *why = NULL;
		if (remount_all(device, m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}
	return 0;
}

static int thin_rollback(const char *volume, const char *snapshot, const struct lvm_name *n, const struct lvm_name *s,
                         struct vg_report *rep, char **ret_error) {
	char next[LV_NAME_MAX + 16], old[LV_NAME_MAX + 16], source[2 * LV_NAME_MAX + 2];
	snprintf(next, sizeof(next), "%s" CKPTD_INFIX "next", n->lv);
	snprintf(old, sizeof(old), "%s" CKPTD_INFIX "old", n->lv);
	snprintf(source, sizeof(source), "%s/%s", s->vg, s->lv);
	struct lv_info o;
	int r;

	r = thin_recover(volume, n, next, old, rep, ret_error);
	if (r < 0)
		return r;
	if (r > 0) {
		vg_report_done(rep);
		r = vg_report_load(n->vg, rep, ret_error);
		if (r < 0)
			return r;
	}
	if (!vg_report_find(rep, n->lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);

	_cleanup_(mounts_done) struct mounts m = {};
	dev_t dev = lv_dev(&o);
	if (lv_is_active(&o)) {
		r = mounts_of_device("/proc/self/mountinfo", major(dev), minor(dev), &m);
		if (r < 0)
			return error_setf(ret_error, r, "volume %s: cannot read /proc/self/mountinfo: %m", volume);
	}

	/* The new volume first, while the old one is still in place: nothing changed if this fails. */
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot create the rollback volume %s/%s from %s", n->vg, next, snapshot) < 0)
		return -ENOMEM;
	const char *create[] = { "lvcreate", "--snapshot", "--setactivationskip", "n", "--activate", "y",
		                 "--permission", "rw", "--name", next, source, NULL };
	r = lvm_call(create, LVM_TIMEOUT_USEC, what, NULL, ret_error);
	if (r < 0)
		return r;

	r = thin_release_origin(volume, n, next, dev, &o, &m, ret_error);
	if (r < 0)
		return r;
	r = thin_swap(n, next, old, o.path, &m, ret_error);
	if (r < 0)
		return r;

	/* The live volume is the pair's state now; mount it where the old one was (same path:
	 * /dev/VG/LV). */
	if (wait_for_device(o.path) < 0)
		r = error_setf(ret_error, -ETIMEDOUT, "volume %s: device %s did not appear", volume, o.path);
	if (r >= 0)
		r = remount_all(o.path, &m, ret_error);
	if (r < 0) {
		_cleanup_free_ char *why = TAKE_PTR(*ret_error);
		return error_setf(ret_error, r, "volume %s was rolled back to %s, but: %s (the replaced state is %s/%s)", volume,
		            snapshot, strna(why), n->vg, old);
	}
	_cleanup_free_ char *why = NULL;
	if (lv_remove(n->vg, old, "removing the replaced state", &why) < 0)
		return error_setf(ret_error, 0, "volume %s rolled back to %s, but the replaced state %s/%s could not be removed: %s",
		            volume, snapshot, n->vg, old, strna(why));
	return 0;
}

static int thick_rollback(const char *volume, const char *snapshot, const struct lvm_name *n, const struct lvm_name *s,
                          const struct vg_report *rep, const struct lv_info *snap, char **ret_error) {
	struct lv_info o;
	int r;
	if (!vg_report_find(rep, n->lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);
	if (!lv_is_thick_snapshot(snap) || !streq(snap->origin, n->lv))
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is not a snapshot of %s (its origin is '%s')", snapshot, volume,
		            snap->origin);
	if (lv_is_invalid_snapshot(snap))
		return error_setf(ret_error, -EBADMSG,
		            "snapshot %s overflowed (its copy-on-write space filled up; LVM invalidated it): "
		            "volume %s cannot be rolled back to it", snapshot, volume);

	_cleanup_(mounts_done) struct mounts m = {};
	dev_t dev = lv_dev(&o);
	r = mounts_of_device("/proc/self/mountinfo", major(dev), minor(dev), &m);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read /proc/self/mountinfo: %s", volume, strerror(-r));
	r = unmount_all(volume, dev, o.path, &m, ret_error);
	if (r < 0)
		return r;
	/* An open origin would make LVM defer the merge to the next activation: refuse that. */
	if (lv_lookup(n->vg, n->lv, &o, ret_error) > 0 && lv_is_open(&o)) {
		_cleanup_free_ char *holders = device_holders_describe(dev, &m), *why = NULL;
		r = error_setf(ret_error, -EBUSY, "volume %s (%s) is still open after unmounting it; held by: %s", volume, o.path,
		         holders ? holders : "nothing found in /proc (a kernel user: another device-mapper device, swap?)");
		if (remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}

	/* The merge: the origin shows the snapshot's content at once; lvconvert waits (polling every
	 * second) until the copy is done and LVM has removed the snapshot. */
	char source[2 * LV_NAME_MAX + 2];
	snprintf(source, sizeof(source), "%s/%s", s->vg, s->lv);
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot merge snapshot %s into %s", snapshot, volume) < 0)
		return -ENOMEM;
	const char *merge[] = { "lvconvert", "--merge", "--interval", "1", source, NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	r = lvm_call(merge, LVM_MERGE_TIMEOUT_USEC, what, &res, ret_error);
	if (r >= 0 && (strstr(res.out, "Delaying merge") || strstr(res.err, "Delaying merge")))
		r = error_setf(ret_error, -EBUSY,
		         "%s: LVM deferred the merge because the origin is in use: it happens at the next activation "
		         "of %s/%s (lvchange -an, then -ay)", what, n->vg, n->lv);
	if (r < 0) {
		_cleanup_free_ char *why = NULL;
		if (lv_lookup(n->vg, n->lv, &o, NULL) > 0 && !lv_is_merging_origin(&o) && remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}
	if (wait_for_device(o.path) < 0)
		return error_setf(ret_error, -ETIMEDOUT, "volume %s: device %s did not come back after the merge", volume, o.path);
	r = remount_all(o.path, &m, ret_error);
	if (r < 0) {
		_cleanup_free_ char *why = TAKE_PTR(*ret_error);
		return error_setf(ret_error, r, "volume %s was rolled back (snapshot %s merged into it and consumed), but: %s",
		            volume, snapshot, strna(why));
	}
	/* Success, with the news the caller must pass on. */
	return error_setf(ret_error, 0,
	            "volume %s rolled back by merging the thick snapshot %s into it: LVM consumes a merged snapshot, "
	            "so it no longer exists and this pair cannot be rolled back to again",
	            volume, snapshot);
}

int lvm_rollback(const char *volume, const char *snapshot, json_t *nested, char **ret_error) {
	struct lvm_name n, s;
	struct lv_info snap;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	if (!streq(n.vg, s.vg))
		return error_setf(ret_error, -EINVAL, "snapshot %s is not in the volume group of %s", snapshot, volume);
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(n.vg, &rep, ret_error);
	if (r < 0)
		return r;
	if (!vg_report_find(&rep, s.lv, &snap))
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing", snapshot);
	if (lv_is_thin(&snap))
		return thin_rollback(volume, snapshot, &n, &s, &rep, ret_error);
	return thick_rollback(volume, snapshot, &n, &s, &rep, &snap, ret_error);
}

