/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "error.h"

int error_setf(char **ret_error, int r, const char *fmt, ...) {
	if (!ret_error)
		return r;
	va_list ap;
	int saved = errno;
	errno = r < 0 ? -r : r;
	va_start(ap, fmt);
	free(*ret_error);
	if (vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	va_end(ap);
	errno = saved;
	return r;
}
