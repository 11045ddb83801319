/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listening socket and the Varlink connections. */
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "registry.h"
#include "server.h"
#include "time-util.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* Replies a client has not read yet: past OUTPUT_MAX of unread output a connection is dropped
 * (one reply into an empty queue always fits: a long pair list may be large), and all
 * connections together hold at most OUTPUT_MAX_TOTAL (the biggest backlogs are dropped first).
 * A job whose client was dropped goes on; its result is not sent anywhere. */
#define OUTPUT_MAX (8U * 1024U * 1024U)
#define OUTPUT_MAX_TOTAL (64U * 1024U * 1024U)
/* Descriptors read with one recvmsg(); a call may pass one, the rest are closed and refused. */
#define CONNECTION_FDS_MAX_RECV 8

/* The peer's groups as they were when it connected (SO_PEERGROUPS), not as /proc says now: by
 * then the PID may belong to another process. */
static bool peer_in_group(int fd, gid_t primary, gid_t group) {
	if (primary == group)
		return true;
	gid_t small[64];
	_cleanup_free_ gid_t *big = NULL;
	gid_t *groups = small;
	socklen_t len = sizeof(small);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || len == 0 || !(big = malloc(len)))
			return false;
		groups = big;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			return false;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group)
			return true;
	return false;
}

static void connection_remove(struct manager *m, struct connection *c) {
	for (size_t i = 0; i < m->n_connections; i++)
		if (m->connections[i] == c) {
			m->connections[i] = m->connections[--m->n_connections];
			break;
		}
	job_registry_forget_connection(&m->jobs, c); /* its jobs go on; nobody hears about them */
}

void connection_close(struct connection *c) {
	if (!c)
		return;
	connection_remove(c->manager, c);
	c->manager->output_total -= c->out_size;
	sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	varlink_buffer_done(&c->in);
	free(c->out);
	free(c);
}

static int flush_output(struct connection *c) {
	while (c->out_size > 0) {
		ssize_t k = send(c->fd, c->out + c->out_start, c->out_size, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return negative_errno();
		}
		c->out_start += (size_t) k;
		c->out_size -= (size_t) k;
		c->manager->output_total -= (size_t) k;
	}
	if (c->out_size == 0) {
		c->out_start = 0;
		if (c->out_alloc > 65536) { /* an idle connection keeps no big buffer */
			free(c->out);
			c->out = NULL;
			c->out_alloc = 0;
		}
	} else if (c->out_start >= c->out_size) {
		/* Moves at most what was sent since the last move: a client that reads a little at a
		 * time cannot make us copy megabytes for each of its reads. */
		memmove(c->out, c->out + c->out_start, c->out_size);
		c->out_start = 0;
	}
	uint32_t events = EPOLLIN | (c->out_size > 0 ? EPOLLOUT : 0);
	if (c->close_after_flush)
		events &= ~EPOLLIN;
	(void) sd_event_source_set_io_events(c->io, events);
	return c->out_size == 0 && c->close_after_flush ? -ECONNRESET : 0;
}

static void log_dropped(struct connection *c, const char *why) {
	unsigned suppressed;
	if (ratelimit_below(&c->manager->drop_log, &suppressed))
		log_warning("Client pid %d uid %d does not read its replies (%zu bytes unread, %s); dropping it "
		            "(%u similar messages suppressed)", (int) c->pid, (int) c->uid, c->out_size, why, suppressed);
}

/* Makes room for size more bytes of output in all: drops the connections with the most unread
 * output, this one included. false if this one has to go. */
static bool make_room(struct connection *c, size_t size) {
	struct manager *m = c->manager;
	while (m->output_total + size > OUTPUT_MAX_TOTAL) {
		struct connection *victim = c;
		for (size_t i = 0; i < m->n_connections; i++)
			if (m->connections[i]->out_size > victim->out_size)
				victim = m->connections[i];
		if (victim == c || victim->out_size == 0) {
			log_dropped(c, "over the limit of all clients");
			return false;
		}
		log_dropped(victim, "over the limit of all clients");
		connection_close(victim);
	}
	return true;
}

