/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers of single values in systemd's spellings (numbers, time spans, booleans, sizes), pure
 * and strict: no sign, no whitespace, no base prefix; -EINVAL for what is not the syntax,
 * -ERANGE for what does not fit. Shared by the configuration and the CLI. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define WHITESPACE " \t\n\r\v\f"

static inline bool isempty(const char *s) {
	return !s || !*s;
}

static inline bool ascii_isdigit(char c) {
	return c >= '0' && c <= '9';
}

static inline bool ascii_isalpha(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool char_in(char c, const char *set) {
	return c != '\0' && strchr(set, c);
}

static inline const char *startswith(const char *s, const char *prefix) {
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Plain decimal digits only. */
int parse_u64(const char *s, uint64_t *ret);
int parse_unsigned(const char *s, unsigned *ret);
/* "4096", "512K", "2G", "1T" (base 1024). */
int parse_size(const char *s, uint64_t *ret);
/* Parses "10", "1.5", "250ms", "2s", "1min" into microseconds (systemd time spans, subset). */
int parse_sec(const char *s, uint64_t *ret_usec);
/* Parses yes/no/true/false/on/off/1/0. */
int parse_boolean(const char *s, bool *ret);
/* Parses "10%" or "512M" / "2G" / "4096". */
int parse_min_free(const char *s, unsigned *ret_percent, uint64_t *ret_bytes);
