/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pre-saving a network namespace's configuration for CRIU: see netns-config.h. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "netns-config.h"
#include "netns-replay-key.h"
#include "process.h"
#include "time-util.h"

#ifndef CKPTD_LIBEXEC_DIR
#define CKPTD_LIBEXEC_DIR "/usr/libexec/ckptd"
#endif
#define REPLAY_NAME "ckptd-netns-replay"
#define TOOL_TIMEOUT_USEC (30 * USEC_PER_SEC)

/* How two outputs of a command are compared (netns-config.h says what is masked). */
enum compare {
	COMPARE_NETLINK,  /* ip ... save: a magic number, then raw netlink messages */
	COMPARE_IPTABLES, /* iptables-save text */
};

/* The command lines of CRIU 4.2's dump_ifaddr(), dump_route(), dump_rule(): argv[0] is $CR_IP_TOOL
 * or "ip", the key always starts with "ip". */
static const char *const ip_commands[][4] = {
	{ "addr", "save" },
	{ "route", "save" },
	{ "-6", "route", "save" },
	{ "rule", "save" },
};

/* CRIU's candidates per family (get_legacy_iptables_bin()): the first that answers -V without
 * "nf_tables" is the one it runs. */
static const char *const iptables_candidates[2][2] = {
	{ "iptables-save", "iptables-legacy-save" },
	{ "ip6tables-save", "ip6tables-legacy-save" },
};

static const char *const replay_links[] = { "ip", "iptables-save", "ip6tables-save", "iptables-legacy-save",
	                                    "ip6tables-legacy-save", "sh" };

int netns_config_find_replay(char **ret) {
	_cleanup_free_ char *self = NULL;
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash) {
			*slash = '\0';
			self = path_join(buf, REPLAY_NAME);
			if (self && access(self, X_OK) >= 0) {
				*ret = TAKE_PTR(self);
				return 0;
			}
		}
	}
	_cleanup_free_ char *installed = path_join(CKPTD_LIBEXEC_DIR, REPLAY_NAME);
	if (!installed)
		return -ENOMEM;
	if (access(installed, X_OK) < 0)
		return -ENOENT;
	*ret = TAKE_PTR(installed);
	return 0;
}

const char *netns_config_unsupported(void) {
	if (getenv("CR_IPTABLES"))
		return "$CR_IPTABLES is set in ckptd's environment (CRIU runs that one command for IPv4 and IPv6 alike)";
	return NULL;
}

static int netns_of(pid_t pid, struct stat *ret) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int) pid);
	return stat(p, ret) < 0 ? negative_errno() : 0;
}

/* Depth-first through /proc/PID/task/TID/children; *budget bounds the walk. */
static pid_t other_in_tree(pid_t pid, const struct stat *root_ns, unsigned *budget) {
	struct stat st;
	if ((*budget)-- == 0)
		return pid;
	if (netns_of(pid, &st) < 0)
		return 0; /* gone meanwhile */
	if (st.st_ino != root_ns->st_ino || st.st_dev != root_ns->st_dev)
		return pid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
	_cleanup_(closedirp) DIR *tasks = opendir(path);
	if (!tasks)
		return 0;
	for (struct dirent *t; (t = readdir(tasks));) {
		if (t->d_name[0] == '.')
			continue;
		char cpath[300];
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int) pid, t->d_name);
		_cleanup_free_ char *children = NULL;
		if (read_full_file(cpath, &children, NULL) < 0)
			continue;
		for (char *c = children, *end; *c; c = end) {
			long child = strtol(c, &end, 10);
			if (end == c)
				break;
			pid_t found = other_in_tree((pid_t) child, root_ns, budget);
			if (found)
				return found;
		}
	}
	return 0;
}

pid_t netns_config_other_netns_task(pid_t root) {
	struct stat root_ns;
	if (netns_of(root, &root_ns) < 0)
		return root;
	unsigned budget = 1U << 16;
	return other_in_tree(root, &root_ns, &budget);
}

/* What one command line answered, as CRIU would have seen it. */
struct answer {
	int status; /* exit status; 1 when the program could not be run (CRIU's child exits 1 then) */
	char *out, *err;
	size_t out_size, err_size;
};

static void answer_done(struct answer *a) {
	free(a->out);
	free(a->err);
	*a = (struct answer) {};
}

