/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Is a string a calendar expression that systemd accepts in OnCalendar=? libsystemd does not
 * export systemd's calendar parser, so we ask the parser itself: `systemd-analyze calendar --
 * EXPR`, run as an argument vector (no shell), with a time limit, its output captured. */

#include <stdint.h>

/* How long systemd-analyze may take; it answers in ~10 ms, generators have 90 s in total. */
#define CALENDAR_CHECK_TIMEOUT_MSEC 3000

/* Which systemd-analyze: $CKPTD_SYSTEMD_ANALYZE (for tests), else /usr/bin, else /bin. */
const char *calendar_analyzer(void);

/* Returns 1 if systemd accepts expr, 0 if it does not (*ret_message: systemd-analyze's
 * reason, one line), or a negative errno if it could not be asked (*ret_message: why).
 * Also returns 1 with *ret_message set for a valid expression that never elapses (a date in
 * the past). *ret_message is NULL when there is nothing to say; the caller frees it. */
int calendar_check(const char *expr, char **ret_message);
