/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LVM backend's view of a volume group: one `lvs --reportformat json` of it, parsed with
 * jansson (vg_report_parse() is pure and fuzzed: tests/fuzz/fuzz-lvs-report.c). */
#include <limits.h>

#include "error.h"
#include "lvm-internal.h"
#include "macro.h"

/* lvs can show the VG's fields on every row: one command tells everything an operation needs. */
#define LV_FIELDS                                                                                    \
	"lv_name,lv_attr,segtype,origin,pool_lv,lv_path,lv_health_status,lv_size,data_percent,"      \
	"lv_kernel_major,lv_kernel_minor,lv_tags,vg_size,vg_free,vg_extent_size"

/* LVM reports every value as a string ("json"); "json_std" would give numbers. Accept both. */
static const char *row_string(json_t *row, const char *key) {
	json_t *v = json_object_get(row, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double row_number(json_t *row, const char *key, double dflt) {
	json_t *v = json_object_get(row, key);
	if (json_is_number(v))
		return json_number_value(v);
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	char *end;
	if (!*s)
		return dflt;
	errno = 0;
	double d = strtod(s, &end);
	return errno || *end ? dflt : d;
}

/* A number of the report as an integer in [lo, hi], dflt when missing or out of range (a double
 * outside the target type's range must not be converted). */
static int64_t row_integer(json_t *row, const char *key, int64_t dflt, int64_t lo, int64_t hi) {
	double d = row_number(row, key, (double) dflt);
	return d >= (double) lo && d <= (double) hi ? (int64_t) d : dflt;
}

static void copy_field(char *dst, size_t size, const char *src) {
	snprintf(dst, size, "%s", src);
}

static void lv_info_from_row(json_t *row, struct lv_info *i) {
	*i = (struct lv_info) {};
	copy_field(i->name, sizeof(i->name), row_string(row, "lv_name"));
	copy_field(i->attr, sizeof(i->attr), row_string(row, "lv_attr"));
	copy_field(i->segtype, sizeof(i->segtype), row_string(row, "segtype"));
	copy_field(i->origin, sizeof(i->origin), row_string(row, "origin"));
	copy_field(i->pool, sizeof(i->pool), row_string(row, "pool_lv"));
	copy_field(i->path, sizeof(i->path), row_string(row, "lv_path"));
	copy_field(i->health, sizeof(i->health), row_string(row, "lv_health_status"));
	copy_field(i->tags, sizeof(i->tags), row_string(row, "lv_tags"));
	/* attr is 10 characters; pad so that indexing it is always safe */
	for (size_t k = strlen(i->attr); k < 10; k++)
		i->attr[k] = '-';
	i->size = (uint64_t) row_integer(row, "lv_size", 0, 0, INT64_MAX);
	i->data_percent = row_number(row, "data_percent", -1);
	i->major = (int) row_integer(row, "lv_kernel_major", -1, 0, INT_MAX);
	i->minor = (int) row_integer(row, "lv_kernel_minor", -1, 0, INT_MAX);
}

void vg_report_done(struct vg_report *rep) {
	json_decref(rep->rows);
	*rep = (struct vg_report) {};
}

int vg_report_parse(const char *text, struct vg_report *ret, char **ret_error) {
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *root = json_loads(text, 0, &jerr);
	json_t *report = json_object_get(root, "report");
	json_t *rows = json_object_get(json_array_get(report, 0), "lv");
	if (!json_is_array(rows))
		return error_setf(ret_error, -EBADMSG, "unexpected output (%s)", root ? "no report" : jerr.text);
	json_t *first = json_array_get(rows, 0);
	*ret = (struct vg_report) {
		.rows = json_incref(rows),
		.size = (uint64_t) row_integer(first, "vg_size", 0, 0, INT64_MAX),
		.free = (uint64_t) row_integer(first, "vg_free", 0, 0, INT64_MAX),
		.extent = (uint64_t) row_integer(first, "vg_extent_size", 0, 0, INT64_MAX),
	};
	return 0;
}

int vg_report_load(const char *vg, struct vg_report *ret, char **ret_error) {
	const char *args[] = { "lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "--options", LV_FIELDS,
		               vg, NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = lvm_call_report(args, vg, &res, ret_error);
	if (r < 0)
		return r;
	_cleanup_free_ char *why = NULL;
	r = vg_report_parse(res.out, ret, &why);
	if (r < 0)
		return error_setf(ret_error, r, "lvm lvs %s: %s", vg, strna(why));
	return 0;
}

bool vg_report_find(const struct vg_report *rep, const char *lv, struct lv_info *ret) {
	size_t i;
	json_t *row;
	json_array_foreach(rep->rows, i, row)
		if (streq(row_string(row, "lv_name"), lv)) {
			if (ret)
				lv_info_from_row(row, ret);
			return true;
		}
	return false;
}

/* Looks up VG/LV: 1 found, 0 not in the VG, -ENXIO no such VG, other negative errno on errors. */
int lv_lookup(const char *vg, const char *lv, struct lv_info *ret, char **ret_error) {
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(vg, &rep, ret_error);
	if (r < 0)
		return r;
	return vg_report_find(&rep, lv, ret);
}

/* The origin VG/LV, which must exist: a message naming the volume otherwise. */
int origin_lookup(const char *volume, const struct lvm_name *n, struct lv_info *ret, char **ret_error) {
	_cleanup_free_ char *why = NULL;
	int r = lv_lookup(n->vg, n->lv, ret, &why);
	if (r == 0)
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: %s", volume, strna(why));
	return 0;
}

bool lv_has_tag(const struct lv_info *i, const char *tag) {
	size_t n = strlen(tag);
	for (const char *p = i->tags; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t) (comma - p) : strlen(p);
		if (len == n && strncmp(p, tag, n) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}
