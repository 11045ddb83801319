/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the pair record codec: the input is parsed as JSON (as the catalog reads pair.json and
 * the client reads replies) and decoded with pair_from_json(). A refusal must say why; what is
 * accepted is encoded again and must decode to the same JSON (the codec loses nothing it keeps). */

#include <stdint.h>

#include "macro.h"
#include "pair-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	json_t *j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	struct pair *p = NULL, *p2 = NULL;
	_cleanup_free_ char *why = NULL;
	int r = pair_from_json(j, &p, &why);
	json_decref(j);
	if (r < 0) {
		if (p || (r == -EBADMSG && !why) || (r != -EBADMSG && r != -ENOMEM))
			abort();
		return 0;
	}
	json_t *once = NULL, *twice = NULL;
	if (pair_to_json(p, &once) < 0)
		abort();
	if (pair_from_json(once, &p2, NULL) < 0 || pair_to_json(p2, &twice) < 0 || !json_equal(once, twice))
		abort();
	json_decref(once);
	json_decref(twice);
	pair_free(p);
	pair_free(p2);
	return 0;
}
