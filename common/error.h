/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The project's one error convention: a function returns 0 or a negative errno and, where the
 * caller wants a sentence, puts one into *ret_error naming the object (caller frees). */

#include "macro.h"

/* Replaces *ret_error (if ret_error is non-NULL) with the formatted message and returns r.
 * %m in the format prints strerror(-r). */
int error_setf(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
