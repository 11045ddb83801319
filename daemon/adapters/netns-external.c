/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A network namespace CRIU treats as external: its configuration saved, replayed and proven by
 * ckptd. See netns-external.h. */
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <jansson.h>

#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "netns-external.h"
#include "netns-fingerprint.h"
#include "process.h"
#include "time-util.h"

#define SAVED_MAX_FILES 64

/* ---- a new namespace ------------------------------------------------------------------------ */

int netns_external_new(int *ret_fd, char **ret_error) {
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return error_setf(ret_error, negative_errno(), "cannot open this thread's network namespace: %m");
	if (unshare(CLONE_NEWNET) < 0)
		return error_setf(ret_error, negative_errno(), "cannot create a network namespace: %m");
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int saved_errno = errno;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* This thread would go on working in the wrong namespace: nothing sane is left. */
		log_error("cannot return to the daemon's network namespace: %m");
		abort();
	}
	if (fd < 0)
		return error_setf(ret_error, -saved_errno, "cannot open the new network namespace: %s", strerror(saved_errno));
	*ret_fd = fd;
	return 0;
}

/* ---- saved files ---------------------------------------------------------------------------- */

void netns_saved_done(struct netns_saved *s) {
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].name);
		free(s->f[i].data);
	}
	free(s->f);
	*s = (struct netns_saved) {};
}

/* Takes DATA. */
static int saved_add(struct netns_saved *s, const char *name, char *data, size_t size) {
	struct netns_saved_file *f = realloc(s->f, (s->n + 1) * sizeof(*f));
	if (!f) {
		free(data);
		return -ENOMEM;
	}
	s->f = f;
	char *n = strdup(name);
	if (!n) {
		free(data);
		return -ENOMEM;
	}
	s->f[s->n++] = (struct netns_saved_file) { .name = n, .data = data, .size = size };
	return 0;
}

static const struct netns_saved_file *saved_get(const struct netns_saved *s, const char *name) {
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->f[i].name, name))
			return &s->f[i];
	return NULL;
}

const char *netns_saved_fingerprint(const struct netns_saved *s) {
	const struct netns_saved_file *f = saved_get(s, "fingerprint");
	return f ? f->data : NULL;
}

/* A saved file's name: letters, digits, '-', '_' and '.', not starting with '.'. */
static bool saved_name_ok(const char *n) {
	if (!n[0] || n[0] == '.' || strlen(n) > 64)
		return false;
	for (const char *c = n; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_' || *c == '.'))
			return false;
	return true;
}

/* The file: "ckptd-netns-external 1\n", then per entry "NAME SIZE\n", SIZE bytes, "\n". */
#define SAVED_MAGIC "ckptd-netns-external 1\n"

int netns_saved_write_file(const struct netns_saved *s, const char *path, char **ret_error) {
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_setf(ret_error, negative_errno(), "cannot create %s: %m", path);
	int r = write_all(fd, SAVED_MAGIC, strlen(SAVED_MAGIC));
	for (size_t i = 0; r >= 0 && i < s->n; i++) {
		char head[128];
		int k = snprintf(head, sizeof(head), "%s %zu\n", s->f[i].name, s->f[i].size);
		r = write_all(fd, head, (size_t) k);
		if (r >= 0)
			r = write_all(fd, s->f[i].data, s->f[i].size);
		if (r >= 0)
			r = write_all(fd, "\n", 1);
	}
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r < 0)
		return error_setf(ret_error, r, "cannot write %s: %m", path);
	return 0;
}