static int queue_output(struct connection *c, char *msg, size_t size) {
	if (c->out_size > 0 && c->out_size + size > OUTPUT_MAX) {
		free(msg);
		log_dropped(c, "over the limit per client");
		return -ENOBUFS;
	}
	if (!make_room(c, size)) {
		free(msg);
		return -ENOBUFS;
	}
	size_t need = c->out_start + c->out_size + size;
	if (need > c->out_alloc) {
		size_t alloc = c->out_alloc * 2 > need ? c->out_alloc * 2 : need;
		char *n = realloc(c->out, alloc);
		if (!n) {
			free(msg);
			return -ENOMEM;
		}
		c->out = n;
		c->out_alloc = alloc;
	}
	memcpy(c->out + c->out_start + c->out_size, msg, size);
	c->out_size += size;
	c->manager->output_total += size;
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

int connection_take_fd(struct connection *c) {
	if (c->passed_fds_refused)
		return -EMSGSIZE;
	int fd = c->passed_fd;
	c->passed_fd = -EBADF;
	return fd;
}

/* What a call did not take is not kept for the next one. */
static void drop_passed_fds(struct connection *c) {
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	c->passed_fd = -EBADF;
	c->passed_fds_refused = false;
}

/* The descriptors of one recvmsg(): at most one per call is kept; more than that, or a control
 * message the kernel had to cut short, makes the call fail (all of them closed). */
static void take_passed_fds(struct connection *c, struct msghdr *mh) {
	if (mh->msg_flags & MSG_CTRUNC)
		c->passed_fds_refused = true;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[CONNECTION_FDS_MAX_RECV];
		size_t kept = n < ELEMENTSOF(fds) ? n : ELEMENTSOF(fds);
		memcpy(fds, CMSG_DATA(cm), kept * sizeof(int));
		for (size_t i = 0; i < kept; i++) {
			if (c->passed_fd < 0 && !c->passed_fds_refused) {
				c->passed_fd = fds[i];
				continue;
			}
			close(fds[i]);
			c->passed_fds_refused = true;
		}
	}
	if (c->passed_fds_refused && c->passed_fd >= 0) {
		close(c->passed_fd);
		c->passed_fd = -EBADF;
	}
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
		drop_passed_fds(c);
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
		union {
			struct cmsghdr align;
			char space[CMSG_SPACE(sizeof(int) * CONNECTION_FDS_MAX_RECV)];
		} control = {};
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
		                     .msg_controllen = sizeof(control) };
		ssize_t k = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (k > 0)
			take_passed_fds(c, &mh);
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

/* Why a new connection of uid is refused, or NULL. Root is refused only when the descriptors
 * run short; everybody else also by MaxConnections= and MaxConnectionsPerUser=. */
static const char *admission_refused(struct manager *m, uid_t uid) {
	int open_fds = fd_budget_count_open(&m->fds);
	unsigned reserve = uid == 0 ? m->fds.reserve / 2 : m->fds.reserve;
	if (open_fds < 0 || (unsigned) open_fds + reserve > m->fds.limit)
		return "too few file descriptors left for jobs";
	if (uid == 0)
		return NULL;
	if (m->n_connections >= m->daemon.max_connections)
		return "MaxConnections= reached";
	unsigned mine = 0;
	for (size_t i = 0; i < m->n_connections; i++)
		if (m->connections[i]->uid == uid)
			mine++;
	if (mine >= m->daemon.max_connections_per_user)
		return "MaxConnectionsPerUser= reached";
	return NULL;
}

/* 1: a connection was taken (and kept, or refused and closed); 0: none was waiting; -errno:
 * accept() failed (the caller pauses listening). */
