/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the comparison of a network tool's answers (netns_config_same_answer()): whatever the
 * input, as ip(8)'s save format and as iptables-save text, it never reads or writes outside the
 * buffer, and an answer is always the same configuration as an identical copy of itself. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netns-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	for (int netlink = 0; netlink < 2; netlink++) {
		char *a = malloc(size + 1), *b = malloc(size + 1);
		if (!a || !b)
			abort();
		memcpy(a, data, size);
		memcpy(b, data, size);
		if (!netns_config_same_answer(netlink, a, size, b, size))
			abort();
		/* the two halves against each other: no crash, whatever the answer */
		memcpy(a, data, size);
		(void) netns_config_same_answer(netlink, a, size / 2, a + size / 2, size - size / 2);
		free(a);
		free(b);
	}
	return 0;
}