int netns_saved_parse(const char *buf, size_t size, struct netns_saved *ret, char **ret_error) {
	size_t m = strlen(SAVED_MAGIC);
	if (size < m || memcmp(buf, SAVED_MAGIC, m) != 0)
		return error_setf(ret_error, -EBADMSG, "not a saved network configuration of ckptd");
	struct netns_saved s = {};
	int r = 0;
	for (size_t pos = m; r >= 0 && pos < size;) {
		const char *nl = memchr(buf + pos, '\n', size - pos), *sp = memchr(buf + pos, ' ', size - pos);
		char name[72];
		if (!nl || !sp || sp > nl || (size_t) (sp - (buf + pos)) >= sizeof(name) || s.n >= SAVED_MAX_FILES) {
			r = error_setf(ret_error, -EBADMSG, "bad entry header at byte %zu", pos);
			break;
		}
		memcpy(name, buf + pos, (size_t) (sp - (buf + pos)));
		name[sp - (buf + pos)] = '\0';
		char *end;
		unsigned long long n = strtoull(sp + 1, &end, 10);
		size_t data = (size_t) (nl - buf) + 1;
		if (end != nl || !saved_name_ok(name) || n > size - data || size - data - n < 1 || buf[data + n] != '\n') {
			r = error_setf(ret_error, -EBADMSG, "bad entry %s at byte %zu", name, pos);
			break;
		}
		char *copy = malloc(n + 1);
		if (!copy) {
			r = error_setf(ret_error, -ENOMEM, "out of memory");
			break;
		}
		memcpy(copy, buf + data, n);
		copy[n] = '\0';
		if ((r = saved_add(&s, name, copy, n)) < 0)
			(void) error_setf(ret_error, r, "out of memory");
		pos = data + n + 1;
	}
	if (r < 0) {
		netns_saved_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int netns_saved_read_file(const char *path, struct netns_saved *ret, char **ret_error) {
	_cleanup_close_ int fd = open_nofollow(path, O_RDONLY);
	if (fd < 0)
		return error_setf(ret_error, fd, "cannot open %s: %m", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20))
		return error_setf(ret_error, -EBADMSG, "%s is not a regular file of a sane size", path);
	_cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
	if (!buf)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	size_t size = 0;
	for (ssize_t k; size < (size_t) st.st_size; size += (size_t) k) {
		k = read_eintr(fd, buf + size, (size_t) st.st_size - size);
		if (k < 0)
			return error_setf(ret_error, (int) k, "cannot read %s: %m", path);
		if (k == 0)
			break;
	}
	int r;
	_cleanup_free_ char *why = NULL;
	r = netns_saved_parse(buf, size, ret, &why);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "%s", path);
	return 0;
}

/* ---- save ----------------------------------------------------------------------------------- */

/* Runs ARGV in NETNS_FD and keeps its stdout as NAME; the exit status must be 0. Missing tool:
 * nothing kept (MISSING_OK) or an error. */
static int save_output(int netns_fd, struct netns_saved *s, const char *name, const char *const *argv, bool missing_ok,
                       char **ret_error) {
	_cleanup_(process_result_done) struct process_result res = {};
	int r = netns_run_tool(netns_fd, argv, NULL, 0, &res, ret_error);
	if (r == -ENOENT && missing_ok)
		return 0;
	if (r == -ENOENT)
		return error_setf(ret_error, r, "%s is not installed", argv[0]);
	if (r < 0)
		return r;
	if (res.exit_status != 0)
		return error_setf(ret_error, -EIO, "%s %s failed (exit status %d): %s", argv[0], strempty(argv[1]),
		                  res.exit_status, strempty(res.err));
	r = saved_add(s, name, TAKE_PTR(res.out), res.out_size);
	return r < 0 ? error_setf(ret_error, r, "out of memory") : 0;
}

