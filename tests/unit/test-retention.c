/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit test of policy/retention: table-driven rows with synthetic timestamps (written in UTC,
 * judged in the time zone of the row), plus a few generated checks. Every row is also run with
 * its input reversed and rotated: the decisions must not depend on the input order. A failing
 * row prints file:line of the failed assertion, then the row's name and line and its decisions. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "retention.h"
#include "test-util.h"

/* ---- helpers ---- */

static void set_tz(const char *tz) {
	if (setenv("TZ", tz, 1) < 0)
		abort();
	tzset();
}

/* "YYYY-MM-DD HH:MM" (UTC) to µs since the epoch. */
static int64_t utc(const char *s) {
	struct tm tm = {};
	time_t t;

	if (sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5) {
		fprintf(stderr, "bad timestamp in test table: %s\n", s);
		abort();
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	return (int64_t) t * 1000000;
}

static const struct retention_decision *find_decision(const struct retention_result *res, uint64_t id) {
	for (size_t i = 0; i < res->n_decisions; i++)
		if (res->decisions[i].id == id)
			return &res->decisions[i];
	return NULL;
}

static bool id_in_list(const char *list, uint64_t id) {
	const char *p = list;

	while (p && *p) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);

		if (end == p)
			abort(); /* bad table */
		if (v == id)
			return true;
		p = end + strspn(end, " ");
	}
	return false;
}

/* ---- the table ---- */

struct tpair {
	uint64_t id;
	const char *utc;   /* "YYYY-MM-DD HH:MM", UTC; NULL ends the list */
	const char *flags; /* "I" = incomplete, "P" = pinned */
	uint64_t bytes;
};

struct treason {
	uint64_t id;
	const char *text; /* NULL ends the list */
	bool exact;       /* whole reason, else a substring */
};

struct tcase {
	const char *name;
	int line;
	const char *tz; /* NULL = UTC */
	struct retention_config cfg;
	const struct retention_space *space;
	const struct tpair *pairs;
	int r;                         /* expected return value */
	const char *remove;            /* ids expected to be deleted, space separated */
	const struct treason *reasons; /* optional */
	bool space_unreachable;        /* expect space_ok == false */
	const char *message;           /* expected substring of the message; NULL = no message */
	bool check_free_after;
	uint64_t free_after;
};

#define CASE(n) .name = (n), .line = __LINE__
#define PAIRS(...) .pairs = (const struct tpair[]) { __VA_ARGS__, {} }
#define REASONS(...) .reasons = (const struct treason[]) { __VA_ARGS__, {} }
#define SPACE(total, free) .space = &(const struct retention_space) { (total), (free) }
#define P(i, t) { .id = (i), .utc = (t) }
#define PX(i, t, f, b) { .id = (i), .utc = (t), .flags = (f), .bytes = (b) }
#define R(i, t) { .id = (i), .text = (t) }         /* reason contains t */
#define RX(i, t) { .id = (i), .text = (t), .exact = true } /* reason is t */
#define KEEP_LAST(n) .cfg = { .keep_last = (n) }

/* Six pairs, one a day, given out of order. */
#define SIX_DAYS PAIRS(                    \
	P(4, "2026-11-04 10:00"),             \
	P(1, "2026-11-01 10:00"),             \
	P(6, "2026-11-06 10:00"),             \
	P(3, "2026-11-03 10:00"),             \
	P(5, "2026-11-05 10:00"),             \
	P(2, "2026-11-02 10:00"))

/* Berlin, DST ends 2026-10-25 01:00 UTC: 03:00 CEST -> 02:00 CET, so 02:xx happens twice. */
#define FALL_BACK PAIRS(                   \
	P(1, "2026-10-24 23:30"), /* 01:30 CEST */ \
	P(2, "2026-10-25 00:10"), /* 02:10 CEST */ \
	P(3, "2026-10-25 00:40"), /* 02:40 CEST */ \
	P(4, "2026-10-25 01:10"), /* 02:10 CET */  \
	P(5, "2026-10-25 01:40"), /* 02:40 CET */  \
	P(6, "2026-10-25 02:30")) /* 03:30 CET */

/* Berlin, DST starts 2026-03-29 01:00 UTC: 02:00 CET -> 03:00 CEST, no 02:xx hour. */
#define SPRING_FORWARD PAIRS(              \
	P(1, "2026-03-29 00:30"), /* 01:30 CET */  \
	P(2, "2026-03-29 00:50"), /* 01:50 CET */  \
	P(3, "2026-03-29 01:10"), /* 03:10 CEST */ \
	P(4, "2026-03-29 01:50"), /* 03:50 CEST */ \
	P(5, "2026-03-29 02:20")) /* 04:20 CEST */

/* 2028 is a leap year; Berlin is UTC+1 in winter, so 22:00 UTC is the next local day. */
#define LEAP_DAY PAIRS(                    \
	P(1, "2028-02-28 09:00"), /* Feb 28 */     \
	P(2, "2028-02-28 21:00"), /* Feb 28 */     \
	P(3, "2028-02-29 07:00"), /* Feb 29 */     \
	P(4, "2028-02-29 22:00"), /* Feb 29 23:00 Berlin */ \
	P(5, "2028-02-29 23:30"), /* Feb 29 UTC, Mar 1 00:30 Berlin */ \
	P(6, "2028-03-01 12:00")) /* Mar 1 */

/* 2026 has 53 ISO weeks: 2026-W53 is Mon 2026-12-28 .. Sun 2027-01-03. */
#define YEAR_END_2026 PAIRS(               \
	P(1, "2026-12-22 12:00"), /* 2026-W52 */   \
	P(2, "2026-12-26 12:00"), /* 2026-W52 */   \
	P(3, "2026-12-29 12:00"), /* 2026-W53 */   \
	P(4, "2027-01-02 12:00"), /* 2026-W53 */   \
	P(5, "2027-01-05 12:00")) /* 2027-W01 */

