/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory's file system, its compression and what the pairs cost (storage-info.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "mountinfo.h"
#include "pair.h"
#include "pair-record.h"
#include "storage-info.h"

/* "compress=zstd:1" / "compress-force=zstd:1" among the superblock options, as "zstd:1" or
 * "zstd:1 (compress-force)"; NULL when none. */
static char *compression_of(const char *super) {
	_cleanup_free_ char *copy = strdup(strempty(super));
	char *save = NULL, *ret = NULL;
	for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; o && !ret; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "compress-force=", 15) == 0 && asprintf(&ret, "%s (compress-force)", o + 15) < 0)
			ret = NULL;
		else if (strncmp(o, "compress=", 9) == 0)
			ret = strdup(o + 9);
	}
	return ret;
}

static void filesystem_of(const char *path, json_t *o) {
	struct mounts ms = {};
	_cleanup_free_ char *real = realpath(path, NULL);
	const struct mount *best = NULL;
	if (real && mounts_parse("/proc/self/mountinfo", &ms) >= 0)
		for (size_t i = 0; i < ms.n; i++)
			if (path_is_below(real, ms.m[i].mountpoint) &&
			    (!best || strlen(ms.m[i].mountpoint) >= strlen(best->mountpoint)))
				best = &ms.m[i];
	_cleanup_free_ char *compression = best ? compression_of(best->super) : NULL;
	json_object_set_new(o, "filesystem", json_string(best ? best->fstype : "unknown"));
	json_object_set_new(o, "compression", json_string(compression ?: "none"));
	mounts_done(&ms);
}

static void totals(const char *state_dir, json_t *o) {
	struct pair **pairs = NULL;
	size_t n = 0;
	uint64_t bytes = 0, added = 0, disk = 0, measured = 0;
	if (catalog_list_pairs(state_dir, NULL, &pairs, &n) >= 0)
		for (size_t i = 0; i < n; i++) {
			const struct pair_images *im = &pairs[i]->images;
			uint64_t b = im->bytes == PAIR_ABSENT ? 0 : im->bytes;
			uint64_t a = im->added_bytes == PAIR_ABSENT ? b : im->added_bytes; /* older pairs: all written */
			bytes += b;
			added += a;
			if (im->disk_bytes != PAIR_ABSENT) {
				disk += im->disk_bytes;
				measured += a;
			}
		}
	pair_array_free(pairs, n);
	json_object_set_new(o, "images_bytes", json_integer((json_int_t) bytes));
	json_object_set_new(o, "added_bytes", json_integer((json_int_t) added));
	if (measured > 0) { /* the pairs measured at persist: what they added, what it took on disk */
		json_object_set_new(o, "measured_added_bytes", json_integer((json_int_t) measured));
		json_object_set_new(o, "disk_bytes", json_integer((json_int_t) disk));
	}
}

int storage_totals(const char *state_dir, json_t **ret) {
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	totals(state_dir, o);
	*ret = o;
	return 0;
}

int storage_info(const char *state_dir, json_t *totals_of_pairs, json_t **ret) {
	json_t *o = json_deep_copy(totals_of_pairs);
	if (!o)
		return -ENOMEM;
	filesystem_of(state_dir, o);
	*ret = o;
	return 0;
}

int storage_sharing(const char *state_dir, json_t *storage, const char *sharing_failure, char **ret) {
	const char *fs = json_string_value(json_object_get(storage, "filesystem"));
	char *sharing = NULL;
	if (!streq_ptr(fs, "btrfs")) {
		if (asprintf(&sharing, "off: %s is on %s", state_dir, strna(fs)) < 0)
			sharing = NULL;
	} else if (sharing_failure) {
		if (asprintf(&sharing, "off: %s", sharing_failure) < 0)
			sharing = NULL;
	} else
		sharing = strdup("on");
	if (!sharing)
		return -ENOMEM;
	*ret = sharing;
	return 0;
}
