/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ckptd-netns-replay: what CRIU runs, inside the frozen window, in place of `ip ... save`,
 * `iptables-save -V`, `sh -c iptables-legacy-save` and the like, when ckptd saved the network
 * namespace's configuration just before freezing (daemon/adapters/netns-config.h). Called under
 * the tool's name (a symlink in the directory ckptd puts first on CRIU's $PATH, and
 * $CR_IP_TOOL), it writes the answer saved for exactly this command line, byte for byte, to
 * stdout (and the saved stderr to stderr) and exits with the saved status. A command line with no
 * saved answer, or one asked a second time (a second network namespace in the tree), is
 * refused: an "Error" line on stderr (CRIU's log) and exit status 70, so that CRIU fails the
 * dump rather than record something that was not saved. `sh -c CMD` whose CMD is not one of the
 * tools is handed to /bin/sh unchanged.
 *
 * Static and small on purpose: CRIU waits for it inside the window. No allocation, no stdio. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns-replay-key.h"

#define EXIT_REFUSED 70

static void say(const char *a, const char *b, const char *c, const char *d) {
	const char *parts[] = { "Error: ckptd-netns-replay: ", a, b, c, d, "\n" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i])
			(void) !write(STDERR_FILENO, parts[i], strlen(parts[i]));
}

static _Noreturn void refuse(const char *a, const char *b, const char *c, const char *d) {
	say(a, b, c, d);
	_exit(EXIT_REFUSED);
}

/* Copies the file NAME (in dirfd) to fd; false on a read or write error (a missing file: true). */
static int copy_to(int dirfd, const char *key, const char *suffix, int fd) {
	char name[NETNS_REPLAY_KEY_MAX + 8];
	strcpy(name, key);
	strcat(name, suffix);
	int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			close(in);
			return r;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t) (n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int r = -errno;
				close(in);
				return r;
			}
			off += w;
		}
	}
	close(in);
	return 0;
}

static int read_status(int dirfd, const char *key) {
	char name[NETNS_REPLAY_KEY_MAX + 8], buf[16];
	strcpy(name, key);
	strcat(name, ".rc");
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EBADMSG;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || v < 0 || v > 255)
		return -EBADMSG;
	return (int) v;
}

int main(int argc, char *argv[]) {
	const char *words[NETNS_REPLAY_WORDS_MAX + 1];
	char cmd[NETNS_REPLAY_KEY_MAX + 1], key[NETNS_REPLAY_KEY_MAX + 1];
	size_t n = 0;
	const char *name = argc > 0 && argv[0] ? argv[0] : "";
	const char *slash = strrchr(name, '/');
	if (slash)
		name = slash + 1;

	if (strcmp(name, "sh") == 0) {
		/* `sh -c CMD`: CMD split at single spaces; anything but one of our tools goes to sh. */
		if (argc != 3 || strcmp(argv[1], "-c") != 0 || strlen(argv[2]) > NETNS_REPLAY_KEY_MAX) {
			execv("/bin/sh", argv);
			refuse("cannot run /bin/sh: ", strerror(errno), NULL, NULL);
		}
		strcpy(cmd, argv[2]);
		for (char *w = cmd, *sp; w && n <= NETNS_REPLAY_WORDS_MAX; w = sp) {
			sp = strchr(w, ' ');
			if (sp)
				*sp++ = '\0';
			words[n++] = w;
		}
		if (!netns_replay_is_tool(words[0])) {
			execv("/bin/sh", argv);
			refuse("cannot run /bin/sh: ", strerror(errno), NULL, NULL);
		}
	} else {
		if (!netns_replay_is_tool(name))
			refuse("called as '", name, "', which is not a tool it answers for", NULL);
		words[n++] = name;
		for (int i = 1; i < argc && n <= NETNS_REPLAY_WORDS_MAX; i++)
			words[n++] = argv[i];
	}
	if (n > NETNS_REPLAY_WORDS_MAX || !netns_replay_key(words, n, key))
		refuse("no saved answer for this command line of ", words[0], " (its arguments are not ones ckptd saves)",
		       NULL);

	const char *dir = getenv(NETNS_REPLAY_DIR_ENV);
	if (!dir || dir[0] != '/')
		refuse("$" NETNS_REPLAY_DIR_ENV " is not set to an absolute path", NULL, NULL, NULL);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		refuse("cannot open ", dir, ": ", strerror(errno));
	int status = read_status(dirfd, key);
	if (status == -ENOENT)
		refuse("no answer saved before the freeze for '", key, "' in ", dir);
	if (status < 0)
		refuse("cannot read the saved status of '", key, "': ", strerror(-status));

	/* Once only: a second question is a second network namespace in the tree, whose answer was
	 * not saved. */
	char used[NETNS_REPLAY_KEY_MAX + 8];
	strcpy(used, key);
	strcat(used, ".used");
	int u = openat(dirfd, used, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (u < 0 && errno == EEXIST)
		refuse("'", key, "' asked a second time: the process tree has more than one network namespace; ",
		       "set NetworkConfig=criu for this container");
	if (u < 0)
		refuse("cannot mark '", key, "' as answered: ", strerror(errno));
	close(u);

	int r = copy_to(dirfd, key, ".err", STDERR_FILENO);
	if (r >= 0)
		r = copy_to(dirfd, key, ".out", STDOUT_FILENO);
	if (r < 0)
		refuse("cannot replay '", key, "': ", strerror(-r));
	return status;
}
