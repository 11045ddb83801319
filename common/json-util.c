/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "json-util.h"

void json_array_append_printf(json_t *array, const char *fmt, ...) {
	_cleanup_free_ char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r >= 0)
		json_array_append_new(array, json_string(s));
}