/* Sunday 2026-11-29 23:30 UTC is Monday 00:30 in Berlin (next ISO week). */
#define SUNDAY_NIGHT PAIRS(                \
	P(1, "2026-11-28 12:00"), /* Sat, W48 */   \
	P(2, "2026-11-29 23:30"), /* UTC W48, Berlin W49 */ \
	P(3, "2026-12-01 12:00")) /* Tue, W49 */

#define MONTH_EDGES PAIRS(                 \
	P(1, "2026-01-15 12:00"),                  \
	P(2, "2026-01-31 23:30"), /* Berlin: Feb 1 */ \
	P(3, "2026-02-10 12:00"),                  \
	P(4, "2026-03-31 22:30"), /* Berlin (CEST): Apr 1 */ \
	P(5, "2026-03-15 12:00"))

#define YEAR_EDGES PAIRS(                  \
	P(1, "2025-06-01 12:00"),                  \
	P(2, "2025-12-31 23:30"), /* Berlin: 2026 */ \
	P(3, "2026-07-01 12:00"),                  \
	P(4, "2027-03-01 12:00"))

/* Eight pairs, one a day, 10 bytes each. */
#define EIGHT_SMALL PAIRS(                 \
	PX(1, "2026-11-01 10:00", "", 10),          \
	PX(2, "2026-11-02 10:00", "", 10),          \
	PX(3, "2026-11-03 10:00", "", 10),          \
	PX(4, "2026-11-04 10:00", "", 10),          \
	PX(5, "2026-11-05 10:00", "", 10),          \
	PX(6, "2026-11-06 10:00", "", 10),          \
	PX(7, "2026-11-07 10:00", "", 10),          \
	PX(8, "2026-11-08 10:00", "", 10))

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)

