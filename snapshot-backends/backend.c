/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "backend.h"
#include "error.h"

#define SNAPSHOT_BACKENDS_CAN "ckptd can snapshot btrfs subvolumes and LVM logical volumes"

static const struct snapshot_backend *const backends[] = {
	&btrfs_backend,
	&lvm_backend,
};

const struct snapshot_backend *snapshot_backend_for(const char *volume) {
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->recognizes(volume))
			return backends[i];
	return NULL;
}

const struct snapshot_backend *snapshot_backend_by_name(const char *name) {
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int snapshot_backend_probe(const char *volume, const struct snapshot_backend **ret, char **ret_error) {
	const struct snapshot_backend *b = snapshot_backend_for(volume);
	if (!b)
		return error_setf(ret_error, -EOPNOTSUPP,
		                  "volume %s: not a path or lvm:VG/LV; " SNAPSHOT_BACKENDS_CAN, volume);
	_cleanup_free_ char *why = NULL;
	int r = b->probe ? b->probe(volume, &why) : 0;
	if (r < 0)
		return error_setf(ret_error, r, "%s; " SNAPSHOT_BACKENDS_CAN, why ? why : volume);
	*ret = b;
	return 0;
}
