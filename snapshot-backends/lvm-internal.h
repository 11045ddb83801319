/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the LVM backend (lvm.c; see its header comment): LVM names, running `lvm`
 * (lvm-command.c), its `lvs --reportformat json` reports (lvm-report.c), rollback
 * (lvm-rollback.c). Not for use outside snapshot-backends/. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include "process.h"
#include "time-util.h"

#define LVM_PREFIX "lvm:"
#define CKPTD_INFIX "-ckptd-"
#define LV_NAME_MAX 127
#define DM_NAME_MAX 127 /* DM_NAME_LEN - 1 */

#define LVM_TIMEOUT_USEC (120 * USEC_PER_SEC)        /* one ordinary command */
#define LVM_MERGE_TIMEOUT_USEC (3600 * USEC_PER_SEC) /* lvconvert --merge waits for the copy */

struct lvm_name {
	char vg[LV_NAME_MAX + 1];
	char lv[LV_NAME_MAX + 1];
};

/* "lvm:VG/LV" -> VG, LV. The configuration checked the characters already; this checks shape. */
int lvm_name_parse(const char *spec, struct lvm_name *ret);
/* The same, for a ckptd snapshot "lvm:VG/LV-ckptd-ID" only: a damaged pair.json must not make us
 * touch an origin. */
int snapshot_name_parse(const char *snapshot, struct lvm_name *ret);

/* ---- lvm-command.c ---- */

/* Runs `lvm ARGS...` (at most timeout_usec) and turns "could not run" and "ran, but failed" into
 * one error: "WHAT: lvm ARGS[0] failed (exit N): its messages". ret (optional): the output. */
int lvm_call(const char *const *args, uint64_t timeout_usec, const char *what, struct process_result *ret,
             char **ret_error);
/* The same for a report: a missing volume group is -ENXIO, with a message naming it. */
int lvm_call_report(const char *const *args, const char *target, struct process_result *ret, char **ret_error);
int lv_remove(const char *vg, const char *lv, const char *what, char **ret_error);
int lv_rename(const char *vg, const char *from, const char *to, char **ret_error);

/* ---- lvm-report.c ---- */

struct lv_info {
	char name[LV_NAME_MAX + 1];
	char attr[16];
	char segtype[32];
	char origin[LV_NAME_MAX + 1];
	char pool[LV_NAME_MAX + 1];
	char path[4096];
	char health[64];
	char tags[256]; /* comma-separated */
	uint64_t size;
	double data_percent; /* < 0: not reported */
	int major, minor;    /* -1: not active */
};

static inline bool lv_is_thin(const struct lv_info *i) {
	return strcmp(i->segtype, "thin") == 0;
}
static inline bool lv_is_active(const struct lv_info *i) {
	return i->attr[4] == 'a' && i->major >= 0;
}
static inline bool lv_is_open(const struct lv_info *i) {
	return i->attr[5] == 'o';
}
/* A thick snapshot that overflowed: 'S' (invalid snapshot) or state 'I'. */
static inline bool lv_is_invalid_snapshot(const struct lv_info *i) {
	return i->attr[0] == 'S' || i->attr[4] == 'I';
}
static inline bool lv_is_thick_snapshot(const struct lv_info *i) {
	return i->attr[0] == 's' || i->attr[0] == 'S';
}
static inline bool lv_is_merging_origin(const struct lv_info *i) {
	return i->attr[0] == 'O';
}
static inline dev_t lv_dev(const struct lv_info *i) {
	return makedev((unsigned) i->major, (unsigned) i->minor);
}

/* Every (visible) LV of a VG, and the VG's size and free space, from one `lvs VG`. Each lvm
 * command costs a device scan and metadata read (tens of ms on hardware, seconds under software
 * emulation): operations load this once and look up several LVs in it. */
struct vg_report {
	json_t *rows;
	uint64_t size, free, extent; /* of the VG; 0 if it has no LVs */
};

void vg_report_done(struct vg_report *rep);
/* Parses the output of `lvs --reportformat json` (pure, fuzzed). -EBADMSG when it is not one. */
int vg_report_parse(const char *json, struct vg_report *ret, char **ret_error);
/* Runs lvs for VG. -ENXIO: no such VG. */
int vg_report_load(const char *vg, struct vg_report *ret, char **ret_error);
bool vg_report_find(const struct vg_report *rep, const char *lv, struct lv_info *ret);
/* Looks up VG/LV: 1 found, 0 not in the VG, -ENXIO no such VG, other negative errno on errors. */
int lv_lookup(const char *vg, const char *lv, struct lv_info *ret, char **ret_error);
/* The origin VG/LV, which must exist: a message naming the volume otherwise. */
int origin_lookup(const char *volume, const struct lvm_name *n, struct lv_info *ret, char **ret_error);

/* Has the LV the tag (one of its comma-separated tags)? */
bool lv_has_tag(const struct lv_info *i, const char *tag);

/* ---- lvm-rollback.c ---- */

int lvm_rollback(const char *volume, const char *snapshot, json_t *nested, char **ret_error);

/* ---- lvm-transfer.c ---- */

int lvm_send_snapshot(const char *snapshot, const char *base, int out_fd, char **ret_error);
int lvm_receive_snapshot(const char *snapshot, int in_fd, char **ret_error);
int lvm_receive_abort(const char *snapshot, char **ret_error);
