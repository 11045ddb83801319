/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <unistd.h>

#include "format.h"
#include "test-util.h"
#include "time-util.h"

TEST(bytes) {
	char b[FORMAT_BYTES_MAX];
	ASSERT_STREQ(format_bytes(b, 0), "0 B");
	ASSERT_STREQ(format_bytes(b, 1023), "1023 B");
	ASSERT_STREQ(format_bytes(b, 1024), "1.0 KiB");
	ASSERT_STREQ(format_bytes(b, 1536), "1.5 KiB");
	ASSERT_STREQ(format_bytes(b, 7ULL << 20), "7.0 MiB");
	ASSERT_STREQ(format_bytes(b, 3ULL << 30 | 1ULL << 29), "3.5 GiB");
	ASSERT_STREQ(format_bytes(b, 1ULL << 50), "1.0 PiB");
	ASSERT_STREQ(format_bytes(b, UINT64_MAX), "16.0 EiB");
}

TEST(now) {
	uint64_t a = now_usec(CLOCK_MONOTONIC);
	usleep(2000);
	uint64_t b = now_usec(CLOCK_MONOTONIC);
	ASSERT_TRUE(b >= a + 2000);
	ASSERT_TRUE(b < a + 10 * USEC_PER_SEC);
	/* CLOCK_REALTIME: after 2026-01-01. */
	ASSERT_TRUE(now_usec(CLOCK_REALTIME) > 1767225600ULL * USEC_PER_SEC);
}

TEST_MAIN()
