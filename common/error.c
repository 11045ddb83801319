/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "error.h"

_printf_(3, 0) static int error_vsetf(char **ret_error, int r, const char *fmt, va_list ap) {
	if (!ret_error)
		return r;
	int saved = errno;
	char *m = NULL;
	errno = r < 0 ? -r : r;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	errno = saved;
	free(*ret_error);
	*ret_error = m; /* NULL on out-of-memory: callers print strerror(-r) then */
	return r;
}

int error_setf(char **ret_error, int r, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	error_vsetf(ret_error, r, fmt, ap);
	va_end(ap);
	return r;
}

int error_prefixf(char **ret_error, int r, char **inner, const char *fmt, ...) {
	_cleanup_free_ char *context = NULL, *owned = inner ? TAKE_PTR(*inner) : NULL;
	if (!ret_error)
		return r;
	va_list ap;
	va_start(ap, fmt);
	error_vsetf(&context, r, fmt, ap);
	va_end(ap);
	return error_setf(ret_error, r, "%s: %s", context ? context : "error",
	                  owned ? owned : strerror(r < 0 ? -r : r));
}

int error_pass(char **ret_error, int r, char **inner) {
	_cleanup_free_ char *owned = inner ? TAKE_PTR(*inner) : NULL;
	if (!ret_error)
		return r;
	if (!owned)
		return error_setf(ret_error, r, "%m");
	free(*ret_error);
	*ret_error = TAKE_PTR(owned);
	return r;
}
