/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define NSEC_PER_USEC 1000ULL

uint64_t now_usec(clockid_t clock);
/* "2026-11-25T09:15:02Z" from a CLOCK_REALTIME µs value. */
int format_timestamp_utc(uint64_t realtime_usec, char *buf, size_t size);
/* The inverse, for catalog entries: -EINVAL on anything else. */
int parse_timestamp_utc(const char *s, uint64_t *ret_usec);
