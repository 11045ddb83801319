/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LVM volumes: "lvm:VG/LV", thick or thin.
 *
 *   thick  (linear, striped, raid, ... LVs): a copy-on-write snapshot with a fixed size taken from
 *          SnapshotSize= (a percentage of the origin or bytes). It is active as long as it exists
 *          and overflows (becomes invalid, unusable) when more than its size of the origin
 *          changes; `verify` reports that through health().
 *   thin   (an LV in a thin pool): a thin snapshot, no size, sharing the pool. It is created with
 *          the activation-skip flag (not activated, costs nothing until used); `lvchange -ay -K`
 *          activates one by hand.
 *
 * The snapshot of VG/LV for pair ID is the LV VG/<LV>-ckptd-<ID>, read-only; its location in
 * pair.json is "lvm:VG/<LV>-ckptd-<ID>". Temporary names: <LV>-ckptd-next (a rollback's new
 * volume) and <LV>-ckptd-old (the state a rollback replaces).
 *
 * Rollback:
 *   thin   a new thin snapshot of the pair's snapshot is swapped in by renames (LV -> <LV>-ckptd-old,
 *          <LV>-ckptd-next -> LV), then the old state is removed. The pair's snapshot stays intact:
 *          one can roll back to the same pair again. LVM has no atomic rename-exchange: a crash
 *          between the two renames leaves <LV>-ckptd-old and no LV; the next rollback (or the
 *          admin, with `lvrename VG LV-ckptd-old LV`) puts it back first.
 *   thick  `lvconvert --merge`: LVM can only merge a thick snapshot into its origin, and the merge
 *          CONSUMES the snapshot (there are no snapshots of thick snapshots, and copying the blocks
 *          back would fill the copy-on-write space of every other snapshot of the origin). The
 *          rollback succeeds and says so in its message (logged as a warning): the pair's snapshot
 *          no longer exists and that pair cannot be rolled back to again. The safety pair that
 *          rollback takes first is the way back to the state before the rollback.
 *   Both unmount the origin first (the container's tasks are dead by then) and mount it again at
 *   the same places with the same options; if something still holds it, the error names what
 *   (processes with files, working directories or mappings on it, other mount namespaces, mounts
 *   below it, loop devices).
 *
 * Frozen window: lvcreate suspends the origin itself (device-mapper suspend with "lockfs", which
 * freezes a mounted filesystem) while it loads the snapshot tables; prepare() syncfs()es the
 * mounted origin beforehand so that this flush is short. The command's start-up (device scan,
 * metadata read/write and backup) is inside the window as well: measured in docs/lvm.md.
 *
 * Why LVM's commands and not a library: lvm2app, LVM's library API, was removed in LVM 2.03
 * (Debian 12 ships 2.03.16). What remains, liblvm2cmd, is the command-line tool in library form:
 * lvm2_run() executes a command line inside the caller's process, with process-global state
 * (configuration, device cache, locking, signal handling, stdout/stderr logging) and without
 * thread safety; ckptd runs jobs in threads. So we run `lvm` as a separate process, exactly like
 * snapper and libblockdev's LVM plugin do: an argument vector (never a shell), stdin on /dev/null,
 * stdout and stderr captured, a timeout, PR_SET_PDEATHSIG; `--reportformat json` output of
 * lvs/vgs is parsed with jansson. */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "backend.h"
#include "error.h"
#include "fileio.h"
#include "format.h"
#include "time-util.h"
#include "log.h"
#include "macro.h"

#define LVM_PREFIX "lvm:"
#define CKPTD_INFIX "-ckptd-"
#define LV_NAME_MAX 127
#define DM_NAME_MAX 127 /* DM_NAME_LEN - 1 */

#define LVM_TIMEOUT_USEC (120 * USEC_PER_SEC)        /* one ordinary command */
#define LVM_MERGE_TIMEOUT_USEC (3600 * USEC_PER_SEC) /* lvconvert --merge waits for the copy */
#define LVM_TERM_GRACE_USEC (10 * USEC_PER_SEC)      /* SIGTERM, then SIGKILL */
#define LVM_OUTPUT_MAX (16U << 20)
#define DEVICE_WAIT_USEC (10 * USEC_PER_SEC)

extern char **environ;

/* ---------------------------------------------------------------------------------------------
 * Running lvm
 * ------------------------------------------------------------------------------------------- */

struct lvm_result {
	int status; /* exit status */
	char *out, *err;
	uint64_t usec;
};

static void lvm_result_done(struct lvm_result *res) {
	free(res->out);
	free(res->err);
	*res = (struct lvm_result) {};
}

struct buffer {
	char *data;
	size_t size, allocated;
	bool eof;
};

