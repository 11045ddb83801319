/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "backend.h"

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