static const struct tcase cases[] = {
	/* Arguments. */
	{ CASE("empty list"), KEEP_LAST(10), .pairs = (const struct tpair[]) { {} }, .remove = "" },
	{ CASE("empty list, MinFreeSpace cannot be reached"),
	  .cfg = { .keep_last = 10, .min_free_percent = 10 }, SPACE(1000, 50),
	  .pairs = (const struct tpair[]) { {} }, .remove = "", .space_unreachable = true,
	  .message = "MinFreeSpace=10% cannot be reached: free 5.0% after deleting 0 pairs" },
	{ CASE("duplicate ids"), KEEP_LAST(10),
	  PAIRS(P(1, "2026-11-01 10:00"), P(2, "2026-11-02 10:00"), P(1, "2026-11-03 10:00")),
	  .r = -EINVAL },
	{ CASE("duplicate ids, one incomplete"), KEEP_LAST(10),
	  PAIRS(PX(7, "2026-11-01 10:00", "I", 0), P(7, "2026-11-02 10:00")), .r = -EINVAL },
	{ CASE("MinFreeSpace percent above 100"), .cfg = { .keep_last = 1, .min_free_percent = 101 },
	  SPACE(1000, 10), SIX_DAYS, .r = -EINVAL },
	{ CASE("MinFreeSpace percent and bytes both set"),
	  .cfg = { .keep_last = 1, .min_free_percent = 10, .min_free_bytes = 100 },
	  SPACE(1000, 10), SIX_DAYS, .r = -EINVAL },
	{ CASE("free space above total"), KEEP_LAST(1), SPACE(1000, 1001), SIX_DAYS, .r = -EINVAL },

	/* KeepLast. */
	{ CASE("KeepLast=3, unsorted input"), KEEP_LAST(3), SIX_DAYS, .remove = "1 2 3",
	  REASONS(RX(6, "kept: newest complete pair, KeepLast (1 of 3)"),
		  RX(5, "kept: KeepLast (2 of 3)"),
		  RX(4, "kept: KeepLast (3 of 3)"),
		  RX(1, "delete: not selected by any Keep rule")) },
	{ CASE("KeepLast larger than the list"), KEEP_LAST(10), SIX_DAYS, .remove = "",
	  REASONS(RX(1, "kept: KeepLast (6 of 10)")) },
	{ CASE("KeepLast=3 counts only complete pairs; incomplete ones are kept"), KEEP_LAST(3),
	  PAIRS(P(1, "2026-11-01 10:00"), P(2, "2026-11-02 10:00"), PX(3, "2026-11-03 10:00", "I", 0),
		P(4, "2026-11-04 10:00"), P(5, "2026-11-05 10:00"), PX(6, "2026-11-06 10:00", "I", 0),
		PX(7, "2026-10-01 10:00", "I", 0)),
	  .remove = "1",
	  REASONS(RX(6, "kept: incomplete, cleaned up by the daemon"),
		  RX(7, "kept: incomplete, cleaned up by the daemon"),
		  RX(5, "kept: newest complete pair, KeepLast (1 of 3)"),
		  RX(2, "kept: KeepLast (3 of 3)")) },
	{ CASE("equal timestamps: the higher id is newer"), KEEP_LAST(2),
	  PAIRS(P(3, "2026-11-01 10:00"), P(1, "2026-11-01 10:00"), P(2, "2026-11-01 10:00")),
	  .remove = "1", REASONS(R(3, "newest complete pair")) },
	{ CASE("only incomplete pairs"), KEEP_LAST(1),
	  PAIRS(PX(1, "2026-11-01 10:00", "I", 0), PX(2, "2026-11-02 10:00", "I", 0)), .remove = "" },
	{ CASE("all Keep rules 0: retention disabled"), .cfg = {}, SIX_DAYS, .remove = "",
	  REASONS(RX(6, "kept: newest complete pair, retention disabled (all Keep rules are 0)"),
		  RX(1, "kept: retention disabled (all Keep rules are 0)")) },
	{ CASE("KeepLast=0 keeps nothing by itself"), .cfg = { .keep_daily = 1 },
	  PAIRS(P(1, "2026-11-01 10:00"), P(2, "2026-11-02 08:00"), P(3, "2026-11-02 09:00")),
	  .remove = "1 2", REASONS(RX(3, "kept: newest complete pair, KeepDaily 2026-11-02")) },
	{ CASE("huge limits"), .cfg = { .keep_last = UINT_MAX, .keep_hourly = UINT_MAX, .keep_daily = UINT_MAX,
					.keep_weekly = UINT_MAX, .keep_monthly = UINT_MAX, .keep_yearly = UINT_MAX },
	  SIX_DAYS, .remove = "" },

	/* Pinned and newest. */
	{ CASE("pinned pairs are never deleted"), KEEP_LAST(1),
	  PAIRS(PX(1, "2026-11-01 10:00", "P", 0), P(2, "2026-11-02 10:00"), PX(3, "2026-11-03 10:00", "P", 0),
		P(4, "2026-11-04 10:00")),
	  .remove = "2",
	  REASONS(RX(1, "kept: pinned"), RX(3, "kept: pinned"),
		  RX(4, "kept: newest complete pair, KeepLast (1 of 1)")) },
	{ CASE("a pinned pair takes a KeepLast slot"), KEEP_LAST(2),
	  PAIRS(P(1, "2026-11-01 10:00"), P(2, "2026-11-02 10:00"), PX(3, "2026-11-03 10:00", "P", 0),
		P(4, "2026-11-04 10:00")),
	  .remove = "1 2", REASONS(RX(3, "kept: pinned, KeepLast (2 of 2)")) },
	{ CASE("pinned incomplete pair: incomplete wins"), KEEP_LAST(1),
	  PAIRS(PX(1, "2026-11-01 10:00", "IP", 0), P(2, "2026-11-02 10:00")), .remove = "",
	  REASONS(RX(1, "kept: incomplete, cleaned up by the daemon")) },

	/* KeepHourly. */
	{ CASE("KeepHourly=3 skips hours without pairs"), .cfg = { .keep_hourly = 3 },
	  PAIRS(P(1, "2026-11-24 09:30"), P(2, "2026-11-24 10:05"), P(3, "2026-11-24 10:35"),
		P(4, "2026-11-24 11:50"), P(5, "2026-11-24 13:10"), P(6, "2026-11-24 13:40")),
	  .remove = "1 2 5",
	  REASONS(RX(3, "kept: KeepHourly 2026-11-24 10:00+00:00"),
		  RX(4, "kept: KeepHourly 2026-11-24 11:00+00:00"),
		  RX(6, "kept: newest complete pair, KeepHourly 2026-11-24 13:00+00:00")) },
	{ CASE("KeepHourly=3 across DST fall-back: two 02:xx hours"), .tz = "Europe/Berlin",
	  .cfg = { .keep_hourly = 3 }, FALL_BACK, .remove = "1 2 4",
	  REASONS(RX(3, "kept: KeepHourly 2026-10-25 02:00+02:00"),
		  RX(5, "kept: KeepHourly 2026-10-25 02:00+01:00"),
		  R(6, "KeepHourly 2026-10-25 03:00+01:00")) },
	{ CASE("KeepHourly=4 across DST fall-back"), .tz = "Europe/Berlin",
	  .cfg = { .keep_hourly = 4 }, FALL_BACK, .remove = "2 4",
	  REASONS(RX(1, "kept: KeepHourly 2026-10-25 01:00+02:00")) },
	{ CASE("KeepDaily=1 across DST fall-back: one day"), .tz = "Europe/Berlin",
	  .cfg = { .keep_daily = 1 }, FALL_BACK, .remove = "1 2 3 4 5",
	  REASONS(R(6, "KeepDaily 2026-10-25")) },
	{ CASE("KeepHourly=2 across DST spring-forward"), .tz = "Europe/Berlin",
	  .cfg = { .keep_hourly = 2 }, SPRING_FORWARD, .remove = "1 2 3",
	  REASONS(RX(4, "kept: KeepHourly 2026-03-29 03:00+02:00"),
		  R(5, "KeepHourly 2026-03-29 04:00+02:00")) },
	{ CASE("KeepHourly=3 across DST spring-forward: 01:xx CET precedes 03:xx CEST"),
	  .tz = "Europe/Berlin", .cfg = { .keep_hourly = 3 }, SPRING_FORWARD, .remove = "1 3",
	  REASONS(RX(2, "kept: KeepHourly 2026-03-29 01:00+01:00")) },
	{ CASE("KeepHourly in a half-hour zone"), .tz = "Asia/Kolkata", .cfg = { .keep_hourly = 2 },
	  PAIRS(P(1, "2026-11-24 09:20"), /* 14:50 IST */ P(2, "2026-11-24 09:40"), /* 15:10 */
		P(3, "2026-11-24 10:20") /* 15:50 */),
	  .remove = "2",
	  REASONS(RX(1, "kept: KeepHourly 2026-11-24 14:00+05:30"),
		  RX(3, "kept: newest complete pair, KeepHourly 2026-11-24 15:00+05:30")) },

	/* KeepDaily. */
	{ CASE("KeepDaily=3 across a leap day, Berlin"), .tz = "Europe/Berlin", .cfg = { .keep_daily = 3 },
	  LEAP_DAY, .remove = "1 3 5",
	  REASONS(RX(2, "kept: KeepDaily 2028-02-28"), RX(4, "kept: KeepDaily 2028-02-29"),
		  R(6, "KeepDaily 2028-03-01")) },
	{ CASE("KeepDaily=3 across a leap day, UTC"), .cfg = { .keep_daily = 3 }, LEAP_DAY, .remove = "1 3 4",
	  REASONS(RX(5, "kept: KeepDaily 2028-02-29")) },
	{ CASE("KeepDaily=2 across a month boundary"), .cfg = { .keep_daily = 2 },
	  PAIRS(P(1, "2026-01-30 12:00"), P(2, "2026-01-31 08:00"), P(3, "2026-01-31 20:00"),
		P(4, "2026-02-01 09:00")),
	  .remove = "1 2", REASONS(RX(3, "kept: KeepDaily 2026-01-31")) },
	{ CASE("KeepDaily=2: the 25-hour day is one day"), .tz = "Europe/Berlin", .cfg = { .keep_daily = 2 },
	  PAIRS(P(1, "2026-10-24 21:00"), /* Oct 24 23:00 CEST */ P(2, "2026-10-24 22:30"), /* Oct 25 00:30 CEST */
		P(3, "2026-10-25 12:00"), /* 13:00 CET */ P(4, "2026-10-25 22:30") /* 23:30 CET */),
	  .remove = "2 3", REASONS(RX(1, "kept: KeepDaily 2026-10-24")) },

	/* KeepWeekly. */
	{ CASE("KeepWeekly=2: 2026-W53 spans the year boundary"), .cfg = { .keep_weekly = 2 }, YEAR_END_2026,
	  .remove = "1 2 3",
	  REASONS(RX(4, "kept: KeepWeekly 2026-W53"), R(5, "KeepWeekly 2027-W01")) },
	{ CASE("KeepWeekly=3 across the year boundary"), .cfg = { .keep_weekly = 3 }, YEAR_END_2026,
	  .remove = "1 3", REASONS(RX(2, "kept: KeepWeekly 2026-W52")) },
	{ CASE("KeepWeekly=2: 2025-W01 starts on 2024-12-30"), .cfg = { .keep_weekly = 2 },
	  PAIRS(P(1, "2024-12-27 12:00"), P(2, "2024-12-29 12:00"), P(3, "2024-12-30 12:00"),
		P(4, "2025-01-03 12:00")),
	  .remove = "1 3",
	  REASONS(RX(2, "kept: KeepWeekly 2024-W52"), R(4, "KeepWeekly 2025-W01")) },
	{ CASE("KeepWeekly=2, Sunday night, Berlin"), .tz = "Europe/Berlin", .cfg = { .keep_weekly = 2 },
	  SUNDAY_NIGHT, .remove = "2", REASONS(RX(1, "kept: KeepWeekly 2026-W48")) },
	{ CASE("KeepWeekly=2, Sunday night, UTC"), .cfg = { .keep_weekly = 2 }, SUNDAY_NIGHT, .remove = "1",
	  REASONS(RX(2, "kept: KeepWeekly 2026-W48")) },

	/* KeepMonthly, KeepYearly. */
	{ CASE("KeepMonthly=3, Berlin"), .tz = "Europe/Berlin", .cfg = { .keep_monthly = 3 }, MONTH_EDGES,
	  .remove = "1 2",
	  REASONS(R(4, "KeepMonthly 2026-04"), RX(5, "kept: KeepMonthly 2026-03"),
		  RX(3, "kept: KeepMonthly 2026-02")) },
	{ CASE("KeepMonthly=3, UTC"), .cfg = { .keep_monthly = 3 }, MONTH_EDGES, .remove = "1 5",
	  REASONS(R(4, "KeepMonthly 2026-03"), RX(2, "kept: KeepMonthly 2026-01")) },
	{ CASE("KeepYearly=2, Berlin"), .tz = "Europe/Berlin", .cfg = { .keep_yearly = 2 }, YEAR_EDGES,
	  .remove = "1 2", REASONS(RX(3, "kept: KeepYearly 2026")) },
	{ CASE("KeepYearly=3, Berlin"), .tz = "Europe/Berlin", .cfg = { .keep_yearly = 3 }, YEAR_EDGES,
	  .remove = "2", REASONS(RX(1, "kept: KeepYearly 2025")) },
	{ CASE("KeepYearly=3, UTC"), .cfg = { .keep_yearly = 3 }, YEAR_EDGES,
	  .remove = "1", REASONS(RX(2, "kept: KeepYearly 2025")) },

	/* Combined. */
	{ CASE("KeepLast=2 + KeepDaily=2 + KeepMonthly=2"),
	  .cfg = { .keep_last = 2, .keep_daily = 2, .keep_monthly = 2 },
	  PAIRS(P(5, "2026-10-30 18:00"), P(1, "2026-09-10 10:00"), P(7, "2026-10-31 11:00"),
		P(2, "2026-09-20 10:00"), P(4, "2026-10-30 08:00"), P(3, "2026-10-01 10:00"),
		P(6, "2026-10-31 09:00")),
	  .remove = "1 3 4",
	  REASONS(RX(7, "kept: newest complete pair, KeepLast (1 of 2), KeepDaily 2026-10-31, KeepMonthly 2026-10"),
		  RX(6, "kept: KeepLast (2 of 2)"),
		  RX(5, "kept: KeepDaily 2026-10-30"),
		  RX(2, "kept: KeepMonthly 2026-09")) },
	{ CASE("every period rule at 1 keeps only the newest pair"),
	  .cfg = { .keep_hourly = 1, .keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1, .keep_yearly = 1 },
	  SIX_DAYS, .remove = "1 2 3 4 5",
	  REASONS(RX(6, "kept: newest complete pair, KeepHourly 2026-11-06 10:00+00:00, KeepDaily 2026-11-06, "
		     "KeepWeekly 2026-W45, KeepMonthly 2026-11, KeepYearly 2026")) },

	/* MinFreeSpace. */
	{ CASE("MinFreeSpace=10% deletes one more pair"), .cfg = { .keep_last = 5, .min_free_percent = 10 },
	  SPACE(1000, 60), EIGHT_SMALL, .remove = "1 2 3 4",
	  REASONS(RX(4, "delete: MinFreeSpace (free 9.0% < 10%), overrides KeepLast (5 of 5)"),
		  RX(3, "delete: not selected by any Keep rule")),
	  .check_free_after = true, .free_after = 100 },
	{ CASE("MinFreeSpace=10% reached by the count rules"), .cfg = { .keep_last = 5, .min_free_percent = 10 },
	  SPACE(1000, 70), EIGHT_SMALL, .remove = "1 2 3", .check_free_after = true, .free_after = 100 },
	{ CASE("MinFreeSpace=10% without a space view is not applied"),
	  .cfg = { .keep_last = 5, .min_free_percent = 10 }, EIGHT_SMALL, .remove = "1 2 3" },
	{ CASE("MinFreeSpace=10% rounds up: 100 of 1001 bytes is below 10%"),
	  .cfg = { .keep_last = 10, .min_free_percent = 10 }, SPACE(1001, 100), EIGHT_SMALL, .remove = "1",
	  REASONS(RX(1, "delete: MinFreeSpace (free 9.9% < 10%), overrides KeepLast (8 of 10)")) },
	{ CASE("MinFreeSpace=1G with retention disabled, pinned oldest skipped"),
	  .cfg = { .min_free_bytes = GiB }, SPACE(10 * GiB, 512 * MiB),
	  PAIRS(PX(1, "2026-11-01 10:00", "P", 256 * MiB), PX(2, "2026-11-02 10:00", "", 256 * MiB),
		PX(3, "2026-11-03 10:00", "", 256 * MiB), PX(4, "2026-11-04 10:00", "", 256 * MiB),
		PX(5, "2026-11-05 10:00", "", 256 * MiB)),
	  .remove = "2 3",
	  REASONS(RX(1, "kept: pinned, retention disabled (all Keep rules are 0)"),
		  RX(2, "delete: MinFreeSpace (free 512M < 1G)"),
		  RX(3, "delete: MinFreeSpace (free 768M < 1G)"),
		  RX(4, "kept: retention disabled (all Keep rules are 0)")),
	  .check_free_after = true, .free_after = GiB },
	{ CASE("MinFreeSpace=1536M shown with a fraction"), .cfg = { .keep_last = 10, .min_free_bytes = 1536 * MiB },
	  SPACE(10 * GiB, GiB + 100 * MiB),
	  PAIRS(PX(1, "2026-11-01 10:00", "", GiB), PX(2, "2026-11-02 10:00", "", GiB)),
	  .remove = "1", REASONS(RX(1, "delete: MinFreeSpace (free 1.0G < 1.5G), overrides KeepLast (2 of 10)")) },
	{ CASE("MinFreeSpace cannot be reached: newest, pinned and incomplete stay"),
	  .cfg = { .keep_last = 4, .min_free_percent = 50 }, SPACE(1000, 10),
	  PAIRS(PX(1, "2026-11-01 10:00", "", 10), PX(2, "2026-11-02 10:00", "", 10),
		PX(3, "2026-11-03 10:00", "P", 10), PX(4, "2026-11-04 10:00", "", 10),
		PX(5, "2026-11-05 10:00", "", 10), PX(6, "2026-11-06 10:00", "I", 10)),
	  .remove = "1 2 4",
	  REASONS(RX(2, "delete: MinFreeSpace (free 2.0% < 50%), overrides KeepLast (4 of 4)"),
		  RX(4, "delete: MinFreeSpace (free 3.0% < 50%), overrides KeepLast (2 of 4)"),
		  RX(5, "kept: newest complete pair, KeepLast (1 of 4)"),
		  RX(3, "kept: pinned, KeepLast (3 of 4)"),
		  RX(6, "kept: incomplete, cleaned up by the daemon")),
	  .space_unreachable = true,
	  .message = "MinFreeSpace=50% cannot be reached: free 4.0% after deleting 3 pairs (2 for MinFreeSpace), "
		     "nothing else may be deleted",
	  .check_free_after = true, .free_after = 40 },
	{ CASE("MinFreeSpace in bytes cannot be reached"), .cfg = { .keep_last = 1, .min_free_bytes = 2 * GiB },
	  SPACE(GiB, 0), PAIRS(PX(1, "2026-11-01 10:00", "", 100), PX(2, "2026-11-02 10:00", "", 100)),
	  .remove = "1", .space_unreachable = true,
	  .message = "MinFreeSpace=2G cannot be reached: free 100B after deleting 1 pair (0 for MinFreeSpace)" },
	{ CASE("MinFreeSpace: byte counts saturate"), .cfg = { .keep_last = 10, .min_free_percent = 100 },
	  SPACE(UINT64_MAX, UINT64_MAX - 5),
	  PAIRS(PX(1, "2026-11-01 10:00", "", UINT64_MAX), PX(2, "2026-11-02 10:00", "", UINT64_MAX),
		PX(3, "2026-11-03 10:00", "", UINT64_MAX)),
	  .remove = "1", .check_free_after = true, .free_after = UINT64_MAX },
	{ CASE("MinFreeSpace=0 bytes total"), .cfg = { .keep_last = 1, .min_free_percent = 10 }, SPACE(0, 0),
	  EIGHT_SMALL, .remove = "1 2 3 4 5 6 7" },
};

