/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
	max_level = level;
}

int log_get_max_level(void) {
	return max_level;
}

int log_level_from_string(const char *s) {
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i]))
			return (int) i;
	if (streq(s, "error"))
		return LOG_ERR;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

static const char *level_prefix(int level) {
	switch (level) {
	case LOG_DEBUG: return "<7>";
	case LOG_INFO: return "<6>";
	case LOG_NOTICE: return "<5>";
	case LOG_WARNING: return "<4>";
	default: return "<3>";
	}
}

/* Under systemd, stderr is the journal stream and the <N> prefix carries the priority. */
static bool stderr_is_journal(void) {
	static int cached = -1;
	if (cached < 0) {
		const char *e = getenv("JOURNAL_STREAM");
		struct stat st;
		unsigned long long dev, ino;
		cached = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
		         st.st_dev == dev && st.st_ino == ino;
	}
	return cached;
}

static void log_write(int level, const char *text) {
	if (stderr_is_journal())
		fprintf(stderr, "%s%s\n", level_prefix(level), text);
	else
		fprintf(stderr, "%s\n", text);
}

int log_internal(int level, int error, const char *fmt, ...) {
	int e = error < 0 ? -error : error;
	if (level <= max_level) {
		char buf[2048];
		va_list ap;
		int saved = errno;
		errno = e;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		errno = saved;
		log_write(level, buf);
	}
	return -e;
}

void log_container_event(int level, const char *message_id, const char *container, uint64_t pair,
                         uint64_t frozen_usec, const char *fmt, ...) {
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	/* The structured entry goes to the journal directly; where there is no journal, or it does
	 * not take our entries, the plain line on stderr is all there is. Under systemd stderr is
	 * the journal too: one entry, not two. */
	bool journal = access("/run/systemd/journal/socket", W_OK) >= 0;
	if (level <= max_level && !(journal && stderr_is_journal()))
		log_write(level, buf);
	if (!journal)
		return;

	char message[2100], priority[32], id[64], name[128], pair_field[64], frozen_field[64];
	struct iovec iov[7];
	size_t n = 0;
#define ADD_FIELD(b, ...)                                          \
	do {                                                       \
		snprintf(b, sizeof(b), __VA_ARGS__);               \
		iov[n++] = (struct iovec) { .iov_base = b, .iov_len = strlen(b) }; \
	} while (0)
	ADD_FIELD(message, "MESSAGE=%s", buf);
	ADD_FIELD(priority, "PRIORITY=%i", level);
	ADD_FIELD(id, "MESSAGE_ID=%s", message_id);
	ADD_FIELD(name, "CONTAINER=%s", container);
	iov[n++] = (struct iovec) { .iov_base = (char *) "SYSLOG_IDENTIFIER=ckptd", .iov_len = 23 };
	if (pair > 0)
		ADD_FIELD(pair_field, "PAIR=%llu", (unsigned long long) pair);
	if (frozen_usec != UINT64_MAX)
		ADD_FIELD(frozen_field, "FROZEN_USEC=%llu", (unsigned long long) frozen_usec);
#undef ADD_FIELD
	if (sd_journal_sendv(iov, (int) n) < 0 && stderr_is_journal() && level <= max_level)
		log_write(level, buf);
}
