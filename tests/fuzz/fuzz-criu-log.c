/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the reader of CRIU's dump.log (criu_log_phases_parse()): whatever the input, every
 * phase is absent or shorter than the longest span a timestamp can express (10 digits of
 * seconds): the sums of gaps never count a stretch of time twice. */

#include <stdint.h>
#include <stdlib.h>

#include "criu-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct pair_criu_phases c;
	criu_log_phases_parse((const char *) data, size, &c);
	for (size_t i = 0; pair_criu_phase_key(i); i++) {
		uint64_t usec = pair_criu_phase_get(&c, pair_criu_phase_key(i));
		if (usec != PAIR_ABSENT && usec >= UINT64_C(10000000000000000))
			abort();
	}
	return 0;
}
