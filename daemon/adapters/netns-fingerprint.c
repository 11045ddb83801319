/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A network namespace's fingerprint and the comparison of two: see netns-fingerprint.h. */
#include <fcntl.h>
#include <sys/mman.h>

#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "netns-fingerprint.h"
#include "process.h"
#include "time-util.h"

#define TOOL_TIMEOUT_USEC (30 * USEC_PER_SEC)

/* ---- running a tool in a namespace ---------------------------------------------------------- */

int netns_run_tool(int netns_fd, const char *const *argv, const char *stdin_data, size_t stdin_size,
                    struct process_result *res, char **ret_error) {
	_cleanup_close_ int in = -EBADF;
	if (stdin_data) {
		in = memfd_create("ckptd-netns-replay", MFD_CLOEXEC);
		if (in < 0)
			return error_setf(ret_error, negative_errno(), "cannot create a memfd: %m");
		int r = write_all(in, stdin_data, stdin_size);
		if (r < 0 || lseek(in, 0, SEEK_SET) < 0)
			return error_setf(ret_error, r < 0 ? r : negative_errno(), "cannot fill a memfd: %m");
	}
	struct process_spec spec = {
		.argv = argv,
		.netns_fd = netns_fd,
		.stdin_fd = in >= 0 ? in : 0,
		.timeout_usec = TOOL_TIMEOUT_USEC,
	};
	_cleanup_free_ char *why = NULL;
	int r = process_run(&spec, res, &why);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return error_pass(ret_error, r, &why);
	if (res->timed_out || res->signal || res->out_truncated)
		return error_setf(ret_error, -EIO, "%s %s %s", argv[0], strempty(argv[1]),
		                  res->timed_out ? "timed out" : res->signal ? "was killed by a signal" :
		                  "wrote more than ckptd keeps");
	return 0;
}

/* ---- the fingerprint ------------------------------------------------------------------------ */

struct fp_command {
	const char *section;
	const char *argv[8];
};

static const struct fp_command fp_commands[] = {
	{ "link", { "ip", "-d", "-o", "link", "show" } },
	{ "addr", { "ip", "-o", "addr", "show" } },
	{ "route4", { "ip", "-4", "route", "show", "table", "all" } },
	{ "route6", { "ip", "-6", "route", "show", "table", "all" } },
	{ "rule4", { "ip", "-4", "rule", "show" } },
	{ "rule6", { "ip", "-6", "rule", "show" } },
	{ "iptables-legacy", { "iptables-legacy-save" } },
	{ "ip6tables-legacy", { "ip6tables-legacy-save" } },
	{ "nft", { "nft", "list", "ruleset" } },
	{ "sysctl", { "sysctl", "net" } },
};

/* Whether a line of SECTION is configuration (the others are dropped), and its text (in place:
 * iptables-save's chain counters cut off). */
static bool fp_keep_line(const char *section, char *line) {
	if (!line[0])
		return false;
	if (strstr(section, "tables-legacy")) {
		if (line[0] == '#')
			return false;
		char *br;
		if (line[0] == ':' && (br = strstr(line, " [")))
			*br = '\0';
	}
	if (streq(section, "sysctl") && strncmp(line, "net.netfilter.nf_conntrack_count ", 33) == 0)
		return false;
	return true;
}

static int fp_append(char **buf, size_t *len, const char *s) {
	size_t k = strlen(s);
	char *n = realloc(*buf, *len + k + 1);
	if (!n)
		return -ENOMEM;
	memcpy(n + *len, s, k + 1);
	*buf = n;
	*len += k;
	return 0;
}