static int buffer_read(struct buffer *b, int fd) {
	if (b->allocated - b->size < 4096) {
		size_t n = b->allocated ? b->allocated * 2 : 16384;
		char *p = realloc(b->data, n + 1);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->allocated = n;
	}
	ssize_t k = read(fd, b->data + b->size, b->allocated - b->size);
	if (k < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : negative_errno();
	if (k == 0)
		b->eof = true;
	else if (b->size + (size_t) k > LVM_OUTPUT_MAX)
		b->eof = true; /* stop reading; the child then gets EPIPE */
	else
		b->size += (size_t) k;
	b->data[b->size] = '\0';
	return 0;
}

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

/* Runs `lvm ARGS...` and waits at most timeout_usec. Returns 0 when it ran (its exit status is
 * in res->status), or a negative errno: -ENOENT no lvm binary, -ETIME timed out (killed). */
static int lvm_run(const char *const *args, uint64_t timeout_usec, struct lvm_result *res) {
	_cleanup_free_ char *lvm = NULL;
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ const char **argv = NULL;
	_cleanup_close_ int devnull = -EBADF;
	int out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF };
	struct buffer bo = {}, be = {};
	size_t n = 0;
	int r;

	*res = (struct lvm_result) {};
	r = find_executable("lvm", &lvm);
	if (r < 0)
		return r;
	while (args[n])
		n++;
	argv = calloc(n + 2, sizeof(char *));
	env = lvm_environment();
	if (!argv || !env)
		return -ENOMEM;
	argv[0] = lvm;
	memcpy(argv + 1, args, n * sizeof(char *));

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return negative_errno();
	if (pipe2(out, O_CLOEXEC) < 0)
		return negative_errno();
	if (pipe2(err, O_CLOEXEC) < 0) {
		r = negative_errno();
		close(out[0]);
		close(out[1]);
		return r;
	}

	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		r = negative_errno();
		close(out[0]), close(out[1]), close(err[0]), close(err[1]);
		return r;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here on: the daemon has threads. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
		    dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				(void) sigaction(s, &dfl, NULL);
		(void) close_range(3, ~0U, 0);
		execve(lvm, (char *const *) argv, env);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);

	uint64_t deadline = t0 + timeout_usec;
	bool termed = false, killed = false;
	r = 0;
	while (!bo.eof || !be.eof) {
		struct pollfd p[2];
		nfds_t np = 0;
		if (!bo.eof)
			p[np++] = (struct pollfd) { .fd = out[0], .events = POLLIN };
		if (!be.eof)
			p[np++] = (struct pollfd) { .fd = err[0], .events = POLLIN };
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		if (now >= deadline) {
			if (killed)
				break; /* grandchildren may hold the pipes; stop reading */
			/* SIGTERM first: lvm restores a device it suspended when it can. */
			(void) kill(pid, termed ? SIGKILL : SIGTERM);
			killed = termed;
			termed = true;
			deadline = now + LVM_TERM_GRACE_USEC;
			continue;
		}
		int k = poll(p, np, (int) ((deadline - now + 999) / 1000));
		if (k < 0 && errno != EINTR) {
			r = negative_errno();
			break;
		}
		for (nfds_t i = 0; k > 0 && i < np; i++) {
			if (!p[i].revents)
				continue;
			struct buffer *b = p[i].fd == out[0] ? &bo : &be;
			int q = buffer_read(b, p[i].fd);
			if (q < 0) {
				r = q;
				b->eof = true;
			}
		}
	}
	close(out[0]);
	close(err[0]);
	if (r < 0 && !termed)
		(void) kill(pid, SIGKILL);

	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			r = r < 0 ? r : negative_errno();
			break;
		}
	res->usec = now_usec(CLOCK_MONOTONIC) - t0;
	res->out = bo.data ? bo.data : strdup("");
	res->err = be.data ? be.data : strdup("");
	if (log_get_max_level() >= LOG_DEBUG) {
		char line[512];
		size_t o = 0;
		for (size_t i = 0; i < n && o < sizeof(line); i++)
			o += (size_t) snprintf(line + o, sizeof(line) - o, "%s%s", i ? " " : "", args[i]);
		log_debug("lvm %s: %.1f ms, %s %d", line, (double) res->usec / 1000, WIFEXITED(status) ? "exit" : "signal",
		          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	if (!res->out || !res->err)
		return -ENOMEM;
	if (r < 0)
		return r;
	if (termed)
		return -ETIME;
	if (WIFSIGNALED(status)) {
		res->status = 128 + WTERMSIG(status);
		return 0;
	}
	res->status = WEXITSTATUS(status);
	return 0;
}

/* The messages of a failed command, on one line: "line; line; line" (at most ~1000 bytes). */
static char *lvm_messages(const struct lvm_result *res) {
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

/* Runs lvm and turns "could not run" and "ran, but failed" into one error naming the command. */
static int lvm_call(const char *const *args, uint64_t timeout_usec, const char *what, struct lvm_result *ret,
                    char **ret_error) {
	_cleanup_(lvm_result_done) struct lvm_result res = {};
	int r = lvm_run(args, timeout_usec, &res);
	if (r < 0)
		return lvm_run_failed(r, args, timeout_usec, what, ret_error);
	if (res.status != 0) {
		_cleanup_free_ char *m = lvm_messages(&res);
		return error_setf(ret_error, -EIO, "%s: lvm %s failed (exit %d): %s", what, args[0], res.status, strna(m));
	}
	if (ret)
		*ret = res, res = (struct lvm_result) {};
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Volume specs and reports
 * ------------------------------------------------------------------------------------------- */

struct lvm_name {
	char vg[LV_NAME_MAX + 1];
	char lv[LV_NAME_MAX + 1];
};

static bool lvm_recognizes(const char *volume) {
	return strncmp(volume, LVM_PREFIX, strlen(LVM_PREFIX)) == 0;
}

/* "lvm:VG/LV" -> VG, LV. The configuration checked the characters already; this checks shape. */
static int lvm_name_parse(const char *spec, struct lvm_name *ret) {
	if (!lvm_recognizes(spec))
		return -EINVAL;
	const char *vg = spec + strlen(LVM_PREFIX), *slash = strchr(vg, '/');
	if (!slash || slash == vg || !slash[1] || strchr(slash + 1, '/'))
		return -EINVAL;
	size_t nvg = (size_t) (slash - vg), nlv = strlen(slash + 1);
	if (nvg > LV_NAME_MAX || nlv > LV_NAME_MAX || vg[0] == '-' || slash[1] == '-')
		return -EINVAL;
	memcpy(ret->vg, vg, nvg);
	ret->vg[nvg] = '\0';
	memcpy(ret->lv, slash + 1, nlv + 1);
	return 0;
}

/* The length of the device-mapper name of VG/LV plus a suffix ("-cow", "-real"): LVM doubles
 * every '-' inside VG and LV and joins them with one '-'. */
static size_t dm_name_length(const char *vg, const char *lv, const char *suffix) {
	size_t n = strlen(vg) + 1 + strlen(lv) + strlen(suffix);
	for (const char *p = vg; *p; p++)
		n += *p == '-';
	for (const char *p = lv; *p; p++)
		n += *p == '-';
	return n;
}

struct lv_info {
	char name[LV_NAME_MAX + 1];
	char attr[16];
	char segtype[32];
	char origin[LV_NAME_MAX + 1];
	char pool[LV_NAME_MAX + 1];
	char path[PATH_MAX];
	char health[64];
	uint64_t size;
	double data_percent; /* < 0: not reported */
	int major, minor;    /* -1: not active */
};

/* lvs can show the VG's fields on every row: one command tells everything an operation needs. */
#define LV_FIELDS                                                                                    \
	"lv_name,lv_attr,segtype,origin,pool_lv,lv_path,lv_health_status,lv_size,data_percent,"      \
	"lv_kernel_major,lv_kernel_minor,vg_size,vg_free,vg_extent_size"

static bool lv_is_thin(const struct lv_info *i) {
	return streq(i->segtype, "thin");
}
static bool lv_is_active(const struct lv_info *i) {
	return i->attr[4] == 'a' && i->major >= 0;
}
static bool lv_is_open(const struct lv_info *i) {
	return i->attr[5] == 'o';
}
/* A thick snapshot that overflowed: 'S' (invalid snapshot) or state 'I'. */
static bool lv_is_invalid_snapshot(const struct lv_info *i) {
	return i->attr[0] == 'S' || i->attr[4] == 'I';
}
static bool lv_is_thick_snapshot(const struct lv_info *i) {
	return i->attr[0] == 's' || i->attr[0] == 'S';
}
static bool lv_is_merging_origin(const struct lv_info *i) {
	return i->attr[0] == 'O';
}
static dev_t lv_dev(const struct lv_info *i) {
	return makedev((unsigned) i->major, (unsigned) i->minor);
}

/* LVM reports every value as a string ("json"); "json_std" would give numbers. Accept both. */
static const char *row_string(json_t *row, const char *key) {
	json_t *v = json_object_get(row, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double row_number(json_t *row, const char *key, double dflt) {
	json_t *v = json_object_get(row, key);
	if (json_is_number(v))
		return json_number_value(v);
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	char *end;
	if (!*s)
		return dflt;
	errno = 0;
	double d = strtod(s, &end);
	return errno || *end ? dflt : d;
}

static void copy_field(char *dst, size_t size, const char *src) {
	snprintf(dst, size, "%s", src);
}

static void lv_info_from_row(json_t *row, struct lv_info *i) {
	*i = (struct lv_info) {};
	copy_field(i->name, sizeof(i->name), row_string(row, "lv_name"));
	copy_field(i->attr, sizeof(i->attr), row_string(row, "lv_attr"));
	copy_field(i->segtype, sizeof(i->segtype), row_string(row, "segtype"));
	copy_field(i->origin, sizeof(i->origin), row_string(row, "origin"));
	copy_field(i->pool, sizeof(i->pool), row_string(row, "pool_lv"));
	copy_field(i->path, sizeof(i->path), row_string(row, "lv_path"));
	copy_field(i->health, sizeof(i->health), row_string(row, "lv_health_status"));
	/* attr is 10 characters; pad so that indexing it is always safe */
	for (size_t k = strlen(i->attr); k < 10; k++)
		i->attr[k] = '-';
	i->size = (uint64_t) row_number(row, "lv_size", 0);
	i->data_percent = row_number(row, "data_percent", -1);
	i->major = (int) row_number(row, "lv_kernel_major", -1);
	i->minor = (int) row_number(row, "lv_kernel_minor", -1);
}

/* Runs `lvs|vgs --reportformat json ... TARGET` and returns the rows of SECTION ("lv"/"vg").
 * A missing volume group is -ENXIO with a message naming it. */
static int lvm_report(const char *command, const char *fields, const char *target, const char *section,
                      json_t **ret_rows, char **ret_error) {
	const char *args[] = { command, "--reportformat", "json", "--units", "b", "--nosuffix", "--options", fields,
		               target, NULL };
	_cleanup_(lvm_result_done) struct lvm_result res = {};
	int r = lvm_run(args, LVM_TIMEOUT_USEC, &res);
	if (r < 0)
		return lvm_run_failed(r, args, LVM_TIMEOUT_USEC, target, ret_error);
	if (res.status != 0) {
		_cleanup_free_ char *m = lvm_messages(&res);
		if (m && strstr(m, "not found"))
			return error_setf(ret_error, -ENXIO, "volume group %s: %s", target, m);
		return error_setf(ret_error, -EIO, "lvm %s %s failed (exit %d): %s", command, target, res.status, strna(m));
	}
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *root = json_loads(res.out, 0, &jerr);
	json_t *report = json_object_get(root, "report");
	json_t *rows = json_object_get(json_array_get(report, 0), section);
	if (!json_is_array(rows))
		return error_setf(ret_error, -EBADMSG, "lvm %s %s: unexpected output (%s)", command, target,
		            root ? "no report" : jerr.text);
	*ret_rows = json_incref(rows);
	return 0;
}

/* Every (visible) LV of a VG, and the VG's size and free space, from one `lvs VG`. Each lvm
 * command costs a device scan and metadata read (tens of ms on hardware, seconds under software
 * emulation): operations load this once and look up several LVs in it. */
struct vg_report {
	json_t *rows;
	uint64_t size, free, extent; /* of the VG; 0 if it has no LVs */
};

static void vg_report_done(struct vg_report *rep) {
	json_decref(rep->rows);
	*rep = (struct vg_report) {};
}

/* -ENXIO: no such VG. */
static int vg_report_load(const char *vg, struct vg_report *ret, char **ret_error) {
	json_t *rows = NULL;
	int r = lvm_report("lvs", LV_FIELDS, vg, "lv", &rows, ret_error);
	if (r < 0)
		return r;
	json_t *first = json_array_get(rows, 0);
	*ret = (struct vg_report) {
		.rows = rows,
		.size = (uint64_t) row_number(first, "vg_size", 0),
		.free = (uint64_t) row_number(first, "vg_free", 0),
		.extent = (uint64_t) row_number(first, "vg_extent_size", 0),
	};
	return 0;
}

static bool vg_report_find(const struct vg_report *rep, const char *lv, struct lv_info *ret) {
	size_t i;
	json_t *row;
	json_array_foreach(rep->rows, i, row)
		if (streq(row_string(row, "lv_name"), lv)) {
			if (ret)
				lv_info_from_row(row, ret);
			return true;
		}
	return false;
}

/* Looks up VG/LV: 1 found, 0 not in the VG, -ENXIO no such VG, other negative errno on errors. */
static int lv_lookup(const char *vg, const char *lv, struct lv_info *ret, char **ret_error) {
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(vg, &rep, ret_error);
	if (r < 0)
		return r;
	return vg_report_find(&rep, lv, ret);
}

/* Thin or thick, per volume, as prepare() found it: so that snapshot() runs no lvs inside the
 * frozen window. An LV that is converted between the two is caught by lvcreate failing. */
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *volume;
	bool thin;
} kinds[64];

static void kind_remember(const char *volume, bool thin) {
	pthread_mutex_lock(&kinds_lock);
	size_t i = 0;
	while (i < ELEMENTSOF(kinds) && kinds[i].volume && !streq(kinds[i].volume, volume))
		i++;
	if (i == ELEMENTSOF(kinds)) /* full: forget the oldest */
		free(kinds[i = 0].volume), kinds[0].volume = NULL;
	if (!kinds[i].volume)
		kinds[i].volume = strdup(volume);
	kinds[i].thin = thin;
	pthread_mutex_unlock(&kinds_lock);
}

/* 1 thin, 0 thick, -ENOENT not known. */
static int kind_recall(const char *volume) {
	int r = -ENOENT;
	pthread_mutex_lock(&kinds_lock);
	for (size_t i = 0; i < ELEMENTSOF(kinds) && kinds[i].volume; i++)
		if (streq(kinds[i].volume, volume))
			r = kinds[i].thin;
	pthread_mutex_unlock(&kinds_lock);
	return r;
}

/* The origin VG/LV, which must exist: a message naming the volume otherwise. */
static int origin_lookup(const char *volume, const struct lvm_name *n, struct lv_info *ret, char **ret_error) {
	_cleanup_free_ char *why = NULL;
	int r = lv_lookup(n->vg, n->lv, ret, &why);
	if (r == 0)
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: %s", volume, strna(why));
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Mounts and what holds a device busy
 * ------------------------------------------------------------------------------------------- */

struct mount_entry {
	int id;
	char *root, *point, *opts, *fstype, *source, *super;
};

struct mounts {
	struct mount_entry *e;
	size_t n;
};

static void mounts_done(struct mounts *m) {
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].root);
		free(m->e[i].point);
		free(m->e[i].opts);
		free(m->e[i].fstype);
		free(m->e[i].source);
		free(m->e[i].super);
	}
	free(m->e);
	*m = (struct mounts) {};
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static char *unoctal(const char *s) {
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++)
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	*o = '\0';
	return out;
}

/* Every mount of device DEV in FILE (a mountinfo), in mount order. */
static int mounts_of(const char *file, dev_t dev, struct mounts *ret) {
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	_cleanup_free_ char *line = NULL;
	size_t allocated = 0;
	struct mounts m = {};
	if (!f)
		return negative_errno();
	while (getline(&line, &allocated, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		char *fields[64];
		size_t nf = 0;
		line[strcspn(line, "\n")] = '\0';
		for (char *save = NULL, *t = strtok_r(line, " ", &save); t && nf < ELEMENTSOF(fields);
		     t = strtok_r(NULL, " ", &save))
			fields[nf++] = t;
		unsigned maj, min;
		if (nf < 10 || sscanf(fields[2], "%u:%u", &maj, &min) != 2 || makedev(maj, min) != dev)
			continue;
		size_t sep = 6;
		while (sep < nf && !streq(fields[sep], "-"))
			sep++;
		if (sep + 2 >= nf)
			continue;
		struct mount_entry *e = reallocarray(m.e, m.n + 1, sizeof(*e));
		if (!e) {
			mounts_done(&m);
			return -ENOMEM;
		}
		m.e = e;
		e = &m.e[m.n++];
		*e = (struct mount_entry) { .id = atoi(fields[0]) };
		e->root = unoctal(fields[3]);
		e->point = unoctal(fields[4]);
		e->opts = strdup(fields[5]);
		e->fstype = strdup(fields[sep + 1]);
		e->source = unoctal(fields[sep + 2]);
		e->super = strdup(sep + 3 < nf ? fields[sep + 3] : "");
		if (!e->root || !e->point || !e->opts || !e->fstype || !e->source || !e->super) {
			mounts_done(&m);
			return -ENOMEM;
		}
	}
	*ret = m;
	return 0;
}

static bool path_is_below(const char *path, const char *dir) {
	size_t n = strlen(dir);
	if (streq(dir, "/"))
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* A line for the "held by" list; stops adding after a dozen. */
static void holders_add(char **list, size_t *n, const char *fmt, ...) _printf_(3, 4);
static void holders_add(char **list, size_t *n, const char *fmt, ...) {
	if ((*n)++ >= 12) {
		if (*n == 13) {
			char *s = NULL;
			if (asprintf(&s, "%s; ...", *list ? *list : "") >= 0)
				free(*list), *list = s;
		}
		return;
	}
	va_list ap;
	char *item = NULL, *s = NULL;
	va_start(ap, fmt);
	int k = vasprintf(&item, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if (asprintf(&s, "%s%s%s", *list ? *list : "", *list ? "; " : "", item) >= 0)
		free(*list), *list = s;
	free(item);
}

static bool on_device(const char *path, dev_t dev) {
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	return st.st_dev == dev || (S_ISBLK(st.st_mode) && st.st_rdev == dev);
}

/* What keeps DEV (mounted at POINTS, may be none) busy: processes with a working directory, root,
 * open file or mapping on it, other mount namespaces that have it mounted, mounts below its mount
 * points, loop devices backed by files on it. For the error message of a failed umount. */
static char *describe_holders(dev_t dev, const struct mounts *points) {
	char *list = NULL;
	size_t n = 0;
	char self_ns[64] = "", hexdev[32];
	snprintf(hexdev, sizeof(hexdev), " %02x:%02x ", major(dev), minor(dev));
	(void) !readlink("/proc/self/ns/mnt", self_ns, sizeof(self_ns) - 1);

	/* Mounts below a mount point, in our namespace. */
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t allocated = 0;
	while (f && getline(&line, &allocated, f) > 0) {
		char root[PATH_MAX], point[PATH_MAX];
		if (sscanf(line, "%*d %*d %*u:%*u %4095s %4095s", root, point) != 2)
			continue;
		_cleanup_free_ char *p = unoctal(point);
		for (size_t i = 0; p && i < points->n; i++)
			if (!streq(p, points->e[i].point) && path_is_below(p, points->e[i].point))
				holders_add(&list, &n, "mount %s is below it", p);
	}

	_cleanup_closedir_ DIR *proc = opendir("/proc");
	char seen_ns[16][64];
	size_t n_seen = 0;
	for (struct dirent *de; proc && (de = readdir(proc));) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char p[PATH_MAX], comm[64] = "?", ns[64] = "";
		snprintf(p, sizeof(p), "/proc/%s/comm", de->d_name);
		_cleanup_free_ char *c = NULL;
		if (read_one_line_file(p, &c) >= 0)
			snprintf(comm, sizeof(comm), "%s", c);
		snprintf(p, sizeof(p), "/proc/%s/ns/mnt", de->d_name);
		(void) !readlink(p, ns, sizeof(ns) - 1);

		static const char *const links[] = { "cwd", "root" };
		for (size_t i = 0; i < ELEMENTSOF(links); i++) {
			snprintf(p, sizeof(p), "/proc/%s/%s", de->d_name, links[i]);
			if (on_device(p, dev))
				holders_add(&list, &n, "pid %s (%s): %s directory on it", de->d_name, comm,
				            streq(links[i], "cwd") ? "working" : "root");
		}

		snprintf(p, sizeof(p), "/proc/%s/fd", de->d_name);
		_cleanup_closedir_ DIR *fds = opendir(p);
		for (struct dirent *fe; fds && (fe = readdir(fds));) {
			if (fe->d_name[0] == '.')
				continue;
			char fp[PATH_MAX], target[PATH_MAX] = "";
			snprintf(fp, sizeof(fp), "/proc/%s/fd/%s", de->d_name, fe->d_name);
			if (!on_device(fp, dev))
				continue;
			(void) !readlink(fp, target, sizeof(target) - 1);
			holders_add(&list, &n, "pid %s (%s): open file %s", de->d_name, comm, target);
			break; /* one per process is enough */
		}

		snprintf(p, sizeof(p), "/proc/%s/maps", de->d_name);
		_cleanup_fclose_ FILE *maps = fopen(p, "re");
		while (maps && getline(&line, &allocated, maps) > 0) {
			/* ADDR PERMS OFFSET MAJ:MIN INODE PATH; MAJ:MIN in hex */
			char *d = strchr(line, ' ');
			d = d ? strchr(d + 1, ' ') : NULL;
			d = d ? strchr(d + 1, ' ') : NULL;
			if (d && strncmp(d, hexdev, strlen(hexdev)) == 0) {
				char *path = strchr(line, '/');
				if (path)
					path[strcspn(path, "\n")] = '\0';
				holders_add(&list, &n, "pid %s (%s): mapped file %s", de->d_name, comm, path ? path : "?");
				break;
			}
		}

		/* Another mount namespace with the device mounted (once per namespace). */
		if (*ns && !streq(ns, self_ns)) {
			bool seen = false;
			for (size_t i = 0; i < n_seen; i++)
				seen = seen || streq(seen_ns[i], ns);
			if (seen)
				continue;
			if (n_seen < ELEMENTSOF(seen_ns))
				snprintf(seen_ns[n_seen++], sizeof(seen_ns[0]), "%s", ns);
			_cleanup_(mounts_done) struct mounts other = {};
			snprintf(p, sizeof(p), "/proc/%s/mountinfo", de->d_name);
			if (mounts_of(p, dev, &other) >= 0 && other.n > 0)
				holders_add(&list, &n, "the mount namespace of pid %s (%s) has it mounted at %s", de->d_name,
				            comm, other.e[0].point);
		}
	}

	/* Loop devices backed by a file on it. */
	_cleanup_closedir_ DIR *block = opendir("/sys/block");
	for (struct dirent *de; block && (de = readdir(block));) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		char p[PATH_MAX];
		_cleanup_free_ char *backing = NULL;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_one_line_file(p, &backing) < 0)
			continue;
		for (size_t i = 0; i < points->n; i++)
			if (path_is_below(backing, points->e[i].point)) {
				holders_add(&list, &n, "loop device /dev/%s is backed by %s", de->d_name, backing);
				break;
			}
	}
	return list;
}

/* Per-mount flags of mountinfo's field 6 and the superblock flags LVM shows among field 11. */
static unsigned long mount_flags(const char *opts, const char *super, char **ret_data) {
	static const struct {
		const char *name;
		unsigned long flag;
	} table[] = {
		{ "ro", MS_RDONLY },          { "nosuid", MS_NOSUID },       { "nodev", MS_NODEV },
		{ "noexec", MS_NOEXEC },      { "noatime", MS_NOATIME },     { "nodiratime", MS_NODIRATIME },
		{ "relatime", MS_RELATIME },  { "strictatime", MS_STRICTATIME }, { "sync", MS_SYNCHRONOUS },
		{ "dirsync", MS_DIRSYNC },    { "lazytime", MS_LAZYTIME },   { "nosymfollow", MS_NOSYMFOLLOW },
	};
	unsigned long flags = 0;
	char *data = malloc(strlen(super) + 1), *o = data;
	if (data)
		*o = '\0';
	const char *lists[] = { opts, super };
	for (size_t l = 0; l < 2; l++)
		for (const char *p = lists[l]; *p;) {
			size_t len = strcspn(p, ",");
			bool known = len == 2 && strncmp(p, "rw", 2) == 0;
			for (size_t i = 0; i < ELEMENTSOF(table) && !known; i++)
				if (strlen(table[i].name) == len && strncmp(table[i].name, p, len) == 0) {
					flags |= table[i].flag;
					known = true;
				}
			if (!known && l == 1 && data) { /* a filesystem option: pass it on */
				if (o != data)
					*o++ = ',';
				memcpy(o, p, len);
				o += len;
				*o = '\0';
			}
			p += len + (p[len] == ',');
		}
	*ret_data = data;
	return flags;
}

/* Mounts DEVICE again where it was (mount order), with the options it had; bind mounts of a
 * subdirectory are bound from the first whole mount. */
static int remount_all(const char *device, const struct mounts *m, char **ret_error) {
	const char *whole = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const struct mount_entry *e = &m->e[i];
		_cleanup_free_ char *data = NULL;
		unsigned long flags = mount_flags(e->opts, e->super, &data);
		int r = 0;
		if (streq(e->root, "/") || !whole) {
			if (mount(device, e->point, e->fstype, flags, data && *data ? data : NULL) < 0) {
				r = negative_errno();
				/* Not every option mountinfo shows is accepted back: retry with the flags only. */
				if (r == -EINVAL && mount(device, e->point, e->fstype, flags, NULL) >= 0)
					r = 0;
			}
			if (r >= 0 && !streq(e->root, "/")) {
				/* Only subdirectory mounts existed: this one is the whole filesystem now. */
				log_warning("%s was mounted at %s as a bind mount of %s; it is now mounted whole", device,
				            e->point, e->root);
			}
			if (r >= 0 && !whole)
				whole = e->point;
		} else {
			_cleanup_free_ char *src = path_join(whole, e->root);
			if (!src)
				return -ENOMEM;
			if (mount(src, e->point, NULL, MS_BIND, NULL) < 0 ||
			    ((flags & MS_RDONLY) && mount(NULL, e->point, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0))
				r = negative_errno();
		}
		if (r < 0)
			return error_setf(ret_error, r, "cannot mount %s at %s again (%s, %s): %s", device, e->point, e->fstype,
			            e->opts, strerror(-r));
	}
	return 0;
}

/* Unmounts every mount of DEV (last first). On failure mounts back what it unmounted and names
 * what holds the device. */
static int unmount_all(const char *volume, dev_t dev, const char *device, const struct mounts *m,
                       char **ret_error) {
	for (size_t i = m->n; i > 0; i--) {
		const struct mount_entry *e = &m->e[i - 1];
		if (umount2(e->point, UMOUNT_NOFOLLOW) >= 0)
			continue;
		int r = negative_errno();
		_cleanup_free_ char *holders = r == -EBUSY ? describe_holders(dev, m) : NULL;
		/* Put back what was unmounted already. */
		struct mounts rest = { .e = m->e + i, .n = m->n - i };
		_cleanup_free_ char *why = NULL;
		if (rest.n > 0 && remount_all(device, &rest, &why) < 0)
			log_warning("%s", strna(why));
		if (r == -EBUSY)
			return error_setf(ret_error, r, "cannot unmount %s (%s) from %s: it is busy; held by: %s", volume, device,
			            e->point, holders ? holders : "nothing found (a kernel user such as swap or an NFS export?)");
		return error_setf(ret_error, r, "cannot unmount %s (%s) from %s: %s", volume, device, e->point, strerror(-r));
	}
	return 0;
}

/* Waits until the device node of a (re)activated or renamed LV is there. */
static int wait_for_device(const char *path) {
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + DEVICE_WAIT_USEC;
	for (;;) {
		struct stat st;
		if (stat(path, &st) >= 0 && S_ISBLK(st.st_mode))
			return 0;
		if (now_usec(CLOCK_MONOTONIC) > deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

/* ---------------------------------------------------------------------------------------------
 * The backend
 * ------------------------------------------------------------------------------------------- */

static int lvm_check(const char *volume, _unused_ const struct volume_identity *expect, char **ret_error) {
	struct lvm_name n;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s: expected lvm:VG/LV", volume);
	/* Room for "-ckptd-<20 digits>" in the LV name and, doubled hyphens and "-cow" included, in the
	 * device-mapper name of the snapshot. */
	char longest[LV_NAME_MAX * 2];
	snprintf(longest, sizeof(longest), "%s" CKPTD_INFIX "%s", n.lv, "18446744073709551615");
	if (strlen(longest) > LV_NAME_MAX || dm_name_length(n.vg, longest, "-cow") > DM_NAME_MAX)
		return error_setf(ret_error, -ENAMETOOLONG,
		            "volume %s: the names are too long for snapshot names %s" CKPTD_INFIX "ID (LVM allows %d "
		            "characters per name, device-mapper %d for VG-LV with every '-' doubled)",
		            volume, n.lv, LV_NAME_MAX, DM_NAME_MAX);
	if (strstr(n.lv, CKPTD_INFIX))
		return error_setf(ret_error, -EINVAL, "volume %s: an LV named *" CKPTD_INFIX "* is a ckptd snapshot", volume);
	int r = origin_lookup(volume, &n, &o, ret_error);
	if (r < 0)
		return r;
	if (lv_is_thick_snapshot(&o))
		return error_setf(ret_error, -EMEDIUMTYPE, "volume %s is itself a thick snapshot (of %s); LVM cannot snapshot it",
		            volume, o.origin);
	if (lv_is_merging_origin(&o))
		return error_setf(ret_error, -EBUSY, "volume %s: a snapshot is being merged into it; wait until the merge ends",
		            volume);
	if (!lv_is_active(&o))
		return error_setf(ret_error, -ENODEV, "volume %s is not active (lvchange -ay %s/%s)", volume, n.vg, n.lv);
	return 0;
}

static int lvm_snapshot_location(const char *volume, const char *container, uint64_t id, char **ret) {
	struct lvm_name n;
	if (lvm_name_parse(volume, &n) < 0)
		return -EINVAL;
	char *s = NULL;
	if (asprintf(&s, LVM_PREFIX "%s/%s" CKPTD_INFIX "%" PRIu64, n.vg, n.lv, id) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* Only ever touch LVs that are ckptd's: a damaged pair.json must not make us remove an origin. */
static int snapshot_name_parse(const char *snapshot, struct lvm_name *ret) {
	if (lvm_name_parse(snapshot, ret) < 0)
		return -EINVAL;
	const char *infix = strstr(ret->lv, CKPTD_INFIX);
	if (!infix || infix == ret->lv || !infix[strlen(CKPTD_INFIX)])
		return -EINVAL;
	return 0;
}

/* Bytes a thick snapshot of ORIGIN takes with these params, rounded up to whole extents. */
static uint64_t thick_snapshot_bytes(const struct lv_info *origin, const struct snapshot_params *p, uint64_t extent) {
	uint64_t b = p->size_percent ? (origin->size / 100 * p->size_percent +
	                                 (origin->size % 100 * p->size_percent + 99) / 100) :
	                               p->size_bytes;
	if (extent > 0)
		b = (b + extent - 1) / extent * extent;
	return b;
}

static int lvm_prepare(const char *volume, const char *snapshot, const struct snapshot_params *params,
                       char **ret_error) {
	struct lvm_name n, s;
	struct lv_info o;
	int r;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	_cleanup_(vg_report_done) struct vg_report rep = {};
	_cleanup_free_ char *why = NULL;
	r = vg_report_load(n.vg, &rep, &why);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: %s", volume, strna(why));
	if (!vg_report_find(&rep, n.lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n.lv, n.vg);
	kind_remember(volume, lv_is_thin(&o));
	if (vg_report_find(&rep, s.lv, NULL))
		return error_setf(ret_error, -EEXIST, "snapshot %s already exists (a leftover? remove it with lvremove %s/%s)",
		            snapshot, s.vg, s.lv);

	if (lv_is_thin(&o)) {
		/* A thin snapshot takes no room up front; a full or failed pool cannot take one. */
		struct lv_info pool;
		if (vg_report_find(&rep, o.pool, &pool) && (strstr(pool.health, "out_of_data") || strstr(pool.health, "failed") ||
		              strstr(pool.health, "metadata_read_only")))
			return error_setf(ret_error, -ENOSPC, "volume %s: thin pool %s/%s is %s; no snapshot can be taken", volume,
			            n.vg, o.pool, pool.health);
	} else {
		char a[32], b[32], c[32], d[32];
		if (params->size_percent == 0 && params->size_bytes == 0)
			return error_setf(ret_error, -EINVAL,
			            "volume %s is a thick LV: its snapshots need a size; set SnapshotSize= in [Container] "
			            "(e.g. SnapshotSize=20%% of the origin, or SnapshotSize=2G)", volume);
		uint64_t need = thick_snapshot_bytes(&o, params, rep.extent);
		if (need > rep.free) {
			char how[64];
			if (params->size_percent)
				snprintf(how, sizeof(how), "SnapshotSize=%u%% of %s", params->size_percent, format_bytes(d, o.size));
			else
				snprintf(how, sizeof(how), "SnapshotSize=%s", format_bytes(d, params->size_bytes));
			return error_setf(ret_error, -ENOSPC,
			            "thick snapshot of %s does not fit: it needs %s (%s), but volume group %s has only %s "
			            "free of %s; lower SnapshotSize=, free space in %s (delete pairs, vgextend) or use a thin LV",
			            volume, format_bytes(a, need), how, n.vg, format_bytes(b, rep.free), format_bytes(c, rep.size),
			            n.vg);
		}
	}

	/* Flush the mounted filesystem now: LVM's own suspend inside the window then has little to do. */
	_cleanup_(mounts_done) struct mounts m = {};
	if (lv_is_active(&o) && mounts_of("/proc/self/mountinfo", lv_dev(&o), &m) >= 0 && m.n > 0) {
		_cleanup_close_ int fd = open(m.e[0].point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return error_setf(ret_error, negative_errno(), "volume %s: cannot open its mount point %s: %m", volume,
			            m.e[0].point);
		if (syncfs(fd) < 0)
			return error_setf(ret_error, negative_errno(), "syncfs of volume %s at %s failed: %m", volume, m.e[0].point);
	}
	return 0;
}

static int lvm_snapshot(const char *volume, const char *snapshot, const struct snapshot_params *params,
                        json_t **ret_nested, char **ret_error) {
	*ret_nested = NULL; /* an LV has no nested volumes */
	struct lvm_name n, s;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	/* Thin or thick (lvcreate needs different options): known from prepare(), else one lvs. */
	int thin = kind_recall(volume);
	if (thin < 0) {
		int r = origin_lookup(volume, &n, &o, ret_error);
		if (r < 0)
			return r;
		thin = lv_is_thin(&o);
	}

	char target[4 * LV_NAME_MAX], size[64];
	snprintf(target, sizeof(target), "%s/%s", n.vg, n.lv);
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "snapshot of %s at %s", volume, snapshot) < 0)
		return -ENOMEM;
	if (thin) {
		/* No size; not activated (activation skip), read-only. */
		const char *args[] = { "lvcreate", "--snapshot", "--setactivationskip", "y", "--permission", "r",
			               "--name", s.lv, target, NULL };
		return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
	}
	if (params->size_percent == 0 && params->size_bytes == 0)
		return error_setf(ret_error, -EINVAL, "volume %s is a thick LV: set SnapshotSize= in [Container]", volume);
	const char *size_opt = params->size_percent ? "--extents" : "--size";
	if (params->size_percent)
		snprintf(size, sizeof(size), "%u%%ORIGIN", params->size_percent);
	else
		snprintf(size, sizeof(size), "%" PRIu64 "b", params->size_bytes);
	const char *args[] = { "lvcreate", "--snapshot", size_opt, size, "--permission", "r", "--name", s.lv, target, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

static int lvm_exists(const char *snapshot, _unused_ size_t n_nested) {
	struct lvm_name s;
	if (lvm_name_parse(snapshot, &s) < 0)
		return 0;
	int r = lv_lookup(s.vg, s.lv, NULL, NULL);
	return r == -ENXIO ? 0 : r;
}

static int lv_remove(const char *vg, const char *lv, const char *what, char **ret_error) {
	char target[4 * LV_NAME_MAX];
	snprintf(target, sizeof(target), "%s/%s", vg, lv);
	const char *args[] = { "lvremove", "--yes", target, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

static int lvm_remove(const char *snapshot, char **ret_error) {
	struct lvm_name s;
	if (snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "refusing to remove %s: not a ckptd snapshot (lvm:VG/LV" CKPTD_INFIX "ID)",
		            snapshot);
	int r = lv_lookup(s.vg, s.lv, NULL, ret_error);
	if (r == -ENXIO || r == 0)
		return 0;
	if (r < 0)
		return r;
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot delete snapshot %s", snapshot) < 0)
		return -ENOMEM;
	return lv_remove(s.vg, s.lv, what, ret_error);
}

static int lv_rename(const char *vg, const char *from, const char *to, char **ret_error) {
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot rename %s/%s to %s", vg, from, to) < 0)
		return -ENOMEM;
	const char *args[] = { "lvrename", vg, from, to, NULL };
	return lvm_call(args, LVM_TIMEOUT_USEC, what, NULL, ret_error);
}

/* Leftovers of an interrupted thin rollback: <LV>-ckptd-next is never live, drop it; a lone
 * <LV>-ckptd-old (no LV) is the live state of before the swap, rename it back; beside LV it is a
 * replaced state whose removal failed, drop it. */
/* Returns 1 when it changed something (the report is stale then), 0 when there was nothing to do. */
static int thin_recover(const char *volume, const struct lvm_name *n, const char *next, const char *old,
                        const struct vg_report *rep, char **ret_error) {
	int r;
	bool has_lv = vg_report_find(rep, n->lv, NULL), has_old = vg_report_find(rep, old, NULL),
	     has_next = vg_report_find(rep, next, NULL);
	if (has_next && (r = lv_remove(n->vg, next, "removing the leftover of an interrupted rollback", ret_error)) < 0)
		return r;
	if (has_old && !has_lv) {
		log_warning("%s: %s/%s is missing and %s/%s exists (an interrupted rollback): renaming it back", volume,
		            n->vg, n->lv, n->vg, old);
		r = lv_rename(n->vg, old, n->lv, ret_error);
		return r < 0 ? r : 1;
	}
	if (has_old && (r = lv_remove(n->vg, old, "removing the leftover of an interrupted rollback", ret_error)) < 0)
		return r;
	return has_old || has_next;
}

static int thin_rollback(const char *volume, const char *snapshot, const struct lvm_name *n, const struct lvm_name *s,
                         struct vg_report *rep, char **ret_error) {
	char next[LV_NAME_MAX + 16], old[LV_NAME_MAX + 16], source[2 * LV_NAME_MAX + 2];
	snprintf(next, sizeof(next), "%s" CKPTD_INFIX "next", n->lv);
	snprintf(old, sizeof(old), "%s" CKPTD_INFIX "old", n->lv);
	snprintf(source, sizeof(source), "%s/%s", s->vg, s->lv);
	struct lv_info o;
	int r;

	r = thin_recover(volume, n, next, old, rep, ret_error);
	if (r < 0)
		return r;
	if (r > 0) {
		vg_report_done(rep);
		r = vg_report_load(n->vg, rep, ret_error);
		if (r < 0)
			return r;
	}
	if (!vg_report_find(rep, n->lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);

	_cleanup_(mounts_done) struct mounts m = {};
	dev_t dev = lv_dev(&o);
	if (lv_is_active(&o)) {
		r = mounts_of("/proc/self/mountinfo", dev, &m);
		if (r < 0)
			return error_setf(ret_error, r, "volume %s: cannot read /proc/self/mountinfo: %s", volume, strerror(-r));
	}

	/* The new volume first, while the old one is still in place: nothing changed if this fails. */
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot create the rollback volume %s/%s from %s", n->vg, next, snapshot) < 0)
		return -ENOMEM;
	const char *create[] = { "lvcreate", "--snapshot", "--setactivationskip", "n", "--activate", "y",
		                 "--permission", "rw", "--name", next, source, NULL };
	r = lvm_call(create, LVM_TIMEOUT_USEC, what, NULL, ret_error);
	if (r < 0)
		return r;

	r = unmount_all(volume, dev, o.path, &m, ret_error);
	if (r >= 0 && lv_lookup(n->vg, n->lv, &o, ret_error) > 0 && lv_is_open(&o)) {
		_cleanup_free_ char *holders = describe_holders(dev, &m);
		r = error_setf(ret_error, -EBUSY, "volume %s (%s) is still open after unmounting it; held by: %s", volume, o.path,
		         holders ? holders : "nothing found in /proc (a kernel user: another device-mapper device, swap?)");
		_cleanup_free_ char *why = NULL;
		if (remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
	}
	if (r < 0) {
		(void) lv_remove(n->vg, next, "removing the unused rollback volume", NULL);
		return r;
	}

	/* The swap. LVM has no atomic exchange; thin_recover() handles a crash in between. */
	r = lv_rename(n->vg, n->lv, old, ret_error);
	if (r >= 0) {
		r = lv_rename(n->vg, next, n->lv, ret_error);
		if (r < 0 && lv_rename(n->vg, old, n->lv, NULL) < 0) {
			_cleanup_free_ char *why = TAKE_PTR(*ret_error);
			return error_setf(ret_error, r, "%s; and renaming %s/%s back to %s failed: rename it by hand", strna(why),
			            n->vg, old, n->lv);
		}
	}
	if (r < 0) {
		(void) lv_remove(n->vg, next, "removing the unused rollback volume", NULL);
		_cleanup_free_ char *why = NULL;
		if (remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}

	/* The live volume is the pair's state now; mount it where the old one was (same path:
	 * /dev/VG/LV). */
	if (wait_for_device(o.path) < 0)
		r = error_setf(ret_error, -ETIMEDOUT, "volume %s: device %s did not appear", volume, o.path);
	if (r >= 0)
		r = remount_all(o.path, &m, ret_error);
	if (r < 0) {
		_cleanup_free_ char *why = TAKE_PTR(*ret_error);
		return error_setf(ret_error, r, "volume %s was rolled back to %s, but: %s (the replaced state is %s/%s)", volume,
		            snapshot, strna(why), n->vg, old);
	}
	_cleanup_free_ char *why = NULL;
	if (lv_remove(n->vg, old, "removing the replaced state", &why) < 0)
		return error_setf(ret_error, 0, "volume %s rolled back to %s, but the replaced state %s/%s could not be removed: %s",
		            volume, snapshot, n->vg, old, strna(why));
	return 0;
}

static int thick_rollback(const char *volume, const char *snapshot, const struct lvm_name *n, const struct lvm_name *s,
                          const struct vg_report *rep, const struct lv_info *snap, char **ret_error) {
	struct lv_info o;
	int r;
	if (!vg_report_find(rep, n->lv, &o))
		return error_setf(ret_error, -ENOENT, "volume %s: no logical volume %s in volume group %s", volume, n->lv, n->vg);
	if (!lv_is_thick_snapshot(snap) || !streq(snap->origin, n->lv))
		return error_setf(ret_error, -EMEDIUMTYPE, "%s is not a snapshot of %s (its origin is '%s')", snapshot, volume,
		            snap->origin);
	if (lv_is_invalid_snapshot(snap))
		return error_setf(ret_error, -EBADMSG,
		            "snapshot %s overflowed (its copy-on-write space filled up; LVM invalidated it): "
		            "volume %s cannot be rolled back to it", snapshot, volume);

	_cleanup_(mounts_done) struct mounts m = {};
	dev_t dev = lv_dev(&o);
	r = mounts_of("/proc/self/mountinfo", dev, &m);
	if (r < 0)
		return error_setf(ret_error, r, "volume %s: cannot read /proc/self/mountinfo: %s", volume, strerror(-r));
	r = unmount_all(volume, dev, o.path, &m, ret_error);
	if (r < 0)
		return r;
	/* An open origin would make LVM defer the merge to the next activation: refuse that. */
	if (lv_lookup(n->vg, n->lv, &o, ret_error) > 0 && lv_is_open(&o)) {
		_cleanup_free_ char *holders = describe_holders(dev, &m), *why = NULL;
		r = error_setf(ret_error, -EBUSY, "volume %s (%s) is still open after unmounting it; held by: %s", volume, o.path,
		         holders ? holders : "nothing found in /proc (a kernel user: another device-mapper device, swap?)");
		if (remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}

	/* The merge: the origin shows the snapshot's content at once; lvconvert waits (polling every
	 * second) until the copy is done and LVM has removed the snapshot. */
	char source[2 * LV_NAME_MAX + 2];
	snprintf(source, sizeof(source), "%s/%s", s->vg, s->lv);
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "cannot merge snapshot %s into %s", snapshot, volume) < 0)
		return -ENOMEM;
	const char *merge[] = { "lvconvert", "--merge", "--interval", "1", source, NULL };
	_cleanup_(lvm_result_done) struct lvm_result res = {};
	r = lvm_call(merge, LVM_MERGE_TIMEOUT_USEC, what, &res, ret_error);
	if (r >= 0 && (strstr(res.out, "Delaying merge") || strstr(res.err, "Delaying merge")))
		r = error_setf(ret_error, -EBUSY,
		         "%s: LVM deferred the merge because the origin is in use: it happens at the next activation "
		         "of %s/%s (lvchange -an, then -ay)", what, n->vg, n->lv);
	if (r < 0) {
		_cleanup_free_ char *why = NULL;
		if (lv_lookup(n->vg, n->lv, &o, NULL) > 0 && !lv_is_merging_origin(&o) && remount_all(o.path, &m, &why) < 0)
			log_warning("%s", strna(why));
		return r;
	}
	if (wait_for_device(o.path) < 0)
		return error_setf(ret_error, -ETIMEDOUT, "volume %s: device %s did not come back after the merge", volume, o.path);
	r = remount_all(o.path, &m, ret_error);
	if (r < 0) {
		_cleanup_free_ char *why = TAKE_PTR(*ret_error);
		return error_setf(ret_error, r, "volume %s was rolled back (snapshot %s merged into it and consumed), but: %s",
		            volume, snapshot, strna(why));
	}
	/* Success, with the news the caller must pass on. */
	return error_setf(ret_error, 0,
	            "volume %s rolled back by merging the thick snapshot %s into it: LVM consumes a merged snapshot, "
	            "so it no longer exists and this pair cannot be rolled back to again",
	            volume, snapshot);
}

static int lvm_rollback(const char *volume, const char *snapshot, _unused_ json_t *nested, char **ret_error) {
	struct lvm_name n, s;
	struct lv_info snap;
	if (lvm_name_parse(volume, &n) < 0 || snapshot_name_parse(snapshot, &s) < 0)
		return error_setf(ret_error, -EINVAL, "volume %s / snapshot %s: not LVM names", volume, snapshot);
	if (!streq(n.vg, s.vg))
		return error_setf(ret_error, -EINVAL, "snapshot %s is not in the volume group of %s", snapshot, volume);
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(n.vg, &rep, ret_error);
	if (r < 0)
		return r;
	if (!vg_report_find(&rep, s.lv, &snap))
		return error_setf(ret_error, -ENOENT, "snapshot %s is missing", snapshot);
	if (lv_is_thin(&snap))
		return thin_rollback(volume, snapshot, &n, &s, &rep, ret_error);
	return thick_rollback(volume, snapshot, &n, &s, &rep, &snap, ret_error);
}

static int lvm_space(const char *volume, uint64_t *ret_total, uint64_t *ret_free) {
	struct lvm_name n;
	struct lv_info o;
	if (lvm_name_parse(volume, &n) < 0)
		return -EINVAL;
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(n.vg, &rep, NULL);
	if (r < 0)
		return r;
	if (!vg_report_find(&rep, n.lv, &o))
		return -ENOENT;
	if (lv_is_thin(&o)) {
		struct lv_info pool;
		if (!vg_report_find(&rep, o.pool, &pool))
			return -ENOENT;
		double used = pool.data_percent < 0 ? 0 : pool.data_percent > 100 ? 100 : pool.data_percent;
		*ret_total = pool.size;
		*ret_free = (uint64_t) ((double) pool.size * (100.0 - used) / 100.0);
		return 0;
	}
	*ret_total = rep.size;
	*ret_free = rep.free;
	return 0;
}

static int lvm_health(const char *snapshot, char **ret_problem) {
	struct lvm_name s;
	struct lv_info i;
	if (lvm_name_parse(snapshot, &s) < 0)
		return -EINVAL;
	_cleanup_(vg_report_done) struct vg_report rep = {};
	int r = vg_report_load(s.vg, &rep, NULL);
	if (r < 0)
		return r == -ENXIO ? 0 : r;
	if (!vg_report_find(&rep, s.lv, &i))
		return 0; /* missing: exists() reports that */
	if (lv_is_invalid_snapshot(&i))
		return error_setf(ret_problem, 1,
		            "snapshot %s overflowed: its copy-on-write space (%s) filled up and LVM invalidated it; "
		            "it cannot be rolled back to (a larger SnapshotSize= avoids this)",
		            snapshot, format_bytes((char[32]) {}, i.size));
	if (lv_is_thin(&i)) {
		struct lv_info pool;
		if (vg_report_find(&rep, i.pool, &pool) &&
		    (strstr(pool.health, "failed") || strstr(pool.health, "out_of_data")))
			return error_setf(ret_problem, 1, "snapshot %s: its thin pool %s/%s is %s", snapshot, s.vg, i.pool,
			            pool.health);
	}
	return 0;
}

const struct snapshot_backend lvm_backend = {
	.name = "lvm",
	.recognizes = lvm_recognizes,
	.check = lvm_check,
	.snapshot_location = lvm_snapshot_location,
	.prepare = lvm_prepare,
	.snapshot = lvm_snapshot,
	.remove = lvm_remove,
	.exists = lvm_exists,
	.rollback = lvm_rollback,
	.space = lvm_space,
	.health = lvm_health,
};
