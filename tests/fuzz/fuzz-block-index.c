/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the reader of a pair's block index (block_index_decode()): whatever it accepts must
 * encode back to the same bytes and answer lookups inside its own files. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block-index.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct block_index ix;
	_cleanup_free_ char *error = NULL;
	int r = block_index_decode(data, size, &ix, &error);
	if (r < 0) {
		if ((r != -EBADMSG && r != -ENOMEM) || (r == -EBADMSG && !error))
			abort();
		return 0;
	}
	for (size_t i = 0; i < ix.n_entries; i++) {
		const struct block_entry *e = block_index_find(&ix, ix.entries[i].hash);
		if (!e || e->file >= ix.n_files ||
		    ((uint64_t) e->block + 1) * BLOCK_INDEX_BLOCK_SIZE > ix.sizes[e->file])
			abort();
	}
	_cleanup_free_ void *again = NULL;
	size_t n;
	if (block_index_encode(&ix, &again, &n) >= 0 && (n != size || memcmp(again, data, size) != 0))
		abort();
	block_index_done(&ix);
	return 0;
}
