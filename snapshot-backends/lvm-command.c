/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running `lvm` for the LVM backend, through the process runner (common/process.h): why a
 * process and not liblvm2cmd is in lvm.c's header comment. */
#include <inttypes.h>

#include "error.h"
#include "log.h"
#include "lvm-internal.h"
#include "macro.h"

#define LVM_TERM_GRACE_USEC (10 * USEC_PER_SEC) /* SIGTERM (lvm resumes a device it suspended), then SIGKILL */
#define LVM_OUTPUT_MAX (16U << 20)

extern char **environ;

/* The environment of an lvm child: a fixed PATH and locale, no fd-leak warnings, and whatever
 * LVM_* and DM_* variables the daemon was given (LVM_SYSTEM_DIR, DM_DISABLE_UDEV, ...). */
static char **lvm_environment(void) {
	static const char *const fixed[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C",
		"LVM_SUPPRESS_FD_WARNINGS=1",
	};
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **env = calloc(n + ELEMENTSOF(fixed) + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		if (!(env[k++] = strdup(fixed[i])))
			goto oom;
	for (char **e = environ; e && *e; e++)
		if ((strncmp(*e, "LVM_", 4) == 0 || strncmp(*e, "DM_", 3) == 0) &&
		    strncmp(*e, "LVM_SUPPRESS_FD_WARNINGS=", 25) != 0)
			if (!(env[k++] = strdup(*e)))
				goto oom;
	return env;
oom:
	strv_free(env);
	return NULL;
}

static void log_command(const char *const *args, const struct process_result *res) {
	if (log_get_max_level() < LOG_DEBUG)
		return;
	char line[512], how[64];
	size_t o = 0;
	for (size_t i = 0; args[i] && o < sizeof(line); i++)
		o += (size_t) snprintf(line + o, sizeof(line) - o, "%s%s", i ? " " : "", args[i]);
	log_debug("lvm %s: %.1f ms, %s", line, (double) res->usec / 1000, process_result_describe(res, how));
}

/* Runs `lvm ARGS...` and waits at most timeout_usec. Returns 0 when it ran to its end (see
 * res->exit_status), or a negative errno: -ENOENT no lvm binary, -ETIME timed out (killed). */
static int lvm_run(const char *const *args, uint64_t timeout_usec, struct process_result *res) {
	_cleanup_strv_free_ char **env = lvm_environment();
	size_t n = 0;
	while (args[n])
		n++;
	_cleanup_free_ const char **argv = calloc(n + 2, sizeof(char *));
	if (!argv || !env)
		return -ENOMEM;
	argv[0] = "lvm";
	memcpy(argv + 1, args, n * sizeof(char *));
	const struct process_spec spec = {
		.argv = argv,
		.env = env,
		.timeout_usec = timeout_usec,
		.term_grace_usec = LVM_TERM_GRACE_USEC,
		.output_max = LVM_OUTPUT_MAX,
	};
	int r = process_run(&spec, res, NULL);
	if (r < 0)
		return r;
	log_command(args, res);
	if (res->timed_out) {
		process_result_done(res);
		return -ETIME;
	}
	return 0;
}

/* The messages of a failed command, on one line: "line; line; line" (at most ~1000 bytes). */
static char *lvm_messages(const struct process_result *res) {
	const char *src = res->err && *res->err ? res->err : res->out ? res->out : "";
	size_t n = strlen(src);
	char *s = malloc(n + 1), *o = s;
	if (!s)
		return NULL;
	for (const char *l = src; *l;) {
		size_t len = strcspn(l, "\n");
		const char *b = l, *e = l + len;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\r'))
			e--;
		if (e > b && (size_t) (o - s) < 1000) {
			if (o != s)
				o = stpcpy(o, "; ");
			memcpy(o, b, (size_t) (e - b));
			o += e - b;
		}
		l += len + (l[len] == '\n');
	}
	*o = '\0';
	if (o == s) {
		free(s);
		return strdup("no message");
	}
	return s;
}

/* The message for lvm_run() returning r < 0. */
static int lvm_run_failed(int r, const char *const *args, uint64_t timeout_usec, const char *what, char **ret_error) {
	if (r == -ENOENT)
		return error_setf(ret_error, r, "%s: the lvm command is not installed (Debian package lvm2)", what);
	if (r == -ETIME)
		return error_setf(ret_error, r,
		            "%s: `lvm %s` did not finish within %" PRIu64 " s and was killed; "
		            "check `dmsetup info -c` for a device it may have left suspended",
		            what, args[0], (uint64_t) (timeout_usec / USEC_PER_SEC));
	return error_setf(ret_error, r, "%s: cannot run lvm %s: %s", what, args[0], strerror(-r));
}

/* A signal counts as exit 128+N, as in a shell. */
static int exit_code(const struct process_result *res) {
	return res->signal ? 128 + res->signal : res->exit_status;
}

int lvm_call(const char *const *args, uint64_t timeout_usec, const char *what, struct process_result *ret,
             char **ret_error) {
	_cleanup_(process_result_done) struct process_result res = {};
	int r = lvm_run(args, timeout_usec, &res);
	if (r < 0)
		return lvm_run_failed(r, args, timeout_usec, what, ret_error);
	if (exit_code(&res) != 0) {
		_cleanup_free_ char *m = lvm_messages(&res);
		return error_setf(ret_error, -EIO, "%s: lvm %s failed (exit %d): %s", what, args[0], exit_code(&res), strna(m));
	}
	if (ret)
		*ret = res, res = (struct process_result) {};
	return 0;
}

int lvm_call_report(const char *const *args, const char *target, struct process_result *ret, char **ret_error) {
	_cleanup_(process_result_done) struct process_result res = {};
	int r = lvm_run(args, LVM_TIMEOUT_USEC, &res);
	if (r < 0)
		return lvm_run_failed(r, args, LVM_TIMEOUT_USEC, target, ret_error);
	if (exit_code(&res) != 0) {
		_cleanup_free_ char *m = lvm_messages(&res);
		if (m && strstr(m, "not found"))
			return error_setf(ret_error, -ENXIO, "volume group %s: %s", target, m);
		return error_setf(ret_error, -EIO, "lvm %s %s failed (exit %d): %s", args[0], target, exit_code(&res), strna(m));
	}
	*ret = res, res = (struct process_result) {};
	return 0;
}

int lv_remove(const char *vg, const char *lv, const char *what, char **ret_error) {
	char target[4 * LV_NAME_MAX];
	snprintf(target, sizeof(target), "%s/%s", vg, lv);
	const char *args[] = { "lvremove", "--yes", target, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

int lv_rename(const char *vg, const char *from, const char *to, char **ret_error) {
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot rename %s/%s to %s", vg, from, to) < 0)
		return -ENOMEM;
	const char *args[] = { "lvrename", vg, from, to, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}
