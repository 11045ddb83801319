/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Retention policy: which pairs of one container to delete. A pure function of its inputs (the
 * list of pairs, the [Retention] settings and, optionally, a view of the filesystem's space): no
 * I/O, no clock reads. The only process state it reads is the local time zone (localtime_r(), as
 * last loaded by tzset()), because calendar periods are periods of local time.
 *
 * Rules, modelled on snapper's number, timeline and free-space cleanup:
 *
 *  - Only complete pairs take part. Incomplete pairs are always kept ("kept: incomplete, cleaned
 *    up by the daemon"): removing leftovers of failed jobs is the daemon's business.
 *  - Complete pairs are ordered newest first by created_usec; on equal timestamps the higher id
 *    counts as newer. The rules need no "now": they look at the most recent pairs, however old.
 *  - KeepLast=N keeps the N newest complete pairs.
 *  - KeepHourly/Daily/Weekly/Monthly/Yearly=N: for each of the N most recent periods that contain
 *    at least one complete pair, the newest pair of that period is kept. Periods are calendar
 *    periods of local time: hour (date, hour and UTC offset, so the two 02:xx hours of a DST
 *    fall-back night are two hours), day, ISO 8601 week (ISO week-numbering year + week), month,
 *    year. A day or week that contains a DST change is still one period.
 *  - A pair kept by any rule is kept. Pinned complete pairs count like any other for KeepLast and
 *    the periods (they take a slot), and are always kept.
 *  - A rule set to 0 keeps nothing. If all of them are 0, retention is disabled: the count rules
 *    delete nothing.
 *  - The newest complete pair and pinned pairs are never deleted, by any rule.
 *  - MinFreeSpace= (percent of total or bytes), applied only when a space view is given: after
 *    the count rules, while free_bytes plus the bytes of all pairs chosen for deletion is below
 *    the minimum, the oldest remaining deletable complete pair is deleted too. If that cannot
 *    reach the minimum, every deletable pair is deleted and the result says so (space_ok = false
 *    and a message).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* struct retention_config */

struct retention_pair {
	uint64_t id;          /* unique within the list */
	int64_t created_usec; /* creation time, µs since the epoch (UTC) */
	bool complete;        /* pair.json says "state": "complete" */
	bool pinned;          /* the user asked to keep this pair */
	uint64_t bytes;       /* space its deletion frees (images + exclusive snapshot data) */
};

/* The filesystem holding the pairs, e.g. from statvfs(): f_blocks and f_bavail times f_frsize. */
struct retention_space {
	uint64_t total_bytes;
	uint64_t free_bytes; /* must not exceed total_bytes */
};

struct retention_decision {
	uint64_t id;  /* the pair's id */
	bool remove;  /* delete this pair */
	char *reason; /* owned by the result; "kept: ..." or "delete: ...", for logs and --dry-run,
	               * e.g. "kept: newest complete pair, KeepLast (1 of 10), KeepDaily 2026-11-24"
	               * or "delete: MinFreeSpace (free 4.0% < 10%)" */
};

struct retention_result {
	struct retention_decision *decisions; /* one per input pair, in input order */
	size_t n_decisions;
	size_t n_remove;              /* how many decisions have remove set */
	bool space_checked;           /* MinFreeSpace= is set and a space view was given */
	bool space_ok;                /* false only if space_checked and the minimum cannot be
	                               * reached even after deleting every deletable pair */
	uint64_t min_free_bytes;      /* the minimum in bytes (when space_checked) */
	uint64_t free_bytes_after;    /* free_bytes + bytes of all deleted pairs (when a space view
	                               * was given; an estimate: it trusts the pairs' bytes) */
	char *message;                /* NULL, or why the minimum cannot be reached, e.g.
	                               * "MinFreeSpace=10% cannot be reached: free 4.1% after deleting
	                               * 3 pairs (2 for MinFreeSpace), nothing else may be deleted" */
};

/* Decides for each of the n pairs (any order) whether to keep or delete it; see the rules above.
 * space may be NULL (MinFreeSpace= is then not applied). On success fills *ret, which the caller
 * releases with retention_result_done(). Returns 0, or -EINVAL for bad arguments (duplicate ids;
 * MinFreeSpace percent above 100 or both percent and bytes set; free_bytes > total_bytes), or
 * -ENOMEM. *ret is untouched on failure. */
int retention_decide(
		const struct retention_config *cfg,
		const struct retention_pair *pairs,
		size_t n,
		const struct retention_space *space,
		struct retention_result *ret);

/* Frees what retention_decide() put into r and zeroes it; accepts a zeroed struct, so it can be
 * used as _cleanup_(retention_result_done) on a "struct retention_result r = {};". */
void retention_result_done(struct retention_result *r);

enum retention_period {
	RETENTION_HOURLY,
	RETENTION_DAILY,
	RETENTION_WEEKLY,
	RETENTION_MONTHLY,
	RETENTION_YEARLY,
	_RETENTION_PERIOD_MAX,
};

#define RETENTION_PERIOD_LABEL_MAX 64

/* The local-time period that contains usec, as the label used in reasons; two instants are in
 * the same period exactly when their labels are equal. Hour "2026-10-25 02:00+02:00" (with the
 * UTC offset), day "2026-11-24", week "2026-W53" (ISO 8601), month "2026-11", year "2026".
 * Returns 0, or -EINVAL for an unknown period, -EOVERFLOW if usec cannot be converted. */
int retention_period_label(enum retention_period period, int64_t usec, char ret[static RETENTION_PERIOD_LABEL_MAX]);
