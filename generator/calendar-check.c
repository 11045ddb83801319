/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "calendar-check.h"

#include <stdbool.h>

#include "error.h"
#include "macro.h"
#include "process.h"
#include "time-util.h"

#define OUTPUT_MAX 4096

const char *calendar_analyzer(void) {
	const char *e = getenv("CKPTD_SYSTEMD_ANALYZE");

	if (e && *e)
		return e;
	/* Merged /usr (Debian 12) has both; older layouts may have only one of them. */
	if (access("/usr/bin/systemd-analyze", X_OK) >= 0)
		return "/usr/bin/systemd-analyze";
	return "/bin/systemd-analyze";
}

/* The lines of systemd-analyze's output joined with "; ", without trailing newlines. */
static char *one_line(const char *out) {
	size_t n = strlen(out);
	char *s = malloc(2 * n + 1), *p = s;

	if (!s)
		return NULL;
	for (const char *c = out; *c; c++) {
		if (*c != '\n')
			*p++ = *c;
		else if (c[1] != '\0' && p > s && p[-1] != ' ') {
			*p++ = ';';
			*p++ = ' ';
		}
	}
	while (p > s && (p[-1] == ' ' || p[-1] == ';'))
		p--;
	*p = '\0';
	return s;
}

extern char **environ;

/* Ours, with no colours, no pager and untranslated messages: we quote them in ours. */
static char **analyzer_environment(void) {
	static const char *const set[] = { "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "LC_ALL=C" };
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + ELEMENTSOF(set) + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SYSTEMD_COLORS=", 15) != 0 && strncmp(environ[i], "SYSTEMD_PAGER=", 14) != 0 &&
		    strncmp(environ[i], "LC_ALL=", 7) != 0)
			env[k++] = environ[i];
	for (size_t i = 0; i < ELEMENTSOF(set); i++)
		env[k++] = (char *) set[i];
	return env;
}

int calendar_check(const char *expr, char **ret_message) {
	const char *path = calendar_analyzer();
	*ret_message = NULL;
	_cleanup_free_ char **env = analyzer_environment();
	if (!env)
		return -ENOMEM;
	/* "--": an expression starting with '-' is an expression, not an option. */
	const char *argv[] = { path, "calendar", "--", expr, NULL };
	const struct process_spec spec = {
		.argv = argv,
		.env = env,
		.merge_stderr = true,
		.timeout_usec = CALENDAR_CHECK_TIMEOUT_MSEC * USEC_PER_MSEC,
		.term_grace_usec = 1, /* it has no state to save: SIGKILL right away */
		.output_max = OUTPUT_MAX,
	};
	_cleanup_(process_result_done) struct process_result res = {};
	int r = process_run(&spec, &res, NULL);
	if (r == -ENOENT || r == -EACCES)
		return error_setf(ret_message, -ENOENT, "cannot run %s", path);
	if (r < 0)
		return error_setf(ret_message, r, "cannot read the answer of %s: %m", path);
	if (res.timed_out)
		return error_setf(ret_message, -ETIME, "%s did not answer within %d ms", path, CALENDAR_CHECK_TIMEOUT_MSEC);
	if (res.signal)
		return error_setf(ret_message, -EIO, "%s was killed by signal %d", path, res.signal);
	if (res.exit_status == 126 || res.exit_status == 127)
		return error_setf(ret_message, -ENOENT, "cannot run %s", path);
	if (res.exit_status != 0) {
		*ret_message = one_line(res.out_size > 0 ? res.out : "rejected without a message");
		return 0;
	}
	if (strstr(res.out, "Next elapse: never"))
		*ret_message = strdup("valid, but it never elapses (a time in the past?)");
	return 1;
}