/* ---- the runner ---- */

static size_t build_pairs(const struct tpair *t, struct retention_pair **ret) {
	size_t n = 0;
	struct retention_pair *p;

	while (t[n].utc)
		n++;
	p = calloc(n + 1, sizeof *p);
	if (!p)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = (struct retention_pair) {
			.id = t[i].id,
			.created_usec = utc(t[i].utc),
			.complete = !(t[i].flags && strchr(t[i].flags, 'I')),
			.pinned = t[i].flags && strchr(t[i].flags, 'P'),
			.bytes = t[i].bytes,
		};
	*ret = p;
	return n;
}

/* Properties every result must have, whatever the rules. */
static void check_invariants(const struct retention_pair *pairs, size_t n, const struct retention_result *res) {
	const struct retention_pair *newest = NULL;
	size_t n_remove = 0;

	for (size_t i = 0; i < n; i++)
		if (pairs[i].complete &&
		    (!newest || pairs[i].created_usec > newest->created_usec ||
		     (pairs[i].created_usec == newest->created_usec && pairs[i].id > newest->id)))
			newest = &pairs[i];

	ASSERT_EQ_U(res->n_decisions, n);
	for (size_t i = 0; i < n; i++) {
		const struct retention_decision *d = &res->decisions[i];

		ASSERT_EQ_U(d->id, pairs[i].id); /* input order */
		ASSERT_NOT_NULL(d->reason);
		if (d->remove)
			ASSERT_TRUE(strncmp(d->reason, "delete: ", 8) == 0);
		else
			ASSERT_TRUE(strncmp(d->reason, "kept: ", 6) == 0);
		if (!pairs[i].complete) {
			ASSERT_FALSE(d->remove);
			ASSERT_STREQ(d->reason, "kept: incomplete, cleaned up by the daemon");
		}
		if (pairs[i].pinned)
			ASSERT_FALSE(d->remove);
		if (&pairs[i] == newest)
			ASSERT_FALSE(d->remove);
		n_remove += d->remove;
	}
	ASSERT_EQ_U(res->n_remove, n_remove);
	ASSERT_EQ(res->space_ok, !res->message);
}