/* Runs ARGV (PROGRAM first; the key is made of WORDS) in NETNS_FD. */
static int run_in_netns(int netns_fd, const char *const *argv, struct answer *ret, char **ret_error) {
	struct process_spec spec = {
		.argv = argv,
		.netns_fd = netns_fd,
		.timeout_usec = TOOL_TIMEOUT_USEC,
	};
	_cleanup_(process_result_done) struct process_result res = {};
	_cleanup_free_ char *why = NULL;
	int r = process_run(&spec, &res, &why);
	*ret = (struct answer) {};
	if (r == -ENOENT || r == -EACCES) {
		/* What CRIU's child prints when its execvp() fails, and its status. */
		ret->status = 1;
		if (asprintf(&ret->err, "execvp(\"%s\", ...) failed: %s\n", argv[0], strerror(-r)) < 0)
			return error_setf(ret_error, -ENOMEM, "out of memory");
		ret->err_size = strlen(ret->err);
		ret->out = strdup("");
		return ret->out ? 0 : error_setf(ret_error, -ENOMEM, "out of memory");
	}
	if (r < 0)
		return error_pass(ret_error, r, &why);
	if (res.timed_out || res.out_truncated || res.err_truncated || res.signal)
		return error_setf(ret_error, -EIO, "%s %s in the container's network namespace %s", argv[0], strempty(argv[1]),
		                  res.timed_out ? "timed out" : res.signal ? "was killed by a signal" :
		                  "wrote more than ckptd keeps");
	ret->status = res.exit_status;
	ret->out = TAKE_PTR(res.out);
	ret->out_size = res.out_size;
	ret->err = TAKE_PTR(res.err);
	ret->err_size = res.err_size;
	return 0;
}

static int write_new_file(int dirfd, const char *key, const char *suffix, const void *data, size_t size) {
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, "%s%s", key, suffix) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	return write_all(fd, data, size);
}

static int save_answer(int dirfd, const char *key, const struct answer *a) {
	char rc[16];
	int n = snprintf(rc, sizeof(rc), "%d\n", a->status);
	int r = write_new_file(dirfd, key, ".out", a->out, a->out_size);
	if (r >= 0)
		r = write_new_file(dirfd, key, ".err", a->err, a->err_size);
	if (r >= 0) /* last: the replay looks for .rc first */
		r = write_new_file(dirfd, key, ".rc", rc, (size_t) n);
	return r;
}

/* The key of ARGV, with the ip tool's argv[0] (a path in $CR_IP_TOOL) counted as "ip". */
static int key_of(const char *const *argv, bool ip, char key[static NETNS_REPLAY_KEY_MAX + 1]) {
	const char *words[NETNS_REPLAY_WORDS_MAX];
	size_t n = 0;
	for (; argv[n] && n < ELEMENTSOF(words); n++)
		words[n] = argv[n];
	if (ip)
		words[0] = "ip";
	return netns_replay_key(words, n, key) ? 0 : -EINVAL;
}

/* Runs ARGV in the namespace and saves its answer; *ret (optional) gets it. */
static int presave_one(int netns_fd, int dirfd, const char *const *argv, bool ip, struct answer *ret,
                       char **ret_error) {
	char key[NETNS_REPLAY_KEY_MAX + 1];
	int r = key_of(argv, ip, key);
	if (r < 0)
		return error_setf(ret_error, r, "no replay key for %s", argv[0]);
	struct answer a;
	r = run_in_netns(netns_fd, argv, &a, ret_error);
	if (r < 0)
		return r;
	r = save_answer(dirfd, key, &a);
	if (r < 0) {
		answer_done(&a);
		return error_setf(ret_error, r, "cannot save the answer of %s: %m", key);
	}
	if (ret)
		*ret = a;
	else
		answer_done(&a);
	return 0;
}

static const char *ip_tool(void) {
	const char *t = getenv("CR_IP_TOOL");
	return t && *t ? t : "ip";
}

/* The iptables save command CRIU picks for FAMILY (0 IPv4, 1 IPv6), after saving the -V probes
 * it makes; NULL when it picks none. */
static int presave_iptables_choice(int netns_fd, int dirfd, int family, const char **ret, char **ret_error) {
	*ret = NULL;
	for (size_t i = 0; i < 2; i++) {
		const char *bin = iptables_candidates[family][i];
		const char *argv[] = { bin, "-V", NULL };
		struct answer a;
		int r = presave_one(netns_fd, dirfd, argv, false, &a, ret_error);
		if (r < 0)
			return r;
		/* CRIU reads at most 99 bytes of the answer and looks for "nf_tables" there. */
		size_t n = a.out_size < 99 ? a.out_size : 99;
		bool nft = memmem(a.out, n, "nf_tables", 9) != NULL;
		bool ok = a.status == 0 && !nft;
		answer_done(&a);
		if (ok) {
			*ret = bin;
			return 0;
		}
	}
	return 0;
}

