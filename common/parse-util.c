/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "macro.h"
#include "parse-util.h"
#include "time-util.h"

/* Plain decimal digits, nothing else: no sign, no whitespace, no base prefix. */
int parse_u64(const char *s, uint64_t *ret) {
	uint64_t v = 0;

	if (!s || !ascii_isdigit(*s))
		return -EINVAL;

	for (; *s; s++) {
		unsigned d;

		if (!ascii_isdigit(*s))
			return -EINVAL;
		d = (unsigned) (*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}

	*ret = v;
	return 0;
}

int parse_unsigned(const char *s, unsigned *ret) {
	uint64_t v;
	int r;

	r = parse_u64(s, &v);
	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;

	*ret = (unsigned) v;
	return 0;
}

static const struct {
	const char *unit;
	uint64_t usec;
} time_units[] = {
	{ "us", 1 },
	{ "usec", 1 },
	{ "ms", 1000 },
	{ "msec", 1000 },
	{ "s", USEC_PER_SEC },
	{ "sec", USEC_PER_SEC },
	{ "second", USEC_PER_SEC },
	{ "seconds", USEC_PER_SEC },
	{ "m", 60 * USEC_PER_SEC },
	{ "min", 60 * USEC_PER_SEC },
	{ "minute", 60 * USEC_PER_SEC },
	{ "minutes", 60 * USEC_PER_SEC },
	{ "h", 3600 * USEC_PER_SEC },
	{ "hr", 3600 * USEC_PER_SEC },
	{ "hour", 3600 * USEC_PER_SEC },
	{ "hours", 3600 * USEC_PER_SEC },
	{ "d", 86400 * USEC_PER_SEC },
	{ "day", 86400 * USEC_PER_SEC },
	{ "days", 86400 * USEC_PER_SEC },
	{ "w", 604800 * USEC_PER_SEC },
	{ "week", 604800 * USEC_PER_SEC },
	{ "weeks", 604800 * USEC_PER_SEC },
};

static int time_unit_lookup(const char *s, size_t n, uint64_t *ret_usec) {
	for (size_t i = 0; i < ELEMENTSOF(time_units); i++)
		if (strlen(time_units[i].unit) == n && strncmp(time_units[i].unit, s, n) == 0) {
			*ret_usec = time_units[i].usec;
			return 0;
		}

	return -EINVAL;
}

/* One "NUMBER[.FRACTION][ ]UNIT" component of a time span; a missing unit means seconds.
 * Advances *p past it. */
static int parse_sec_component(const char **p, uint64_t *ret_usec) {
	const char *s = *p, *frac, *after_number;
	uint64_t whole = 0, mult = USEC_PER_SEC, m, v, fv = 0;
	size_t n_whole = 0, n_frac = 0, n_unit;
	int r;

	for (; ascii_isdigit(*s); s++, n_whole++) {
		unsigned d = (unsigned) (*s - '0');

		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	frac = s;
	if (*s == '.') {
		frac = ++s;
		for (; ascii_isdigit(*s); s++)
			n_frac++;
	}
	if (n_whole == 0 && n_frac == 0)
		return -EINVAL;

	after_number = s;
	s += strspn(s, WHITESPACE);
	for (n_unit = 0; ascii_isalpha(s[n_unit]); n_unit++)
		;
	if (n_unit > 0) {
		r = time_unit_lookup(s, n_unit, &mult);
		if (r < 0)
			return r;
		s += n_unit;
	} else if (*s != '\0' && s == after_number)
		return -EINVAL; /* "1.5.5", "10%": junk right after a bare number */

	if (whole > UINT64_MAX / mult)
		return -ERANGE;
	v = whole * mult;
	m = mult;
	for (size_t i = 0; i < n_frac && m > 0; i++) {
		m /= 10;
		fv += (uint64_t) (frac[i] - '0') * m;
	}
	if (v > UINT64_MAX - fv)
		return -ERANGE;

	*p = s;
	*ret_usec = v + fv;
	return 0;
}

int parse_sec(const char *s, uint64_t *ret_usec) {
	uint64_t total = 0;
	bool any = false;
	int r;

	if (!s)
		return -EINVAL;

	for (;;) {
		uint64_t v;

		s += strspn(s, WHITESPACE);
		if (*s == '\0')
			break;

		r = parse_sec_component(&s, &v);
		if (r < 0)
			return r;
		if (total > UINT64_MAX - v)
			return -ERANGE;
		total += v;
		any = true;
	}
	if (!any)
		return -EINVAL;

	*ret_usec = total;
	return 0;
}

int parse_boolean(const char *s, bool *ret) {
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	if (!s)
		return -EINVAL;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}

	return -EINVAL;
}

/* "4096", "512K", "2G": bytes, suffixes K M G T with base 1024. */
int parse_size(const char *s, uint64_t *ret) {
	static const struct {
		char suffix;
		unsigned shift;
	} suffixes[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
	_cleanup_free_ char *digits = NULL;
	size_t n = strlen(s);
	unsigned shift = 0;
	uint64_t v;
	int r;

	for (size_t i = 0; n > 0 && i < ELEMENTSOF(suffixes); i++)
		if (s[n - 1] == suffixes[i].suffix) {
			shift = suffixes[i].shift;
			n--;
			break;
		}

	digits = strndup(s, n);
	if (!digits)
		return -ENOMEM;
	r = parse_u64(digits, &v);
	if (r < 0)
		return r;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;

	*ret = v << shift;
	return 0;
}

int parse_min_free(const char *s, unsigned *ret_percent, uint64_t *ret_bytes) {
	size_t n;
	int r;

	if (isempty(s))
		return -EINVAL;

	n = strlen(s);
	if (s[n - 1] == '%') {
		_cleanup_free_ char *digits = strndup(s, n - 1);
		unsigned p;

		if (!digits)
			return -ENOMEM;
		r = parse_unsigned(digits, &p);
		if (r < 0)
			return r;
		if (p > 100)
			return -ERANGE;

		*ret_percent = p;
		*ret_bytes = 0;
		return 0;
	}

	uint64_t bytes;
	r = parse_size(s, &bytes);
	if (r < 0)
		return r;

	*ret_percent = 0;
	*ret_bytes = bytes;
	return 0;
}