int netns_fingerprint(int netns_fd, char **ret, char **ret_error) {
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	for (size_t i = 0; i < ELEMENTSOF(fp_commands); i++) {
		const struct fp_command *c = &fp_commands[i];
		char head[64];
		snprintf(head, sizeof(head), "## %s\n", c->section);
		if (fp_append(&buf, &len, head) < 0)
			return error_setf(ret_error, -ENOMEM, "out of memory");
		_cleanup_(process_result_done) struct process_result res = {};
		int r = netns_run_tool(netns_fd, c->argv, NULL, 0, &res, ret_error);
		if (r == -ENOENT) {
			if (fp_append(&buf, &len, "(not installed)\n") < 0)
				return error_setf(ret_error, -ENOMEM, "out of memory");
			continue;
		}
		if (r < 0)
			return r;
		for (char *line = res.out, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (!fp_keep_line(c->section, line))
				continue;
			if (fp_append(&buf, &len, line) < 0 || fp_append(&buf, &len, "\n") < 0)
				return error_setf(ret_error, -ENOMEM, "out of memory");
		}
		/* sysctl exits non-zero for the entries no one may read (stable_secret): its lines count. */
		if (res.exit_status != 0 && !streq(c->section, "sysctl")) {
			char st[32];
			snprintf(st, sizeof(st), "(exit status %d)\n", res.exit_status);
			if (fp_append(&buf, &len, st) < 0)
				return error_setf(ret_error, -ENOMEM, "out of memory");
		}
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

/* One section of a fingerprint: its name and lines (pointers into a copy of the text). */
struct fp_section {
	const char *name;
	char **lines;
	size_t n;
	bool *matched;
};

struct fp {
	char *text;
	struct fp_section *s;
	size_t n;
};

static void fp_done(struct fp *f) {
	for (size_t i = 0; i < f->n; i++) {
		free(f->s[i].lines);
		free(f->s[i].matched);
	}
	free(f->s);
	free(f->text);
}

static int fp_parse(const char *text, struct fp *f) {
	*f = (struct fp) { .text = strdup(text) };
	if (!f->text)
		return -ENOMEM;
	struct fp_section *cur = NULL;
	for (char *line = f->text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "## ", 3) == 0) {
			struct fp_section *s = realloc(f->s, (f->n + 1) * sizeof(*s));
			if (!s)
				return -ENOMEM;
			f->s = s;
			cur = &f->s[f->n++];
			*cur = (struct fp_section) { .name = line + 3 };
			continue;
		}
		if (!cur)
			continue; /* text before the first section: not part of any */
		char **l = realloc(cur->lines, (cur->n + 1) * sizeof(char *));
		if (!l)
			return -ENOMEM;
		cur->lines = l;
		cur->lines[cur->n++] = line;
	}
	for (size_t i = 0; i < f->n; i++)
		if (!(f->s[i].matched = calloc(f->s[i].n + 1, sizeof(bool))))
			return -ENOMEM;
	return 0;
}

static struct fp_section *fp_find(struct fp *f, const char *name) {
	for (size_t i = 0; i < f->n; i++)
		if (streq(f->s[i].name, name))
			return &f->s[i];
	return NULL;
}

/* The key of a line where lines are keyed: a sysctl's name ("net.x = v"), a link's name ("1: lo:
 * <...>" or "2: veth0@if3: ..."); its length, 0 for other sections. */
static size_t fp_key(const char *section, const char *line) {
	if (streq(section, "sysctl")) {
		const char *eq = strstr(line, " = ");
		return eq ? (size_t) (eq - line) : 0;
	}
	if (streq(section, "link")) {
		const char *c = strchr(line, ':');
		if (!c || c[1] != ' ')
			return 0;
		const char *end = strpbrk(c + 2, ":@");
		return end ? (size_t) (end - line) : 0;
	}
	return 0;
}

/* A link's name in its keyed line ("1: lo" -> "lo"). */
static const char *link_name(const char *key, size_t klen, size_t *ret_len) {
	const char *c = strchr(key, ':');
	if (!c || (size_t) (c - key) + 2 > klen) {
		*ret_len = klen;
		return key;
	}
	*ret_len = klen - (size_t) (c + 2 - key);
	return c + 2;
}

static char *describe_key(const char *section, const char *line, size_t klen) {
	char *s = NULL;
	if (streq(section, "link")) {
		size_t n;
		const char *name = link_name(line, klen, &n);
		(void) asprintf(&s, "link %.*s", (int) n, name);
	} else
		(void) asprintf(&s, "sysctl %.*s", (int) klen, line);
	return s;
}

/* D followed by the names of the other sysctls of SA (from line FROM on) whose value differs in
 * SB: one setting often moves others (ip_forward turns accept_redirects off), and the user looks
 * for the one they set. At most four are named. Takes D. */
