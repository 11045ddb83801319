/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "criu-log.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"

#define NO_MARK UINT64_MAX
#define READ_MAX ((size_t) 256 << 20)

/* What the lines seen so far marked; every mark is NO_MARK until its line is seen. */
struct marks {
	uint64_t predump, after_predump, freeze, seized, postdump, unfreeze, finished;
	bool awaiting_after_predump;
	/* the gaps between timestamped lines that the cgroup walk or a network tool's run filled */
	uint64_t cg_usec, tools_usec, prev_ts;
	bool cg_seen, tools_seen, prev_is_cg, prev_is_run;
};

static bool has_prefix(const char *s, size_t n, const char *prefix) {
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static bool contains(const char *s, size_t n, const char *needle) {
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return true;
	return false;
}

static size_t skip_blanks(const char *s, size_t n, size_t i) {
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* "(SECONDS.MICROS) TEXT": the time in µs and where TEXT starts; false for any other line. */
static bool parse_timestamp(const char *s, size_t n, uint64_t *ret_usec, size_t *ret_text) {
	size_t i = 1;
	uint64_t sec = 0, usec = 0;
	if (n < 1 || s[0] != '(')
		return false;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (i > 10) /* 10 digits of seconds at most: no overflow */
			return false;
		sec = sec * 10 + (uint64_t) (s[i] - '0');
	}
	if (i == 1 || i >= n || s[i++] != '.')
		return false;
	size_t digits = 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9' && digits < 6; i++, digits++)
		usec = usec * 10 + (uint64_t) (s[i] - '0');
	if (digits == 0 || i + 1 >= n || s[i] != ')' || s[i + 1] != ' ')
		return false;
	for (; digits < 6; digits++)
		usec *= 10;
	*ret_usec = sec * 1000000 + usec;
	*ret_text = i + 2;
	return true;
}

static void mark_first(uint64_t *mark, uint64_t ts) {
	if (*mark == NO_MARK)
		*mark = ts;
}

/* A line that says CRIU starts an external tool now: "net: \tRunning ip addr save",
 * "net: \tRunning iptables-save for ...", "\tRunning iptables [...]" (the network lock). */
static bool is_tool_run(const char *t, size_t n) {
	if (has_prefix(t, n, "net:")) {
		size_t i = skip_blanks(t, n, 4);
		return has_prefix(t + i, n - i, "Running ");
	}
	size_t i = skip_blanks(t, n, 0);
	return has_prefix(t + i, n - i, "Running iptables [");
}

/* A line CRIU logs once an iptables tool has returned ("iptables-save -V failed", "skipping
 * ip6tables dump - ...", "iptables has nft backend: ..."). */
static bool is_tool_result(const char *t, size_t n) {
	return contains(t, n, "iptables") || contains(t, n, "ip6tables");
}

/* GAP: the time since the previous timestamped line. */
static void account_cgroups(struct marks *m, uint64_t gap, const char *t, size_t n) {
	bool cg = has_prefix(t, n, "cg: ");
	if (cg && m->prev_is_cg) {
		m->cg_usec += gap;
		m->cg_seen = true;
	}
	m->prev_is_cg = cg;
}

static void account_tools(struct marks *m, uint64_t gap, const char *t, size_t n) {
	bool run = is_tool_run(t, n);
	if (m->prev_ts != NO_MARK && (m->prev_is_run || (!run && is_tool_result(t, n)))) {
		m->tools_usec += gap;
		m->tools_seen = true;
	}
	m->prev_is_run = run;
}

static void feed_line(struct marks *m, const char *s, size_t n) {
	uint64_t ts;
	size_t off;
	if (!parse_timestamp(s, n, &ts, &off)) {
		m->prev_is_cg = false; /* the parasite's lines: CRIU waited for the task, not the walk */
		return;
	}
	const char *t = s + off;
	n -= off;

	if (m->awaiting_after_predump) {
		size_t i = skip_blanks(t, n, 0);
		if (!(n - i == 3 && memcmp(t + i, "RPC", 3) == 0)) {
			m->after_predump = ts;
			m->awaiting_after_predump = false;
		}
	}
	if (has_prefix(t, n, "Running pre-dump scripts") && m->predump == NO_MARK) {
		m->predump = ts;
		m->awaiting_after_predump = true;
	} else if (has_prefix(t, n, "freezing cgroup"))
		mark_first(&m->freeze, ts);
	else if (has_prefix(t, n, "SEIZE"))
		mark_first(&m->seized, ts);
	else if (has_prefix(t, n, "Running post-dump scripts"))
		mark_first(&m->postdump, ts);
	else if (has_prefix(t, n, "Unfreezing tasks"))
		mark_first(&m->unfreeze, ts);
	else if (has_prefix(t, n, "Dumping finished"))
		mark_first(&m->finished, ts);
	/* Time that goes backwards (a clock step) counts as no time and does not move prev_ts: the
	 * gaps counted never overlap, so their sums stay within the log's span. */
	uint64_t gap = m->prev_ts != NO_MARK && ts > m->prev_ts ? ts - m->prev_ts : 0;
	account_cgroups(m, gap, t, n);
	account_tools(m, gap, t, n);
	if (m->prev_ts == NO_MARK || ts > m->prev_ts)
		m->prev_ts = ts;
}

static uint64_t phase(uint64_t from, uint64_t to) {
	return from != NO_MARK && to != NO_MARK && to >= from ? to - from : PAIR_ABSENT;
}

static void marks_init(struct marks *m) {
	*m = (struct marks) {
		.predump = NO_MARK, .after_predump = NO_MARK, .freeze = NO_MARK, .seized = NO_MARK,
		.postdump = NO_MARK, .unfreeze = NO_MARK,
		.finished = NO_MARK, .prev_ts = NO_MARK,
	};
}

static void marks_to_phases(const struct marks *m, struct pair_criu_phases *ret) {
	*ret = (struct pair_criu_phases) {
		.predump_rpc_usec = phase(m->predump, m->after_predump),
		.prep_usec = phase(m->after_predump, m->freeze),
		.freezing_usec = phase(m->freeze, m->seized),
		.dump_usec = phase(m->seized, m->postdump),
		.cgroup_walk_usec = m->cg_seen ? m->cg_usec : PAIR_ABSENT,
		.network_tools_usec = m->tools_seen ? m->tools_usec : PAIR_ABSENT,
		.postdump_usec = phase(m->postdump, m->unfreeze),
		.tail_usec = phase(m->unfreeze, m->finished),
	};
}

void criu_log_phases_parse(const char *text, size_t len, struct pair_criu_phases *ret) {
	struct marks m;
	marks_init(&m);
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t) (nl - text) : len;
		feed_line(&m, text + start, end - start);
		start = end + 1;
	}
	marks_to_phases(&m, ret);
}

int criu_log_phases_read(const char *path, struct pair_criu_phases *ret, char **ret_error) {
	pair_criu_phases_clear(ret);
	if (!path)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	int fd = open_nofollow(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return error_setf(ret_error, fd, "cannot open %s: %m", path);
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f) {
		int r = -errno;
		close(fd);
		return error_setf(ret_error, r, "cannot read %s: %m", path);
	}
	struct marks m;
	marks_init(&m);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;
	while (total < READ_MAX && (n = getline(&line, &cap, f)) > 0) {
		total += (size_t) n;
		feed_line(&m, line, line[n - 1] == '\n' ? (size_t) n - 1 : (size_t) n);
	}
	if (ferror(f))
		return error_setf(ret_error, -EIO, "cannot read %s: %m", path);
	marks_to_phases(&m, ret);
	return 0;
}
