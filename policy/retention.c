/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Retention policy; see retention.h for the rules. Pure: no I/O, no clock. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "retention.h"

static const char *const period_key[_RETENTION_PERIOD_MAX] = {
	[RETENTION_HOURLY] = "KeepHourly",
	[RETENTION_DAILY] = "KeepDaily",
	[RETENTION_WEEKLY] = "KeepWeekly",
	[RETENTION_MONTHLY] = "KeepMonthly",
	[RETENTION_YEARLY] = "KeepYearly",
};

/* What the rules decided for one pair. */
struct pair_state {
	bool newest;                           /* the newest complete pair */
	unsigned last_rank;                    /* 1-based rank for KeepLast, 0 = not kept by it */
	bool by_period[_RETENTION_PERIOD_MAX]; /* newest pair of one of the N latest periods */
	bool remove;
	bool by_space;                         /* removed by MinFreeSpace */
	uint64_t free_before;                  /* free bytes when MinFreeSpace chose it */
};

/* A complete pair in time order. */
struct sort_item {
	int64_t created_usec;
	uint64_t id;
	size_t index; /* into the input array */
};

static int sort_item_compare_newest_first(const void *a, const void *b) {
	const struct sort_item *x = a, *y = b;

	if (x->created_usec != y->created_usec)
		return x->created_usec > y->created_usec ? -1 : 1;
	if (x->id != y->id)
		return x->id > y->id ? -1 : 1;
	return 0;
}

