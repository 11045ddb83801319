/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "format.h"
#include "macro.h"

const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes) {
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double) bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, FORMAT_BYTES_MAX, "%.1f %s", v, units[u]);
	return buf;
}
