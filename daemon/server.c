/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "server.h"

/* A client that stops reading its replies is dropped past this much pending output. */
#define OUTPUT_MAX (16U * 1024U * 1024U)

static bool peer_in_group(pid_t pid, gid_t primary, gid_t group) {
	if (primary == group)
		return true;
	/* Supplementary groups of the peer process, from /proc. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *s = line + 7, *e;
		for (;;) {
			unsigned long g = strtoul(s, &e, 10);
			if (e == s)
				break;
			if ((gid_t) g == group)
				return true;
			s = e;
		}
	}
	return false;
}

static void connection_remove(struct manager *m, struct connection *c) {
	for (size_t i = 0; i < m->n_connections; i++)
		if (m->connections[i] == c) {
			m->connections[i] = m->connections[--m->n_connections];
			break;
		}
	for (size_t i = 0; i < m->n_jobs; i++)
		if (m->jobs[i]->connection == c)
			m->jobs[i]->connection = NULL; /* the job goes on; nobody hears about it */
}

void connection_close(struct connection *c) {
	if (!c)
		return;
	connection_remove(c->manager, c);
	sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	varlink_buffer_done(&c->in);
	free(c->out);
	free(c);
}

static int flush_output(struct connection *c) {
	while (c->out_size > 0) {
		ssize_t k = send(c->fd, c->out, c->out_size, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return negative_errno();
		}
		memmove(c->out, c->out + k, c->out_size - (size_t) k);
		c->out_size -= (size_t) k;
	}
	uint32_t events = EPOLLIN | (c->out_size > 0 ? EPOLLOUT : 0);
	if (c->close_after_flush)
		events &= ~EPOLLIN;
	(void) sd_event_source_set_io_events(c->io, events);
	return c->out_size == 0 && c->close_after_flush ? -ECONNRESET : 0;
}

static int queue_output(struct connection *c, char *msg, size_t size) {
	if (c->out_size + size > OUTPUT_MAX) {
		free(msg);
		log_warning("Client pid %d does not read its replies; dropping it", (int) c->pid);
		return -ENOBUFS;
	}
	char *n = realloc(c->out, c->out_size + size);
	if (!n) {
		free(msg);
		return -ENOMEM;
	}
	memcpy(n + c->out_size, msg, size);
	c->out = n;
	c->out_size += size;
	free(msg);
	return flush_output(c);
}

int connection_reply(struct connection *c, json_t *parameters, bool continues) {
	char *msg;
	size_t size;
	int r = varlink_reply_format(parameters, continues, &msg, &size);
	if (r < 0)
		return r;
	return queue_output(c, msg, size);
}

int connection_error(struct connection *c, const char *error, json_t *parameters) {
	char *msg;
	size_t size;
	int r = varlink_error_format(error, parameters, &msg, &size);
	if (parameters)
		json_decref(parameters);
	if (r < 0)
		return r;
	return queue_output(c, msg, size);
}

static int protocol_error(struct connection *c, const char *reason, bool fatal) {
	log_debug("Protocol error from pid %d: %s", (int) c->pid, reason);
	int r = connection_error(c, "io.ckptd.Manager.ProtocolError", json_pack("{s:s}", "reason", reason));
	if (fatal) {
		c->close_after_flush = true;
		if (r >= 0)
			r = flush_output(c);
	}
	return r;
}

static int process_input(struct connection *c) {
	for (;;) {
		_cleanup_free_ char *msg = NULL;
		int r = varlink_buffer_take_message(&c->in, &msg);
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
		struct varlink_call call = {};
		_cleanup_free_ char *why = NULL;
		r = varlink_call_parse(msg, &call, &why);
		if (r < 0) {
			r = protocol_error(c, why ? why : "malformed message", false);
		} else {
			r = methods_dispatch(c, &call);
			varlink_call_done(&call);
		}
		if (r < 0)
			return r;
	}
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	struct connection *c = userdata;
	int r = 0;
	if (revents & EPOLLOUT)
		r = flush_output(c);
	if (r >= 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->close_after_flush) {
		char buf[16384];
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (k <= 0)
			r = -ECONNRESET;
		else {
			r = varlink_buffer_append(&c->in, buf, (size_t) k);
			if (r == -EMSGSIZE)
				r = protocol_error(c, "message too large", true);
			else if (r >= 0)
				r = process_input(c);
		}
	} else if (r >= 0 && (revents & (EPOLLHUP | EPOLLERR)))
		r = -ECONNRESET;
	if (r < 0)
		connection_close(c);
	return 0;
}

int server_accept(struct manager *m, int listen_fd) {
	_cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(errno, "accept() failed: %m");
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return log_warning_errno(errno, "Cannot read peer credentials: %m");

	struct connection *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->manager = m;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->may_write = cred.uid == 0;
	c->may_read = c->may_write || (m->read_gid != (gid_t) -1 && peer_in_group(cred.pid, cred.gid, m->read_gid));
	struct connection **a = realloc(m->connections, (m->n_connections + 1) * sizeof(*a));
	if (!a) {
		free(c);
		return -ENOMEM;
	}
	m->connections = a;
	c->fd = TAKE_FD(fd);
	int r = sd_event_add_io(m->event, &c->io, c->fd, EPOLLIN, on_connection_io, c);
	if (r < 0) {
		close(c->fd);
		free(c);
		return r;
	}
	m->connections[m->n_connections++] = c;
	log_debug("Connection from pid %d uid %d (%s)", (int) cred.pid, (int) cred.uid,
	          c->may_write ? "full access" : c->may_read ? "read-only" : "no access");
	return 0;
}
