/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "image-files.h"
#include "macro.h"

#define CRIT_OUTPUT_MAX (64U * 1024U * 1024U)

/* Runs `crit decode -i FILE` (argv, no shell) and returns its standard output. */
static int crit_decode(const char *image, char **ret_output, char **ret_error) {
	_cleanup_free_ char *crit = NULL;
	int r = find_executable("crit", &crit);
	if (r < 0)
		return asprintf(ret_error, "CRIU's image tool 'crit' is not installed (run tools/setup)"), r;
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return negative_errno();
	pid_t pid = fork();
	if (pid < 0) {
		r = negative_errno();
		close(out[0]);
		close(out[1]);
		return r;
	}
	if (pid == 0) {
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (dup2(null, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl(crit, crit, "decode", "-i", image, (char *) NULL);
		_exit(127);
	}
	close(out[1]);
	_cleanup_close_ int fd = out[0];
	size_t size = 0, allocated = 65536;
	_cleanup_free_ char *buf = malloc(allocated);
	r = buf ? 0 : -ENOMEM;
	while (r >= 0) {
		if (size + 1 >= allocated) {
			char *n = allocated < CRIT_OUTPUT_MAX ? realloc(buf, allocated * 2) : NULL;
			if (!n) {
				r = -EFBIG;
				break;
			}
			buf = n;
			allocated *= 2;
		}
		ssize_t k = read(fd, buf + size, allocated - size - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			r = negative_errno();
		else if (k == 0)
			break;
		else
			size += (size_t) k;
	}
	if (r < 0)
		kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return asprintf(ret_error, "reading crit's output failed: %s", strerror(-r)), r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return asprintf(ret_error, "%s decode -i %s failed (status %d)", crit, image, status), -EIO;
	buf[size] = '\0';
	*ret_output = TAKE_PTR(buf);
	return 0;
}

static int add_problem(json_t *problems, char *text) {
	if (!text)
		return -ENOMEM;
	json_array_append_new(problems, json_string(text));
	free(text);
	return 0;
}

int image_files_check(const char *images_dir, const char *root, json_t *problems, char **ret_error) {
	_cleanup_free_ char *image = path_join(images_dir, "files.img");
	if (!image)
		return -ENOMEM;
	if (access(image, R_OK) < 0)
		return asprintf(ret_error, "%s: %s", image, strerror(errno)), negative_errno();
	_cleanup_free_ char *output = NULL;
	int r = crit_decode(image, &output, ret_error);
	if (r < 0)
		return r;
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *doc = json_loads(output, 0, &jerr);
	json_t *entries = json_object_get(doc, "entries");
	if (!json_is_array(entries))
		return asprintf(ret_error, "crit's output for %s is not an image document: %s", image,
		                doc ? "no entries" : jerr.text), -EBADMSG;

	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		if (!streq_ptr(json_string_value(json_object_get(e, "type")), "REG"))
			continue;
		json_t *reg = json_object_get(e, "reg");
		const char *name = json_string_value(json_object_get(reg, "name"));
		json_t *mode = json_object_get(reg, "mode"), *size = json_object_get(reg, "size");
		if (!name || !json_is_integer(mode))
			continue;
		mode_t m = (mode_t) json_integer_value(mode);
		if (strstr(name, " (deleted)")) /* deleted but open: CRIU saved its contents */
			continue;
		_cleanup_free_ char *path = path_join(root, name);
		if (!path)
			return -ENOMEM;
		struct stat st;
		char *text = NULL;
		if (stat(path, &st) < 0) {
			if (errno == ENOENT && asprintf(&text, "missing: %s", name) < 0)
				return -ENOMEM;
			if (errno != ENOENT && asprintf(&text, "inaccessible: %s (%s)", name, strerror(errno)) < 0)
				return -ENOMEM;
		} else if (S_ISREG(m) && json_is_integer(size) && (long long) st.st_size != json_integer_value(size)) {
			if (asprintf(&text, "size changed: %s (checkpoint %lld bytes, now %lld)", name,
			             (long long) json_integer_value(size), (long long) st.st_size) < 0)
				return -ENOMEM;
		} else if ((st.st_mode & S_IFMT) != (m & S_IFMT)) {
			if (asprintf(&text, "type changed: %s", name) < 0)
				return -ENOMEM;
		}
		if (text) {
			/* The same file is often open several times: report it once. */
			bool dup = false;
			size_t k;
			json_t *p;
			json_array_foreach(problems, k, p) dup = dup || streq(json_string_value(p), text);
			if (dup)
				free(text);
			else
				add_problem(problems, text);
		}
	}
	return 0;
}