/* The same pairs in another order must get the same decisions. */
static void check_order_independent(const struct tcase *c, const struct retention_pair *pairs, size_t n,
				    const struct retention_result *expected) {
	for (unsigned variant = 0; variant < 2 && n > 1; variant++) {
		_cleanup_free_ struct retention_pair *other = calloc(n, sizeof *other);
		_cleanup_(retention_result_done) struct retention_result res = {};

		ASSERT_NOT_NULL(other);
		for (size_t i = 0; i < n; i++)
			other[i] = variant == 0 ? pairs[n - 1 - i] /* reversed */ : pairs[(i + n / 2) % n] /* rotated */;

		ASSERT_OK(retention_decide(&c->cfg, other, n, c->space, &res));
		ASSERT_EQ_U(res.n_decisions, n);
		for (size_t i = 0; i < n; i++) {
			const struct retention_decision *d = &res.decisions[i], *e = find_decision(expected, d->id);

			ASSERT_EQ_U(d->id, other[i].id);
			ASSERT_NOT_NULL(e);
			ASSERT_EQ(d->remove, e->remove);
			ASSERT_STREQ(d->reason, e->reason);
		}
		ASSERT_EQ(res.space_ok, expected->space_ok);
		ASSERT_STREQ(res.message, expected->message);
	}
}

