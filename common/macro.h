/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by every part of ckptd: cleanup attributes, ownership transfer and
 * the error convention (functions return 0 or a negative errno; outputs are ret_* pointers,
 * last, untouched on failure). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                        \
	({                                     \
		__typeof__(p) _taken_ = (p);   \
		(p) = NULL;                    \
		_taken_;                       \
	})

#define TAKE_FD(fd)                 \
	({                          \
		int _taken_fd_ = (fd); \
		(fd) = -EBADF;         \
		_taken_fd_;            \
	})

static inline void freep(void *p) {
	free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
	if (*d)
		closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

static inline void strv_free(char **l) {
	if (!l)
		return;
	for (char **i = l; *i; i++)
		free(*i);
	free(l);
}
static inline void strv_freep(char ***l) {
	strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* errno as a negative value, never 0 (for calls that failed but left errno unset). */
static inline int negative_errno(void) {
	return errno > 0 ? -errno : -EIO;
}

static inline const char *strna(const char *s) {
	return s ? s : "n/a";
}
static inline const char *strempty(const char *s) {
	return s ? s : "";
}

static inline int streq_ptr(const char *a, const char *b) {
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)
