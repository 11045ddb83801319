/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "state-lock.h"

int state_dir_lock(const char *state_dir, int *ret_fd) {
	_cleanup_free_ char *path = path_join(state_dir, "lock");
	if (!path)
		return log_error_errno(ENOMEM, "Out of memory");
	int r = mkdir_p(state_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "Cannot create state directory %s: %m", state_dir);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return log_error_errno(errno, "Cannot open lock file %s: %m", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return log_error_errno(errno, "Cannot stat lock file %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(EINVAL, "Lock file %s is not a regular file", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return log_error_errno(errno, "Cannot lock %s: %m", path);
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_error("State directory %s is in use by another ckptd (pid %s, holding %s); "
		          "refusing to start a second daemon on it",
		          state_dir, buf[0] ? buf : "unknown", path);
		return -EBUSY;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t) len, 0) != len)
		return log_error_errno(errno, "Cannot write our pid into %s: %m", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