static void check_case(const struct tcase *c, const struct retention_pair *pairs, size_t n,
		       const struct retention_result *res) {
	check_invariants(pairs, n, res);
	if (test_current_failed)
		return;

	for (size_t i = 0; i < n; i++) {
		const struct retention_decision *d = &res->decisions[i];

		ASSERT_EQ(d->remove, id_in_list(c->remove, d->id));
	}
	for (const char *p = c->remove; p && *p;) {
		char *end;
		uint64_t id = strtoull(p, &end, 10);

		ASSERT_NOT_NULL(find_decision(res, id)); /* the table names a pair it does not have */
		p = end + strspn(end, " ");
	}

	for (const struct treason *t = c->reasons; t && t->text; t++) {
		const struct retention_decision *d = find_decision(res, t->id);

		ASSERT_NOT_NULL(d);
		if (t->exact)
			ASSERT_STREQ(d->reason, t->text);
		else
			ASSERT_NOT_NULL(strstr(d->reason, t->text));
	}

	ASSERT_EQ(res->space_ok, !c->space_unreachable);
	ASSERT_EQ(res->space_checked, c->space && (c->cfg.min_free_percent || c->cfg.min_free_bytes));
	if (c->message) {
		ASSERT_NOT_NULL(res->message);
		ASSERT_NOT_NULL(strstr(res->message, c->message));
	} else
		ASSERT_NULL(res->message);
	if (c->check_free_after)
		ASSERT_EQ_U(res->free_bytes_after, c->free_after);

	check_order_independent(c, pairs, n, res);
}

static void check_failing_case(const struct tcase *c, const struct retention_pair *pairs, size_t n) {
	struct retention_result res, untouched;

	memset(&res, 0x5a, sizeof res);
	untouched = res;
	ASSERT_ERROR(retention_decide(&c->cfg, pairs, n, c->space, &res), -c->r);
	ASSERT_TRUE(memcmp(&res, &untouched, sizeof res) == 0); /* untouched on failure */
}