static int make_links(int dirfd, const char *replay, char **ret_error) {
	if (mkdirat(dirfd, "bin", 0700) < 0)
		return error_setf(ret_error, negative_errno(), "cannot create bin/: %m");
	_cleanup_close_ int bin = openat(dirfd, "bin", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bin < 0)
		return error_setf(ret_error, negative_errno(), "cannot open bin/: %m");
	for (size_t i = 0; i < ELEMENTSOF(replay_links); i++)
		if (symlinkat(replay, bin, replay_links[i]) < 0)
			return error_setf(ret_error, negative_errno(), "cannot link bin/%s to %s: %m", replay_links[i], replay);
	return 0;
}

int netns_config_presave(int netns_fd, const char *dir, const char *replay, char **ret_error) {
	if (mkdir(dir, 0700) < 0)
		return error_setf(ret_error, negative_errno(), "cannot create %s: %m", dir);
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return error_setf(ret_error, negative_errno(), "cannot open %s: %m", dir);
	_cleanup_free_ char *why = NULL;
	int r = 0;
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(ip_commands); i++) {
		const char *argv[6] = { ip_tool() };
		for (size_t k = 0; k < 4 && ip_commands[i][k]; k++)
			argv[k + 1] = ip_commands[i][k];
		r = presave_one(netns_fd, dirfd, argv, true, NULL, &why);
	}
	for (int family = 0; r >= 0 && family < 2; family++) {
		const char *bin;
		r = presave_iptables_choice(netns_fd, dirfd, family, &bin, &why);
		if (r >= 0 && bin) {
			const char *argv[] = { bin, NULL };
			r = presave_one(netns_fd, dirfd, argv, false, NULL, &why);
		}
	}
	if (r >= 0)
		r = make_links(dirfd, replay, &why);
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "cannot save the network configuration into %s", dir);
	return 0;
}

/* ---- comparing ----------------------------------------------------------------------------- */

/* The rtattrs in [p, p + len), read with memcpy (the buffer need not be aligned): zeroes the
 * payload of every one of the MASKED types, and clears CLEAR_BITS in a u32 attribute of type
 * BITS_TYPE (0: none). */
static void mask_attrs(unsigned char *p, size_t len, const unsigned short *masked, size_t n_masked,
                       unsigned short bits_type, uint32_t clear_bits) {
	while (len >= sizeof(struct rtattr)) {
		struct rtattr a;
		memcpy(&a, p, sizeof(a));
		if (a.rta_len < sizeof(a) || a.rta_len > len)
			return;
		for (size_t i = 0; i < n_masked; i++)
			if (a.rta_type == masked[i])
				memset(p + RTA_LENGTH(0), 0, a.rta_len - RTA_LENGTH(0));
		if (bits_type && a.rta_type == bits_type && a.rta_len >= RTA_LENGTH(sizeof(uint32_t))) {
			uint32_t f;
			memcpy(&f, p + RTA_LENGTH(0), sizeof(f));
			f &= ~clear_bits;
			memcpy(p + RTA_LENGTH(0), &f, sizeof(f));
		}
		size_t step = RTA_ALIGN(a.rta_len);
		if (step >= len)
			return;
		p += step;
		len -= step;
	}
}

/* The configuration in an `ip ... save` output: the clock's traces masked (in place). */
static void normalize_netlink(unsigned char *buf, size_t size) {
	if (size < 4)
		return;
	unsigned char *p = buf + 4; /* the magic number of the format */
	size_t len = size - 4;
	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
			return;
		h.nlmsg_seq = 0;
		h.nlmsg_pid = 0;
		memcpy(p, &h, sizeof(h));
		unsigned char *body = p + NLMSG_HDRLEN;
		if (h.nlmsg_type == RTM_NEWADDR && h.nlmsg_len >= NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifaddrmsg)))) {
			struct ifaddrmsg ifa;
			memcpy(&ifa, body, sizeof(ifa));
			ifa.ifa_flags &= (unsigned char) ~IFA_F_TENTATIVE;
			memcpy(body, &ifa, sizeof(ifa));
			static const unsigned short masked[] = { IFA_CACHEINFO };
			mask_attrs(body + NLMSG_ALIGN(sizeof(ifa)), h.nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifa))), masked,
			           ELEMENTSOF(masked), IFA_FLAGS, IFA_F_TENTATIVE);
		} else if (h.nlmsg_type == RTM_NEWROUTE && h.nlmsg_len >= NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtmsg)))) {
			static const unsigned short masked[] = { RTA_CACHEINFO, RTA_EXPIRES };
			mask_attrs(body + NLMSG_ALIGN(sizeof(struct rtmsg)),
			           h.nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtmsg))), masked, ELEMENTSOF(masked), 0, 0);
		}
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			return;
		p += step;
		len -= step;
	}
}

