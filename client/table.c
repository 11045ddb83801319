/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Aligned text tables and the text hygiene they share with the rest of ckptctl's output. */

#include <stdarg.h>
#include <wchar.h>

#include "table.h"

struct table {
	size_t n_columns;
	unsigned right_aligned; /* bit n: column n is right-aligned */
	char **cells;           /* row-major, the header row first */
	size_t n_cells;
	size_t allocated;
};

char *sanitize(const char *s, bool keep_newlines) {
	char *r = malloc(strlen(s) + 1), *d = r;

	if (!r)
		return NULL;
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			*d++ = '?';
			p++;
		} else if ((*p < 0x20 && !(keep_newlines && *p == '\n')) || *p == 0x7F)
			*d++ = '?';
		else
			*d++ = (char) *p;
	}
	*d = 0;
	return r;
}

size_t display_width(const char *s) {
	mbstate_t st = {};
	size_t w = 0, n = strlen(s);

	while (n > 0) {
		wchar_t c;
		size_t k = mbrtowc(&c, s, n, &st);
		int cw;

		if (k == (size_t) -1 || k == (size_t) -2 || k == 0) {
			memset(&st, 0, sizeof(st));
			k = 1;
			cw = 1;
		} else {
			cw = wcwidth(c);
			if (cw < 0)
				cw = 1;
		}
		w += (size_t) cw;
		s += k;
		n -= k;
	}
	return w;
}

struct table *table_free(struct table *t) {
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

int table_add(struct table *t, const char *s) {
	char *c;

	if (t->n_cells == t->allocated) {
		size_t n = t->allocated ? t->allocated * 2 : 32;
		char **p = reallocarray(t->cells, n, sizeof(char *));

		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->allocated = n;
	}
	c = sanitize(s && *s ? s : "-", /* keep_newlines= */ false);
	if (!c)
		return -ENOMEM;
	t->cells[t->n_cells++] = c;
	return 0;
}

int table_addf(struct table *t, const char *fmt, ...) {
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return table_add(t, s);
}

int table_new(const char *const *headers, unsigned right_aligned, struct table **ret) {
	_cleanup_table_ struct table *t = NULL;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->right_aligned = right_aligned;
	for (const char *const *h = headers; *h; h++) {
		r = table_add(t, *h);
		if (r < 0)
			return r;
		t->n_columns++;
	}
	*ret = TAKE_PTR(t);
	return 0;
}

size_t table_rows(const struct table *t) {
	return t->n_cells / t->n_columns - 1;
}

int table_print(const struct table *t, FILE *f) {
	_cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

	if (!width)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t w = display_width(t->cells[i]);

		if (w > width[i % t->n_columns])
			width[i % t->n_columns] = w;
	}
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t col = i % t->n_columns, pad = width[col] - display_width(t->cells[i]);
		bool last = col + 1 == t->n_columns;

		if (t->right_aligned & (1U << col))
			fprintf(f, "%*s%s", (int) pad, "", t->cells[i]);
		else
			fprintf(f, "%s%*s", t->cells[i], last ? 0 : (int) pad, "");
		fputs(last ? "\n" : " ", f);
	}
	return 0;
}
