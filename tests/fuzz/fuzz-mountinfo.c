/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the mountinfo parser (libmount underneath) and the questions asked of its table: every
 * entry has all its strings, the lookups and mount_flags() do not crash on what it returns. */

#include <stdint.h>

#include "macro.h"
#include "mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	_cleanup_free_ char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	_cleanup_(mounts_done) struct mounts ms = {};
	if (mounts_parse_text(text, &ms) < 0)
		return 0;
	for (size_t i = 0; i < ms.n; i++) {
		const struct mount *m = &ms.m[i];
		if (!m->root || !m->mountpoint || !m->options || !m->optional || !m->fstype || !m->source || !m->super)
			abort();
		unsigned long flags;
		_cleanup_free_ char *fs_data = NULL;
		(void) mount_flags(m, &flags, &fs_data);
		(void) mount_read_only(m);
		(void) mounts_has_device(&ms, m->major, m->minor);
		(void) mounts_fs_root_mounted(&ms, m->major, m->minor);
		free(mounts_host_path(&ms, m->major, m->minor, m->root));
	}
	(void) mounts_root(&ms);
	(void) mounts_has_peer_group(&ms, 1);
	return 0;
}
