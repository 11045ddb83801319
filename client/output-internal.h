/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the output-*.c files share (output.c): printing with control characters neutralised,
 * "Label: value" lines, tolerant JSON accessors for replies that are not pair records, and the
 * formatting of durations, timestamps and values. */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "macro.h"

#define FIELD_WIDTH 15 /* labels of "Label: value" lines are right-aligned to this width */
#define FORMAT_MAX 64

/* printf to f, with control characters from daemon-supplied strings neutralised. */
void print_clean(FILE *f, const char *fmt, ...) _printf_(2, 3);
/* "          Label: value" on stdout; NULL prints "-". */
void field(const char *label, const char *value);

/* Members of replies, tolerant of missing or mistyped fields: NULL, false. */
const char *jstr(json_t *o, const char *key);
bool jint(json_t *o, const char *key, long long *ret);
bool jtrue(json_t *o, const char *key);

/* A table cell with the integer member key of o, or "-". */
struct table;
int table_add_jint(struct table *t, json_t *o, const char *key);

const char *plural(long long n, const char *one, const char *many);

/* Durations of the frozen window: always milliseconds below 10 s ("0.3 ms", "73.0 ms"); "-"
 * when negative. */
const char *format_msec(char buf[static FORMAT_MAX], long long usec);
/* Longer spans (uptime, job age): "350ms", "4.2s", "5min 3s", "2h 7min", "3d 4h". */
const char *format_timespan(char buf[static FORMAT_MAX], long long usec);
/* "2026-11-25T09:15:02Z" (fraction and numeric offset accepted) → seconds since the epoch. */
bool parse_iso8601(const char *s, time_t *ret);
/* Local time: "2026-11-25 10:15:02" (table) or "Wed 2026-11-25 10:15:02 CET" (long); anything
 * unparsable as the daemon sent it. */
const char *format_timestamp(char buf[static FORMAT_MAX], const char *iso, bool long_form);
/* Any JSON value on one line: strings bare, booleans yes/no, big containers summarised. NULL on
 * OOM. */
char *format_value(json_t *v);

/* A line built piece by piece: line_begin(), fprintf() to l.f, then line_end() returns the text
 * (NULL on OOM; the caller frees) or field_line() prints it as "Label: text" (-ENOMEM). */
struct line {
	FILE *f;
	char *text;
	size_t size;
	bool first; /* no line_add_timing() yet */
};
int line_begin(struct line *l);
char *line_end(struct line *l);
int field_line(const char *label, struct line *l);
/* Named durations, "kill 1.2 ms, rollback volumes 3.4 ms": "kill_usec" is shown as "kill". */
void line_add_timing(struct line *l, const char *key, long long usec);
/* Whether key names a duration ("kill_usec"). */
bool is_usec_key(const char *key);
/* Every integer *_usec member of a reply's timings object, in the daemon's order. */
char *format_timings(json_t *timings);

/* "root /srv/web, external mounts auto, network lock skip, tcp-established" from a discovery's
 * "criu" object; NULL on OOM. */
char *format_criu_options(json_t *criu);