static char *append_other_sysctls(char *d, const struct fp_section *sa, const struct fp_section *sb, size_t from) {
	size_t named = 0, more = 0;
	for (size_t i = from; i < sa->n; i++) {
		const char *la = sa->lines[i];
		size_t ka = fp_key(sa->name, la);
		for (size_t k = 0; ka > 0 && k < sb->n; k++) {
			const char *lb = sb->lines[k];
			if (fp_key(sb->name, lb) != ka || strncmp(la, lb, ka) != 0)
				continue;
			if (!streq(la, lb)) {
				char *n = NULL;
				if (named < 4 && asprintf(&n, "%s%s %.*s", d, named ? "," : "; also", (int) ka, la) >= 0) {
					free(d);
					d = n;
					named++;
				} else
					more++;
			}
			break;
		}
	}
	char *n = NULL;
	if (more > 0 && asprintf(&n, "%s and %zu more", d, more) >= 0) {
		free(d);
		d = n;
	}
	return d;
}

/* The first line of SA not in SB (unmatched), keyed or not; marks the pairs found. */
static char *section_difference(struct fp_section *sa, struct fp_section *sb, const char *a, const char *b) {
	char *d = NULL;
	for (size_t i = 0; i < sa->n; i++) {
		const char *la = sa->lines[i];
		size_t ka = fp_key(sa->name, la);
		bool found = false;
		for (size_t k = 0; k < sb->n && !found; k++) {
			if (sb->matched[k])
				continue;
			const char *lb = sb->lines[k];
			if (streq(la, lb)) {
				sb->matched[k] = sa->matched[i] = found = true;
				continue;
			}
			if (ka > 0 && fp_key(sb->name, lb) == ka && strncmp(la, lb, ka) == 0) {
				_cleanup_free_ char *what = describe_key(sa->name, la, ka);
				if (streq(sa->name, "sysctl"))
					(void) asprintf(&d, "%s differs (%s in %s, %s in %s)%s", strna(what), la + ka + 3, a,
					                lb + ka + 3, b, "");
				else
					(void) asprintf(&d, "%s differs ('%s' in %s, '%s' in %s)", strna(what), la, a, lb, b);
				if (d && streq(sa->name, "sysctl"))
					d = append_other_sysctls(d, sa, sb, i + 1);
				return d ? d : strdup("out of memory");
			}
		}
		if (found)
			continue;
		if (ka > 0) {
			_cleanup_free_ char *what = describe_key(sa->name, la, ka);
			if (streq(sa->name, "link"))
				(void) asprintf(&d, "%s (%s) cannot be re-created by replay: '%s' is in %s only", strna(what),
				                strstr(la, "link/") ? strstr(la, "link/") : "?", la, a);
			else
				(void) asprintf(&d, "%s is in %s only (%s)", strna(what), a, la);
		} else
			(void) asprintf(&d, "%s: '%s' is in %s, not in %s", sa->name, la, a, b);
		return d ? d : strdup("out of memory");
	}
	return NULL;
}

char *netns_fingerprint_difference(const char *fa, const char *fb, const char *a, const char *b) {
	struct fp A = {}, B = {};
	char *d = NULL;
	if (fp_parse(fa, &A) < 0 || fp_parse(fb, &B) < 0) {
		d = strdup("out of memory comparing the fingerprints");
		goto out;
	}
	for (size_t i = 0; i < A.n && !d; i++) {
		struct fp_section *sb = fp_find(&B, A.s[i].name);
		if (!sb)
			(void) asprintf(&d, "%s: missing in %s", A.s[i].name, b);
		else
			d = section_difference(&A.s[i], sb, a, b);
	}
	for (size_t i = 0; i < B.n && !d; i++) {
		struct fp_section *sa = fp_find(&A, B.s[i].name);
		if (!sa) {
			(void) asprintf(&d, "%s: missing in %s", B.s[i].name, a);
			break;
		}
		for (size_t k = 0; k < B.s[i].n && !d; k++) {
			if (B.s[i].matched[k])
				continue;
			const char *lb = B.s[i].lines[k];
			size_t kb = fp_key(B.s[i].name, lb);
			if (kb > 0) {
				_cleanup_free_ char *what = describe_key(B.s[i].name, lb, kb);
				(void) asprintf(&d, "%s is in %s only (%s)", strna(what), b, lb);
			} else
				(void) asprintf(&d, "%s: '%s' is in %s, not in %s", B.s[i].name, lb, b, a);
		}
	}
out:
	fp_done(&A);
	fp_done(&B);
	return d;
}

