/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the parser of `lvs --reportformat json` (the LVM backend's view of a volume group) and
 * the lookups of LVs in what it returns. */

#include <stdint.h>

#include "lvm-internal.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	_cleanup_free_ char *text = malloc(size + 1), *error = NULL;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct vg_report rep = {};
	int r = vg_report_parse(text, &rep, &error);
	if (r < 0) {
		if (r != -EBADMSG || !error)
			abort(); /* a refusal says why */
		return 0;
	}
	size_t i;
	json_t *row;
	json_array_foreach(rep.rows, i, row) {
		struct lv_info info;
		const char *name = json_string_value(json_object_get(row, "lv_name"));
		if (vg_report_find(&rep, name ? name : "", &info)) {
			/* the predicates index attr: it is always padded */
			(void) lv_is_thin(&info), (void) lv_is_active(&info), (void) lv_is_open(&info);
			(void) lv_is_invalid_snapshot(&info), (void) lv_is_merging_origin(&info);
			if (strlen(info.attr) < 10)
				abort();
		}
	}
	vg_report_done(&rep);
	return 0;
}