static void run_case(const struct tcase *c) {
	_cleanup_free_ struct retention_pair *pairs = NULL;
	_cleanup_(retention_result_done) struct retention_result res = {};
	bool failed_before = test_current_failed;
	size_t n;
	int r = 0;

	test_current_failed = false;
	set_tz(c->tz ?: "UTC");
	n = build_pairs(c->pairs, &pairs);

	if (c->r < 0)
		check_failing_case(c, pairs, n);
	else {
		r = retention_decide(&c->cfg, pairs, n, c->space, &res);
		if (r < 0)
			fprintf(stderr, "%s:%d: retention_decide() failed: %s\n", __FILE__, __LINE__, strerror(-r));
		test_current_failed = test_current_failed || r < 0;
		if (r >= 0)
			check_case(c, pairs, n, &res);
	}

	printf("  %s %s\n", test_current_failed ? "FAIL" : "ok  ", c->name);
	if (test_current_failed) {
		fprintf(stderr, "  in row \"%s\" at %s:%d (TZ=%s)\n", c->name, __FILE__, c->line, c->tz ?: "UTC");
		for (size_t i = 0; i < res.n_decisions; i++)
			fprintf(stderr, "    pair %" PRIu64 ": %s\n", res.decisions[i].id, res.decisions[i].reason);
		if (res.message)
			fprintf(stderr, "    message: %s\n", res.message);
	}
	test_current_failed = test_current_failed || failed_before;
}

TEST(table) {
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		run_case(&cases[i]);
	printf("  %zu rows\n", ELEMENTSOF(cases));
}

/* ---- generated checks ---- */

static void strftime_period(enum retention_period p, const struct tm *tm, char ret[static RETENTION_PERIOD_LABEL_MAX]) {
	switch (p) {
	case RETENTION_DAILY:
		strftime(ret, RETENTION_PERIOD_LABEL_MAX, "%Y-%m-%d", tm);
		break;
	case RETENTION_WEEKLY:
		strftime(ret, RETENTION_PERIOD_LABEL_MAX, "%G-W%V", tm); /* ISO 8601 year and week */
		break;
	case RETENTION_MONTHLY:
		strftime(ret, RETENTION_PERIOD_LABEL_MAX, "%Y-%m", tm);
		break;
	case RETENTION_YEARLY:
		strftime(ret, RETENTION_PERIOD_LABEL_MAX, "%Y", tm);
		break;
	default:
		abort();
	}
}

/* Day, ISO week, month and year labels agree with strftime() for every day of 1902..2100. */
TEST(period_labels_daily) {
	static const enum retention_period periods[] = {
		RETENTION_DAILY, RETENTION_WEEKLY, RETENTION_MONTHLY, RETENTION_YEARLY,
	};

	set_tz("UTC");
	for (int64_t t = utc("1902-01-01 12:00") / 1000000; t < utc("2101-01-01 00:00") / 1000000; t += 86400) {
		time_t tt = (time_t) t;
		struct tm tm;

		ASSERT_NOT_NULL(gmtime_r(&tt, &tm));
		for (size_t i = 0; i < ELEMENTSOF(periods); i++) {
			char label[RETENTION_PERIOD_LABEL_MAX], want[RETENTION_PERIOD_LABEL_MAX];

			ASSERT_OK(retention_period_label(periods[i], t * 1000000, label));
			strftime_period(periods[i], &tm, want);
			ASSERT_STREQ(label, want);
		}
	}
}

/* Hour labels carry the UTC offset: every half hour of 2026 in Berlin, both DST changes. */
TEST(period_labels_hourly) {
	set_tz("Europe/Berlin");
	for (int64_t t = utc("2026-01-01 00:00") / 1000000; t < utc("2027-01-01 00:00") / 1000000; t += 1800) {
		char label[RETENTION_PERIOD_LABEL_MAX], want[RETENTION_PERIOD_LABEL_MAX], z[16];
		time_t tt = (time_t) t;
		struct tm tm;

		ASSERT_NOT_NULL(localtime_r(&tt, &tm));
		strftime(z, sizeof z, "%z", &tm); /* "+0100" */
		snprintf(want, sizeof want, "%04d-%02d-%02d %02d:00%.3s:%s", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, z, z + 3);
		ASSERT_OK(retention_period_label(RETENTION_HOURLY, t * 1000000, label));
		ASSERT_STREQ(label, want);
	}
}

TEST(period_labels_edges) {
	char label[RETENTION_PERIOD_LABEL_MAX];

	set_tz("UTC");
	/* ISO weeks at year boundaries, written out (the generated check above compares with
	 * strftime(), which the code now uses too). */
	static const struct {
		const char *when, *week;
	} weeks[] = {
		{ "2020-12-31 12:00", "2020-W53" }, /* Thursday: 2020 has 53 weeks */
		{ "2021-01-03 23:59", "2020-W53" }, /* Sunday: still the last week of 2020 */
		{ "2021-01-04 00:00", "2021-W01" },
		{ "2024-12-29 23:59", "2024-W52" },
		{ "2024-12-30 00:00", "2025-W01" }, /* Monday: week 1 of 2025 starts in 2024 */
		{ "2026-01-01 00:00", "2026-W01" },
		{ "2027-01-03 12:00", "2026-W53" },
		{ "2010-01-03 12:00", "2009-W53" },
		{ "2000-02-29 12:00", "2000-W09" },
	};
	for (size_t i = 0; i < ELEMENTSOF(weeks); i++) {
		ASSERT_OK(retention_period_label(RETENTION_WEEKLY, utc(weeks[i].when), label));
		ASSERT_STREQ(label, weeks[i].week);
	}
	/* Before the epoch, a µs value rounds towards the past. */
	ASSERT_OK(retention_period_label(RETENTION_DAILY, -1, label));
	ASSERT_STREQ(label, "1969-12-31");
	ASSERT_OK(retention_period_label(RETENTION_HOURLY, -1, label));
	ASSERT_STREQ(label, "1969-12-31 23:00+00:00");
	ASSERT_OK(retention_period_label(RETENTION_YEARLY, 0, label));
	ASSERT_STREQ(label, "1970");
	ASSERT_OK(retention_period_label(RETENTION_YEARLY, INT64_MAX, label));
	ASSERT_STREQ(label, "294247");
	ASSERT_OK(retention_period_label(RETENTION_WEEKLY, INT64_MIN, label));
	ASSERT_ERROR(retention_period_label(_RETENTION_PERIOD_MAX, 0, label), EINVAL);
	ASSERT_ERROR(retention_period_label((enum retention_period) -1, 0, label), EINVAL);
}

