/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "time-util.h"

uint64_t now_usec(clockid_t clock) {
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int format_timestamp_utc(uint64_t realtime_usec, char *buf, size_t size) {
	time_t t = (time_t) (realtime_usec / USEC_PER_SEC);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -ENOBUFS;
	return 0;
}

int parse_timestamp_utc(const char *s, uint64_t *ret_usec) {
	struct tm tm = {};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end != '\0')
		return -EINVAL;
	time_t t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*ret_usec = (uint64_t) t * USEC_PER_SEC;
	return 0;
}
