/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Human-readable values shared by the daemon's messages and the client's tables. */

#include <stdint.h>

#define FORMAT_BYTES_MAX 32

/* "512 B", "1.5 KiB", "7.0 MiB" ... "2.0 EiB" (binary units, one decimal); returns buf. */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes);
