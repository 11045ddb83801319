/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging: one line per event on stderr (journald captures it under systemd), plus structured
 * journal entries for the events admins filter on (CONTAINER=, PAIR=, FROZEN_USEC=, MESSAGE_ID=).
 * Library-ish code logs at debug only; the layer that decides logs once. */

#include <stdint.h>
#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* "err", "warning", "notice", "info", "debug" or a number 0..7 */
int log_level_from_string(const char *s);

/* Returns -abs(error) (or 0 if error is 0) so callers can `return log_error_errno(r, ...)`.
 * %m in the format prints strerror(error). */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)

/* MESSAGE_IDs (128-bit, as journalctl MESSAGE_ID= expects) of the events worth filtering on. */
#define CKPTD_MESSAGE_THAWED "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a02"
#define CKPTD_MESSAGE_PAIR_COMPLETE "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a03"
#define CKPTD_MESSAGE_JOB_FAILED "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a04"
#define CKPTD_MESSAGE_ROLLBACK "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a05"
#define CKPTD_MESSAGE_RECOVERED "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a06"
#define CKPTD_MESSAGE_PAIR_DELETED "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a07"
#define CKPTD_MESSAGE_EXPORT "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a08"
#define CKPTD_MESSAGE_IMPORT "7b1f3c0e5a2d4e6f8a9b0c1d2e3f4a09"

/* An event about one container: logged like log_internal() and, when the journal is there,
 * sent as a structured entry with CONTAINER=, PAIR= (if pair > 0), FROZEN_USEC= (if set). */
void log_container_event(int level, const char *message_id, const char *container, uint64_t pair,
                         uint64_t frozen_usec, const char *fmt, ...) _printf_(6, 7);
