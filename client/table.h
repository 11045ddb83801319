/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Aligned text tables for ckptctl: a header row, then cells added left to right, top to
 * bottom. Cells are copied with terminal control characters replaced (an empty or NULL cell
 * shows as "-"); columns are as wide as their widest cell in terminal columns, one space
 * apart, without trailing blanks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

struct table;

/* headers: NULL-terminated; right_aligned: bit n set right-aligns column n. -ENOMEM. */
int table_new(const char *const *headers, unsigned right_aligned, struct table **ret);
struct table *table_free(struct table *t);
static inline void table_freep(struct table **t) {
	table_free(*t);
}
#define _cleanup_table_ _cleanup_(table_freep)

/* One cell; 0 or -ENOMEM. */
int table_add(struct table *t, const char *s);
int table_addf(struct table *t, const char *fmt, ...) _printf_(2, 3);

/* Rows below the header. */
size_t table_rows(const struct table *t);
int table_print(const struct table *t, FILE *f);

/* Copies s with C0 control characters (except newline if keep_newlines), DEL and the two-byte
 * UTF-8 encodings of C1 controls replaced by '?'. NULL on OOM. */
char *sanitize(const char *s, bool keep_newlines);
/* Terminal columns taken by s (multibyte aware in a UTF-8 locale; bytes otherwise). */
size_t display_width(const char *s);