/* iptables-save text without its "#" lines (a date) and with chain counters "[P:B]" dropped;
 * returns the new length (in place). */
static size_t normalize_iptables(char *buf, size_t size) {
	size_t w = 0;
	for (size_t i = 0; i < size;) {
		char *nl = memchr(buf + i, '\n', size - i);
		size_t end = nl ? (size_t) (nl - buf) + 1 : size, n = end - i;
		if (buf[i] != '#') {
			if (buf[i] == ':') {
				char *br = memchr(buf + i, '[', n);
				if (br)
					n = (size_t) (br - (buf + i));
			}
			memmove(buf + w, buf + i, n);
			w += n;
			if (buf[end - 1] == '\n' && (w == 0 || buf[w - 1] != '\n'))
				buf[w++] = '\n';
		}
		i = end;
	}
	return w;
}

bool netns_config_same_answer(bool netlink, char *a, size_t na, char *b, size_t nb) {
	if (netlink) {
		normalize_netlink((unsigned char *) a, na);
		normalize_netlink((unsigned char *) b, nb);
	} else {
		na = normalize_iptables(a, na);
		nb = normalize_iptables(b, nb);
	}
	return na == nb && memcmp(a, b, na) == 0;
}

static int read_saved(const char *dir, const char *key, const char *suffix, char **ret, size_t *ret_size) {
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, "%s%s", key, suffix) < 0)
		return -ENOMEM;
	_cleanup_free_ char *path = path_join(dir, name);
	if (!path)
		return -ENOMEM;
	return read_full_file(path, ret, ret_size);
}

/* Compares ARGV's answer now with the one saved; appends its key to *changed if it differs.
 * A command never saved (CRIU would not run it) is skipped. */
static int verify_one(int netns_fd, const char *dir, const char *const *argv, bool ip, enum compare how,
                      char **changed, char **ret_error) {
	char key[NETNS_REPLAY_KEY_MAX + 1];
	if (key_of(argv, ip, key) < 0)
		return error_setf(ret_error, -EINVAL, "no replay key for %s", argv[0]);
	_cleanup_free_ char *saved = NULL, *rc = NULL;
	size_t saved_size = 0, rc_size = 0;
	int r = read_saved(dir, key, ".rc", &rc, &rc_size);
	if (r == -ENOENT)
		return 0;
	if (r >= 0)
		r = read_saved(dir, key, ".out", &saved, &saved_size);
	if (r < 0)
		return error_setf(ret_error, r, "cannot read the saved answer of %s in %s: %m", key, dir);
	struct answer now;
	r = run_in_netns(netns_fd, argv, &now, ret_error);
	if (r < 0)
		return r;
	bool same = atoi(rc) == now.status && netns_config_same_answer(how == COMPARE_NETLINK, saved, saved_size, now.out, now.out_size);
	answer_done(&now);
	if (same)
		return 0;
	for (char *k = key; *k; k++)
		if (*k == '_')
			*k = ' ';
	char *joined = NULL;
	if (asprintf(&joined, "%s%s'%s'", *changed ? *changed : "", *changed ? ", " : "", key) < 0)
		return error_setf(ret_error, -ENOMEM, "out of memory");
	free(*changed);
	*changed = joined;
	return 0;
}

int netns_config_verify(int netns_fd, const char *dir, char **ret_error) {
	_cleanup_free_ char *changed = NULL, *why = NULL;
	int r = 0;
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(ip_commands); i++) {
		const char *argv[6] = { ip_tool() };
		for (size_t k = 0; k < 4 && ip_commands[i][k]; k++)
			argv[k + 1] = ip_commands[i][k];
		r = verify_one(netns_fd, dir, argv, true, COMPARE_NETLINK, &changed, &why);
	}
	for (size_t f = 0; r >= 0 && f < 2; f++)
		for (size_t i = 0; r >= 0 && i < 2; i++) {
			const char *argv[] = { iptables_candidates[f][i], NULL };
			r = verify_one(netns_fd, dir, argv, false, COMPARE_IPTABLES, &changed, &why);
		}
	if (r < 0)
		return error_prefixf(ret_error, r, &why, "cannot check the network configuration saved in %s", dir);
	if (changed)
		return error_setf(ret_error, -ESTALE, "the network configuration of the container's network namespace changed "
		                  "between its save before the freeze and the check after the thaw (%s answers differently "
		                  "now)", changed);
	return 0;
}