/* The DESIGN.md example config on hourly pairs over 116 days (UTC): Aug 1 00:00 .. Nov 24 23:00. */
TEST(design_defaults) {
	const struct retention_config cfg = {
		.keep_last = 10, .keep_hourly = 24, .keep_daily = 7, .keep_weekly = 4, .keep_monthly = 6,
		.min_free_percent = 10,
	};
	const struct retention_space space = { .total_bytes = 100000, .free_bytes = 50000 };
	const size_t n = 116 * 24;
	_cleanup_free_ struct retention_pair *pairs = calloc(n, sizeof *pairs);
	_cleanup_(retention_result_done) struct retention_result res = {};
	int64_t start = utc("2026-08-01 00:00");
	static const struct {
		const char *when;
		const char *reason;
	} expect[] = {
		{ "2026-11-24 23:00", "kept: newest complete pair, KeepLast (1 of 10), KeepHourly 2026-11-24 23:00+00:00, "
				      "KeepDaily 2026-11-24, KeepWeekly 2026-W48, KeepMonthly 2026-11" },
		{ "2026-11-24 14:00", "kept: KeepLast (10 of 10), KeepHourly 2026-11-24 14:00+00:00" },
		{ "2026-11-24 13:00", "kept: KeepHourly 2026-11-24 13:00+00:00" },
		{ "2026-11-24 00:00", "kept: KeepHourly 2026-11-24 00:00+00:00" },
		{ "2026-11-23 23:00", "kept: KeepDaily 2026-11-23" },
		{ "2026-11-23 22:00", "delete: not selected by any Keep rule" },
		{ "2026-11-22 23:00", "kept: KeepDaily 2026-11-22, KeepWeekly 2026-W47" },
		{ "2026-11-18 23:00", "kept: KeepDaily 2026-11-18" },
		{ "2026-11-17 23:00", "delete: not selected by any Keep rule" },
		{ "2026-11-15 23:00", "kept: KeepWeekly 2026-W46" },
		{ "2026-11-08 23:00", "kept: KeepWeekly 2026-W45" },
		{ "2026-11-01 23:00", "delete: not selected by any Keep rule" },
		{ "2026-10-31 23:00", "kept: KeepMonthly 2026-10" },
		{ "2026-08-31 23:00", "kept: KeepMonthly 2026-08" },
		{ "2026-08-01 00:00", "delete: not selected by any Keep rule" },
	};
	size_t kept = 0;

	ASSERT_NOT_NULL(pairs);
	set_tz("UTC");
	for (size_t i = 0; i < n; i++)
		pairs[i] = (struct retention_pair) {
			.id = 1000 + i, .created_usec = start + (int64_t) i * 3600 * 1000000, .complete = true, .bytes = 1,
		};

	ASSERT_OK(retention_decide(&cfg, pairs, n, &space, &res));
	check_invariants(pairs, n, &res);
	for (size_t i = 0; i < res.n_decisions; i++)
		kept += !res.decisions[i].remove;
	/* 24 hours of Nov 24 (covering KeepLast) + 6 more days + 2 more weeks + 3 more months. */
	ASSERT_EQ_U(kept, 35);
	ASSERT_TRUE(res.space_checked);
	ASSERT_TRUE(res.space_ok);
	ASSERT_NULL(res.message);
	ASSERT_EQ_U(res.free_bytes_after, 50000 + n - 35);

	for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
		size_t idx = (size_t) ((utc(expect[i].when) - start) / (3600 * 1000000LL));

		ASSERT_STREQ(res.decisions[idx].reason, expect[i].reason);
	}
}

TEST(bad_arguments) {
	const struct retention_config cfg = { .keep_last = 1 };
	const struct retention_pair pair = { .id = 1, .complete = true };
	struct retention_result res = {};

	ASSERT_ERROR(retention_decide(NULL, &pair, 1, NULL, &res), EINVAL);
	ASSERT_ERROR(retention_decide(&cfg, &pair, 1, NULL, NULL), EINVAL);
	ASSERT_ERROR(retention_decide(&cfg, NULL, 1, NULL, &res), EINVAL);
	ASSERT_NULL(res.decisions);
	ASSERT_NULL(res.message);

	ASSERT_OK(retention_decide(&cfg, NULL, 0, NULL, &res));
	ASSERT_EQ_U(res.n_decisions, 0);
	ASSERT_TRUE(res.space_ok);
	ASSERT_FALSE(res.space_checked);
	retention_result_done(&res);
	retention_result_done(&res); /* a done result can be done again */
	retention_result_done(NULL);

	ASSERT_OK(retention_decide(&cfg, &pair, 1, NULL, &res));
	ASSERT_EQ_U(res.n_decisions, 1);
	ASSERT_FALSE(res.decisions[0].remove);
	retention_result_done(&res);
	ASSERT_NULL(res.decisions);
	ASSERT_EQ_U(res.n_decisions, 0);
}

TEST_MAIN()
