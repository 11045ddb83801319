/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fileio.h"
#include "macro.h"

int fsync_path(const char *path) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fsync(fd) < 0)
		return negative_errno();
	return 0;
}

int fsync_directory_of(const char *path) {
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	return fsync_path(dirname(copy));
}

int write_all(int fd, const void *data, size_t size) {
	const char *p = data;
	while (size > 0) {
		ssize_t k = write(fd, p, size);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += k;
		size -= (size_t) k;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
		return -ENOMEM;

	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return negative_errno();
	int r = write_all(fd, data, size);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && rename(tmp, path) < 0)
		r = negative_errno();
	if (r < 0) {
		(void) unlink(tmp);
		return r;
	}
	return fsync_directory_of(path);
}

int mkdir_p(const char *path, mode_t mode) {
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int rm_rf_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path) {
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? negative_errno() : 0;
	if (nftw(path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return negative_errno();
	return 0;
}

ssize_t read_eintr(int fd, void *buf, size_t n) {
	for (;;) {
		ssize_t k = read(fd, buf, n);
		if (k >= 0 || errno != EINTR)
			return k < 0 ? negative_errno() : k;
	}
}

ssize_t read_full(int fd, void *buf, size_t size) {
	size_t got = 0;
	while (got < size) {
		ssize_t n = read_eintr(fd, (char *) buf + got, size - got);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t) n;
	}
	return (ssize_t) got;
}

int read_full_file(const char *path, char **ret, size_t *ret_size) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	size_t allocated = 4096, size = 0;
	_cleanup_free_ char *buf = malloc(allocated);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (size + 1 >= allocated) {
			char *n = realloc(buf, allocated * 2);
			if (!n)
				return -ENOMEM;
			buf = n;
			allocated *= 2;
		}
		ssize_t k = read_eintr(fd, buf + size, allocated - size - 1);
		if (k < 0)
			return (int) k;
		if (k == 0)
			break;
		size += (size_t) k;
	}
	buf[size] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = size;
	return 0;
}

int write_string_file(const char *path, const char *s) {
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	ssize_t k = write(fd, s, strlen(s));
	if (k < 0)
		return negative_errno();
	if ((size_t) k != strlen(s))
		return -EIO;
	return 0;
}

int read_one_line_file(const char *path, char **ret) {
	char *buf;
	int r = read_full_file(path, &buf, NULL);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	*ret = buf;
	return 0;
}

int copy_file_fsync(const char *from, const char *to, mode_t mode) {
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return negative_errno();
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return negative_errno();
	for (;;) {
		ssize_t k = copy_file_range(in, NULL, out, NULL, 1U << 30, 0);
		if (k == 0)
			break;
		if (k > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
			return negative_errno();
		/* Fallback: plain copy. */
		char buf[1U << 16];
		for (;;) {
			ssize_t n = read(in, buf, sizeof(buf));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return negative_errno();
			}
			if (n == 0)
				break;
			int r = write_all(out, buf, (size_t) n);
			if (r < 0)
				return r;
		}
		break;
	}
	if (fsync(out) < 0)
		return negative_errno();
	return 0;
}

char *path_join_many(const char *first, ...) {
	va_list ap;
	size_t len = strlen(first);
	va_start(ap, first);
	for (const char *p; (p = va_arg(ap, const char *));)
		len += strlen(p) + 1;
	va_end(ap);

	char *out = malloc(len + 1), *e = out;
	if (!out)
		return NULL;
	e = stpcpy(e, first);
	va_start(ap, first);
	for (const char *p; (p = va_arg(ap, const char *));) {
		if (e > out && e[-1] != '/')
			*e++ = '/';
		while (*p == '/')
			p++;
		e = stpcpy(e, p);
	}
	va_end(ap);
	return out;
}

int dir_regular_files_size(const char *path, uint64_t *ret_bytes, uint64_t *ret_files) {
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return negative_errno();
	uint64_t bytes = 0, files = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return negative_errno();
		if (!S_ISREG(st.st_mode))
			continue;
		bytes += (uint64_t) st.st_size;
		files++;
	}
	*ret_bytes = bytes;
	*ret_files = files;
	return 0;
}

int find_executable(const char *name, char **ret) {
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	int r = -ENOENT;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *p = path_join(dir, name);
		struct stat st;
		if (!p) {
			r = -ENOMEM;
			break;
		}
		if (stat(p, &st) >= 0 && S_ISREG(st.st_mode) && access(p, X_OK) >= 0) {
			*ret = p;
			r = 0;
			break;
		}
		free(p);
	}
	free(copy);
	return r;
}

int open_walk_nofollow(int dirfd, const char *path, int flags, bool beneath) {
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (beneath && path[0] == '/')
		return -EXDEV;
	int fd = path[0] == '/' ? open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return negative_errno();
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		bool last = !save || strspn(save, "/") == strlen(save);
		if (beneath && streq(c, ".."))
			return close(fd), -EXDEV;
		int next = openat(fd, c, (last ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
		int r = next < 0 ? negative_errno() : 0;
		struct stat st;
		if (r == -ENOTDIR && fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
			r = -ELOOP;
		close(fd);
		if (r < 0)
			return r;
		fd = next;
	}
	return fd;
}

static int openat2_resolve(int dirfd, const char *path, int flags, uint64_t resolve) {
	struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .resolve = resolve };
	int fd;
	do
		fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN); /* a rename elsewhere raced the lookup */
	if (fd < 0 && errno == ENOSYS)
		return open_walk_nofollow(dirfd, path, flags, resolve & RESOLVE_BENEATH);
	return fd < 0 ? negative_errno() : fd;
}

int open_nofollow(const char *path, int flags) {
	if (!path || path[0] != '/')
		return -EINVAL;
	return openat2_resolve(AT_FDCWD, path, flags, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int openat_beneath(int dirfd, const char *path, int flags) {
	return openat2_resolve(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int open_private_dir(int dirfd, const char *name, bool create) {
	if (strchr(name, '/') || streq(name, ".") || streq(name, ".."))
		return -EINVAL;
	if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = negative_errno();
		struct stat st;
		/* O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR on some kernels: name it right. */
		if (r == -ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
			r = -ELOOP;
		return r;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = negative_errno();
		close(fd);
		return r;
	}
	if (st.st_uid != 0 || (st.st_mode & 0022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}
