/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A small blocking Varlink client: connect, send one call, receive replies (ckptctl, tests). */

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"
#include "varlink.h"

/* Waits until fd is ready for events (POLLIN or POLLOUT); for fds that turned out non-blocking. */
static int fd_wait(int fd, short events) {
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int k = poll(&p, 1, -1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0; /* ready, or POLLERR/POLLHUP: the next call reports it */
	}
}

int varlink_connect(const char *path, int *ret_fd) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	socklen_t salen;
	size_t n;

	if (!path || !*path)
		return -EINVAL;

	n = strlen(path);
	if (path[0] == '@') {
		/* abstract namespace socket, as systemd spells it */
		if (n == 1)
			return -EINVAL;
		if (n > sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path + 1, path + 1, n - 1);
		salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		if (n >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path, path, n);
		salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	if (connect(fd, (struct sockaddr *) &sa, salen) < 0) {
		int error = 0, r;
		socklen_t len = sizeof(error);

		/* Interrupted by a signal: the connection goes on in the background; wait for it. */
		if (errno != EINTR && errno != EINPROGRESS)
			return -errno;
		r = fd_wait(fd, POLLOUT);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
			return -errno;
		if (error != 0)
			return -error;
	}

	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int send_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = fd_wait(fd, POLLOUT);
			if (r < 0)
				return r;
			continue;
		}

		p += k;
		n -= (size_t) k;
	}

	return 0;
}

/* The first byte of the message with the descriptor, the rest as usual. */
static int send_fd_first(int fd, const char *p, size_t n, int pass_fd) {
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int))];
	} control = {};
	struct iovec iov = { .iov_base = (void *) p, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
	                     .msg_controllen = sizeof(control) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	for (;;) {
		ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (k >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = fd_wait(fd, POLLOUT);
		if (r < 0)
			return r;
	}
	return send_all(fd, p + 1, n - 1);
}

int varlink_send_with_fd(int fd, const char *method, json_t *parameters, bool more, int pass_fd) {
	_cleanup_free_ char *m = NULL;
	size_t n;
	if (fd < 0 || pass_fd < 0)
		return -EBADF;
	int r = varlink_call_format(method, parameters, more, &m, &n);
	if (r < 0)
		return r;
	return send_fd_first(fd, m, n, pass_fd);
}

int varlink_send(int fd, const char *method, json_t *parameters, bool more) {
	_cleanup_free_ char *m = NULL;
	size_t n;
	int r;

	if (fd < 0)
		return -EBADF;

	r = varlink_call_format(method, parameters, more, &m, &n);
	if (r < 0)
		return r;

	return send_all(fd, m, n);
}

int varlink_recv(int fd, struct varlink_buffer *buf, struct varlink_reply *ret) {
	if (fd < 0)
		return -EBADF;

	if (buf->max == 0)
		buf->max = VARLINK_REPLY_MAX;
	for (;;) {
		_cleanup_free_ char *m = NULL;
		char chunk[16384];
		ssize_t k;
		int r;

		/* Replies that came with an earlier read first. */
		r = varlink_buffer_take_message(buf, &m);
		if (r < 0)
			return r;
		if (r > 0)
			return varlink_reply_parse(m, ret);

		k = read(fd, chunk, sizeof(chunk));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = fd_wait(fd, POLLIN);
			if (r < 0)
				return r;
			continue;
		}
		if (k == 0) /* closed, possibly in the middle of a message */
			return -ECONNRESET;

		r = varlink_buffer_append(buf, chunk, (size_t) k);
		if (r < 0)
			return r;
	}
}
