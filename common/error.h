/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The project's one error convention, used by every layer:
 *
 *   int foo(..., char **ret_error);
 *
 * returns 0 (or a positive count) on success, a negative errno on failure and, when ret_error is
 * non-NULL, puts one sentence into *ret_error that names the object (a path, a container, a pair)
 * — the caller frees it. The code says what kind of failure it is (callers branch on it), the
 * message says what a human needs. A layer that adds context wraps the message it got:
 *
 *   r = backend->remove(path, &error);
 *   if (r < 0)
 *           return error_prefixf(ret_error, r, &error, "pair %s/%" PRIu64, name, id);
 *   → "pair web/7: cannot delete subvolume /srv/.ckptd/web/7/data: Device or resource busy"
 *
 * Nothing below the layer that decides logs an error: the message travels up and is logged
 * once, by the job (journal entry with CONTAINER= and PAIR=) or by the method that answers the
 * client. Never asprintf() into ret_error by hand: error_setf() frees an earlier message and
 * copes with ret_error == NULL and with out-of-memory. */

#include "macro.h"

/* Replaces *ret_error (if ret_error is non-NULL) with the formatted message and returns r.
 * %m in the format prints strerror(-r). */
int error_setf(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);

/* Wraps a message from a lower layer: *ret_error becomes "CONTEXT: *inner" (or "CONTEXT: %m"
 * when *inner is NULL); *inner is freed and cleared. Returns r. %m in the format prints
 * strerror(-r). */
int error_prefixf(char **ret_error, int r, char **inner, const char *fmt, ...) _printf_(4, 5);

/* Moves *inner into *ret_error (freeing what was there), or sets strerror(-r) when *inner is
 * NULL. Returns r. For passing a lower layer's message up unchanged. */
int error_pass(char **ret_error, int r, char **inner);