static int uint64_compare(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static uint64_t add_saturating(uint64_t a, uint64_t b) {
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

_printf_(2, 3)
static int strextend(char **s, const char *format, ...) {
	_cleanup_free_ char *piece = NULL;
	va_list ap;
	char *joined;
	int r;

	va_start(ap, format);
	r = vasprintf(&piece, format, ap);
	va_end(ap);
	if (r < 0) {
		piece = NULL;
		return -ENOMEM;
	}

	if (!*s) {
		*s = TAKE_PTR(piece);
		return 0;
	}
	if (asprintf(&joined, "%s%s", *s, piece) < 0)
		return -ENOMEM;
	free(*s);
	*s = joined;
	return 0;
}

static int usec_to_local_tm(int64_t usec, struct tm *ret) {
	int64_t sec = usec / 1000000;
	time_t t;

	if (usec % 1000000 < 0)
		sec--; /* round towards the past */
	t = (time_t) sec;
	if ((int64_t) t != sec)
		return -EOVERFLOW;
	if (!localtime_r(&t, ret))
		return -EOVERFLOW;
	return 0;
}

int retention_period_label(enum retention_period period, int64_t usec, char ret[static RETENTION_PERIOD_LABEL_MAX]) {
	struct tm tm;
	int year, off, n, r;

	if (period < 0 || period >= _RETENTION_PERIOD_MAX)
		return -EINVAL;

	r = usec_to_local_tm(usec, &tm);
	if (r < 0)
		return r;
	if (tm.tm_year > INT_MAX - 1900)
		return -EOVERFLOW;
	year = tm.tm_year + 1900;

	switch (period) {
	case RETENTION_HOURLY:
		/* The UTC offset is part of the hour: a DST fall-back night has two 02:xx hours. */
		if (tm.tm_gmtoff <= -100 * 3600 || tm.tm_gmtoff >= 100 * 3600)
			return -EOVERFLOW;
		off = (int) (tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff);
		n = snprintf(ret, RETENTION_PERIOD_LABEL_MAX, "%04d-%02d-%02d %02d:00%c%02d:%02d",
			     year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			     tm.tm_gmtoff < 0 ? '-' : '+', off / 3600, off / 60 % 60);
		if (off % 60 != 0 && n > 0 && n < RETENTION_PERIOD_LABEL_MAX) /* historical local mean time */
			snprintf(ret + n, RETENTION_PERIOD_LABEL_MAX - n, ":%02d", off % 60);
		break;
	case RETENTION_DAILY:
		snprintf(ret, RETENTION_PERIOD_LABEL_MAX, "%04d-%02d-%02d", year, tm.tm_mon + 1, tm.tm_mday);
		break;
	case RETENTION_WEEKLY:
		/* ISO 8601 week-numbering year and week (a year's last days may be week 1 of the next,
		 * its first days week 52 or 53 of the previous). */
		if (strftime(ret, RETENTION_PERIOD_LABEL_MAX, "%G-W%V", &tm) == 0)
			return -EOVERFLOW;
		break;
	case RETENTION_MONTHLY:
		snprintf(ret, RETENTION_PERIOD_LABEL_MAX, "%04d-%02d", year, tm.tm_mon + 1);
		break;
	case RETENTION_YEARLY:
		snprintf(ret, RETENTION_PERIOD_LABEL_MAX, "%04d", year);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static unsigned period_limit(const struct retention_config *cfg, enum retention_period p) {
	switch (p) {
	case RETENTION_HOURLY:
		return cfg->keep_hourly;
	case RETENTION_DAILY:
		return cfg->keep_daily;
	case RETENTION_WEEKLY:
		return cfg->keep_weekly;
	case RETENTION_MONTHLY:
		return cfg->keep_monthly;
	case RETENTION_YEARLY:
		return cfg->keep_yearly;
	default:
		return 0;
	}
}

/* Marks the newest pair of each of the `limit` most recent periods. Walking newest first, the
 * first pair met in a period is its newest. Periods are looked up in a set rather than compared
 * with the previous one: local time is not monotonic (DST), so a period may recur. */
static int apply_period_rule(
		enum retention_period p,
		unsigned limit,
		const struct retention_pair *pairs,
		const struct sort_item *order,
		size_t n_complete,
		struct pair_state *state) {

	_cleanup_free_ char (*seen)[RETENTION_PERIOD_LABEL_MAX] = NULL;
	size_t max, n_seen = 0;
	int r;

	if (limit == 0 || n_complete == 0)
		return 0;

	max = limit < n_complete ? limit : n_complete;
	seen = calloc(max, sizeof *seen);
	if (!seen)
		return -ENOMEM;

	for (size_t i = 0; i < n_complete && n_seen < max; i++) {
		char label[RETENTION_PERIOD_LABEL_MAX];
		bool found = false;

		r = retention_period_label(p, pairs[order[i].index].created_usec, label);
		if (r < 0)
			return r;

		for (size_t j = n_seen; j > 0; j--) /* the latest period is the likeliest match */
			if (streq(seen[j - 1], label)) {
				found = true;
				break;
			}
		if (found)
			continue;

		memcpy(seen[n_seen++], label, sizeof label);
		state[order[i].index].by_period[p] = true;
	}

	return 0;
}

/* Smallest byte count b with b / total >= percent / 100, without overflow. */
static uint64_t percent_of(uint64_t total, unsigned percent) {
	uint64_t q = total / 100, rem = total % 100;

	return q * percent + (rem * percent + 99) / 100;
}

/* "512.0M", "4K", "100B": a byte count written as MinFreeSpace= takes it (not format_bytes()'s
 * "512.0 MiB": these messages quote the setting). */
static void format_size_setting(uint64_t b, char ret[static 32]) {
	static const char suffix[] = "BKMGTPE";
	uint64_t unit = 1;
	unsigned u = 0;

	while (u < 6 && b / unit >= 1024) {
		unit *= 1024;
		u++;
	}

	if (u == 0)
		snprintf(ret, 32, "%" PRIu64 "B", b);
	else if (b % unit == 0)
		snprintf(ret, 32, "%u%c", (unsigned) (b / unit), suffix[u]);
	else /* truncated, so that a value below a limit never prints as the limit */
		snprintf(ret, 32, "%u.%u%c", (unsigned) (b / unit), /* < 1024 */
			 (unsigned) (((b % unit) >> 10) * 10 / (unit >> 10)), suffix[u]);
}

/* "4.1%" or "512.0M": free space as MinFreeSpace= is set. */
static void format_free(const struct retention_config *cfg, uint64_t free_bytes, uint64_t total, char ret[static 32]) {
	if (cfg->min_free_percent > 0) {
		uint64_t tenths = 0;

		if (total > 0)
			tenths = (uint64_t) ((long double) free_bytes * 1000.0L / (long double) total);
		/* Display only: never let rounding show a value below the minimum as the minimum. */
		if (free_bytes < percent_of(total, cfg->min_free_percent) && tenths >= cfg->min_free_percent * 10ULL)
			tenths = cfg->min_free_percent * 10ULL - 1;
		snprintf(ret, 32, "%" PRIu64 ".%" PRIu64 "%%", tenths / 10, tenths % 10);
	} else
		format_size_setting(free_bytes, ret);
}

static void format_min_free(const struct retention_config *cfg, char ret[static 32]) {
	if (cfg->min_free_percent > 0)
		snprintf(ret, 32, "%u%%", cfg->min_free_percent);
	else
		format_size_setting(cfg->min_free_bytes, ret);
}

/* The Keep rules that chose this pair, each prefixed with ", " (or first_sep for the first). */
static int append_keep_rules(
		char **s,
		const char *first_sep,
		const struct retention_config *cfg,
		const struct retention_pair *pair,
		const struct pair_state *st) {

	const char *sep = first_sep;
	int r;

	if (st->last_rank > 0) {
		r = strextend(s, "%sKeepLast (%u of %u)", sep, st->last_rank, cfg->keep_last);
		if (r < 0)
			return r;
		sep = ", ";
	}

	for (enum retention_period p = 0; p < _RETENTION_PERIOD_MAX; p++) {
		char label[RETENTION_PERIOD_LABEL_MAX];

		if (!st->by_period[p])
			continue;
		r = retention_period_label(p, pair->created_usec, label);
		if (r < 0)
			return r;
		r = strextend(s, "%s%s %s", sep, period_key[p], label);
		if (r < 0)
			return r;
		sep = ", ";
	}

	return 0;
}

static int build_reason(
		const struct retention_config *cfg,
		bool disabled,
		uint64_t total_bytes,
		const struct retention_pair *pair,
		const struct pair_state *st,
		char **ret) {

	_cleanup_free_ char *s = NULL;
	int r;

	if (!pair->complete) {
		s = strdup("kept: incomplete, cleaned up by the daemon");
		if (!s)
			return -ENOMEM;

	} else if (st->by_space) {
		char now[32], min[32];

		format_free(cfg, st->free_before, total_bytes, now);
		format_min_free(cfg, min);
		r = strextend(&s, "delete: MinFreeSpace (free %s < %s)", now, min);
		if (r < 0)
			return r;
		r = append_keep_rules(&s, ", overrides ", cfg, pair, st);
		if (r < 0)
			return r;

	} else if (st->remove) {
		s = strdup("delete: not selected by any Keep rule");
		if (!s)
			return -ENOMEM;

	} else {
		const char *sep = " ";

		s = strdup("kept:");
		if (!s)
			return -ENOMEM;
		if (pair->pinned) {
			r = strextend(&s, "%spinned", sep);
			if (r < 0)
				return r;
			sep = ", ";
		}
		if (st->newest) {
			r = strextend(&s, "%snewest complete pair", sep);
			if (r < 0)
				return r;
			sep = ", ";
		}
		if (disabled) {
			r = strextend(&s, "%sretention disabled (all Keep rules are 0)", sep);
			if (r < 0)
				return r;
		} else {
			r = append_keep_rules(&s, sep, cfg, pair, st);
			if (r < 0)
				return r;
		}
	}

	*ret = TAKE_PTR(s);
	return 0;
}

static int check_unique_ids(const struct retention_pair *pairs, size_t n) {
	_cleanup_free_ uint64_t *ids = NULL;

	if (n < 2)
		return 0;

	ids = malloc(n * sizeof *ids);
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = pairs[i].id;
	qsort(ids, n, sizeof *ids, uint64_compare);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
			return -EINVAL;
	return 0;
}

static void decisions_free(struct retention_decision *d, size_t n) {
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		free(d[i].reason);
	free(d);
}

/* One run of retention_decide(), across its steps. */
struct decide {
	const struct retention_config *cfg;
	const struct retention_pair *pairs;
	size_t n;
	struct sort_item *order;  /* the complete pairs, newest first */
	size_t n_complete;
	struct pair_state *state; /* per input pair */
	bool disabled;            /* no count rule at all: every pair is kept by them */
	size_t n_remove, n_space_removed;
	/* MinFreeSpace */
	bool space_checked, space_ok;
	uint64_t min_free, free_now;
	char *message;
};

static int check_input(
		const struct retention_config *cfg,
		const struct retention_pair *pairs,
		size_t n,
		const struct retention_space *space,
		const struct retention_result *ret) {

	if (!cfg || !ret || (n > 0 && !pairs))
		return -EINVAL;
	if (cfg->min_free_percent > 100)
		return -EINVAL;
	if (cfg->min_free_percent > 0 && cfg->min_free_bytes > 0)
		return -EINVAL;
	if (space && space->free_bytes > space->total_bytes)
		return -EINVAL;
	return check_unique_ids(pairs, n);
}

/* The complete pairs, newest first; the newest marked. */
static int order_complete(struct decide *x) {
	/* n + 1: calloc(0) may return NULL */
	x->order = calloc(x->n + 1, sizeof *x->order);
	x->state = calloc(x->n + 1, sizeof *x->state);
	if (!x->order || !x->state)
		return -ENOMEM;

	for (size_t i = 0; i < x->n; i++)
		if (x->pairs[i].complete)
			x->order[x->n_complete++] = (struct sort_item) {
				.created_usec = x->pairs[i].created_usec,
				.id = x->pairs[i].id,
				.index = i,
			};
	qsort(x->order, x->n_complete, sizeof *x->order, sort_item_compare_newest_first);

	if (x->n_complete > 0)
		x->state[x->order[0].index].newest = true;
	return 0;
}

/* KeepLast= and the period rules; a complete pair none of them keeps is removed. */
static int apply_count_rules(struct decide *x) {
	const struct retention_config *cfg = x->cfg;
	int r;

	x->disabled = cfg->keep_last == 0;
	for (size_t i = 0; i < x->n_complete && i < cfg->keep_last; i++)
		x->state[x->order[i].index].last_rank = (unsigned) i + 1;

	for (enum retention_period p = 0; p < _RETENTION_PERIOD_MAX; p++) {
		unsigned limit = period_limit(cfg, p);

		if (limit > 0)
			x->disabled = false;
		r = apply_period_rule(p, limit, x->pairs, x->order, x->n_complete, x->state);
		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < x->n_complete; i++) {
		const struct retention_pair *pair = &x->pairs[x->order[i].index];
		struct pair_state *st = &x->state[x->order[i].index];
		bool kept = x->disabled || st->newest || pair->pinned || st->last_rank > 0;

		for (enum retention_period p = 0; p < _RETENTION_PERIOD_MAX; p++)
			kept = kept || st->by_period[p];
		if (!kept) {
			st->remove = true;
			x->n_remove++;
		}
	}
	return 0;
}

/* Free space: count what the count rules free, then delete more, oldest first. */
static int apply_space_rule(struct decide *x, const struct retention_space *space) {
	const struct retention_config *cfg = x->cfg;

	if (!space)
		return 0;
	x->free_now = space->free_bytes;
	for (size_t i = 0; i < x->n_complete; i++)
		if (x->state[x->order[i].index].remove)
			x->free_now = add_saturating(x->free_now, x->pairs[x->order[i].index].bytes);

	if (cfg->min_free_percent == 0 && cfg->min_free_bytes == 0)
		return 0;
	x->space_checked = true;
	x->min_free = cfg->min_free_percent > 0 ? percent_of(space->total_bytes, cfg->min_free_percent)
						: cfg->min_free_bytes;

	for (size_t i = x->n_complete; i > 0 && x->free_now < x->min_free; i--) {
		const struct retention_pair *pair = &x->pairs[x->order[i - 1].index];
		struct pair_state *st = &x->state[x->order[i - 1].index];

		if (st->remove || st->newest || pair->pinned)
			continue;

		st->remove = true;
		st->by_space = true;
		st->free_before = x->free_now;
		x->free_now = add_saturating(x->free_now, pair->bytes);
		x->n_remove++;
		x->n_space_removed++;
	}

	if (x->free_now < x->min_free) {
		char now[32], min[32];

		x->space_ok = false;
		format_free(cfg, x->free_now, space->total_bytes, now);
		format_min_free(cfg, min);
		if (asprintf(&x->message,
			     "MinFreeSpace=%s cannot be reached: free %s after deleting %zu pair%s "
			     "(%zu for MinFreeSpace), nothing else may be deleted",
			     min, now, x->n_remove, x->n_remove == 1 ? "" : "s", x->n_space_removed) < 0) {
			x->message = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* Decisions, in input order. */
static int build_decisions(struct decide *x, uint64_t total_bytes, struct retention_decision **ret) {
	struct retention_decision *decisions = NULL;
	int r;

	if (x->n > 0) {
		decisions = calloc(x->n, sizeof *decisions);
		if (!decisions)
			return -ENOMEM;
	}
	for (size_t i = 0; i < x->n; i++) {
		decisions[i].id = x->pairs[i].id;
		decisions[i].remove = x->state[i].remove;
		r = build_reason(x->cfg, x->disabled, total_bytes, &x->pairs[i], &x->state[i], &decisions[i].reason);
		if (r < 0) {
			decisions_free(decisions, x->n);
			return r;
		}
	}
	*ret = decisions;
	return 0;
}

int retention_decide(
		const struct retention_config *cfg,
		const struct retention_pair *pairs,
		size_t n,
		const struct retention_space *space,
		struct retention_result *ret) {

	struct decide x = { .cfg = cfg, .pairs = pairs, .n = n, .space_ok = true };
	struct retention_decision *decisions = NULL;
	int r;

	r = check_input(cfg, pairs, n, space, ret);
	if (r >= 0)
		r = order_complete(&x);
	if (r >= 0)
		r = apply_count_rules(&x);
	if (r >= 0)
		r = apply_space_rule(&x, space);
	if (r >= 0)
		r = build_decisions(&x, space ? space->total_bytes : 0, &decisions);
	free(x.order);
	free(x.state);
	if (r < 0) {
		free(x.message);
		return r;
	}

	*ret = (struct retention_result) {
		.decisions = decisions,
		.n_decisions = n,
		.n_remove = x.n_remove,
		.space_checked = x.space_checked,
		.space_ok = x.space_ok,
		.min_free_bytes = x.min_free,
		.free_bytes_after = x.free_now,
		.message = x.message,
	};
	return 0;
}

void retention_result_done(struct retention_result *r) {
	if (!r)
		return;
	decisions_free(r->decisions, r->n_decisions);
	free(r->message);
	*r = (struct retention_result) {};
}