/* lo's MTU and whether it is UP, from `ip -o link show dev lo`, as "MTU up|down\n". */
static int save_lo(int netns_fd, struct netns_saved *s, char **ret_error) {
	const char *argv[] = { "ip", "-o", "link", "show", "dev", "lo", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = netns_run_tool(netns_fd, argv, NULL, 0, &res, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "ip is not installed");
	if (r < 0)
		return r;
	const char *flags = res.out ? strchr(res.out, '<') : NULL, *mtu = res.out ? strstr(res.out, " mtu ") : NULL;
	const char *end = flags ? strchr(flags, '>') : NULL;
	if (res.exit_status != 0 || !flags || !end || !mtu)
		return error_setf(ret_error, -EIO, "cannot read lo's state: %s", strempty(res.err));
	bool up = false;
	for (const char *p = flags + 1; p < end;) {
		size_t k = strcspn(p, ",>");
		if (k == 2 && strncmp(p, "UP", 2) == 0)
			up = true;
		p += k + 1;
	}
	char *text = NULL;
	if (asprintf(&text, "%lu %s\n", strtoul(mtu + 5, NULL, 10), up ? "up" : "down") < 0)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	r = saved_add(s, "lo", text, strlen(text));
	return r < 0 ? error_setf(ret_error, r, "out of memory") : 0;
}

/* ip -6 route save for main and every table but local (the kernel fills local from the
 * addresses; saved, its entries would come back twice). */
static int save_route6(int netns_fd, struct netns_saved *s, char **ret_error) {
	const char *list[] = { "ip", "-6", "route", "show", "table", "all", NULL };
	_cleanup_(process_result_done) struct process_result res = {};
	int r = netns_run_tool(netns_fd, list, NULL, 0, &res, ret_error);
	if (r < 0)
		return r == -ENOENT ? error_setf(ret_error, r, "ip is not installed") : r;
	const char *tables[SAVED_MAX_FILES / 2] = { "main" };
	size_t n = 1;
	char *p = res.out;
	while (p && (p = strstr(p, " table "))) {
		p += 7;
		size_t k = strcspn(p, " \n");
		char save = p[k];
		p[k] = '\0';
		bool known = streq(p, "local") || !saved_name_ok(p);
		for (size_t i = 0; i < n && !known; i++)
			known = streq(tables[i], p);
		if (!known && n == ELEMENTSOF(tables))
			return error_setf(ret_error, -E2BIG, "more than %zu IPv6 routing tables", ELEMENTSOF(tables));
		if (!known)
			tables[n++] = p;
		p += k;
		if (save) /* p[k] was cut: the next search starts after it */
			p++;
	}
	for (size_t i = 0; i < n; i++) {
		char name[96];
		snprintf(name, sizeof(name), "route6-%s.save", tables[i]);
		const char *argv[] = { "ip", "-6", "route", "save", "table", tables[i], NULL };
		if ((r = save_output(netns_fd, s, name, argv, false, ret_error)) < 0)
			return r;
	}
	return 0;
}

int netns_external_save(int netns_fd, struct netns_saved *ret, char **ret_error) {
	struct netns_saved s = {};
	static const struct {
		const char *name;
		const char *argv[8];
		bool missing_ok;
	} saves[] = {
		{ "addr.save", { "ip", "addr", "save" }, false },
		{ "route4.save", { "ip", "-4", "route", "save", "table", "all" }, false },
		{ "rule4.save", { "ip", "-4", "rule", "save" }, false },
		{ "rule6.save", { "ip", "-6", "rule", "save" }, false },
		{ "iptables-legacy.save", { "iptables-legacy-save" }, true },
		{ "ip6tables-legacy.save", { "ip6tables-legacy-save" }, true },
		{ "nft.ruleset", { "nft", "list", "ruleset" }, true },
	};
	int r = save_lo(netns_fd, &s, ret_error);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(saves); i++)
		r = save_output(netns_fd, &s, saves[i].name, saves[i].argv, saves[i].missing_ok, ret_error);
	if (r >= 0)
		r = save_route6(netns_fd, &s, ret_error);
	char *fp = NULL;
	if (r >= 0 && (r = netns_fingerprint(netns_fd, &fp, ret_error)) >= 0 &&
	    (r = saved_add(&s, "fingerprint", fp, strlen(fp))) < 0)
		(void) error_setf(ret_error, r, "out of memory");
	if (r < 0) {
		netns_saved_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

/* ---- replay --------------------------------------------------------------------------------- */

/* Runs ARGV with the saved file NAME (absent or empty: skipped unless ALWAYS) as stdin; STRICT:
 * its exit status must be 0. */
static int replay_one(int netns_fd, const struct netns_saved *s, const char *name, const char *const *argv,
                      bool strict, char **ret_error) {
	const struct netns_saved_file *f = name ? saved_get(s, name) : NULL;
	if (name && (!f || f->size == 0))
		return 0;
	_cleanup_(process_result_done) struct process_result res = {};
	int r = netns_run_tool(netns_fd, argv, f ? f->data : NULL, f ? f->size : 0, &res, ret_error);
	if (r == -ENOENT)
		return error_setf(ret_error, r, "%s is not installed", argv[0]);
	if (r < 0)
		return r;
	if (strict && res.exit_status != 0)
		return error_setf(ret_error, -EIO, "%s refused the saved %s (exit status %d): %s", argv[0], name,
		                  res.exit_status, strempty(res.err));
	return 0;
}

int netns_external_replay(int netns_fd, const struct netns_saved *s, char **ret_error) {
	const struct netns_saved_file *lo = saved_get(s, "lo");
	if (!lo || !lo->data)
		return error_setf(ret_error, -EBADMSG, "the saved configuration has no state of lo");
	char mtu[24];
	bool up = strstr(lo->data, " up") != NULL;
	snprintf(mtu, sizeof(mtu), "%lu", strtoul(lo->data, NULL, 10));
	const char *link[] = { "ip", "link", "set", "dev", "lo", "mtu", mtu, up ? "up" : "down", NULL };
	int r = replay_one(netns_fd, s, NULL, link, true, ret_error);
	/* The ip restores stop at nothing but report "File exists" for what the kernel made. */
	const char *addr[] = { "ip", "addr", "restore", NULL };
	const char *route4[] = { "ip", "-4", "route", "restore", NULL };
	const char *route6[] = { "ip", "-6", "route", "restore", NULL };
	if (r >= 0)
		r = replay_one(netns_fd, s, "addr.save", addr, false, ret_error);
	if (r >= 0)
		r = replay_one(netns_fd, s, "route4.save", route4, false, ret_error);
	for (size_t i = 0; r >= 0 && i < s->n; i++)
		if (strncmp(s->f[i].name, "route6-", 7) == 0)
			r = replay_one(netns_fd, s, s->f[i].name, route6, false, ret_error);
	/* The rules: the kernel's default ones out first (a restore would add them twice). */
	for (int v6 = 0; r >= 0 && v6 < 2; v6++) {
		const char *fam = v6 ? "-6" : "-4";
		const char *flush[] = { "ip", fam, "rule", "flush", NULL };
		const char *del[] = { "ip", fam, "rule", "delete", "table", "local", NULL };
		const char *restore[] = { "ip", fam, "rule", "restore", NULL };
		r = replay_one(netns_fd, s, NULL, flush, false, ret_error);
		if (r >= 0)
			r = replay_one(netns_fd, s, NULL, del, false, ret_error);
		if (r >= 0)
			r = replay_one(netns_fd, s, v6 ? "rule6.save" : "rule4.save", restore, false, ret_error);
	}
	const char *ipt[] = { "iptables-legacy-restore", "-w", NULL };
	const char *ip6t[] = { "ip6tables-legacy-restore", "-w", NULL };
	const char *nft[] = { "nft", "-f", "/dev/stdin", NULL };
	if (r >= 0)
		r = replay_one(netns_fd, s, "iptables-legacy.save", ipt, true, ret_error);
	if (r >= 0)
		r = replay_one(netns_fd, s, "ip6tables-legacy.save", ip6t, true, ret_error);
	if (r >= 0)
		r = replay_one(netns_fd, s, "nft.ruleset", nft, true, ret_error);
	return r;
}

/* ---- proof ---------------------------------------------------------------------------------- */

int netns_external_prove(const struct netns_saved *s, char **ret_reason, char **ret_error) {
	*ret_reason = NULL;
	const char *saved_fp = netns_saved_fingerprint(s);
	if (!saved_fp)
		return error_setf(ret_error, -EBADMSG, "the saved configuration has no fingerprint");
	_cleanup_close_ int scratch = -EBADF;
	_cleanup_free_ char *why = NULL, *fp = NULL;
	int r = netns_external_new(&scratch, ret_error);
	if (r < 0)
		return r;
	r = netns_external_replay(scratch, s, &why);
	if (r < 0) {
		/* A ruleset the tools refuse is a reason, not a failure of the proof. */
		if (asprintf(ret_reason, "the configuration cannot be replayed: %s", strna(why)) < 0)
			return error_setf(ret_error, -ENOMEM, "out of memory");
		return 0;
	}
	r = netns_fingerprint(scratch, &fp, ret_error);
	if (r < 0)
		return r;
	*ret_reason = netns_fingerprint_difference(saved_fp, fp, "the container", "the replay");
	return 0;
}

/* ---- scope and check ------------------------------------------------------------------------ */

char *netns_external_out_of_scope(json_t *report) {
	char *why = NULL;
	size_t i;
	json_t *v;
	json_t *machine = json_object_get(json_object_get(report, "nspawn"), "machine");
	if (machine) {
		if (asprintf(&why, "nspawn machine %s: machines stay with the pre-save (not tried as external)",
		             strna(json_string_value(machine))) < 0)
			return NULL;
		return why;
	}
	json_array_foreach(json_object_get(json_object_get(report, "network"), "interfaces"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (streq_ptr(name, "lo"))
			continue;
		const char *kind = json_string_value(json_object_get(v, "kind"));
		if (asprintf(&why, "link %s (%s) cannot be re-created by replay (only namespaces with lo alone are treated "
		             "as external; veth pairs stay with the pre-save)", strna(name), kind ? kind : "kind unknown") < 0)
			return NULL;
		return why;
	}
	return NULL;
}

void netns_external_check(int netns_fd, json_t *report, struct netns_saved *ret_saved, char **ret_reason) {
	*ret_saved = (struct netns_saved) {};
	*ret_reason = netns_external_out_of_scope(report);
	if (*ret_reason)
		return;
	_cleanup_free_ char *why = NULL;
	int r = netns_external_save(netns_fd, ret_saved, &why);
	if (r >= 0)
		r = netns_external_prove(ret_saved, ret_reason, &why);
	if (r < 0) {
		netns_saved_done(ret_saved);
		if (asprintf(ret_reason, "the proof could not be made: %s", why ? why : strerror(-r)) < 0)
			*ret_reason = strdup("the proof could not be made: out of memory");
	}
}