int server_accept(struct manager *m, int listen_fd) {
	_cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
			return 1; /* that one is gone; others may wait */
		return negative_errno();
	}
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_debug_errno(errno, "Cannot read peer credentials: %m");
		return 1;
	}
	const char *refused = admission_refused(m, cred.uid);
	if (refused) {
		unsigned suppressed;
		if (ratelimit_below(&m->refusal_log, &suppressed))
			log_warning("Refused a connection from pid %d uid %d: %s (%zu open; %u similar messages suppressed)",
			            (int) cred.pid, (int) cred.uid, refused, m->n_connections, suppressed);
		return 1; /* closed at once */
	}

	struct connection *c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->manager = m;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->passed_fd = -EBADF;
	c->may_write = cred.uid == 0;
	c->may_read = c->may_write || (m->read_gid != (gid_t) -1 && peer_in_group(fd, cred.gid, m->read_gid));
	struct connection **a = realloc(m->connections, (m->n_connections + 1) * sizeof(*a));
	if (!a) {
		free(c);
		return 1;
	}
	m->connections = a;
	c->fd = TAKE_FD(fd);
	int r = sd_event_add_io(m->event, &c->io, c->fd, EPOLLIN, on_connection_io, c);
	if (r < 0) {
		close(c->fd);
		free(c);
		return 1;
	}
	m->connections[m->n_connections++] = c;
	log_debug("Connection from pid %d uid %d (%s)", (int) cred.pid, (int) cred.uid,
	          c->may_write ? "full access" : c->may_read ? "read-only" : "no access");
	return 1;
}

#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
	struct manager *m = userdata;
	(void) sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
	return 0;
}

/* A few connections per wake-up; when accept() fails for want of descriptors or memory, the
 * socket is left alone for a moment instead of being asked again at once (which spins). */
static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	struct manager *m = userdata;
	for (int i = 0; i < 16; i++) {
		int r = server_accept(m, fd);
		if (r > 0)
			continue;
		if (r < 0) {
			unsigned suppressed;
			if (ratelimit_below(&m->accept_error_log, &suppressed))
				log_warning_errno(r, "Cannot accept connections: %m; pausing for %u ms (%u similar messages "
				                  "suppressed)", (unsigned) (ACCEPT_RETRY_USEC / USEC_PER_MSEC), suppressed);
			(void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
			(void) sd_event_source_set_time(m->accept_retry_timer,
			                                now_usec(CLOCK_MONOTONIC) + ACCEPT_RETRY_USEC);
			(void) sd_event_source_set_enabled(m->accept_retry_timer, SD_EVENT_ONESHOT);
		}
		break;
	}
	return 0;
}

int manager_start_listening(struct manager *m) {
	int n = sd_listen_fds(true);
	if (n < 0)
		return log_error_errno(n, "Socket activation failed: %m");
	if (n > 1)
		return log_error_errno(EINVAL, "Expected one socket from the service manager, got %d", n);
	if (n == 1) {
		m->listen_fd = SD_LISTEN_FDS_START;
		/* on_accept() takes several connections per wake-up: accept() must not block. */
		int flags = fcntl(m->listen_fd, F_GETFL);
		if (flags < 0 || fcntl(m->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return log_error_errno(errno, "Cannot make the socket from the service manager non-blocking: %m");
		log_info("Listening on the socket passed by the service manager");
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(m->socket_path) >= sizeof(sa.sun_path))
			return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", m->socket_path);
		strcpy(sa.sun_path, m->socket_path);
		_cleanup_free_ char *dir = strdup(m->socket_path);
		if (!dir)
			return -ENOMEM;
		int r = mkdir_p(dirname(dir), 0755);
		if (r < 0)
			return log_error_errno(r, "Cannot create the directory of %s: %m", m->socket_path);
		m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (m->listen_fd < 0)
			return log_error_errno(errno, "socket() failed: %m");
		(void) unlink(m->socket_path);
		if (bind(m->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
			return log_error_errno(errno, "Cannot bind %s: %m", m->socket_path);
		m->listen_fd_owned = true;
		/* Anyone may connect; each call is authorised by the peer's credentials. */
		if (chmod(m->socket_path, 0666) < 0 || listen(m->listen_fd, SOMAXCONN) < 0)
			return log_error_errno(errno, "Cannot listen on %s: %m", m->socket_path);
		log_info("Listening on %s", m->socket_path);
	}
	int r = sd_event_add_time(m->event, &m->accept_retry_timer, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC,
	                          on_accept_retry, m);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the accept timer: %m");
	(void) sd_event_source_set_enabled(m->accept_retry_timer, SD_EVENT_OFF);
	log_debug("File descriptors: limit %u, %u kept for jobs; clients: at most %u, %u per user but root",
	          m->fds.limit, m->fds.reserve, m->daemon.max_connections, m->daemon.max_connections_per_user);
	return sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
}
