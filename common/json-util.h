/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small jansson helpers shared by daemon and client. */

#include <jansson.h>

#include "macro.h"

/* Appends the formatted string to array (nothing on out-of-memory: a lost problem line is
 * better than a lost answer). */
/* json_decref(), then NULL: for `p = json_decref_null(p)`. */
static inline json_t *json_decref_null(json_t *j) {
	json_decref(j);
	return NULL;
}

void json_array_append_printf(json_t *array, const char *fmt, ...) _printf_(2, 3);
